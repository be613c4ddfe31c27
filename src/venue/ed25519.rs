//! Ed25519 request signing (RFC 8032) for Binance API keys of type Ed25519: the WebSocket API's
//! `session.logon` signs `k=v&…` of its params sorted by name and sends the 64-byte signature
//! base64-encoded (standard alphabet, padded: 88 characters). The private key is a PKCS#8
//! document (RFC 8410; v1 as OpenSSL writes it, or v2 with the public key), PEM
//! (`-----BEGIN PRIVATE KEY-----`) or DER.

use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

/// Length of a base64 Ed25519 signature, bytes.
pub const SIG_B64_LEN: usize = 88;

/// An Ed25519 private key. `Debug` prints no key material.
pub struct Ed25519Signer(Ed25519KeyPair);

impl std::fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ed25519Signer(***)")
    }
}

impl Ed25519Signer {
    /// The key of a PKCS#8 document, PEM or DER. The error names the problem, never the key.
    pub fn from_pkcs8(doc: &[u8]) -> Result<Self, String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::PrivatePkcs8KeyDer;
        let pem;
        let der = if doc.trim_ascii_start().starts_with(b"-----BEGIN") {
            pem = PrivatePkcs8KeyDer::from_pem_slice(doc)
                .map_err(|e| format!("no PKCS#8 `PRIVATE KEY` PEM block: {e}"))?;
            pem.secret_pkcs8_der()
        } else {
            doc
        };
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map(Self)
            .map_err(|e| format!("not an Ed25519 PKCS#8 private key ({e})"))
    }

    /// The key of a 32-byte RFC 8032 seed and its public key (test vectors).
    pub fn from_seed_and_public_key(seed: &[u8], public: &[u8]) -> Result<Self, String> {
        Ed25519KeyPair::from_seed_and_public_key(seed, public)
            .map(Self)
            .map_err(|e| format!("not an Ed25519 seed and public key ({e})"))
    }

    /// The 32-byte public key (what the venue holds for the API key).
    pub fn public_key(&self) -> [u8; 32] {
        let mut pk = [0u8; 32];
        pk.copy_from_slice(self.0.public_key().as_ref());
        pk
    }

    /// `base64(Ed25519(payload))` into `out`. No allocation.
    pub fn sign_base64(&self, payload: &[u8], out: &mut [u8; SIG_B64_LEN]) {
        let sig = self.0.sign(payload);
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(sig.as_ref(), out)
            .expect("88 bytes hold a base64 64-byte signature");
        debug_assert_eq!(n, SIG_B64_LEN);
    }
}

/// Whether `sig_b64` (base64 of 64 bytes) is `public`'s Ed25519 signature of `payload`.
pub fn verify_base64(public: &[u8; 32], payload: &[u8], sig_b64: &[u8]) -> bool {
    let mut sig = [0u8; 66];
    match base64::engine::general_purpose::STANDARD.decode_slice(sig_b64, &mut sig) {
        Ok(64) => UnparsedPublicKey::new(&ED25519, public)
            .verify(payload, &sig[..64])
            .is_ok(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8032 §7.1, TEST 1 (empty message).
    const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const SIG: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

    #[test]
    fn rfc8032_test_1_from_a_pkcs8_pem_signs_to_the_vector() {
        // RFC 8410 §7: the v1 PKCS#8 prefix of an Ed25519 key, then the 32-byte seed; PEM as
        // `openssl genpkey -algorithm ed25519` writes it.
        let mut der = unhex("302e020100300506032b657004220420");
        der.extend(unhex(SEED));
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n");
        for doc in [pem.as_bytes(), &der[..]] {
            let k = Ed25519Signer::from_pkcs8(doc).unwrap();
            assert_eq!(k.public_key().to_vec(), unhex(PUBLIC));
            let mut out = [0u8; SIG_B64_LEN];
            k.sign_base64(b"", &mut out);
            let want = base64::engine::general_purpose::STANDARD.encode(unhex(SIG));
            assert_eq!(std::str::from_utf8(&out).unwrap(), want);
            let pk: [u8; 32] = unhex(PUBLIC).try_into().unwrap();
            assert!(verify_base64(&pk, b"", &out));
            assert!(!verify_base64(&pk, b"x", &out), "another message fails");
        }
        assert_eq!(
            format!("{:?}", Ed25519Signer::from_pkcs8(&der).unwrap()),
            "Ed25519Signer(***)"
        );
        assert!(Ed25519Signer::from_pkcs8(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        )
        .is_err());
        assert!(Ed25519Signer::from_pkcs8(&der[..20]).is_err());
    }
}
