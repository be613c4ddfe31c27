//! The timed stages of a tick and the per-thread histograms that record them.

use std::fmt;

use hdrhistogram::Histogram;

crate::types::named::named_enum! {
    /// A timed step in the life of a tick, in pipeline order (the order of dumps and reports).
    ///
    /// The discriminant is the stage's index in [`Stage::ALL`] and in [`StageHistograms`];
    /// [`Stage::name`] is the stable lowercase interval-log tag.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum Stage {
        /// Decoding one market-data message off the socket buffer, in nanoseconds.
        Parse => "parse",
        /// Hand-off of parsed market data from the network thread to compute, in nanoseconds.
        MdHop => "md_hop",
        /// Derivative update and strategy decision, in nanoseconds.
        Compute => "compute",
        /// Hand-off of an order intent from compute to execution, in nanoseconds.
        OrderHop => "order_hop",
        /// Signing the order request, in nanoseconds.
        Sign => "sign",
        /// End to end: tick received to signed order ready to send, in nanoseconds.
        TickToOrder => "tick_to_order",
        /// Venue trade time → socket receive, in nanoseconds (wall clock at receive minus the
        /// exchange timestamp: includes clock skew; recorded for live venues only).
        FeedDelay => "feed_delay",
        /// Order round trip: request written to the socket → venue reply parsed, in nanoseconds.
        OrderRtt => "order_rtt",
        /// `parse` of Binance USD-M frames only (every value is also in `parse`), in nanoseconds.
        ParseBinance => "parse.binance",
        /// `parse` of Bybit v5 frames only (every value is also in `parse`), in nanoseconds.
        ParseBybit => "parse.bybit",
        /// `feed_delay` of Binance USD-M trades only (also in `feed_delay`), in nanoseconds.
        FeedDelayBinance => "feed_delay.binance",
        /// `feed_delay` of Bybit v5 trades only (also in `feed_delay`), in nanoseconds.
        FeedDelayBybit => "feed_delay.bybit",
        /// `tick_to_order` from the tick's own parse instead of the socket read that carried
        /// it: tick parsed → signed order ready, in nanoseconds (fused topology only). Leaves
        /// out the frames ahead of it in the same read and its own parse.
        ParsedToOrder => "parsed_to_order",
        /// `compute` of the ticks that decided an order only (every value is also in
        /// `compute`): tick parsed → intent decided, in nanoseconds. With `sign` it splits
        /// `parsed_to_order` (fused) into the decision and the order's building and signing.
        OrderCompute => "order_compute",
    }
}

impl Stage {
    /// The all-venue stage this per-venue stage breaks down (`parse.bybit` → `parse`), or
    /// `None` for a stage that is not a per-venue breakdown. Tag = `<stage>.<venue>`.
    pub const fn venue_total(self) -> Option<Stage> {
        match self {
            Stage::ParseBinance | Stage::ParseBybit => Some(Stage::Parse),
            Stage::FeedDelayBinance | Stage::FeedDelayBybit => Some(Stage::FeedDelay),
            _ => None,
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Smallest latency told apart from zero: 1 nanosecond.
pub const LOWEST_DISCERNIBLE_NS: u64 = 1;
/// Largest latency recorded as itself (60 s, in nanoseconds); larger ones are recorded as this.
pub const HIGHEST_TRACKABLE_NS: u64 = 60_000_000_000;
/// Significant decimal digits kept: relative error at most 1% (2 digits, not the usual 3,
/// because 3 digits makes each histogram 7x larger).
pub const SIGNIFICANT_DIGITS: u8 = 2;

/// One latency histogram (values in nanoseconds) per [`Stage`], owned by one thread.
///
/// Recording is a bounds-clamped counter increment: no lock, no allocation, no syscall, no
/// panic. Auto-resize is off, so the counts arrays allocated in [`StageHistograms::new`] are the
/// only ones ever used.
///
/// Footprint: with 1 ns..60 s at 2 significant digits each histogram has 3840 `u64` counters
/// (`Histogram::distinct_values()`), i.e. 30 KiB per stage ([`Stage::COUNT`] stages). A recording
/// touches one 64-byte line of one histogram, and a stage's values crowd into a few adjacent
/// buckets, so the cache working set is a handful of lines per stage, not the full arrays.
#[derive(Clone)]
pub struct StageHistograms {
    by_stage: [Histogram<u64>; Stage::COUNT],
}

impl StageHistograms {
    /// Allocates one empty histogram per stage; call this off the hot path.
    pub fn new() -> Self {
        Self {
            by_stage: std::array::from_fn(|_| {
                // `new_with_bounds` leaves auto-resize off, which is what keeps recording
                // allocation-free; the bounds are constants known to be valid.
                Histogram::new_with_bounds(
                    LOWEST_DISCERNIBLE_NS,
                    HIGHEST_TRACKABLE_NS,
                    SIGNIFICANT_DIGITS,
                )
                .expect("constant histogram bounds are valid")
            }),
        }
    }

    /// Records one latency of `ns` nanoseconds for `stage`; values above 60 s count as 60 s.
    #[inline]
    pub fn record(&mut self, stage: Stage, ns: u64) {
        self.by_stage[stage.index()].saturating_record(ns);
    }

    /// Records the time from `start_ns` to `end_ns` (both [`Clock::now_ns`](super::Clock::now_ns)
    /// readings, in nanoseconds) for `stage`.
    ///
    /// A reversed pair, possible on hops when the two readings come from cores whose TSCs are
    /// slightly skewed, counts as 0 ns instead of overflowing.
    #[inline]
    pub fn record_between(&mut self, stage: Stage, start_ns: u64, end_ns: u64) {
        self.record(stage, end_ns.saturating_sub(start_ns));
    }

    /// The histogram of `stage` (values in nanoseconds).
    pub fn get(&self, stage: Stage) -> &Histogram<u64> {
        &self.by_stage[stage.index()]
    }

    /// Adds every stage of `other` into the same stage of `self`, without allocating.
    pub fn add(&mut self, other: &StageHistograms) {
        for (mine, theirs) in self.by_stage.iter_mut().zip(&other.by_stage) {
            // Both sides come from `new()`, so ranges match and `add` has nothing to reject.
            mine.add(theirs)
                .expect("identically configured histograms always add");
        }
    }

    /// Empties every stage, keeping the allocations for reuse.
    pub fn reset(&mut self) {
        for histogram in &mut self.by_stage {
            histogram.reset();
        }
    }

    /// True if no stage holds any recording.
    pub fn is_empty(&self) -> bool {
        self.by_stage.iter().all(Histogram::is_empty)
    }

    /// Number of recordings held for `stage`.
    pub fn total_count(&self, stage: Stage) -> u64 {
        self.get(stage).len()
    }

    /// Every stage with its histogram, in [`Stage::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Stage, &Histogram<u64>)> + '_ {
        Stage::ALL.into_iter().zip(&self.by_stage)
    }

    /// The stages of a report: every stage, except the per-venue breakdowns
    /// ([`Stage::venue_total`]) of venues that recorded nothing.
    pub fn reported(&self) -> impl Iterator<Item = (Stage, &Histogram<u64>)> + '_ {
        self.iter()
            .filter(|(s, h)| s.venue_total().is_none() || !h.is_empty())
    }
}

impl Default for StageHistograms {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for StageHistograms {
    /// Counts per stage only: the counters themselves are thousands of entries.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(stage, h)| (stage.name(), h.len())))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_stage_once_in_index_order() {
        assert_eq!(Stage::ALL.len(), Stage::COUNT);
        for (i, stage) in Stage::ALL.into_iter().enumerate() {
            assert_eq!(stage.index(), i);
        }
    }

    #[test]
    fn stages_are_in_pipeline_order_with_stable_names() {
        let names: Vec<_> = Stage::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            [
                "parse",
                "md_hop",
                "compute",
                "order_hop",
                "sign",
                "tick_to_order",
                "feed_delay",
                "order_rtt",
                "parse.binance",
                "parse.bybit",
                "feed_delay.binance",
                "feed_delay.bybit",
                "parsed_to_order",
                "order_compute"
            ]
        );
    }

    #[test]
    fn per_venue_stages_name_their_total_and_are_reported_only_when_recorded() {
        for stage in Stage::ALL {
            match stage.venue_total() {
                Some(total) => {
                    let (head, venue) = stage.name().split_once('.').unwrap();
                    assert_eq!(head, total.name());
                    assert!(["binance", "bybit"].contains(&venue), "{stage}");
                }
                None => assert!(!stage.name().contains('.'), "{stage}"),
            }
        }
        let mut hists = StageHistograms::new();
        hists.record(Stage::Parse, 300);
        hists.record(Stage::ParseBybit, 300);
        let shown: Vec<_> = hists.reported().map(|(s, _)| s.name()).collect();
        assert!(shown.contains(&"parse.bybit") && shown.contains(&"feed_delay"));
        assert!(!shown.contains(&"parse.binance") && !shown.contains(&"feed_delay.bybit"));
        assert_eq!(shown.len(), Stage::COUNT - 3);
    }

    #[test]
    fn from_name_inverts_name_and_rejects_unknown_names() {
        for stage in Stage::ALL {
            assert_eq!(Stage::from_name(stage.name()), Some(stage));
            assert_eq!(stage.to_string(), stage.name());
        }
        assert_eq!(Stage::from_name("Parse"), None);
        assert_eq!(Stage::from_name(""), None);
    }

    #[test]
    fn new_histograms_are_empty_with_the_documented_bounds() {
        let hists = StageHistograms::new();
        assert!(hists.is_empty());
        for (_, h) in hists.iter() {
            assert_eq!(h.low(), 1);
            assert_eq!(h.high(), 60_000_000_000);
            assert_eq!(h.sigfig(), 2);
            assert!(!h.is_auto_resize());
        }
    }

    /// Keeps the footprint stated in the `StageHistograms` doc comment honest.
    #[test]
    fn footprint_is_3840_counters_per_stage() {
        let hists = StageHistograms::new();
        let h = hists.get(Stage::Parse);
        assert_eq!(h.distinct_values(), 3840);
        assert_eq!(h.distinct_values() * std::mem::size_of::<u64>(), 30 * 1024);
    }

    #[test]
    fn record_counts_into_the_given_stage_only() {
        let mut hists = StageHistograms::new();
        hists.record(Stage::Compute, 250);
        hists.record(Stage::Compute, 260);
        hists.record(Stage::Sign, 9_000);
        assert_eq!(hists.total_count(Stage::Compute), 2);
        assert_eq!(hists.total_count(Stage::Sign), 1);
        assert_eq!(hists.total_count(Stage::Parse), 0);
        assert!(!hists.is_empty());
        let compute = hists.get(Stage::Compute);
        assert!(compute.equivalent(compute.max(), 260));
    }

    #[test]
    fn record_above_highest_is_saturated_not_panicking() {
        let mut hists = StageHistograms::new();
        hists.record(Stage::TickToOrder, u64::MAX);
        hists.record(Stage::TickToOrder, 3_600_000_000_000);
        let h = hists.get(Stage::TickToOrder);
        assert_eq!(h.len(), 2);
        assert!(h.equivalent(h.max(), HIGHEST_TRACKABLE_NS));
    }

    #[test]
    fn record_between_counts_reversed_readings_as_zero() {
        let mut hists = StageHistograms::new();
        hists.record_between(Stage::MdHop, 1_000, 1_150);
        hists.record_between(Stage::MdHop, 2_000, 1_990);
        let md_hop = hists.get(Stage::MdHop);
        assert_eq!(md_hop.len(), 2);
        assert_eq!(md_hop.min(), 0);
        assert!(md_hop.equivalent(md_hop.max(), 150));
    }

    #[test]
    fn record_zero_is_counted() {
        let mut hists = StageHistograms::new();
        hists.record(Stage::MdHop, 0);
        assert_eq!(hists.total_count(Stage::MdHop), 1);
        assert_eq!(hists.get(Stage::MdHop).max(), 0);
    }

    #[test]
    fn recording_and_adding_never_resize_the_counts() {
        let mut hists = StageHistograms::new();
        let mut other = StageHistograms::new();
        for stage in Stage::ALL {
            hists.record(stage, u64::MAX);
            other.record(stage, 1);
        }
        hists.add(&other);
        for (_, h) in hists.iter() {
            assert_eq!(h.distinct_values(), 3840);
            assert!(!h.is_auto_resize());
        }
    }

    #[test]
    fn add_sums_counts_per_stage() {
        let mut total = StageHistograms::new();
        let mut a = StageHistograms::new();
        let mut b = StageHistograms::new();
        a.record(Stage::Parse, 100);
        b.record(Stage::Parse, 10_000);
        b.record(Stage::Sign, 5);
        total.add(&a);
        total.add(&b);
        assert_eq!(total.total_count(Stage::Parse), 2);
        assert_eq!(total.total_count(Stage::Sign), 1);
        assert_eq!(total.get(Stage::Parse).min(), 100);
        assert!(total
            .get(Stage::Parse)
            .equivalent(total.get(Stage::Parse).max(), 10_000));
    }

    #[test]
    fn reset_empties_every_stage() {
        let mut hists = StageHistograms::new();
        for stage in Stage::ALL {
            hists.record(stage, 42);
        }
        hists.reset();
        assert!(hists.is_empty());
        assert_eq!(hists.get(Stage::Parse).max(), 0);
    }
}
