//! Binance USD-M `POST /fapi/v1/order` templates: per symbol, side and type the body prefix
//! `symbol=<S>&side=<SIDE>&type=<TYPE>&quantity=` with the HMAC context that has absorbed it,
//! and the request head up to `Content-Length: `. An order writes its quantity, price,
//! client id and timestamp after the prefix, finishes the cloned context over them
//! (`signature = hex(HMAC_SHA256(secret, body))`, as [`super::order::sign_params`]) and patches
//! the length in. Bytes equal the untemplated writer's (`BinanceOrderBuilder` without
//! [`super::order::BinanceOrderBuilder::set_symbols`]).

use crate::types::instrument::write_decimal;
use crate::types::Side;
use crate::venue::hmac_sha256::HmacContext;
use crate::venue::sign::{Credentials, Signer};
use crate::venue::template::{patch_length, TemplateTable, LENGTH_PLACEHOLDER};

use super::order::{side_str, time_in_force_str, EntryBody, BINANCE_ORDER_PATH};

/// One (symbol, side, type) prefix and the keyed HMAC state after it.
struct Prefix {
    body: Box<[u8]>,
    ctx: HmacContext,
}

/// Prefixes of one symbol, by [`slot`].
type SymbolPrefixes = [Prefix; 4];

/// `side` and market/limit to the index into [`SymbolPrefixes`].
#[inline]
fn slot(side: Side, limit: bool) -> usize {
    (side == Side::Sell) as usize * 2 + limit as usize
}

/// The rendered templates of one key and client prefix.
pub(super) struct BinanceTemplates {
    symbols: TemplateTable<SymbolPrefixes>,
    /// `POST /fapi/v1/order HTTP/1.1 … Content-Length: `.
    head: Vec<u8>,
    /// `&newClientOrderId=<prefix>`.
    client_id: Vec<u8>,
    /// `&recvWindow=<ms>&timestamp=`.
    recv: Vec<u8>,
}

impl std::fmt::Debug for BinanceTemplates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceTemplates")
            .field("symbols", &self.symbols.len())
            .finish_non_exhaustive()
    }
}

impl BinanceTemplates {
    /// No symbol rendered yet.
    pub(super) fn new() -> Self {
        Self {
            symbols: TemplateTable::default(),
            head: Vec::new(),
            client_id: Vec::new(),
            recv: Vec::new(),
        }
    }

    /// Renders the templates of `names` for `creds` and `client_prefix` (cold: allocates).
    pub(super) fn render<S: AsRef<str>>(
        &mut self,
        creds: &Credentials,
        client_prefix: &str,
        names: &[S],
    ) {
        self.head.clear();
        for part in [
            "POST ",
            BINANCE_ORDER_PATH,
            " HTTP/1.1\r\nHost: ",
            &creds.host,
            "\r\nX-MBX-APIKEY: ",
            &creds.api_key,
            "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ",
        ] {
            self.head.extend_from_slice(part.as_bytes());
        }
        self.client_id = format!("&newClientOrderId={client_prefix}").into_bytes();
        self.recv = format!("&recvWindow={}&timestamp=", creds.recv_window_ms).into_bytes();
        let prefix = |symbol: &str, side: Side, limit: bool| {
            let kind = if limit { "LIMIT" } else { "MARKET" };
            let body = format!(
                "symbol={symbol}&side={}&type={kind}&quantity=",
                side_str(side)
            );
            let mut ctx = creds.signer.context();
            ctx.update(body.as_bytes());
            Prefix {
                body: body.into_bytes().into_boxed_slice(),
                ctx,
            }
        };
        self.symbols.render(names, |s| {
            [
                prefix(s, Side::Buy, false),
                prefix(s, Side::Buy, true),
                prefix(s, Side::Sell, false),
                prefix(s, Side::Sell, true),
            ]
        });
    }

    /// Writes the signed request of `e` into `request` (cleared first) and its signature into
    /// `sig`; returns where the body starts, or `None` (nothing written) when `e`'s symbol has
    /// no template. No allocation once `request` has grown.
    #[inline]
    pub(super) fn write_entry(
        &mut self,
        e: &EntryBody<'_>,
        request: &mut Vec<u8>,
        sig: &mut [u8; 64],
    ) -> Option<usize> {
        let p = &self.symbols.get(e.symbol)?[slot(e.side, e.limit.is_some())];
        let r = request;
        r.clear();
        r.extend_from_slice(&self.head);
        let len_at = r.len();
        r.extend_from_slice(LENGTH_PLACEHOLDER);
        let body_at = r.len();
        r.extend_from_slice(&p.body);
        write_decimal(r, e.qty, e.trim);
        if let Some((price, tif)) = e.limit {
            r.extend_from_slice(b"&price=");
            write_decimal(r, price, e.trim);
            r.extend_from_slice(b"&timeInForce=");
            r.extend_from_slice(time_in_force_str(tif).as_bytes());
        }
        // Absorbed as written: a filled block compresses while the rest is formatted.
        let mut ctx = p.ctx.clone();
        ctx.update(&r[body_at + p.body.len()..]);
        let hashed = r.len();
        if e.reduce_only {
            r.extend_from_slice(b"&reduceOnly=true");
        }
        if let Some(seq) = e.client_seq {
            r.extend_from_slice(&self.client_id);
            r.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
        }
        r.extend_from_slice(&self.recv);
        r.extend_from_slice(itoa::Buffer::new().format(e.timestamp_ms).as_bytes());
        ctx.update(&r[hashed..]);
        Signer::finish_hex(ctx, sig);
        r.extend_from_slice(b"&signature=");
        r.extend_from_slice(sig);
        Some(patch_length(r, len_at, body_at))
    }
}
