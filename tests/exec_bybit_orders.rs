//! The embedded exchange's Bybit v5 order entry: `X-BAPI-*` signatures verified with the
//! documented signing vectors (tests/fixtures/signing), time window enforced, market orders
//! filled at the replayed price with TP/SL attached and triggered by replayed prices.

use std::sync::Arc;
use std::time::Duration;

use calculus_trader::exchange::rest_orders::SimCredentials;
use calculus_trader::exchange::{MarketState, RestExchange};
use calculus_trader::exec::{HttpTransport, Signer};
use calculus_trader::telemetry::Clock;
use serde_json::Value;

mod common;
use common::exchange::{listed, start, Exchange};
use common::files::root;
use common::setup::btc_trade_frames;
use common::values::{d, now_ms};

fn vector(name: &str) -> Value {
    let text = std::fs::read_to_string(root().join("tests/fixtures/signing/signing_vectors.json"))
        .unwrap();
    let all: Vec<Value> = serde_json::from_str(&text).unwrap();
    all.into_iter().find(|v| v["name"] == name).unwrap()
}

struct Sim {
    market: Arc<MarketState>,
    server: RestExchange,
    http: HttpTransport,
}

fn sim(key: &str, secret: &str) -> Sim {
    let Exchange { market, server } = start(
        listed(&["BTCUSDT"]),
        "0.00055",
        "0",
        Some(SimCredentials {
            api_key: key.into(),
            secret: secret.into(),
        }),
    );
    let http = HttpTransport::new(&server.url(), 4, Duration::from_secs(20), Clock::new()).unwrap();
    Sim {
        market,
        server,
        http,
    }
}

impl Sim {
    /// Sends a Bybit request with the given auth headers; payload = body (POST) or query (GET).
    fn send(
        &mut self,
        method: &str,
        path_query: &str,
        body: &str,
        key: &str,
        ts: u64,
        sign: &str,
    ) -> Value {
        let req = format!(
            "{method} {path_query} HTTP/1.1\r\nHost: x\r\nX-BAPI-API-KEY: {key}\r\nX-BAPI-TIMESTAMP: {ts}\r\nX-BAPI-RECV-WINDOW: 5000\r\nX-BAPI-SIGN: {sign}\r\nX-BAPI-SIGN-TYPE: 2\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let (status, body) = self
            .http
            .request_blocking(req.as_bytes(), Duration::from_secs(20))
            .unwrap();
        assert_eq!(status, 200);
        serde_json::from_slice(&body).unwrap()
    }

    /// A correctly signed request now.
    fn signed(&mut self, method: &str, path: &str, payload: &str) -> Value {
        let c = self.server.credentials().clone();
        let ts = now_ms();
        let mut sig = [0u8; 64];
        Signer::new(c.secret.as_bytes()).sign_hex(
            format!("{ts}{}5000{payload}", c.api_key).as_bytes(),
            &mut sig,
        );
        let sig = std::str::from_utf8(&sig).unwrap().to_string();
        if method == "GET" {
            self.send(
                "GET",
                &format!("{path}?{payload}"),
                "",
                &c.api_key,
                ts,
                &sig,
            )
        } else {
            self.send(method, path, payload, &c.api_key, ts, &sig)
        }
    }
}

#[test]
fn documented_signing_vectors_pass_the_signature_check_and_a_flipped_bit_does_not() {
    let mut s = sim("test-key", "test-secret");
    for (name, method, path) in [
        (
            "bybit_v5_rest_post_order_create",
            "POST",
            "/v5/order/create",
        ),
        ("bybit_v5_rest_get_query_php", "GET", "/v5/order/realtime"),
    ] {
        let v = vector(name);
        let payload = v["payload"].as_str().unwrap();
        // payload = "1700000000000" + "test-key" + "5000" + body-or-query
        let rest = payload.strip_prefix("1700000000000test-key5000").unwrap();
        let sign = v["expected_hex"].as_str().unwrap();
        let (pq, body) = if method == "GET" {
            (format!("{path}?{rest}"), "")
        } else {
            (path.to_string(), rest)
        };
        // The documented signature is accepted; the 2023 timestamp is then outside the window.
        let r = s.send(method, &pq, body, "test-key", 1_700_000_000_000, sign);
        assert_eq!(r["retCode"], 10002, "{name}: {r}");
        let mut bad = sign.to_string();
        bad.replace_range(0..1, if sign.starts_with('0') { "1" } else { "0" });
        let r = s.send(method, &pq, body, "test-key", 1_700_000_000_000, &bad);
        assert_eq!(r["retCode"], 10004, "{name}: {r}");
        assert_eq!(
            r["retMsg"],
            "Error sign, please check your signature generation algorithm."
        );
        let r = s.send(method, &pq, body, "other-key", 1_700_000_000_000, sign);
        assert_eq!(r["retCode"], 10003, "{name}: {r}");
    }
    assert_eq!(s.server.venue().with(|m| m.orders().len()), 0);
}

#[test]
fn market_order_with_tp_and_sl_fills_and_its_stop_triggers_on_replayed_prices() {
    let mut s = sim(&"k".repeat(18), &"s".repeat(36));
    let trades = btc_trade_frames();
    s.market.on_frame(&trades[0].0);
    let entry = trades[0].1;
    let sl = entry - d("0.20");
    let tp = entry + d("1000");
    let body = format!(
        r#"{{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Market","qty":"0.010","orderLinkId":"ct1-1","takeProfit":"{tp}","stopLoss":"{sl}"}}"#
    );
    let r = s.signed("POST", "/v5/order/create", &body);
    assert_eq!(r["retCode"], 0, "{r}");
    assert_eq!(r["result"]["orderLinkId"], "ct1-1");
    let q = s.signed(
        "GET",
        "/v5/order/realtime",
        "category=linear&orderLinkId=ct1-1",
    );
    let o = &q["result"]["list"][0];
    assert_eq!(o["orderStatus"], "Filled");
    assert_eq!(d(o["avgPrice"].as_str().unwrap()), entry);
    // fee = 0.00055 · 618.003 = 0.33990165
    assert_eq!(d(o["cumExecFee"].as_str().unwrap()), d("0.33990165"));
    // Replay until the first trade at or below the stop: the stop fills at that trade.
    let hit = (1..trades.len())
        .find(|&i| trades[i].1 <= sl)
        .expect("the recording reaches the stop");
    for (text, _) in &trades[1..=hit] {
        s.market.on_frame(text);
    }
    let q = s.signed(
        "GET",
        "/v5/order/realtime",
        "category=linear&orderLinkId=ct1-1-sl",
    );
    let o = &q["result"]["list"][0];
    assert_eq!(o["orderStatus"], "Filled", "{q}");
    assert_eq!(d(o["avgPrice"].as_str().unwrap()), trades[hit].1);
    let q = s.signed(
        "GET",
        "/v5/order/realtime",
        "category=linear&orderLinkId=ct1-1-tp",
    );
    // Position TP/SL (tpslMode Full) leave with the position: the TP is deactivated.
    assert_eq!(q["result"]["list"][0]["orderStatus"], "Deactivated");
    let p = s.signed("GET", "/v5/position/list", "category=linear&symbol=BTCUSDT");
    assert_eq!(p["result"]["list"][0]["size"], "0.000");
    // A stale timestamp is refused with 10002.
    let c = s.server.credentials().clone();
    let ts = now_ms() - 10_000;
    let mut sig = [0u8; 64];
    Signer::new(c.secret.as_bytes())
        .sign_hex(format!("{ts}{}5000{body}", c.api_key).as_bytes(), &mut sig);
    let r = s.send(
        "POST",
        "/v5/order/create",
        &body,
        &c.api_key,
        ts,
        std::str::from_utf8(&sig).unwrap(),
    );
    assert_eq!(r["retCode"], 10002);
}

/// The exits read the same with the trigger types left out (`LastPrice`, Bybit's documented
/// default, as the order builder now sends them) as written out (as it sent them before):
/// same position TP/SL, same stop fill; trigger types the exchange does not model
/// (`MarkPrice`, `IndexPrice`) and `Partial` mode are refused, never misread.
#[test]
fn left_out_trigger_types_read_as_last_price_and_others_are_refused() {
    let trades = btc_trade_frames();
    let entry = trades[0].1;
    let (tp, sl) = (entry + d("1000"), entry - d("0.20"));
    let order = |tail: &str| {
        format!(
            r#"{{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Market","qty":"0.010","orderLinkId":"ct1-1","takeProfit":"{tp}","stopLoss":"{sl}","tpslMode":"Full"{tail}}}"#
        )
    };
    let hit = (1..trades.len())
        .find(|&i| trades[i].1 <= sl)
        .expect("the recording reaches the stop");
    let mut seen = Vec::new();
    for tail in [
        "",
        r#","tpTriggerBy":"LastPrice","slTriggerBy":"LastPrice""#,
    ] {
        let mut s = sim(&"k".repeat(18), &"s".repeat(36));
        s.market.on_frame(&trades[0].0);
        let r = s.signed("POST", "/v5/order/create", &order(tail));
        assert_eq!(r["retCode"], 0, "{r}");
        let p = s.signed("GET", "/v5/position/list", "category=linear&symbol=BTCUSDT");
        let p = &p["result"]["list"][0];
        assert_eq!(
            (
                d(p["takeProfit"].as_str().unwrap()),
                d(p["stopLoss"].as_str().unwrap())
            ),
            (tp, sl)
        );
        for (text, _) in &trades[1..=hit] {
            s.market.on_frame(text);
        }
        let q = s.signed(
            "GET",
            "/v5/order/realtime",
            "category=linear&orderLinkId=ct1-1-sl",
        );
        let o = q["result"]["list"][0].clone();
        assert_eq!(o["orderStatus"], "Filled", "{q}");
        let after = s.signed("GET", "/v5/position/list", "category=linear&symbol=BTCUSDT");
        seen.push((
            p["size"].clone(),
            p["avgPrice"].clone(),
            o["avgPrice"].clone(),
            after["result"]["list"][0]["size"].clone(),
        ));
    }
    assert_eq!(seen[0], seen[1]);
    let mut s = sim(&"k".repeat(18), &"s".repeat(36));
    s.market.on_frame(&trades[0].0);
    for tail in [
        r#","tpTriggerBy":"MarkPrice""#,
        r#","slTriggerBy":"IndexPrice""#,
        r#","tpslMode":"Partial""#,
    ] {
        let body = order(tail).replace(r#","tpslMode":"Full","tpslMode""#, r#","tpslMode""#);
        let r = s.signed("POST", "/v5/order/create", &body);
        assert_eq!(r["retCode"], 10001, "{body}: {r}");
        assert!(
            r["retMsg"].as_str().unwrap().contains("embedded exchange"),
            "{r}"
        );
    }
    assert_eq!(s.server.venue().with(|m| m.orders().len()), 0);
}
