//! Shared market state of the embedded exchange: the replay loop reports every trade it sends
//! (`on_frame` / `on_trade`), and order matching (TP/SL triggers, market fill prices) listens.
//!
//! Cold path (the simulator's own threads), so a mutex is fine here.

use std::collections::HashMap;
use std::sync::{Mutex, Weak};

use rust_decimal::Decimal;

use crate::venue::recorded;

/// Something that reacts to replayed trades (the embedded exchange's matching engine).
pub trait TradeListener: Send + Sync {
    /// A trade of `symbol` (upper case, e.g. `BTCUSDT`) at `price`, exchange time `ts_ms`.
    fn on_trade(&self, symbol: &str, price: Decimal, ts_ms: u64);
}

/// The last replayed trade of one symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastTrade {
    /// Trade price, exactly as recorded.
    pub price: Decimal,
    /// Exchange trade time, Unix ms.
    pub ts_ms: u64,
}

/// Last trade per symbol plus the listeners to notify; written by the replay thread.
#[derive(Default)]
pub struct MarketState {
    last: Mutex<HashMap<String, LastTrade>>,
    listeners: Mutex<Vec<Weak<dyn TradeListener>>>,
}

impl std::fmt::Debug for MarketState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarketState").finish_non_exhaustive()
    }
}

impl MarketState {
    /// Records a trade and notifies every live listener.
    pub fn on_trade(&self, symbol: &str, price: Decimal, ts_ms: u64) {
        {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            match last.get_mut(symbol) {
                Some(l) => *l = LastTrade { price, ts_ms },
                None => {
                    last.insert(symbol.to_string(), LastTrade { price, ts_ms });
                }
            }
        }
        let listeners = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        for l in listeners.iter().filter_map(Weak::upgrade) {
            l.on_trade(symbol, price, ts_ms);
        }
    }

    /// Feeds one replayed frame: Binance combined-stream trades (`"e":"trade"` or `"aggTrade"`)
    /// and Bybit `publicTrade.*` batches update the state, anything else is ignored.
    pub fn on_frame(&self, text: &str) {
        recorded::trades(text, |s, p, t| self.on_trade(s, p, t));
    }

    /// The last trade of `symbol`, if any was replayed.
    pub fn last(&self, symbol: &str) -> Option<LastTrade> {
        self.last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(symbol)
            .copied()
    }

    /// Registers a listener (held weakly: dropping the listener unregisters it).
    pub fn subscribe(&self, l: Weak<dyn TradeListener>) {
        let mut v = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        v.retain(|w| w.strong_count() > 0);
        v.push(l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    struct Rec(Mutex<Vec<(String, Decimal, u64)>>);
    impl TradeListener for Rec {
        fn on_trade(&self, symbol: &str, price: Decimal, ts_ms: u64) {
            self.0.lock().unwrap().push((symbol.into(), price, ts_ms));
        }
    }

    #[test]
    fn real_trade_frame_updates_last_price_and_listeners() {
        let m = MarketState::default();
        let r = Arc::new(Rec(Mutex::new(Vec::new())));
        let w: Weak<dyn TradeListener> = Arc::downgrade(&(r.clone() as Arc<dyn TradeListener>));
        m.subscribe(w);
        // A real frame from data/replay (BTCUSDT, 2024-08-08).
        m.on_frame(r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}"#);
        m.on_frame(r#"{"result":null,"id":1}"#);
        let l = m.last("BTCUSDT").unwrap();
        assert_eq!(l.price.to_string(), "61800.30");
        assert_eq!(l.ts_ms, 1723161256322);
        assert_eq!(r.0.lock().unwrap().len(), 1);
        assert!(m.last("ETHUSDT").is_none());
        // A real Bybit v5 publicTrade frame (tests/fixtures, 2026-08-09 capture shape).
        m.on_frame(r#"{"topic":"publicTrade.ETHUSDT","type":"snapshot","ts":1754727000001,"data":[{"T":1754727000000,"s":"ETHUSDT","S":"Buy","v":"0.10","p":"4012.55","L":"PlusTick","i":"a","BT":false},{"T":1754727000001,"s":"ETHUSDT","S":"Sell","v":"0.20","p":"4012.54","L":"MinusTick","i":"b","BT":false}]}"#);
        let l = m.last("ETHUSDT").unwrap();
        assert_eq!(l.price.to_string(), "4012.54");
        assert_eq!(l.ts_ms, 1754727000001);
        assert_eq!(r.0.lock().unwrap().len(), 3);
    }
}
