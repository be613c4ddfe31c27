//! The embedded exchange's order entry over loopback HTTP, driven by the project's own transport
//! and priced by real recorded Binance trades fed through the replay hook
//! (`MarketState::on_frame`): signatures, timestamps and filters are checked like the venue
//! (its exact error JSON), market orders fill at the replayed price with exact fee and slippage,
//! and TP/SL orders trigger on the replayed prices.

use std::sync::Arc;
use std::time::Duration;

use calculus_trader::exchange::{MarketState, Recording, RestExchange};
use calculus_trader::exec::{BinanceOrderBuilder, HttpTransport, OrderFields, Signer};
use calculus_trader::telemetry::Clock;
use calculus_trader::types::Side;
use rust_decimal::Decimal;
use serde_json::Value;

mod common;
use common::exchange::{listed, start, Exchange};
use common::files::root;
use common::setup::btc_trade_frames;
use common::values::{d, now_ms};

struct Sim {
    market: Arc<MarketState>,
    server: RestExchange,
    http: HttpTransport,
}

fn sim(slippage_bps: &str) -> Sim {
    let Exchange { market, server } = start(
        listed(&["BTCUSDT", "ETHUSDT"]),
        "0.0004",
        slippage_bps,
        None,
    );
    let http = HttpTransport::new(&server.url(), 8, Duration::from_secs(10), Clock::new()).unwrap();
    Sim {
        market,
        server,
        http,
    }
}

impl Sim {
    fn key(&self) -> String {
        self.server.credentials().api_key.clone()
    }
    fn secret(&self) -> Vec<u8> {
        self.server.credentials().secret.clone().into_bytes()
    }

    /// A signed request: `params` (without timestamp) + `&timestamp=…` signed with `secret`.
    fn signed(
        &mut self,
        method: &str,
        path: &str,
        params: &str,
        key: &str,
        secret: &[u8],
    ) -> (u16, Value) {
        let sep = if params.is_empty() { "" } else { "&" };
        let total = format!("{params}{sep}recvWindow=5000&timestamp={}", now_ms());
        self.raw(method, path, &total, key, secret)
    }

    /// Sends `total` signed as-is (GET: query string; POST/DELETE: form body).
    fn raw(
        &mut self,
        method: &str,
        path: &str,
        total: &str,
        key: &str,
        secret: &[u8],
    ) -> (u16, Value) {
        let mut sig = [0u8; 64];
        Signer::new(secret).sign_hex(total.as_bytes(), &mut sig);
        let signed = format!("{total}&signature={}", std::str::from_utf8(&sig).unwrap());
        let req = if method == "GET" {
            format!("GET {path}?{signed} HTTP/1.1\r\nHost: x\r\nX-MBX-APIKEY: {key}\r\n\r\n")
        } else {
            format!(
                "{method} {path} HTTP/1.1\r\nHost: x\r\nX-MBX-APIKEY: {key}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{signed}",
                signed.len()
            )
        };
        self.send(req.as_bytes())
    }

    fn send(&mut self, req: &[u8]) -> (u16, Value) {
        let (status, body) = self
            .http
            .request_blocking(req, Duration::from_secs(10))
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    fn order(&mut self, params: &str) -> (u16, Value) {
        let (k, s) = (self.key(), self.secret());
        self.signed("POST", "/fapi/v1/order", params, &k, &s)
    }

    fn algo(&mut self, params: &str) -> (u16, Value) {
        let (k, s) = (self.key(), self.secret());
        self.signed("POST", "/fapi/v1/algoOrder", params, &k, &s)
    }

    fn get(&mut self, path: &str, params: &str) -> (u16, Value) {
        let (k, s) = (self.key(), self.secret());
        self.signed("GET", path, params, &k, &s)
    }
}

#[test]
fn wrong_signature_key_or_timestamp_gets_the_venues_error() {
    let mut s = sim("0");
    let trades = btc_trade_frames();
    s.market.on_frame(&trades[0].0);
    let key = s.key();
    // The real order builder signing with the wrong secret.
    let mut b = BinanceOrderBuilder::new(&key, b"not-the-secret", "127.0.0.1", 5000, "ct1-");
    let req = b
        .build(&OrderFields {
            symbol: "BTCUSDT",
            side: Side::Buy,
            quantity: d("0.016"),
            reduce_only: false,
            client_seq: 1,
            timestamp_ms: now_ms(),
        })
        .to_vec();
    let (status, body) = s.send(&req);
    assert_eq!(status, 400);
    assert_eq!(
        body.to_string(),
        r#"{"code":-1022,"msg":"Signature for this request is not valid."}"#
    );
    // Correctly signed, then tampered with: quantity changed after signing.
    let mut good = BinanceOrderBuilder::new(&key, &s.secret(), "127.0.0.1", 5000, "ct1-");
    let req = String::from_utf8(
        good.build(&OrderFields {
            symbol: "BTCUSDT",
            side: Side::Buy,
            quantity: d("0.016"),
            reduce_only: false,
            client_seq: 2,
            timestamp_ms: now_ms(),
        })
        .to_vec(),
    )
    .unwrap();
    let tampered = req.replace("quantity=0.016", "quantity=0.061");
    assert_eq!(s.send(tampered.as_bytes()).1["code"], -1022);
    // Wrong API key.
    let secret = s.secret();
    let (status, body) = s.signed(
        "POST",
        "/fapi/v1/order",
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.016",
        "wrong-key",
        &secret,
    );
    assert_eq!(status, 401);
    assert_eq!(body["code"], -2015);
    // A timestamp 6 s old with recvWindow 5000: the venue's -1021 text (rest_error_-1021.json).
    let total = format!(
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.016&recvWindow=5000&timestamp={}",
        now_ms() - 6_000
    );
    let (status, body) = s.raw("POST", "/fapi/v1/order", &total, &key, &secret);
    assert_eq!(status, 400);
    assert_eq!(
        body.to_string(),
        r#"{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}"#
    );
    // Nothing of the above reached the matching engine.
    assert_eq!(s.server.venue().with(|m| m.orders().len()), 0);
    // The untampered request is accepted.
    assert_eq!(s.send(req.as_bytes()).1["status"], "FILLED");
}

#[test]
fn filter_violations_are_rejected_with_venue_filter_errors() {
    let mut s = sim("0");
    s.market.on_frame(&btc_trade_frames()[0].0);
    // A real ETHUSDT trade (2024-08-08) so ETH has a price.
    let eth =
        Recording::load(&[root().join("data/replay/binance_usdm_ETHUSDT_2024-08-08_2354-2400.gz")])
            .unwrap();
    let es = eth.stream_index("ethusdt@trade").unwrap();
    let eth_frame = &eth.frames.iter().find(|f| f.stream == es).unwrap().text;
    s.market.on_frame(eth_frame);
    let eth_px = s.market.last("ETHUSDT").unwrap().price;
    assert!(
        eth_px * d("0.001") < d("5"),
        "0.001 ETH is below the 5 USDT minimum"
    );

    let cases = [
        (
            "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.0015",
            -1013,
            "Filter failure: LOT_SIZE",
        ),
        (
            "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.0001",
            -1013,
            "Filter failure: LOT_SIZE",
        ),
        (
            "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1001",
            -1013,
            "Filter failure: MARKET_LOT_SIZE",
        ),
        (
            "symbol=ETHUSDT&side=BUY&type=MARKET&quantity=0.001",
            -4164,
            "Order's notional must be no smaller than 5 (unless you choose reduce only).",
        ),
        (
            "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.001&reduceOnly=true",
            -2022,
            "ReduceOnly Order is rejected.",
        ),
        (
            "symbol=NOPEUSDT&side=BUY&type=MARKET&quantity=1",
            -1121,
            "Invalid symbol.",
        ),
    ];
    for (params, code, msg) in cases {
        let (status, body) = s.order(params);
        assert_eq!(status, 400, "{params}");
        assert_eq!(body["code"], code, "{params}: {body}");
        assert_eq!(body["msg"], msg, "{params}");
    }
    // Conditional types go to the Algo Order API since 2025-12-09 (-4120 on /fapi/v1/order);
    // there the trigger price must be on the tick.
    let (status, body) =
        s.order("symbol=BTCUSDT&side=SELL&type=STOP_MARKET&stopPrice=61000.005&closePosition=true");
    assert_eq!(
        (status, body["code"].as_i64()),
        (400, Some(-4120)),
        "{body}"
    );
    let (status, body) = s.algo(
        "algoType=CONDITIONAL&symbol=BTCUSDT&side=SELL&type=STOP_MARKET&triggerPrice=61000.005&closePosition=true",
    );
    assert_eq!(status, 400);
    assert_eq!(body["code"], -4014, "{body}");
    assert_eq!(body["msg"], "Price not increased by tick size.");
    assert_eq!(s.server.venue().with(|m| m.orders().len()), 0);
    // On the step, above both minimums: accepted. The same client id again: -4116.
    let (status, body) =
        s.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId=ct9-1");
    assert_eq!((status, body["status"].as_str()), (200, Some("FILLED")));
    let (_, body) =
        s.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId=ct9-1");
    assert_eq!(body["code"], -4116);
}

#[test]
fn market_fill_is_at_the_replayed_price_with_exact_fee_and_slippage() {
    let mut s = sim("2");
    let trades = btc_trade_frames();
    // The first recorded BTCUSDT trade: 61800.30.
    s.market.on_frame(&trades[0].0);
    assert_eq!(trades[0].1, d("61800.30"));
    let (status, buy) =
        s.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.016&newClientOrderId=ct1-1");
    assert_eq!(status, 200, "{buy}");
    // 61800.30 · (1 + 2/10⁴) = 61812.660060 → up to the 0.01 tick: 61812.67.
    assert_eq!(buy["avgPrice"], "61812.67");
    assert_eq!(buy["executedQty"], "0.016");
    // 61812.67 · 0.016 = 989.00272
    assert_eq!(d(buy["cumQuote"].as_str().unwrap()), d("989.00272"));
    // The next real trades move the price; the sell fills at the price replayed last.
    let k = trades.iter().position(|(_, p)| *p != trades[0].1).unwrap();
    s.market.on_frame(&trades[k].0);
    let last = trades[k].1;
    let (_, sell) = s.order("symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.016&reduceOnly=true&newClientOrderId=ct1-2");
    // Sell: last · (1 − 2/10⁴), down to the tick; computed here independently with Decimal.
    let want = (last * d("0.9998") / d("0.01")).floor() * d("0.01");
    assert_eq!(d(sell["avgPrice"].as_str().unwrap()), want);

    // Trades, position and balance, exact.
    let (_, t) = s.get("/fapi/v1/userTrades", "symbol=BTCUSDT");
    let t = t.as_array().unwrap().clone();
    assert_eq!(t.len(), 2);
    // fee = round₈(989.00272 · 0.0004) = round₈(0.395601088) = 0.39560109
    assert_eq!(t[0]["commission"], "0.39560109");
    let sell_fee = (want * d("0.016") * d("0.0004")).round_dp(8);
    assert_eq!(d(t[1]["commission"].as_str().unwrap()), sell_fee);
    let realized = (want - d("61812.67")) * d("0.016");
    assert_eq!(d(t[1]["realizedPnl"].as_str().unwrap()), realized);
    let (_, pos) = s.get("/fapi/v2/positionRisk", "symbol=BTCUSDT");
    assert_eq!(d(pos[0]["positionAmt"].as_str().unwrap()), Decimal::ZERO);
    let (_, bal) = s.get("/fapi/v2/balance", "");
    assert_eq!(
        d(bal[0]["balance"].as_str().unwrap()),
        d("10000") + realized - d("0.39560109") - sell_fee
    );
    // The order can be queried by its client id.
    let (_, q) = s.get("/fapi/v1/order", "symbol=BTCUSDT&origClientOrderId=ct1-1");
    assert_eq!(q["status"], "FILLED");
    assert_eq!(q["avgPrice"], "61812.67");
    let (status, q) = s.get("/fapi/v1/order", "symbol=BTCUSDT&origClientOrderId=ct1-99");
    assert_eq!((status, q["code"].as_i64()), (400, Some(-2013)));
}

/// Index of the first trade after `from` at or through `level` (`up`: price ≥ level).
fn first_cross(
    trades: &[(String, Decimal)],
    from: usize,
    level: Decimal,
    up: bool,
) -> Option<usize> {
    (from..trades.len()).find(|&i| {
        if up {
            trades[i].1 >= level
        } else {
            trades[i].1 <= level
        }
    })
}

#[test]
fn take_profit_and_stop_loss_trigger_on_replayed_prices() {
    let trades = btc_trade_frames();
    let entry = trades[0].1;
    // Levels inside the real price path of the recording: +15 USDT and −0.20 USDT.
    let tp_level = entry + d("15");
    let sl_level = entry - d("0.20");
    let tp_at = first_cross(&trades, 1, tp_level, true).expect("the recording reaches the TP");
    let sl_at = first_cross(&trades, 1, sl_level, false).expect("the recording reaches the SL");
    assert_ne!(tp_at, sl_at);

    let mut s = sim("0");
    s.market.on_frame(&trades[0].0);
    assert_eq!(
        s.order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.010&newClientOrderId=e")
            .1["status"],
        "FILLED"
    );
    let (status, tp) = s.algo(&format!(
        "algoType=CONDITIONAL&symbol=BTCUSDT&side=SELL&type=TAKE_PROFIT_MARKET&triggerPrice={tp_level}&closePosition=true&clientAlgoId=tp"
    ));
    assert_eq!((status, tp["algoStatus"].as_str()), (200, Some("NEW")));
    s.algo(&format!(
        "algoType=CONDITIONAL&symbol=BTCUSDT&side=SELL&type=STOP_MARKET&triggerPrice={sl_level}&closePosition=true&clientAlgoId=sl"
    ));
    let (_, open) = s.get("/fapi/v1/openAlgoOrders", "symbol=BTCUSDT");
    assert_eq!(open.as_array().unwrap().len(), 2);
    // Algo orders are not regular open orders.
    let (_, open) = s.get("/fapi/v1/openOrders", "symbol=BTCUSDT");
    assert_eq!(open.as_array().unwrap().len(), 0);

    // Replay up to (not including) the first crossing: nothing triggers.
    let first = tp_at.min(sl_at);
    for (text, _) in &trades[1..first] {
        s.market.on_frame(text);
    }
    assert_eq!(
        s.get("/fapi/v1/openAlgoOrders", "")
            .1
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // The crossing trade fills the leg it crosses at that trade's price; the other expires
    // when its own level is reached later with nothing left to close.
    s.market.on_frame(&trades[first].0);
    let (hit, other) = if tp_at < sl_at {
        ("tp", "sl")
    } else {
        ("sl", "tp")
    };
    let (_, a) = s.get("/fapi/v1/algoOrder", &format!("clientAlgoId={hit}"));
    assert_eq!(a["algoStatus"], "FINISHED", "{a}");
    // The triggered order's fill: by the algo order's actualOrderId.
    let (_, q) = s.get(
        "/fapi/v1/order",
        &format!(
            "symbol=BTCUSDT&orderId={}",
            a["actualOrderId"].as_str().unwrap()
        ),
    );
    assert_eq!(q["status"], "FILLED", "{q}");
    assert_eq!(d(q["avgPrice"].as_str().unwrap()), trades[first].1);
    assert_eq!(q["executedQty"], "0.010");
    let (_, pos) = s.get("/fapi/v2/positionRisk", "symbol=BTCUSDT");
    assert_eq!(d(pos[0]["positionAmt"].as_str().unwrap()), Decimal::ZERO);
    let second = tp_at.max(sl_at);
    for (text, _) in &trades[first + 1..=second] {
        s.market.on_frame(text);
    }
    let (_, q) = s.get("/fapi/v1/algoOrder", &format!("clientAlgoId={other}"));
    assert_eq!(q["algoStatus"], "EXPIRED");
    // The triggered fill is reported through userTrades.
    let (_, t) = s.get("/fapi/v1/userTrades", "symbol=BTCUSDT");
    let t = t.as_array().unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(t[1]["side"], "SELL");
    assert_eq!(d(t[1]["price"].as_str().unwrap()), trades[first].1);
    let pnl = (trades[first].1 - entry) * d("0.010");
    assert_eq!(d(t[1]["realizedPnl"].as_str().unwrap()), pnl);
}
