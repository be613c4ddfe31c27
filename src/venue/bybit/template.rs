//! Bybit v5 `POST /v5/order/create` templates: per symbol, side and order type the body segment
//! `{"category":"linear","symbol":"<S>","side":"<Side>","orderType":"<Type>","qty":"`, and the
//! request head in three constant pieces around the signature and timestamp. The signed
//! prehash is `timestamp + api_key + recv_window + body`: the timestamp comes first, so no HMAC
//! block can be absorbed ahead; `api_key + recv_window` is one pre-rendered slice. Bytes equal
//! the untemplated writer's (`BybitOrderBuilder` without
//! [`super::order::BybitOrderBuilder::set_symbols`]).

use crate::types::instrument::write_decimal;
use crate::types::Side;
use crate::venue::order::{NewOrder, OrderType, Prepared};
use crate::venue::sign::{Credentials, Signer};
use crate::venue::template::{patch_length, TemplateTable, LENGTH_PLACEHOLDER};

use super::order::{side_str, time_in_force_str, trigger_by_str, BYBIT_ORDER_PATH};

/// Body segments of one symbol, by [`slot`]; each starts with `{` (dropped after a limit price).
type SymbolSegments = [Box<[u8]>; 4];

/// `side` and order type to the index into [`SymbolSegments`].
#[inline]
fn slot(side: Side, t: OrderType) -> usize {
    (side == Side::Sell) as usize * 2 + (t == OrderType::Limit) as usize
}

/// The rendered templates of one key and client prefix.
pub(super) struct BybitTemplates {
    symbols: TemplateTable<SymbolSegments>,
    /// `POST /v5/order/create HTTP/1.1 … X-BAPI-SIGN: `.
    head: Vec<u8>,
    /// `\r\nX-BAPI-RECV-WINDOW: <ms>\r\nContent-Type: application/json\r\nContent-Length: `.
    tail: Vec<u8>,
    /// `api_key + recv_window`: the prehash between the timestamp and the body.
    key_recv: Vec<u8>,
    /// `,"orderLinkId":"<prefix>`.
    link: Vec<u8>,
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
            key_recv: Vec::new(),
            link: Vec::new(),
        }
    }

    /// Renders the templates of `names` for `creds` and `client_prefix` (cold: allocates).
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
        self.key_recv = format!("{}{}", creds.api_key, creds.recv_window).into_bytes();
        self.link = format!(",\"orderLinkId\":\"{client_prefix}").into_bytes();
        let segment = |symbol: &str, side: Side, kind: &str| {
            format!(
                "{{\"category\":\"linear\",\"symbol\":\"{symbol}\",\"side\":\"{}\",\"orderType\":\"{kind}\",\"qty\":\"",
                side_str(side)
            )
            .into_bytes()
            .into_boxed_slice()
        };
        self.symbols.render(names, |s| {
            [
                segment(s, Side::Buy, "Market"),
                segment(s, Side::Buy, "Limit"),
                segment(s, Side::Sell, "Market"),
                segment(s, Side::Sell, "Limit"),
            ]
        });
    }

    /// Writes the signed request of `o` rounded to `p` into `r` (cleared first) and its
    /// signature into `sig`; returns where the body starts, or `None` (nothing written) when
    /// `o`'s symbol has no template. The body goes straight after the head: the signature and
    /// the length are patched in once it is hashed. No allocation once `r` has grown.
    #[inline]
    pub(super) fn write(
        &mut self,
        signer: &Signer,
        o: &NewOrder<'_>,
        p: &Prepared,
        r: &mut Vec<u8>,
        sig: &mut [u8; 64],
    ) -> Option<usize> {
        let seg = &self.symbols.get(o.symbol)?[slot(o.side, o.order_type)];
        let mut ts = itoa::Buffer::new();
        let ts = ts.format(o.timestamp_ms).as_bytes();
        let mut ctx = signer.context();
        ctx.update(ts);
        ctx.update(&self.key_recv);
        r.clear();
        r.extend_from_slice(&self.head);
        let sig_at = r.len();
        r.extend_from_slice(&[b'0'; 64]);
        r.extend_from_slice(b"\r\nX-BAPI-SIGN-TYPE: 2\r\nX-BAPI-TIMESTAMP: ");
        r.extend_from_slice(ts);
        r.extend_from_slice(&self.tail);
        let len_at = r.len();
        r.extend_from_slice(LENGTH_PLACEHOLDER);
        let body_at = r.len();
        match (o.order_type, p.price) {
            (OrderType::Limit, Some(price)) => {
                r.extend_from_slice(b"{\"price\":\"");
                write_decimal(r, price, true);
                r.extend_from_slice(b"\",\"timeInForce\":\"");
                r.extend_from_slice(time_in_force_str(o.time_in_force).as_bytes());
                r.extend_from_slice(b"\",");
                r.extend_from_slice(&seg[1..]);
            }
            _ => r.extend_from_slice(seg),
        }
        // The body is absorbed as it is written: the blocks it fills compress (a long
        // `sha256rnds2` chain) while the CPU goes on formatting the next fields.
        ctx.update(&r[body_at..]);
        let mut hashed = r.len();
        write_decimal(r, p.qty, true);
        r.push(b'"');
        if o.reduce_only {
            r.extend_from_slice(b",\"reduceOnly\":true");
        }
        if let Some(seq) = o.client_seq {
            r.extend_from_slice(&self.link);
            r.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
            r.push(b'"');
        }
        ctx.update(&r[hashed..]);
        hashed = r.len();
        write_exits(r, o, p);
        r.push(b'}');
        ctx.update(&r[hashed..]);
        Signer::finish_hex(ctx, sig);
        r[sig_at..sig_at + 64].copy_from_slice(sig);
        Some(patch_length(r, len_at, body_at))
    }
}

/// `,"takeProfit":"…","stopLoss":"…","tpslMode":"Full","tpTriggerBy":"…","slTriggerBy":"…"`,
/// each part only when its level is set.
#[inline]
fn write_exits(b: &mut Vec<u8>, o: &NewOrder<'_>, p: &Prepared) {
    if let Some(tp) = p.take_profit {
        b.extend_from_slice(b",\"takeProfit\":\"");
        write_decimal(b, tp, true);
        b.push(b'"');
    }
    if let Some(sl) = p.stop_loss {
        b.extend_from_slice(b",\"stopLoss\":\"");
        write_decimal(b, sl, true);
        b.push(b'"');
    }
    if p.take_profit.is_none() && p.stop_loss.is_none() {
        return;
    }
    b.extend_from_slice(b",\"tpslMode\":\"Full\"");
    let by = trigger_by_str(o.trigger_by).as_bytes();
    if p.take_profit.is_some() {
        b.extend_from_slice(b",\"tpTriggerBy\":\"");
        b.extend_from_slice(by);
        b.push(b'"');
    }
    if p.stop_loss.is_some() {
        b.extend_from_slice(b",\"slTriggerBy\":\"");
        b.extend_from_slice(by);
        b.push(b'"');
    }
}
