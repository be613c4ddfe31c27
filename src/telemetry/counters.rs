//! Event counters of the hot threads, published with each histogram snapshot.

macro_rules! counters {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)+) => {
        /// A counted event. Each counter has exactly one writer thread.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Counter {
            $($(#[$doc])* $variant,)+
        }

        impl Counter {
            /// Every counter, in index order.
            pub const ALL: &'static [Counter] = &[$(Counter::$variant,)+];
            /// Number of counters.
            pub const COUNT: usize = Counter::ALL.len();

            /// Report name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Counter::$variant => $name,)+
                }
            }
        }
    };
}

counters! {
    /// WebSocket data frames received.
    Frames => "frames",
    /// Trades parsed into ticks.
    Ticks => "ticks",
    /// Frames rejected: malformed JSON.
    RejectJson => "reject_json",
    /// Frames rejected: a required field missing.
    RejectMissingField => "reject_missing_field",
    /// Frames rejected: a number that is not a finite decimal.
    RejectBadNumber => "reject_bad_number",
    /// Frames rejected: price or quantity ≤ 0.
    RejectNonPositive => "reject_non_positive",
    /// Frames rejected: symbol not configured.
    RejectUnknownSymbol => "reject_unknown_symbol",
    /// Subscription acks received.
    VenueAcks => "venue_acks",
    /// Venue error frames received.
    VenueErrors => "venue_errors",
    /// Decisions wanting a different position than held.
    Signals => "signals",
    /// Order intents emitted by compute.
    Intents => "intents",
    /// Signals suppressed: per-symbol cooldown.
    BlockedCooldown => "blocked_cooldown",
    /// Signals not sent by compute: floored quantity below min qty.
    FilteredMinQty => "filtered_min_qty",
    /// Signals not sent by compute: notional below min notional.
    FilteredMinNotional => "filtered_min_notional",
    /// Signals not sent by compute: above max market qty.
    FilteredMaxQty => "filtered_max_qty",
    /// Signed order requests built.
    Orders => "orders",
    /// Paper fills.
    Fills => "fills",
    /// Intents refused by execution: below min quantity.
    RejectMinQty => "reject_min_qty",
    /// Intents refused by execution: below min notional.
    RejectMinNotional => "reject_min_notional",
    /// Intents refused by execution: above max quantity.
    RejectMaxQty => "reject_max_qty",
    /// Pushes that found the md ring full (retried, never dropped).
    MdRingFull => "md_ring_full",
    /// Pushes that found the order ring full (retried, never dropped).
    OrderRingFull => "order_ring_full",
    /// Pushes that found the fill ring full (retried, never dropped).
    FillRingFull => "fill_ring_full",
    /// Venue acks of orders not filled at once (then queried).
    ExecAcks => "exec_acks",
    /// Order-status queries (ack follow-ups, lost replies).
    ExecRequeries => "exec_requeries",
    /// Orders refused by the venue (any venue error code).
    RejectVenue => "reject_venue",
    /// Orders lost: no reply and unknown to the venue, or not sendable.
    RejectLost => "reject_lost",
    /// Order journal records appended.
    JournalRecords => "journal_records",
    /// Order journal write failures (trading halts).
    JournalErrors => "journal_errors",
}

/// Running totals, one slot per [`Counter`]. Plain integers: the owning thread writes them into
/// its snapshot; the monitor merges snapshots from all threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterSet([u64; Counter::COUNT]);

impl Default for CounterSet {
    fn default() -> Self {
        Self([0; Counter::COUNT])
    }
}

impl CounterSet {
    /// Sets the total of `c`.
    #[inline]
    pub fn set(&mut self, c: Counter, v: u64) {
        self.0[c as usize] = v;
    }

    /// Adds `n` to `c`.
    #[inline]
    pub fn add(&mut self, c: Counter, n: u64) {
        self.0[c as usize] += n;
    }

    /// The total of `c`.
    #[inline]
    pub fn get(&self, c: Counter) -> u64 {
        self.0[c as usize]
    }

    /// Takes, per counter, the larger of the two totals (totals only grow, and each counter
    /// has one writer, so this merges the latest totals of several threads).
    pub fn merge_max(&mut self, other: &CounterSet) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = (*a).max(*b);
        }
    }

    /// Non-zero counters as `name=value` pairs.
    pub fn nonzero(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        Counter::ALL
            .iter()
            .map(|c| (c.name(), self.get(*c)))
            .filter(|(_, v)| *v > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_each_threads_latest_total() {
        let mut net = CounterSet::default();
        net.set(Counter::Ticks, 10);
        let mut exec = CounterSet::default();
        exec.set(Counter::Orders, 3);
        let mut m = CounterSet::default();
        m.merge_max(&net);
        m.merge_max(&exec);
        assert_eq!(m.get(Counter::Ticks), 10);
        assert_eq!(m.get(Counter::Orders), 3);
        let names: Vec<_> = m.nonzero().map(|(n, _)| n).collect();
        assert_eq!(names, vec!["ticks", "orders"]);
    }
}
