//! Venue error replies (real captured bodies in tests/fixtures/{binance,bybit_rest}) map to
//! typed errors with the documented meaning, and the retry rule follows from the kind.

use calculus_trader::exec::{ErrorKind, Retry, Venue, VenueError};
use calculus_trader::venue::binance::error::binance_kind;
use calculus_trader::venue::bybit::error::bybit_kind;
use serde::Deserialize;

mod common;
use common::files::fixture_bytes;

#[test]
fn binance_real_error_bodies() {
    let e = VenueError::from_binance(400, &fixture_bytes("binance/rest_error_-1021.json")).unwrap();
    assert_eq!(
        (e.venue, e.code, e.kind),
        (Venue::Binance, -1021, ErrorKind::Timestamp)
    );
    assert_eq!(
        e.msg,
        "Timestamp for this request is outside of the recvWindow."
    );
    assert!(e.needs_clock_resync());
    assert_eq!(e.retry(false), Retry::ResyncClockThenSameClientId);
    assert!(e.is_retry_safe());

    let e = VenueError::from_binance(400, &fixture_bytes("binance/rest_error_-2019.json")).unwrap();
    assert_eq!((e.code, e.kind), (-2019, ErrorKind::InsufficientMargin));
    assert_eq!(e.msg, "Margin is insufficient.");
    assert!(!e.is_retry_safe(), "resending does not create margin");

    let e = VenueError::from_binance(400, &fixture_bytes("binance/rest_error_-4164.json")).unwrap();
    assert_eq!((e.code, e.kind), (-4164, ErrorKind::MinNotional));
    assert!(e.msg.contains("no smaller than 20"));
    assert!(!e.is_retry_safe());
    let text = e.to_string();
    assert!(
        text.contains("binance error -4164") && text.contains("minimum"),
        "{text}"
    );
}

#[test]
fn bybit_real_error_bodies() {
    let e =
        VenueError::from_bybit(200, &fixture_bytes("bybit_rest/rest_error_10001.json")).unwrap();
    assert_eq!(
        (e.venue, e.code, e.kind),
        (Venue::Bybit, 10001, ErrorKind::InvalidParams)
    );
    assert_eq!(e.msg, "Not supported symbols");
    assert_eq!(e.retry(true), Retry::Never);

    let e =
        VenueError::from_bybit(200, &fixture_bytes("bybit_rest/rest_error_110007.json")).unwrap();
    assert_eq!((e.code, e.kind), (110007, ErrorKind::InsufficientMargin));
    assert_eq!(e.msg, "ab not enough for new order");

    let e =
        VenueError::from_bybit(200, &fixture_bytes("bybit_rest/rest_error_170371.json")).unwrap();
    assert_eq!((e.code, e.kind), (170371, ErrorKind::Filter));
    assert!(!e.is_retry_safe());
}

#[test]
fn the_other_documented_kinds_and_their_retry_rule() {
    let cases: &[(Venue, i64, ErrorKind, bool)] = &[
        (Venue::Binance, -1111, ErrorKind::Precision, false),
        (Venue::Binance, -1013, ErrorKind::Filter, false),
        (Venue::Binance, -2010, ErrorKind::Rejected, false),
        (Venue::Binance, -1022, ErrorKind::BadSignature, false),
        (Venue::Binance, -2015, ErrorKind::InvalidKey, false),
        (Venue::Binance, -1003, ErrorKind::RateLimited, true),
        (Venue::Binance, -1007, ErrorKind::UnknownStatus, true),
        (Venue::Binance, -4116, ErrorKind::DuplicateClientId, false),
        (
            Venue::Binance,
            -4120,
            ErrorKind::UnsupportedOrderType,
            false,
        ),
        (Venue::Bybit, 10002, ErrorKind::Timestamp, true),
        (Venue::Bybit, 10003, ErrorKind::InvalidKey, false),
        (Venue::Bybit, 10004, ErrorKind::BadSignature, false),
        (Venue::Bybit, 10006, ErrorKind::RateLimited, true),
        (Venue::Bybit, 10024, ErrorKind::RegionRestricted, false),
        // "Reduce-only rule not satisfied" (Bybit error-code table).
        (Venue::Bybit, 110017, ErrorKind::Rejected, false),
        (Venue::Bybit, 110094, ErrorKind::MinNotional, false),
        (Venue::Bybit, 110043, ErrorKind::NotModified, false),
        (Venue::Bybit, 110072, ErrorKind::DuplicateClientId, false),
        (Venue::Bybit, 10016, ErrorKind::UnknownStatus, true),
    ];
    for &(venue, code, kind, safe) in cases {
        let body = match venue {
            Venue::Binance => format!(r#"{{"code":{code},"msg":"m"}}"#),
            Venue::Bybit => format!(r#"{{"retCode":{code},"retMsg":"m","result":{{}}}}"#),
        };
        let e = match venue {
            Venue::Binance => VenueError::from_binance(400, body.as_bytes()),
            Venue::Bybit => VenueError::from_bybit(200, body.as_bytes()),
        }
        .unwrap();
        assert_eq!(e.kind, kind, "{venue:?} {code}");
        assert_eq!(e.is_retry_safe(), safe, "{venue:?} {code}");
    }
    // Unknown outcome without a client order id: never resend (it could double the order).
    let e = VenueError::from_binance(
        503,
        br#"{"code":-1007,"msg":"Timeout waiting for response from backend server."}"#,
    )
    .unwrap();
    assert_eq!(e.retry(false), Retry::Never);
    assert_eq!(e.retry(true), Retry::SameClientId);
}

#[derive(Deserialize)]
struct DocRow {
    section: String,
    code: i64,
    message: String,
}

/// Every Bybit code the map gives a kind to is a real code of the v5 docs table, and the docs'
/// wording agrees with the kind.
#[test]
fn bybit_map_agrees_with_the_documented_table() {
    let rows: Vec<DocRow> = serde_json::from_slice(&fixture_bytes(
        "bybit_rest/error_codes_table_from_docs.json",
    ))
    .unwrap();
    assert_eq!(rows.len(), 718);
    let uta: Vec<&DocRow> = rows
        .iter()
        .filter(|r| r.section == "UTA" || r.section == "Spot Trade")
        .collect();
    let mut mapped = 0;
    let expect_words: &[(ErrorKind, &[&str])] = &[
        (
            ErrorKind::InsufficientMargin,
            &[
                "insufficient",
                "not enough",
                "cannot cover",
                "unable to cover",
            ],
        ),
        (ErrorKind::Timestamp, &["time window"]),
        (ErrorKind::BadSignature, &["sign"]),
        (ErrorKind::InvalidKey, &["api key", "ip"]),
        (
            ErrorKind::RateLimited,
            &["too many", "frequen", "rate limit"],
        ),
        (ErrorKind::RegionRestricted, &["region", "compliance"]),
        (ErrorKind::MinNotional, &["notional"]),
        (
            ErrorKind::NotModified,
            &["not been modified", "has not been modified"],
        ),
        (ErrorKind::DuplicateClientId, &["duplicate"]),
        (
            ErrorKind::OrderNotFound,
            &["not exist", "completed or cancelled", "cancelled"],
        ),
    ];
    for r in &uta {
        let kind = bybit_kind(r.code);
        if kind == ErrorKind::Other {
            continue;
        }
        mapped += 1;
        if let Some((_, words)) = expect_words.iter().find(|(k, _)| *k == kind) {
            let m = r.message.to_lowercase();
            assert!(
                words.iter().any(|w| m.contains(w)),
                "{} mapped to {kind:?} but the docs say {:?}",
                r.code,
                r.message
            );
        }
    }
    assert!(mapped >= 30, "only {mapped} documented codes mapped");
    // And every code the map names appears in the table.
    for code in [
        10001, 10002, 10003, 10004, 10005, 10006, 10009, 10010, 10014, 10016, 10024, 10027, 110001,
        110003, 110004, 110007, 110017, 110043, 110072, 110094, 170371,
    ] {
        assert!(
            rows.iter().any(|r| r.code == code),
            "{code} is not a documented Bybit code"
        );
        assert_ne!(bybit_kind(code), ErrorKind::Other, "{code}");
    }
    assert_eq!(binance_kind(-99999), ErrorKind::Other);
}
