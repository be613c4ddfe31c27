//! Exactly-once, in-order trade delivery per symbol across reconnects, re-subscriptions and
//! the REST fallback: every trade source (each WS connection, REST polls) goes through one
//! [`TradeDedup`] on the network thread before a tick is handed on.
//!
//! Rule (per symbol, see [`DedupMode`]): a trade is delivered iff it is strictly after the last
//! delivered one in the venue's trade order; anything at or before it is a repeat (counted,
//! dropped). Delivered ticks are therefore in trade order with no duplicates; a trade that
//! arrives after a later one was delivered is counted as `late` and dropped (the later trade
//! was already acted on). With sequential ids, skipped ids are counted as missed trades.

use super::protocol::DedupMode;
use crate::types::Tick;

/// Ids remembered at the latest trade time (TimeAndId mode); more trades in one millisecond
/// than this may let a repeat through.
const SAME_MS: usize = 64;

#[derive(Clone, Debug)]
struct PerSymbol {
    seen: bool,
    last_id: u64,
    last_ts: u64,
    ids_at_ts: [u64; SAME_MS],
    n_at_ts: usize,
}

impl Default for PerSymbol {
    fn default() -> Self {
        Self {
            seen: false,
            last_id: 0,
            last_ts: 0,
            ids_at_ts: [0; SAME_MS],
            n_at_ts: 0,
        }
    }
}

/// The verdict on one trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DedupeVerdict {
    /// New: deliver it. `missed` = trades skipped before it (sequential ids only).
    New {
        /// Ids skipped between the previous delivered trade and this one.
        missed: u64,
    },
    /// Already delivered (or older than what was delivered): drop it.
    Repeat,
}

/// Per-symbol filter; fixed memory, no allocation after construction.
#[derive(Clone, Debug)]
pub struct TradeDedup {
    mode: DedupMode,
    per: Vec<PerSymbol>,
}

impl TradeDedup {
    /// A filter for `n_symbols` symbols.
    pub fn new(mode: DedupMode, n_symbols: usize) -> Self {
        Self {
            mode,
            per: vec![PerSymbol::default(); n_symbols],
        }
    }

    /// Judges `t` and, when new, records it as the last delivered trade of its symbol.
    #[inline]
    pub fn check(&mut self, t: &Tick) -> DedupeVerdict {
        let Some(s) = self.per.get_mut(t.symbol.index()) else {
            return DedupeVerdict::Repeat;
        };
        match self.mode {
            DedupMode::SequentialIds => {
                if s.seen && t.trade_id <= s.last_id {
                    return DedupeVerdict::Repeat;
                }
                let missed = if s.seen {
                    t.trade_id - s.last_id - 1
                } else {
                    0
                };
                s.seen = true;
                s.last_id = t.trade_id;
                s.last_ts = t.exch_ts_ms;
                DedupeVerdict::New { missed }
            }
            DedupMode::TimeAndId => {
                if s.seen {
                    if t.exch_ts_ms < s.last_ts {
                        return DedupeVerdict::Repeat;
                    }
                    if t.exch_ts_ms == s.last_ts {
                        let n = s.n_at_ts.min(SAME_MS);
                        if s.ids_at_ts[..n].contains(&t.trade_id) {
                            return DedupeVerdict::Repeat;
                        }
                        s.ids_at_ts[s.n_at_ts % SAME_MS] = t.trade_id;
                        s.n_at_ts += 1;
                        s.last_id = t.trade_id;
                        return DedupeVerdict::New { missed: 0 };
                    }
                }
                s.seen = true;
                s.last_ts = t.exch_ts_ms;
                s.last_id = t.trade_id;
                s.ids_at_ts[0] = t.trade_id;
                s.n_at_ts = 1;
                DedupeVerdict::New { missed: 0 }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SymbolId;

    fn t(sym: u16, id: u64, ts: u64) -> Tick {
        Tick {
            symbol: SymbolId(sym),
            trade_id: id,
            exch_ts_ms: ts,
            ..Default::default()
        }
    }

    #[test]
    fn sequential_ids_pass_once_in_order_and_count_gaps() {
        let mut d = TradeDedup::new(DedupMode::SequentialIds, 2);
        assert_eq!(d.check(&t(0, 100, 1)), DedupeVerdict::New { missed: 0 });
        assert_eq!(d.check(&t(0, 101, 1)), DedupeVerdict::New { missed: 0 });
        assert_eq!(d.check(&t(0, 101, 1)), DedupeVerdict::Repeat);
        assert_eq!(d.check(&t(0, 99, 1)), DedupeVerdict::Repeat);
        assert_eq!(d.check(&t(0, 105, 2)), DedupeVerdict::New { missed: 3 });
        // Symbols are independent.
        assert_eq!(d.check(&t(1, 7, 1)), DedupeVerdict::New { missed: 0 });
        assert_eq!(
            d.check(&t(9, 1, 1)),
            DedupeVerdict::Repeat,
            "unknown symbol"
        );
    }

    #[test]
    fn time_and_id_handles_same_millisecond_batches() {
        let mut d = TradeDedup::new(DedupMode::TimeAndId, 1);
        // A Bybit batch: three trades in one ms, then the same batch again (resubscribe).
        for id in [11, 12, 13] {
            assert_eq!(d.check(&t(0, id, 500)), DedupeVerdict::New { missed: 0 });
        }
        for id in [11, 12, 13] {
            assert_eq!(d.check(&t(0, id, 500)), DedupeVerdict::Repeat);
        }
        assert_eq!(d.check(&t(0, 14, 500)), DedupeVerdict::New { missed: 0 });
        assert_eq!(
            d.check(&t(0, 1, 499)),
            DedupeVerdict::Repeat,
            "older than delivered"
        );
        assert_eq!(d.check(&t(0, 11, 501)), DedupeVerdict::New { missed: 0 });
        assert_eq!(d.check(&t(0, 14, 500)), DedupeVerdict::Repeat);
    }
}
