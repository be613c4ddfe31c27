//! HMAC-SHA256 signing against the documented vectors (Binance and Bybit docs and SDKs),
//! copied from shared/data/signing into tests/fixtures/signing.

use calculus_trader::exec::Signer;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vector {
    name: String,
    secret: String,
    payload: String,
    expected_hex: String,
}

fn vectors() -> Vec<Vector> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/signing/signing_vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_documented_vector_matches() {
    let v = vectors();
    assert_eq!(v.len(), 8);
    for vec in &v {
        let mut out = [0u8; 64];
        Signer::new(vec.secret.as_bytes()).sign_hex(vec.payload.as_bytes(), &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            vec.expected_hex,
            "{}",
            vec.name
        );
        assert!(Signer::new(vec.secret.as_bytes())
            .verify_hex(vec.payload.as_bytes(), vec.expected_hex.as_bytes()));
    }
}

#[test]
fn a_changed_payload_or_secret_fails_verification() {
    let v = &vectors()[1];
    let s = Signer::new(v.secret.as_bytes());
    let mut tampered = v.payload.clone();
    tampered.push('1');
    assert!(!s.verify_hex(tampered.as_bytes(), v.expected_hex.as_bytes()));
    assert!(!Signer::new(b"other").verify_hex(v.payload.as_bytes(), v.expected_hex.as_bytes()));
    assert!(!s.verify_hex(v.payload.as_bytes(), b"zz"));
}

/// The Binance USD-M documented example, built by our order builder from its parts.
#[test]
fn binance_usdm_doc_example_signature_from_the_builder_recipe() {
    let v = vectors()
        .into_iter()
        .find(|v| v.name == "binance_usdm_rest_hmac_btcusdt_query")
        .unwrap();
    let b =
        calculus_trader::exec::BinanceOrderBuilder::new("k", v.secret.as_bytes(), "h", 5000, "x");
    assert_eq!(
        std::str::from_utf8(&b.sign_payload(v.payload.as_bytes())).unwrap(),
        v.expected_hex
    );
}
