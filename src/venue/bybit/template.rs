//! Bybit v5 `POST /v5/order/create` templates: per symbol, side and order type the body segment
//! `"category":"linear","symbol":"<S>","side":"<Side>","orderType":"<Type>","qty":"`, and one
//! request head per key with the signature, timestamp and Content-Length as fixed-width slots.
//!
//! An order is written once, into the signed prehash `timestamp + api_key + recv_window + body`
//! (one buffer: the timestamp's digits right-aligned before the pre-rendered `api_key +
//! recv_window`, the body after it) through a [`Cursor`] (fixed-size copies, digits written in
//! place), hashed in place ([`Signer::sign_padded_hex`]: the padding goes after the body, every
//! block compresses from the buffer in one call), and its body copied behind the head that stays in the request
//! buffer from order to order: only the signature, timestamp and length slots are rewritten
//! (the head is rendered again when the timestamp's or the length's number of digits changes).
//! Bytes equal the field-by-field writer's (`BybitOrderBuilder` without
//! [`super::order::BybitOrderBuilder::set_symbols`]): both write the body with [`super::body`].

use crate::types::Side;
use crate::venue::cursor::{array_at, digit_count, put_digits, Cursor, Padded, Sink};
use crate::venue::order::{valid_symbol, NewOrder, OrderType, Prepared};
use crate::venue::sign::{Credentials, Signer, PAD_ROOM};
use crate::venue::template::TemplateTable;

use super::body::{self, Link};
use super::order::BYBIT_ORDER_PATH;

/// A symbol's body segment: `"category":"linear","symbol":"` (31 bytes), a symbol of at most 32
/// ([`valid_symbol`]) and at most 46 more.
type Segment = Padded<128>;

/// Body segments of one symbol, by [`slot`].
type SymbolSegments = [Segment; 4];

/// `side` and order type to the index into [`SymbolSegments`].
#[inline]
fn slot(side: Side, t: OrderType) -> usize {
    (side == Side::Sell) as usize * 2 + (t == OrderType::Limit) as usize
}

/// Where the timestamp's digits end in the prehash buffer (a `u64` has at most 20).
const TS_END: usize = 20;

/// Room for one body: the longest (a limit order with every field, decimals of 31 bytes, a
/// 20-digit client id: under 700 bytes) plus the largest padded copy ([`Segment`]).
const BODY_ROOM: usize = 1024;

/// Where the slots of the head now in the request buffer are, and their widths.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Layout {
    /// Digits of the timestamp slot (0: no head written yet).
    ts_len: usize,
    /// Digits of the Content-Length slot.
    len_len: usize,
    sig_at: usize,
    ts_at: usize,
    len_at: usize,
    body_at: usize,
}

/// The rendered templates of one key and client prefix, and the request they last wrote.
pub(super) struct BybitTemplates {
    symbols: TemplateTable<SymbolSegments>,
    /// `POST /v5/order/create HTTP/1.1 … X-BAPI-SIGN: `.
    head: Vec<u8>,
    /// `\r\nX-BAPI-RECV-WINDOW: <ms>\r\nContent-Type: application/json\r\nContent-Length: `.
    tail: Vec<u8>,
    /// `,"orderLinkId":"<prefix>`.
    link: Link,
    /// `[.. TS_END]` the timestamp's digits (right-aligned), then `api_key + recv_window`, then
    /// the body from [`Self::body_at`].
    prehash: Vec<u8>,
    body_at: usize,
    /// The last templated request: the head as [`Self::layout`] says, then the body.
    request: Vec<u8>,
    layout: Layout,
}

impl std::fmt::Debug for BybitTemplates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BybitTemplates")
            .field("symbols", &self.symbols.len())
            .finish_non_exhaustive()
    }
}

impl BybitTemplates {
    /// No symbol rendered yet.
    pub(super) fn new() -> Self {
        Self {
            symbols: TemplateTable::default(),
            head: Vec::new(),
            tail: Vec::new(),
            link: body::link(""),
            prehash: Vec::new(),
            body_at: 0,
            request: Vec::new(),
            layout: Layout::default(),
        }
    }

    /// Renders the templates of `names` for `creds` and `client_prefix` (cold: allocates).
    /// Names that are no valid symbol get none (their orders are refused before any writing).
    pub(super) fn render<S: AsRef<str>>(
        &mut self,
        creds: &Credentials,
        client_prefix: &str,
        names: &[S],
    ) {
        self.head = format!(
            "POST {BYBIT_ORDER_PATH} HTTP/1.1\r\nHost: {}\r\nX-BAPI-API-KEY: {}\r\nX-BAPI-SIGN: ",
            creds.host, creds.api_key
        )
        .into_bytes();
        self.tail = format!(
            "\r\nX-BAPI-RECV-WINDOW: {}\r\nContent-Type: application/json\r\nContent-Length: ",
            creds.recv_window
        )
        .into_bytes();
        self.link = body::link(client_prefix);
        let key_recv = format!("{}{}", creds.api_key, creds.recv_window).into_bytes();
        self.body_at = TS_END + key_recv.len();
        self.prehash = vec![0; self.body_at + BODY_ROOM + PAD_ROOM];
        self.prehash[TS_END..self.body_at].copy_from_slice(&key_recv);
        // Head: the pieces above, 64 + 20 + 20 slot digits and the constant headers around them.
        self.request = Vec::with_capacity(self.head.len() + self.tail.len() + 160 + BODY_ROOM);
        self.layout = Layout::default();
        let segment = |symbol: &str, side: Side, t: OrderType| {
            let mut b = Vec::new();
            body::segment(&mut b, symbol, side, t);
            Segment::new(&b).expect("a valid symbol's segment fits")
        };
        let valid: Vec<&str> = names
            .iter()
            .map(AsRef::as_ref)
            .filter(|s| valid_symbol(s))
            .collect();
        self.symbols.render(&valid, |s| {
            [
                segment(s, Side::Buy, OrderType::Market),
                segment(s, Side::Buy, OrderType::Limit),
                segment(s, Side::Sell, OrderType::Market),
                segment(s, Side::Sell, OrderType::Limit),
            ]
        });
    }

    /// Writes the signed request of `o` rounded to `p` (read back with [`Self::request`]) and
    /// its signature into `sig`; `None` (nothing written) when `o`'s symbol has no template.
    /// No allocation.
    #[inline]
    pub(super) fn write(
        &mut self,
        signer: &Signer,
        o: &NewOrder<'_>,
        p: &Prepared,
        sig: &mut [u8; 64],
    ) -> Option<()> {
        let seg = &self.symbols.get(o.symbol)?[slot(o.side, o.order_type)];
        let ts_len = digit_count(o.timestamp_ms);
        put_digits(&mut self.prehash[TS_END - ts_len..TS_END], o.timestamp_ms);
        let mut c = Cursor::new(&mut self.prehash, self.body_at);
        c.lit(b"{");
        body::limit_price(&mut c, o, p);
        c.padded(seg);
        body::rest(&mut c, o, p, &self.link);
        let end = c.at();
        signer.sign_padded_hex(&mut self.prehash, TS_END - ts_len, end, sig);
        let body_len = end - self.body_at;
        let len_len = digit_count(body_len as u64);
        if (self.layout.ts_len, self.layout.len_len) != (ts_len, len_len) {
            self.write_head(ts_len, len_len);
        }
        let l = self.layout;
        let r = &mut self.request;
        r.truncate(l.body_at);
        r.extend_from_slice(&self.prehash[self.body_at..end]);
        *array_at(r, l.sig_at) = *sig;
        if ts_len == 13 {
            // Every millisecond timestamp from 2001 to 2286: a fixed-size copy.
            *array_at::<13>(r, l.ts_at) = *array_at(&mut self.prehash, TS_END - 13);
        } else {
            r[l.ts_at..l.ts_at + ts_len].copy_from_slice(&self.prehash[TS_END - ts_len..TS_END]);
        }
        put_digits(&mut r[l.len_at..l.len_at + len_len], body_len as u64);
        Some(())
    }

    /// Writes the head into the request buffer with slots of `ts_len` timestamp and `len_len`
    /// Content-Length digits (within the capacity reserved by [`Self::render`]).
    #[cold]
    fn write_head(&mut self, ts_len: usize, len_len: usize) {
        let r = &mut self.request;
        r.clear();
        r.extend_from_slice(&self.head);
        let sig_at = r.len();
        r.extend_from_slice(&[b'0'; 64]);
        r.extend_from_slice(b"\r\nX-BAPI-SIGN-TYPE: 2\r\nX-BAPI-TIMESTAMP: ");
        let ts_at = r.len();
        r.resize(ts_at + ts_len, b'0');
        r.extend_from_slice(&self.tail);
        let len_at = r.len();
        r.resize(len_at + len_len, b'0');
        r.extend_from_slice(b"\r\n\r\n");
        self.layout = Layout {
            ts_len,
            len_len,
            sig_at,
            ts_at,
            len_at,
            body_at: r.len(),
        };
    }

    /// The request bytes of the last [`Self::write`].
    #[inline]
    pub(super) fn request(&self) -> &[u8] {
        &self.request
    }

    /// The JSON body of the last [`Self::write`].
    pub(super) fn body(&self) -> &[u8] {
        &self.request[self.layout.body_at..]
    }
}
