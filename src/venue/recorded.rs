//! Recorded frames of either venue as the embedded exchange replays them: which are trades,
//! their trades, and the trade-id / trade-time rewrite of the exchange's tamper fault.

use rust_decimal::Decimal;

use super::{binance, bybit};

/// Whether `text` is a trade frame: a Binance combined-stream `trade` event or a Bybit
/// `publicTrade.<SYMBOL>` message.
pub fn is_trade_frame(text: &str) -> bool {
    text.contains("\"e\":\"trade\"") || is_bybit_trade_frame(text)
}

fn is_bybit_trade_frame(text: &str) -> bool {
    text.contains("\"topic\":\"publicTrade.")
}

/// Calls `on(symbol, price, trade ms)` for every trade of a recorded frame of either venue
/// (Binance `trade`/`aggTrade`, Bybit `publicTrade` batches); anything else is skipped.
pub fn trades(text: &str, on: impl FnMut(&str, Decimal, u64)) {
    if is_bybit_trade_frame(text) {
        bybit::exchange::recorded_trades(text, on);
    } else {
        binance::exchange::recorded_trades(text, on);
    }
}

/// Whether a recording's stream name is a Binance combined stream (`btcusdt@trade`).
pub fn is_binance_stream(name: &str) -> bool {
    name.contains('@')
}

/// Whether a recording's stream name is a Binance trade stream (`btcusdt@trade`).
pub fn is_binance_trade_stream(name: &str) -> bool {
    name.ends_with("@trade")
}

/// Whether a recorded frame opens with a Binance combined-stream name (`{"stream":"…"`) that
/// is not a trade stream (`@trade`, `@aggTrade`): skippable without parsing.
pub fn names_a_non_trade_stream(frame: &[u8]) -> bool {
    const HEAD: &[u8] = br#"{"stream":""#;
    let Some(rest) = frame.strip_prefix(HEAD) else {
        return false;
    };
    let Some(end) = rest.iter().position(|&b| b == b'"') else {
        return false;
    };
    let stream = &rest[..end];
    !(stream.ends_with(b"@trade") || stream.ends_with(b"@aggTrade"))
}

/// A trade frame ([`is_trade_frame`]) with the Binance trade id `t` set to `id` (when given)
/// and every trade time `T` mapped by `time`; `None` when `text` is not a trade frame.
pub fn rewrite_trade(text: &str, id: Option<u64>, time: impl Fn(u64) -> u64) -> Option<String> {
    if !is_trade_frame(text) {
        return None;
    }
    let out = match id {
        Some(id) => map_numbers(text, "t", |_| id),
        None => text.to_string(),
    };
    Some(map_numbers(&out, "T", time))
}

/// `text` with the unsigned number after every `"key":` replaced by `f(number)`.
fn map_numbers(text: &str, key: &str, f: impl Fn(u64) -> u64) -> String {
    let pat = format!("\"{key}\":");
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(at) = rest.find(&pat) {
        let (head, tail) = rest.split_at(at + pat.len());
        out.push_str(head);
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        match tail[..digits].parse::<u64>() {
            Ok(v) => out.push_str(&f(v).to_string()),
            Err(_) => out.push_str(&tail[..digits]),
        }
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BINANCE: &str = r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}"#;
    const BYBIT: &str = r#"{"topic":"publicTrade.ETHUSDT","type":"snapshot","ts":1754727000001,"data":[{"T":1754727000000,"s":"ETHUSDT","S":"Buy","v":"0.10","p":"4012.55","L":"PlusTick","i":"a","BT":false}]}"#;

    #[test]
    fn trade_frames_of_both_venues_are_rewritten_and_others_left_alone() {
        let b = rewrite_trade(BINANCE, Some(u64::MAX), |t| t + 5).unwrap();
        assert!(b.contains(&format!("\"t\":{}", u64::MAX)), "{b}");
        assert!(b.contains("\"T\":1723161256327") && b.contains("\"E\":1723161256322"));
        let y = rewrite_trade(BYBIT, None, |_| 7).unwrap();
        assert!(
            y.contains("\"T\":7") && y.contains("\"ts\":1754727000001"),
            "{y}"
        );
        assert_eq!(
            rewrite_trade(r#"{"e":"bookTicker","T":1}"#, None, |_| 2),
            None
        );
        let mut seen = Vec::new();
        trades(BYBIT, |s, p, t| seen.push((s.to_string(), p, t)));
        trades(BINANCE, |s, p, t| seen.push((s.to_string(), p, t)));
        assert_eq!(
            seen,
            vec![
                ("ETHUSDT".into(), "4012.55".parse().unwrap(), 1754727000000),
                ("BTCUSDT".into(), "61800.30".parse().unwrap(), 1723161256322),
            ]
        );
        assert!(is_binance_trade_stream("btcusdt@trade") && !is_binance_stream("publicTrade.X"));
        assert!(names_a_non_trade_stream(
            br#"{"stream":"btcusdt@depth5","data":{}}"#
        ));
        assert!(!names_a_non_trade_stream(
            br#"{"stream":"btcusdt@aggTrade","data":{}}"#
        ));
        assert!(!names_a_non_trade_stream(BINANCE.as_bytes()));
        assert!(!names_a_non_trade_stream(BYBIT.as_bytes()));
    }
}
