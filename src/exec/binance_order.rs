//! Binance USD-M `POST /fapi/v1/order` requests: form body, HMAC signature, HTTP/1.1 bytes,
//! all written into buffers reused across orders.
//!
//! Recipe (Binance "SIGNED endpoint"): `signature = hex(HMAC_SHA256(secret, totalParams))`
//! where totalParams is the query string concatenated with the body exactly as sent; we send
//! everything in the body, so totalParams = body, and `&signature=…` is appended to it.

use std::io::Write;

use rust_decimal::Decimal;

use super::sign::Signer;
use crate::feed::Side;

/// Builds signed Binance order requests into reused buffers.
pub struct BinanceOrderBuilder {
    signer: Signer,
    api_key: String,
    host: String,
    recv_window_ms: u64,
    client_prefix: String,
    body: Vec<u8>,
    request: Vec<u8>,
    sig: [u8; 64],
}

/// The fields of one order.
#[derive(Clone, Copy, Debug)]
pub struct OrderFields<'a> {
    /// Venue symbol, e.g. `BTCUSDT`.
    pub symbol: &'a str,
    /// Side.
    pub side: Side,
    /// Quantity, already on the step.
    pub quantity: Decimal,
    /// Reduce-only flag.
    pub reduce_only: bool,
    /// Client sequence number (client order id suffix).
    pub client_seq: u64,
    /// Request timestamp, Unix ms (venue clock).
    pub timestamp_ms: u64,
}

impl BinanceOrderBuilder {
    /// A builder for `host` signing with `secret`; `client_prefix` starts every client order id.
    pub fn new(
        api_key: &str,
        secret: &[u8],
        host: &str,
        recv_window_ms: u64,
        client_prefix: &str,
    ) -> Self {
        Self {
            signer: Signer::new(secret),
            api_key: api_key.to_string(),
            host: host.to_string(),
            recv_window_ms,
            client_prefix: client_prefix.to_string(),
            body: Vec::with_capacity(512),
            request: Vec::with_capacity(1024),
            sig: [0; 64],
        }
    }

    /// Writes the signed market order and returns the full HTTP request bytes.
    /// No allocation once the buffers have reached their working size.
    pub fn build(&mut self, o: &OrderFields<'_>) -> &[u8] {
        let b = &mut self.body;
        b.clear();
        b.extend_from_slice(b"symbol=");
        b.extend_from_slice(o.symbol.as_bytes());
        b.extend_from_slice(b"&side=");
        b.extend_from_slice(o.side.binance().as_bytes());
        b.extend_from_slice(b"&type=MARKET&quantity=");
        // Decimal's Display formats on the stack; writing into a Vec with spare capacity does not allocate.
        let _ = write!(b, "{}", o.quantity);
        if o.reduce_only {
            b.extend_from_slice(b"&reduceOnly=true");
        }
        b.extend_from_slice(b"&newClientOrderId=");
        b.extend_from_slice(self.client_prefix.as_bytes());
        b.extend_from_slice(itoa::Buffer::new().format(o.client_seq).as_bytes());
        b.extend_from_slice(b"&recvWindow=");
        b.extend_from_slice(itoa::Buffer::new().format(self.recv_window_ms).as_bytes());
        b.extend_from_slice(b"&timestamp=");
        b.extend_from_slice(itoa::Buffer::new().format(o.timestamp_ms).as_bytes());
        self.signer.sign_hex(b, &mut self.sig);
        b.extend_from_slice(b"&signature=");
        b.extend_from_slice(&self.sig);

        let r = &mut self.request;
        r.clear();
        r.extend_from_slice(b"POST /fapi/v1/order HTTP/1.1\r\nHost: ");
        r.extend_from_slice(self.host.as_bytes());
        r.extend_from_slice(b"\r\nX-MBX-APIKEY: ");
        r.extend_from_slice(self.api_key.as_bytes());
        r.extend_from_slice(
            b"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ",
        );
        r.extend_from_slice(itoa::Buffer::new().format(b.len()).as_bytes());
        r.extend_from_slice(b"\r\n\r\n");
        r.extend_from_slice(b);
        &self.request
    }

    /// The signed body of the last request (`...&signature=<hex>`).
    pub fn last_body(&self) -> &[u8] {
        &self.body
    }

    /// Signs an arbitrary payload with this builder's key (lowercase hex).
    pub fn sign_payload(&self, payload: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        self.signer.sign_hex(payload, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_order_body_is_signed_over_exactly_what_is_sent() {
        let secret = b"2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9";
        let mut b =
            BinanceOrderBuilder::new("dbefbc809e3e", secret, "fapi.binance.com", 5000, "ct1-");
        let req = b
            .build(&OrderFields {
                symbol: "BTCUSDT",
                side: Side::Buy,
                quantity: "0.016".parse().unwrap(),
                reduce_only: false,
                client_seq: 42,
                timestamp_ms: 1591702613943,
            })
            .to_vec();
        let text = String::from_utf8(req).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("POST /fapi/v1/order HTTP/1.1\r\nHost: fapi.binance.com\r\n"));
        assert!(head.contains("X-MBX-APIKEY: dbefbc809e3e\r\n"));
        assert!(head.ends_with(&format!("Content-Length: {}", body.len())));
        let (params, sig) = body.rsplit_once("&signature=").unwrap();
        assert_eq!(
            params,
            "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.016&newClientOrderId=ct1-42&recvWindow=5000&timestamp=1591702613943"
        );
        assert!(Signer::new(secret).verify_hex(params.as_bytes(), sig.as_bytes()));
    }

    #[test]
    fn reduce_only_flag_is_sent() {
        let mut b = BinanceOrderBuilder::new("k", b"s", "h", 5000, "x-");
        b.build(&OrderFields {
            symbol: "ETHUSDT",
            side: Side::Sell,
            quantity: "1.250".parse().unwrap(),
            reduce_only: true,
            client_seq: 1,
            timestamp_ms: 1,
        });
        let body = std::str::from_utf8(b.last_body()).unwrap();
        assert!(body
            .starts_with("symbol=ETHUSDT&side=SELL&type=MARKET&quantity=1.250&reduceOnly=true&"));
    }
}
