//! Every rejection class, triggered by a crafted mutation of a real message, lands in its own
//! counter (parse → validate → counter, the mapping `FeedStage` uses) and nothing else moves.

use calculus_trader::feed::stage::{parse_counter, reject_counter};
use calculus_trader::feed::{MarketEvent, SymbolTable, ValidationConfig, Validator, VenueParser};
use calculus_trader::telemetry::{Counter, CounterSet};
use serde_json::Value;

mod common;
use common::files::{bybit_capture_lines, root};

fn bybit_lines() -> Vec<String> {
    bybit_capture_lines()
}

/// Parser + validator + counters, as in the feed stage.
struct Feed {
    parser: VenueParser,
    validator: Validator,
    symbols: SymbolTable,
    counts: CounterSet,
}

impl Feed {
    fn new(venue: &str) -> Self {
        let symbols = SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap();
        Self {
            parser: VenueParser::for_venue(venue, &symbols).unwrap(),
            validator: Validator::new(ValidationConfig::default(), symbols.len()),
            symbols,
            counts: CounterSet::default(),
        }
    }

    fn feed(&mut self, text: &str, wall_ms: u64) {
        let mut buf = text.as_bytes().to_vec();
        let Self {
            parser,
            validator,
            symbols,
            counts,
        } = self;
        let r = parser.parse(&mut buf, symbols, |ev| {
            match validator.check(&ev, wall_ms) {
                Err(r) => counts.add(reject_counter(r), 1),
                Ok(()) => match ev {
                    MarketEvent::Trade(_) => counts.add(Counter::Ticks, 1),
                    MarketEvent::Quote(_) => counts.add(Counter::Quotes, 1),
                },
            }
        });
        if let Err(e) = r {
            self.counts.add(parse_counter(e), 1);
        }
    }

    /// Feeds `text` and returns the counters that moved.
    fn moved(&mut self, text: &str, wall_ms: u64) -> Vec<(&'static str, u64)> {
        let before = self.counts;
        self.feed(text, wall_ms);
        Counter::ALL
            .iter()
            .filter(|c| self.counts.get(**c) != before.get(**c))
            .map(|c| (c.name(), self.counts.get(*c) - before.get(*c)))
            .collect()
    }
}

/// A real single-trade Bybit frame and its trade time.
fn bybit_trade() -> (String, u64) {
    let line = bybit_lines()
        .into_iter()
        .find(|l| l.contains("publicTrade.BTCUSDT") && l.matches(r#""T":"#).count() == 1)
        .unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    let t = v["data"][0]["T"].as_u64().unwrap();
    (line, t)
}

fn field(line: &str, key: &str) -> String {
    let v: Value = serde_json::from_str(line).unwrap();
    let d = if v["data"].is_array() {
        &v["data"][0]
    } else {
        &v["data"]
    };
    match &d[key] {
        Value::String(s) => format!(r#""{key}":"{s}""#),
        other => format!(r#""{key}":{other}"#),
    }
}

fn with(line: &str, key: &str, new_value: &str) -> String {
    let old = field(line, key);
    assert!(line.contains(&old), "{old}");
    line.replacen(&old, &format!(r#""{key}":{new_value}"#), 1)
}

#[test]
fn parse_level_classes_from_a_real_bybit_trade() {
    let (line, t) = bybit_trade();
    let wall = t + 100;
    let mut f = Feed::new("bybit");
    assert_eq!(f.moved(&line, wall), [("ticks", 1)]);
    let cases: [(String, &str); 8] = [
        (line[..line.len() / 2].to_string(), "reject_json"),
        (
            line.replacen(&format!("{},", field(&line, "p")), "", 1),
            "reject_missing_field",
        ),
        (with(&line, "p", r#""abc""#), "reject_bad_number"),
        (with(&line, "p", r#""NaN""#), "reject_non_finite"),
        (with(&line, "p", r#""1e999""#), "reject_non_finite"),
        (with(&line, "p", r#""0""#), "reject_non_positive"),
        (with(&line, "v", r#""-0.004""#), "reject_non_positive"),
        (with(&line, "s", r#""DOGEUSDT""#), "reject_unknown_symbol"),
    ];
    for (text, counter) in cases {
        assert_eq!(f.moved(&text, wall), [(counter, 1)], "{text}");
    }
}

#[test]
fn stateful_classes_from_real_bybit_trades() {
    let (line, t) = bybit_trade();
    let mut f = Feed::new("bybit");
    // Future: the trade is 10 s ahead of our clock (limit 5 s).
    assert_eq!(f.moved(&line, t - 10_000), [("reject_future_ts", 1)]);
    assert_eq!(f.moved(&line, t + 100), [("ticks", 1)]);
    // Duplicate: the same frame again (what a replaying server's fault injection sends).
    assert_eq!(f.moved(&line, t + 100), [("reject_duplicate", 1)]);
    // Out of order: a different trade 2 s older than the newest (tolerance 1 s).
    let old = with(
        &with(&line, "T", &(t - 2_000).to_string()),
        "i",
        r#""other-id""#,
    );
    assert_eq!(f.moved(&old, t + 100), [("reject_out_of_order", 1)]);
    // Within the tolerance it is accepted.
    let late = with(
        &with(&line, "T", &(t - 500).to_string()),
        "i",
        r#""late-id""#,
    );
    assert_eq!(f.moved(&late, t + 100), [("ticks", 1)]);
}

#[test]
fn a_spike_after_real_trades_is_rejected_and_the_real_stream_is_not() {
    let mut f = Feed::new("bybit");
    let lines = bybit_lines();
    let last_ts = 1_786_310_900_000;
    let mut last_trade = None;
    for l in &lines {
        f.feed(l, last_ts);
        if l.contains("publicTrade.BTCUSDT") {
            last_trade = Some(l.clone());
        }
    }
    // The whole real capture passes the default checks.
    let rejects: u64 = Counter::ALL
        .iter()
        .filter(|c| c.name().starts_with("reject_"))
        .map(|c| f.counts.get(*c))
        .sum();
    assert_eq!(rejects, 0);
    assert_eq!(f.counts.get(Counter::Ticks), 79);
    let line = last_trade.unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    let p: f64 = v["data"][0]["p"].as_str().unwrap().parse().unwrap();
    let spiked = with(
        &with(&line, "p", &format!(r#""{:.1}""#, p * 1.05)),
        "i",
        r#""spike-1""#,
    );
    assert_eq!(f.moved(&spiked, last_ts), [("reject_spike", 1)]);
}

#[test]
fn classes_from_a_real_binance_trade() {
    let line = std::fs::read_to_string(
        root().join("tests/fixtures/binance/ws_combined_trade_real_BTCUSDT_2024.json"),
    )
    .unwrap();
    let line = line.trim();
    let v: Value = serde_json::from_str(line).unwrap();
    let t = v["data"]["T"].as_u64().unwrap();
    let mut f = Feed::new("binance");
    assert_eq!(f.moved(line, t - 60_000), [("reject_future_ts", 1)]);
    assert_eq!(f.moved(line, t), [("ticks", 1)]);
    assert_eq!(f.moved(line, t), [("reject_duplicate", 1)]);
    assert_eq!(
        f.moved(&with(line, "q", r#""inf""#), t),
        [("reject_non_finite", 1)]
    );
    assert_eq!(
        f.moved(&with(line, "p", r#""-1""#), t),
        [("reject_non_positive", 1)]
    );
    assert_eq!(
        f.moved(&with(line, "p", "61800.3"), t),
        [("reject_missing_field", 1)]
    );
    assert_eq!(
        f.moved(&line.replace("\"m\":false", "\"m\":false,"), t),
        [("reject_json", 1)]
    );
    let older = with(&with(line, "T", &(t - 5_000).to_string()), "t", "1");
    assert_eq!(f.moved(&older, t), [("reject_out_of_order", 1)]);
}
