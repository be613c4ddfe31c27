//! HMAC-SHA256 request signing with the keyed states built once (`hmac_sha256`: kept ipad/opad
//! midstates, SHA-NI compression), hex-encoded into a fixed buffer.

use subtle::ConstantTimeEq;

pub(crate) use super::hmac_sha256::PAD_ROOM;
use super::hmac_sha256::{HmacContext, HmacKey};

/// Signs payloads with a pre-built HMAC-SHA256 key. The secret itself is not kept (only the
/// SHA-256 states after the padded key blocks).
pub struct Signer {
    key: HmacKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { key: <redacted> }")
    }
}

/// The two lowercase hex digits of every byte.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = [HEX[b >> 4], HEX[b & 0x0f]];
        b += 1;
    }
    t
};

/// Lowercase hex of a 32-byte tag into `out` (one table load per byte; byte stores, as a
/// 2-byte `copy_from_slice` can become a `memcpy` call each).
#[inline]
fn hex_into(tag: [u8; 32], out: &mut [u8; 64]) {
    for i in 0..32 {
        let [hi, lo] = HEX_PAIRS[tag[i] as usize];
        out[2 * i] = hi;
        out[2 * i + 1] = lo;
    }
}

impl Signer {
    /// Builds the keyed states once (two compressions saved per signature versus keying per
    /// call).
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: HmacKey::new(secret),
        }
    }

    /// `hex(HMAC_SHA256(secret, payload))`, lowercase, into `out`. No allocation.
    #[inline]
    pub fn sign_hex(&self, payload: &[u8], out: &mut [u8; 64]) {
        hex_into(self.key.sign(payload), out);
    }

    /// `hex(HMAC_SHA256(secret, buf[start..end]))` into `out`, the hash's padding written over
    /// the [`PAD_ROOM`] bytes after `end` (scratch): no copy of the message. No allocation.
    #[inline]
    pub(crate) fn sign_padded_hex(
        &self,
        buf: &mut [u8],
        start: usize,
        end: usize,
        out: &mut [u8; 64],
    ) {
        hex_into(self.key.sign_padded(buf, start, end), out);
    }

    /// A fresh keyed context (the padded key already absorbed): an order template absorbs its
    /// constant prefix into it once and clones it per order.
    #[inline]
    pub(crate) fn context(&self) -> HmacContext {
        self.key.context()
    }

    /// Finishes `ctx` and writes `hex(tag)`, lowercase, into `out`.
    #[inline]
    pub(crate) fn finish_hex(ctx: HmacContext, out: &mut [u8; 64]) {
        hex_into(ctx.finish(), out);
    }

    /// `hex(HMAC_SHA256(secret, parts[0] ‖ parts[1] ‖ …))`, lowercase, into `out`: signs a
    /// concatenation without building it (Bybit's `timestamp + api_key + recv_window + body`).
    #[inline]
    pub fn sign_parts_hex(&self, parts: &[&[u8]], out: &mut [u8; 64]) {
        let mut ctx = self.context();
        for p in parts {
            ctx.update(p);
        }
        Self::finish_hex(ctx, out);
    }

    /// Constant-time check of a hex signature (used by the embedded exchange and tests).
    pub fn verify_hex(&self, payload: &[u8], sig_hex: &[u8]) -> bool {
        let mut raw = [0u8; 32];
        if sig_hex.len() != 64 {
            return false;
        }
        for (i, pair) in sig_hex.chunks_exact(2).enumerate() {
            let nib = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
            match (nib(pair[0]), nib(pair[1])) {
                (Some(h), Some(l)) => raw[i] = h << 4 | l,
                _ => return false,
            }
        }
        bool::from(self.key.sign(payload)[..].ct_eq(&raw[..]))
    }
}

/// What signs one venue account's requests: the HMAC key of the secret, the API key sent with
/// each request, the venue host and the receive window. Shared by a venue's order builder and
/// its queries; `Debug` shows the host only.
pub(crate) struct Credentials {
    pub(crate) signer: Signer,
    pub(crate) api_key: String,
    pub(crate) host: String,
    pub(crate) recv_window_ms: u64,
    /// `recv_window_ms` as decimal text (for headers).
    pub(crate) recv_window: String,
}

impl Credentials {
    /// Keys `secret` once; copies the rest.
    pub(crate) fn new(api_key: &str, secret: &[u8], host: &str, recv_window_ms: u64) -> Self {
        Self {
            signer: Signer::new(secret),
            api_key: api_key.to_string(),
            host: host.to_string(),
            recv_window_ms,
            recv_window: recv_window_ms.to_string(),
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_parts_equals_signing_their_concatenation() {
        let s = Signer::new(b"test-secret");
        let mut a = [0u8; 64];
        let mut b = [0u8; 64];
        s.sign_hex(b"1700000000000test-key5000accountType=UNIFIED", &mut a);
        s.sign_parts_hex(
            &[
                b"1700000000000",
                b"test-key",
                b"5000",
                b"accountType=UNIFIED",
            ],
            &mut b,
        );
        assert_eq!(a, b);
        s.sign_parts_hex(&[b"1700000000000", b"test-key", b"5000", b"x"], &mut b);
        assert_ne!(a, b);
    }
}
