//! Where the network stage gets its ticks: the WebSocket ([`FeedStage`]) in production, or
//! frames held in memory ([`MemoryFeed`]) for the end-to-end benchmark. Both topologies run
//! over any [`TickSource`], so the benchmark measures the production threads, rings and stage
//! code with the socket taken out.

use std::time::Duration;

use crate::feed::stage::{parse_counter, FeedStage};
use crate::feed::ws::{WsError, WsStatus};
use crate::telemetry::{Clock, Counter, CounterSet, Stage, StageHistograms};
use crate::types::SymbolTable;
use crate::types::Tick;
use crate::types::{Control, MarketEvent};
use crate::venue::binance::market::BinanceParser;

/// A producer of parsed ticks for the network stage of either topology.
pub trait TickSource {
    /// Waits up to `timeout` (`None` = do not wait) for input, parses what is there and calls
    /// `on_tick` for each trade, recording `parse` into `hists`. Returns the number of ticks and
    /// whether more may come.
    fn poll<F: FnMut(&Tick, &mut StageHistograms)>(
        &mut self,
        timeout: Option<Duration>,
        hists: &mut StageHistograms,
        on_tick: F,
    ) -> Result<(u64, WsStatus), WsError>;

    /// Stops the input (clean close).
    fn close(&mut self);

    /// Writes the source's counters (frames, ticks, rejects, connection events) into `c`.
    fn fill_counters(&self, c: &mut CounterSet);
}

impl TickSource for FeedStage {
    #[inline]
    fn poll<F: FnMut(&Tick, &mut StageHistograms)>(
        &mut self,
        timeout: Option<Duration>,
        hists: &mut StageHistograms,
        on_tick: F,
    ) -> Result<(u64, WsStatus), WsError> {
        FeedStage::poll(self, timeout, hists, on_tick)
    }

    fn close(&mut self) {
        FeedStage::close(self);
    }

    fn fill_counters(&self, c: &mut CounterSet) {
        FeedStage::fill_counters(self, c);
    }
}

/// How a [`MemoryFeed`] spaces its frames.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// Every frame is available at once; `recv_ns` is the time it is taken.
    MaxRate,
    /// Frame `i` is due at `start + i / rate` (`rate` in frames per second) and carries that
    /// scheduled time as `recv_ns`, so a stage that falls behind shows the backlog in
    /// `tick_to_order` (no coordinated omission).
    Fixed {
        /// Frames per second, > 0.
        per_second: f64,
    },
}

/// Frames per poll at most, like one socket read returning a burst.
const MAX_FRAMES_PER_POLL: usize = 64;

/// Raw venue frames replayed from memory through the production parser, cycling until
/// `total` frames were delivered, then reporting the connection closed.
///
/// Each new cycle shifts the venue trade time (`exch_ts_ms`) by the span of the frames plus one
/// second, so the models see time moving forward across cycles instead of jumping back.
///
/// Per frame it does what [`FeedStage`] does after the socket read: copy the payload into a
/// reused buffer (simd-json parses in place), parse, stamp `recv_ns`/`parsed_ns`, record
/// `parse` and the counters. Nothing allocates after construction.
pub struct MemoryFeed {
    frames: Vec<Box<[u8]>>,
    scratch: Vec<u8>,
    parser: BinanceParser,
    symbols: SymbolTable,
    clock: Clock,
    counts: CounterSet,
    pace: Pace,
    total: u64,
    sent: u64,
    start_ns: Option<u64>,
    last_ns: u64,
    max_lag_ns: u64,
    cycle_ms: u64,
}

impl std::fmt::Debug for MemoryFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryFeed")
            .field("frames", &self.frames.len())
            .field("total", &self.total)
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

impl MemoryFeed {
    /// A feed delivering `total` frames taken in order (cyclically) from `frames` (raw JSON
    /// payloads, e.g. Binance combined-stream trade frames), paced by `pace`.
    pub fn new(
        frames: Vec<Box<[u8]>>,
        symbols: SymbolTable,
        clock: Clock,
        pace: Pace,
        total: u64,
    ) -> Self {
        let largest = frames.iter().map(|f| f.len()).max().unwrap_or(0);
        let mut parser = BinanceParser::new();
        let mut scratch = Vec::with_capacity(largest);
        let (mut first_ms, mut last_ms) = (u64::MAX, 0u64);
        for f in &frames {
            scratch.clear();
            scratch.extend_from_slice(f);
            let _ = parser.parse(&mut scratch, &symbols, |ev| {
                if let MarketEvent::Trade(t) = ev {
                    first_ms = first_ms.min(t.exch_ts_ms);
                    last_ms = last_ms.max(t.exch_ts_ms);
                }
            });
        }
        Self {
            frames,
            scratch,
            parser,
            symbols,
            clock,
            counts: CounterSet::default(),
            pace,
            total,
            sent: 0,
            start_ns: None,
            last_ns: 0,
            max_lag_ns: 0,
            cycle_ms: last_ms.saturating_sub(first_ms).saturating_add(1_000),
        }
    }

    /// Frames delivered so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Clock reading (ns) of the first poll, once polled.
    pub fn started_ns(&self) -> Option<u64> {
        self.start_ns
    }

    /// Clock reading (ns) when the last frame was taken.
    pub fn finished_ns(&self) -> u64 {
        self.last_ns
    }

    /// Largest delay between a frame's scheduled time and when it was taken, ns (0 at
    /// [`Pace::MaxRate`]). A source that keeps up stays near the poll interval.
    pub fn max_lag_ns(&self) -> u64 {
        self.max_lag_ns
    }

    /// Scheduled time of frame `i`, ns after `start`.
    #[inline]
    fn due_offset_ns(&self, i: u64) -> u64 {
        match self.pace {
            Pace::MaxRate => 0,
            Pace::Fixed { per_second } => (i as f64 * 1e9 / per_second) as u64,
        }
    }
}

impl TickSource for MemoryFeed {
    #[inline]
    fn poll<F: FnMut(&Tick, &mut StageHistograms)>(
        &mut self,
        timeout: Option<Duration>,
        hists: &mut StageHistograms,
        mut on_tick: F,
    ) -> Result<(u64, WsStatus), WsError> {
        if self.sent >= self.total || self.frames.is_empty() {
            return Ok((0, WsStatus::Closed));
        }
        let mut now = self.clock.now_ns();
        let start = *self.start_ns.get_or_insert(now);
        let wait_until = now.saturating_add(timeout.map_or(0, |t| t.as_nanos() as u64));
        // Like a socket poll with a timeout: wait (spinning) for the next frame to fall due.
        while start + self.due_offset_ns(self.sent) > now && now < wait_until {
            std::hint::spin_loop();
            now = self.clock.now_ns();
        }
        let mut ticks = 0;
        for _ in 0..MAX_FRAMES_PER_POLL {
            if self.sent >= self.total {
                break;
            }
            let due = start + self.due_offset_ns(self.sent);
            let recv_ns = match self.pace {
                Pace::MaxRate => self.clock.now_ns(),
                Pace::Fixed { .. } if due <= now => due,
                Pace::Fixed { .. } => break,
            };
            let n_frames = self.frames.len() as u64;
            let frame = &self.frames[(self.sent % n_frames) as usize];
            let shift_ms = self.sent / n_frames * self.cycle_ms;
            self.sent += 1;
            if let Pace::Fixed { .. } = self.pace {
                self.max_lag_ns = self.max_lag_ns.max(now.saturating_sub(due));
            }
            self.scratch.clear();
            self.scratch.extend_from_slice(frame);
            // From here on as `FeedStage::poll` handles a frame off the socket (no stateful
            // validation: the cyclic replay repeats trade ids by design).
            let mut mark = self.clock.now_ns();
            self.counts.add(Counter::Frames, 1);
            let (clock, counts) = (&self.clock, &mut self.counts);
            let parsed = self
                .parser
                .parse(&mut self.scratch, &self.symbols, |ev| match ev {
                    MarketEvent::Trade(mut t) => {
                        let t1 = clock.now_ns();
                        t.recv_ns = recv_ns;
                        t.parsed_ns = t1;
                        t.exch_ts_ms += shift_ms;
                        let parse_ns = t1.saturating_sub(mark);
                        hists.record(Stage::Parse, parse_ns);
                        hists.record(Stage::ParseBinance, parse_ns);
                        counts.add(Counter::Ticks, 1);
                        ticks += 1;
                        on_tick(&t, hists);
                        mark = clock.now_ns();
                    }
                    MarketEvent::Quote(_) => counts.add(Counter::Quotes, 1),
                });
            match parsed {
                Ok(Control::Ack { .. }) => self.counts.add(Counter::VenueAcks, 1),
                Ok(Control::Error { .. }) => self.counts.add(Counter::VenueErrors, 1),
                Ok(Control::Pong) => self.counts.add(Counter::VenuePongs, 1),
                Ok(Control::Data { .. } | Control::Other) => {}
                Err(e) => self.counts.add(parse_counter(e), 1),
            }
            now = self.clock.now_ns();
        }
        self.last_ns = now;
        Ok((ticks, WsStatus::Open))
    }

    fn close(&mut self) {
        self.total = self.sent;
    }

    fn fill_counters(&self, c: &mut CounterSet) {
        c.merge_max(&self.counts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRADE: &str =
        include_str!("../../tests/fixtures/binance/ws_combined_trade_real_BTCUSDT_2024.json");

    fn feed(pace: Pace, total: u64) -> MemoryFeed {
        let symbols = SymbolTable::new(&["BTCUSDT"]).unwrap();
        let frames = vec![TRADE.trim().as_bytes().to_vec().into_boxed_slice()];
        MemoryFeed::new(frames, symbols, Clock::new(), pace, total)
    }

    #[test]
    fn max_rate_delivers_total_frames_then_closes() {
        let mut f = feed(Pace::MaxRate, 150);
        let mut hists = StageHistograms::new();
        let mut seen = 0u64;
        let mut polls = 0;
        loop {
            let (n, status) = f
                .poll(None, &mut hists, |t, _| {
                    assert!(t.price > 0.0);
                    assert!(t.parsed_ns >= t.recv_ns);
                    seen += 1;
                })
                .unwrap();
            polls += 1;
            assert!(n <= MAX_FRAMES_PER_POLL as u64);
            if status == WsStatus::Closed {
                break;
            }
        }
        assert_eq!(seen, 150);
        // 150 frames in bursts of at most 64: 3 polls with frames, one that reports closed.
        assert_eq!(polls, 4);
        let mut c = CounterSet::default();
        f.fill_counters(&mut c);
        assert_eq!(c.get(Counter::Ticks), 150);
        assert_eq!(hists.total_count(Stage::Parse), 150);
        assert_eq!(hists.total_count(Stage::ParseBinance), 150);
        assert_eq!(f.max_lag_ns(), 0);
    }

    #[test]
    fn fixed_pace_stamps_the_schedule_as_receive_time() {
        // 1000 frames/s: frame i is due 1 ms × i after the first poll.
        let mut f = feed(Pace::Fixed { per_second: 1000.0 }, 3);
        let mut hists = StageHistograms::new();
        let mut recv = Vec::new();
        for _ in 0..10_000 {
            let (_, status) = f
                .poll(Some(Duration::from_millis(5)), &mut hists, |t, _| {
                    recv.push(t.recv_ns)
                })
                .unwrap();
            if status == WsStatus::Closed {
                break;
            }
        }
        let start = f.started_ns().unwrap();
        assert_eq!(recv, [start, start + 1_000_000, start + 2_000_000]);
    }

    #[test]
    fn cycles_shift_exchange_time_forward_by_the_span_plus_a_second() {
        // One frame: span 0 ms, so each cycle is 1000 ms later (fixture trade at T=1723161256322).
        let mut f = feed(Pace::MaxRate, 3);
        let mut hists = StageHistograms::new();
        let mut ts = Vec::new();
        f.poll(None, &mut hists, |t, _| ts.push(t.exch_ts_ms))
            .unwrap();
        assert_eq!(
            ts,
            [1_723_161_256_322, 1_723_161_257_322, 1_723_161_258_322]
        );
    }

    #[test]
    fn close_stops_delivery() {
        let mut f = feed(Pace::MaxRate, 1_000);
        let mut hists = StageHistograms::new();
        f.close();
        let (n, status) = f.poll(None, &mut hists, |_, _| {}).unwrap();
        assert_eq!((n, status), (0, WsStatus::Closed));
    }
}
