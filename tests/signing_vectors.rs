//! HMAC-SHA256 signing against the documented vectors (Binance and Bybit docs and SDKs),
//! copied from shared/data/signing into tests/fixtures/signing.

use calculus_trader::exec::Signer;
use serde::Deserialize;

mod common;
use common::exchange::bundled_specs;
use common::values::d;

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

fn vector(name: &str) -> Vector {
    vectors().into_iter().find(|v| v.name == name).unwrap()
}

/// Every Bybit v5 vector is `timestamp + api_key + recv_window + payload` with the same
/// timestamp, key and window: check the decomposition the builders rely on.
#[test]
fn bybit_v5_vectors_share_the_documented_prefix() {
    let v5: Vec<_> = vectors()
        .into_iter()
        .filter(|v| v.name.starts_with("bybit_v5_"))
        .collect();
    assert_eq!(v5.len(), 4);
    for v in &v5 {
        assert!(
            v.payload.starts_with("1700000000000test-key5000"),
            "{}",
            v.name
        );
        assert_eq!(v.secret, "test-secret");
    }
}

/// The documented GET wallet-balance signature, reproduced by the request builder end to end.
#[test]
fn bybit_wallet_balance_request_carries_the_documented_signature() {
    let v = vector("bybit_v5_rest_get_wallet_balance");
    let api = calculus_trader::exec::BybitApi::new("test-key", v.secret.as_bytes(), 5000);
    let r = api.wallet_balance(1_700_000_000_000);
    assert_eq!(
        r.path_and_query,
        "/v5/account/wallet-balance?accountType=UNIFIED"
    );
    assert_eq!(r.header("X-BAPI-SIGN"), Some(v.expected_hex.as_str()));
    assert_eq!(r.header("X-BAPI-API-KEY"), Some("test-key"));
    assert_eq!(r.header("X-BAPI-TIMESTAMP"), Some("1700000000000"));
    assert_eq!(r.header("X-BAPI-RECV-WINDOW"), Some("5000"));
    assert_eq!(r.header("X-BAPI-SIGN-TYPE"), Some("2"));
}

/// The documented POST order/create body and signature, reproduced by the order builder from
/// the order's parts (limit buy 0.01 BTCUSDT at 30000 GTC, no client id).
#[test]
fn bybit_order_builder_reproduces_the_documented_body_and_signature() {
    let v = vector("bybit_v5_rest_post_order_create");
    let mut b = calculus_trader::exec::BybitOrderBuilder::new(
        "test-key",
        v.secret.as_bytes(),
        "api.bybit.com",
        5000,
        "ct-",
    )
    .unwrap();
    let mut o = calculus_trader::exec::NewOrder::limit(
        "BTCUSDT",
        calculus_trader::types::Side::Buy,
        d("0.01"),
        d("30000"),
    );
    o.timestamp_ms = 1_700_000_000_000;
    // Bybit BTCUSDT linear filters (bundled 2026-08-09 specs): tick 0.10, step 0.001.
    let btc = bundled_specs("bybit", &["BTCUSDT"])[0];
    let req = String::from_utf8(b.build(&btc, &o).unwrap().to_vec()).unwrap();
    let (head, body) = req.split_once("\r\n\r\n").unwrap();
    let documented_body = v.payload.strip_prefix("1700000000000test-key5000").unwrap();
    assert_eq!(body, documented_body);
    assert!(
        head.contains(&format!("\r\nX-BAPI-SIGN: {}\r\n", v.expected_hex)),
        "{head}"
    );
    assert_eq!(
        std::str::from_utf8(b.last_signature()).unwrap(),
        v.expected_hex
    );
}

/// The documented GET query-string and empty-payload vectors through the generic signed GET.
#[test]
fn bybit_signed_get_matches_the_query_and_empty_payload_vectors() {
    let q = vector("bybit_v5_rest_get_query_php");
    let api = calculus_trader::exec::BybitApi::new("test-key", q.secret.as_bytes(), 5000);
    let r = api.signed_get(
        "/v5/market/tickers",
        "category=spot&symbol=BTCUSDT",
        1_700_000_000_000,
    );
    assert_eq!(r.header("X-BAPI-SIGN"), Some(q.expected_hex.as_str()));
    assert_eq!(
        r.path_and_query,
        "/v5/market/tickers?category=spot&symbol=BTCUSDT"
    );
    let e = vector("bybit_v5_rest_empty_payload_php");
    let r = api.signed_get("/v5/account/info", "", 1_700_000_000_000);
    assert_eq!(r.header("X-BAPI-SIGN"), Some(e.expected_hex.as_str()));
    assert_eq!(r.path_and_query, "/v5/account/info");
}

/// The Binance USD-M documented example (LIMIT BUY 1 BTCUSDT at 9000 GTC) built from its parts:
/// same parameter string, same signature.
#[test]
fn binance_order_builder_reproduces_the_documented_usdm_example() {
    let v = vector("binance_usdm_rest_hmac_btcusdt_query");
    let inst = calculus_trader::types::Instrument::new(
        d("0.10"),
        d("0.001"),
        d("0.001"),
        d("120"),
        d("100"),
    )
    .unwrap()
    .with_limits(d("1000"), None);
    let mut b = calculus_trader::exec::BinanceOrderBuilder::new(
        "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83",
        v.secret.as_bytes(),
        "fapi.binance.com",
        5000,
        "x",
    );
    let mut o = calculus_trader::exec::NewOrder::limit(
        "BTCUSDT",
        calculus_trader::types::Side::Buy,
        d("1"),
        d("9000"),
    );
    o.timestamp_ms = 1_591_702_613_943;
    b.build_order(&inst, &o).unwrap();
    let body = std::str::from_utf8(b.last_body()).unwrap();
    assert_eq!(body, format!("{}&signature={}", v.payload, v.expected_hex));
}

/// The documented order examples of both venues through the order templates (`set_symbols`):
/// the same body and signature as the documents, the same bytes as the field-by-field writer.
#[test]
fn order_templates_reproduce_the_documented_order_vectors() {
    use calculus_trader::exec::{BinanceOrderBuilder, BybitOrderBuilder, NewOrder};
    use calculus_trader::types::Side;
    let v = vector("binance_usdm_rest_hmac_btcusdt_query");
    let inst = calculus_trader::types::Instrument::new(
        d("0.10"),
        d("0.001"),
        d("0.001"),
        d("120"),
        d("100"),
    )
    .unwrap()
    .with_limits(d("1000"), None);
    let binance = || {
        BinanceOrderBuilder::new(
            "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83",
            v.secret.as_bytes(),
            "fapi.binance.com",
            5000,
            "x",
        )
    };
    let (mut tpl, mut reference) = (binance(), binance());
    tpl.set_symbols(&["ETHUSDT", "BTCUSDT"]);
    let mut o = NewOrder::limit("BTCUSDT", Side::Buy, d("1"), d("9000"));
    o.timestamp_ms = 1_591_702_613_943;
    let want = reference.build_order(&inst, &o).unwrap().to_vec();
    assert_eq!(tpl.build_order(&inst, &o).unwrap(), &want[..]);
    assert!(tpl.last_templated());
    let body = std::str::from_utf8(tpl.last_body()).unwrap();
    assert_eq!(body, format!("{}&signature={}", v.payload, v.expected_hex));

    let v = vector("bybit_v5_rest_post_order_create");
    let bybit = || {
        BybitOrderBuilder::new(
            "test-key",
            v.secret.as_bytes(),
            "api.bybit.com",
            5000,
            "ct-",
        )
        .unwrap()
    };
    let (mut tpl, mut reference) = (bybit(), bybit());
    tpl.set_symbols(&["BTCUSDT"]);
    let mut o = NewOrder::limit("BTCUSDT", Side::Buy, d("0.01"), d("30000"));
    o.timestamp_ms = 1_700_000_000_000;
    let btc = bundled_specs("bybit", &["BTCUSDT"])[0];
    let want = reference.build(&btc, &o).unwrap().to_vec();
    assert_eq!(tpl.build(&btc, &o).unwrap(), &want[..]);
    assert!(tpl.last_templated());
    let documented_body = v.payload.strip_prefix("1700000000000test-key5000").unwrap();
    assert_eq!(tpl.last_body(), documented_body.as_bytes());
    assert_eq!(
        std::str::from_utf8(tpl.last_signature()).unwrap(),
        v.expected_hex
    );
}
