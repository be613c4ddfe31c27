//! Signed REST requests and reply parsers against documented and real venue replies
//! (tests/fixtures/bybit_rest, tests/fixtures/binance).

use calculus_trader::exec::{ClockSync, ErrorKind, Signer};
use calculus_trader::venue::api::{ApiError, Method, OrderRef};
use calculus_trader::venue::binance::api::{
    parse_leverage as parse_binance_leverage, parse_positions as parse_binance_positions,
    parse_time as parse_binance_time, parse_wallet as parse_binance_wallet, BinanceApi,
};
use calculus_trader::venue::binance::error::binance_kind;
use calculus_trader::venue::binance::reply::parse_order as parse_binance_order;
use calculus_trader::venue::bybit::api::{
    parse_ack as parse_bybit_ack, parse_positions as parse_bybit_positions,
    parse_time as parse_bybit_time, parse_wallet as parse_bybit_wallet, BybitApi,
};
use calculus_trader::venue::bybit::error::bybit_kind;
use calculus_trader::venue::bybit::reply::parse_order as parse_bybit_order;
use calculus_trader::venue::reply::OrderReply;
use rust_decimal::Decimal;

mod common;
use common::files::fixture_bytes;
use common::values::d;

#[test]
fn bybit_replies_from_the_docs() {
    // The runtime's order-reply reader; the ack carries the venue id (the client id is ours).
    assert_eq!(
        parse_bybit_order(200, &fixture_bytes("bybit_rest/rest_order_create.json")),
        OrderReply::Accepted {
            order_id: 1_321_003_749_386_327_552
        }
    );

    assert_eq!(
        parse_bybit_ack(
            200,
            &fixture_bytes("bybit_rest/rest_position_set_leverage.json")
        ),
        Ok(true)
    );
    assert_eq!(
        parse_bybit_ack(
            200,
            br#"{"retCode":110043,"retMsg":"Set leverage not modified","result":{}}"#
        ),
        Ok(false),
        "110043 = already at that leverage"
    );

    let w = parse_bybit_wallet(
        200,
        &fixture_bytes("bybit_rest/rest_account_wallet_balance.json"),
    )
    .unwrap();
    assert_eq!(w.total_equity, Some(d("3.31216591")));
    assert_eq!(w.total_available, Some(d("3.00326056")));
    let btc = w.asset("BTC").unwrap();
    assert_eq!(btc.wallet_balance, Decimal::ZERO);
    assert_eq!(btc.available, Some(Decimal::ZERO));

    let p = parse_bybit_positions(
        200,
        &fixture_bytes("bybit_rest/rest_position_list_docs.json"),
    )
    .unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].symbol, "BTCUSD");
    assert_eq!(p[0].qty, d("-300"), "side Sell ⇒ negative size");
    assert_eq!(p[0].entry, d("27464.50441675"));
    assert_eq!(p[0].mark_price, d("28224.50"));
    assert_eq!(p[0].unrealized_pnl, d("-0.00029413"));
    assert_eq!(p[0].leverage, Some(d("10")));

    assert_eq!(
        parse_bybit_time(200, &fixture_bytes("bybit_rest/rest_market_time_docs.json")),
        Ok(1_688_639_403_423)
    );

    match parse_bybit_order(200, &fixture_bytes("bybit_rest/rest_error_110007.json")) {
        OrderReply::Error { code } => assert_eq!(bybit_kind(code), ErrorKind::InsufficientMargin),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_garbled_position_is_an_error_not_a_flat_position() {
    let bad = br#"{"retCode":0,"retMsg":"OK","result":{"list":[{"symbol":"BTCUSDT","side":"Buy","size":"abc","avgPrice":"1","markPrice":"1","unrealisedPnl":"0"}]}}"#;
    assert!(
        matches!(parse_bybit_positions(200, bad), Err(ApiError::Malformed(m)) if m.contains("size"))
    );
    let bad = br#"[{"symbol":"BTCUSDT","positionAmt":"NaN","entryPrice":"1","markPrice":"1","unRealizedProfit":"0"}]"#;
    assert!(parse_binance_positions(200, bad).is_err());
    let flat = br#"{"retCode":0,"retMsg":"OK","result":{"list":[{"symbol":"ETHUSDT","side":"","size":"0","avgPrice":"0","markPrice":"3000","unrealisedPnl":"0"}]}}"#;
    assert_eq!(
        parse_bybit_positions(200, flat).unwrap()[0].qty,
        Decimal::ZERO
    );
}

#[test]
fn binance_replies() {
    // `NEW`: accepted, working, with the venue's order id.
    assert_eq!(
        parse_binance_order(
            200,
            &fixture_bytes("binance/rest_new_order_response_sdkdocs.json"),
        ),
        OrderReply::Accepted {
            order_id: 22_542_179
        }
    );
    assert_eq!(
        parse_binance_leverage(
            200,
            &fixture_bytes("binance/rest_change_leverage_response_sdkdocs.json")
        ),
        Ok(21)
    );
    match parse_binance_order(400, &fixture_bytes("binance/rest_error_-2019.json")) {
        OrderReply::Error { code } => {
            assert_eq!(binance_kind(code), ErrorKind::InsufficientMargin)
        }
        other => panic!("{other:?}"),
    }
    // The Futures Account Balance V2 documentation example.
    let w = parse_binance_wallet(
        200,
        br#"[{"accountAlias":"SgsR","asset":"USDT","balance":"122607.35137903","crossWalletBalance":"23.72469206","crossUnPnl":"0.00000000","availableBalance":"23.72469206","maxWithdrawAmount":"23.72469206","marginAvailable":true,"updateTime":1617939110373}]"#,
    )
    .unwrap();
    let usdt = w.asset("USDT").unwrap();
    assert_eq!(usdt.wallet_balance, d("122607.35137903"));
    assert_eq!(usdt.available, Some(d("23.72469206")));
    assert_eq!(usdt.equity, Some(d("122607.35137903")));
    // positionRisk v2 shape (one-way mode, a short); exponent notation in a number we parse.
    let p = parse_binance_positions(
        200,
        br#"[{"symbol":"BTCUSDT","positionAmt":"-0.250","entryPrice":"61800.3","breakEvenPrice":"0.0","markPrice":"61700.00000000","unRealizedProfit":"25.07500000","liquidationPrice":"0","leverage":"5","maxNotionalValue":"1.0E8","marginType":"cross","isolatedMargin":"0.00000000","isAutoAddMargin":"false","positionSide":"BOTH","notional":"-15425.00000000","isolatedWallet":"0","updateTime":1737708453714}]"#,
    )
    .unwrap();
    assert_eq!(p[0].qty, d("-0.250"));
    assert_eq!(p[0].entry, d("61800.3"));
    assert_eq!(p[0].unrealized_pnl, d("25.075"));
    assert_eq!(p[0].leverage, Some(d("5")));
    // GET /fapi/v1/time documentation example.
    assert_eq!(
        parse_binance_time(200, br#"{"serverTime": 1499827319559}"#),
        Ok(1_499_827_319_559)
    );
}

#[test]
fn bybit_requests_sign_exactly_what_they_send() {
    let api = BybitApi::new("key", b"secret", 5000);
    let s = Signer::new(b"secret");
    let check = |r: &calculus_trader::venue::api::ApiRequest| {
        let payload = if r.method == Method::Post {
            String::from_utf8(r.body.clone()).unwrap()
        } else {
            r.path_and_query
                .split_once('?')
                .map(|(_, q)| q.to_string())
                .unwrap_or_default()
        };
        let signed = format!("{}key5000{payload}", r.header("X-BAPI-TIMESTAMP").unwrap());
        assert!(s.verify_hex(
            signed.as_bytes(),
            r.header("X-BAPI-SIGN").unwrap().as_bytes()
        ));
    };
    let r = api.set_leverage("BTCUSDT", d("5"), 1).unwrap();
    assert_eq!(r.path_and_query, "/v5/position/set-leverage");
    assert_eq!(
        r.body,
        br#"{"category":"linear","symbol":"BTCUSDT","buyLeverage":"5","sellLeverage":"5"}"#
    );
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    check(&r);
    let r = api
        .cancel_order("BTCUSDT", OrderRef::Client("ct-42"), 2)
        .unwrap();
    assert_eq!(
        r.body,
        br#"{"category":"linear","symbol":"BTCUSDT","orderLinkId":"ct-42"}"#
    );
    check(&r);
    let r = api.cancel_all(None, 3).unwrap();
    assert_eq!(r.path_and_query, "/v5/order/cancel-all");
    assert_eq!(r.body, br#"{"category":"linear","settleCoin":"USDT"}"#);
    check(&r);
    let r = api.signed_get("/v5/position/list", "category=linear&symbol=ETHUSDT", 4);
    assert_eq!(
        r.path_and_query,
        "/v5/position/list?category=linear&symbol=ETHUSDT"
    );
    assert!(r.body.is_empty());
    check(&r);
    assert_eq!(BybitApi::server_time().path_and_query, "/v5/market/time");
    assert!(BybitApi::server_time().headers.is_empty());
    assert_eq!(
        BybitApi::instruments(Some("abc=")).path_and_query,
        "/v5/market/instruments-info?category=linear&limit=1000&cursor=abc%3D"
    );
    let http = String::from_utf8(r.to_http1("api.bybit.com")).unwrap();
    assert!(http.starts_with("GET /v5/position/list?category=linear&symbol=ETHUSDT HTTP/1.1\r\nHost: api.bybit.com\r\nX-BAPI-API-KEY: key\r\n"));
    assert!(http.ends_with("\r\n\r\n"));
}

#[test]
fn binance_requests_sign_exactly_what_they_send() {
    let api = BinanceApi::new("key", b"secret", 5000);
    let s = Signer::new(b"secret");
    let r = api.set_leverage("BTCUSDT", 3, 1_700_000_000_000).unwrap();
    assert_eq!(
        (r.method, r.path_and_query.as_str()),
        (Method::Post, "/fapi/v1/leverage")
    );
    let body = String::from_utf8(r.body.clone()).unwrap();
    let (params, sig) = body.rsplit_once("&signature=").unwrap();
    assert_eq!(
        params,
        "symbol=BTCUSDT&leverage=3&recvWindow=5000&timestamp=1700000000000"
    );
    assert!(s.verify_hex(params.as_bytes(), sig.as_bytes()));
    let http = String::from_utf8(r.to_http1("fapi.binance.com")).unwrap();
    assert!(http.contains(&format!("Content-Length: {}\r\n\r\n", r.body.len())));

    let r = api
        .cancel_order("BTCUSDT", OrderRef::Client("ct-7"), 5)
        .unwrap();
    assert_eq!(r.method, Method::Delete);
    assert!(r.path_and_query.starts_with(
        "/fapi/v1/order?symbol=BTCUSDT&origClientOrderId=ct-7&recvWindow=5000&timestamp=5&signature="
    ));
    let r = api.cancel_all("ETHUSDT", 6).unwrap();
    assert!(r.path_and_query.starts_with(
        "/fapi/v1/allOpenOrders?symbol=ETHUSDT&recvWindow=5000&timestamp=6&signature="
    ));
    let r = api.wallet_balance(7);
    let (_, q) = r.path_and_query.split_once('?').unwrap();
    let (params, sig) = q.rsplit_once("&signature=").unwrap();
    assert_eq!(params, "recvWindow=5000&timestamp=7");
    assert!(s.verify_hex(params.as_bytes(), sig.as_bytes()));
    assert_eq!(BinanceApi::server_time().path_and_query, "/fapi/v1/time");
}

/// Timestamps come from the synced clock: local + offset, where the offset is the midpoint
/// estimate of the fastest round trip to the time endpoint.
#[test]
fn requests_are_stamped_on_the_venue_clock() {
    let mut clock = ClockSync::new();
    let server =
        parse_bybit_time(200, &fixture_bytes("bybit_rest/rest_market_time_docs.json")).unwrap();
    // Sent 40 ms before and received 20 ms after the server stamped it: offset = s − (t0+t1)/2.
    let (t0, t1) = (server - 1040, server - 980);
    assert_eq!(clock.add_sample(t0, server, t1), Some(1010));
    let api = BybitApi::new("key", b"secret", 5000);
    let r = api.wallet_balance(clock.venue_ms(t1));
    assert_eq!(
        r.header("X-BAPI-TIMESTAMP"),
        Some((server + 30).to_string().as_str())
    );
}
