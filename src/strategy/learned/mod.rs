//! The learned entry filter (`[strategy.learned]`): an online logistic regression
//! ([`crate::model::logistic`]) over the features the engine computed on an entry signal
//! ([`features()`]), refusing an entry whose predicted probability of paying its round-trip fee
//! is below `threshold`.
//!
//! Labels, each used once, predict-then-learn (prequential):
//! - **signal outcomes**: each entry signal the engine asks about (every entry the matrix wants
//!   on a live feed, before the SNR, confidence and layer gates, so that the model also learns
//!   what those gates know) is queued (at most one per `horizon / RING` of a symbol, in a fixed
//!   ring of [`RING`]) whether the filter passes it or not; on the symbol's first tick `horizon_s` later it is labelled
//!   `side·(p_h / p_0 − 1) > 2·fee_rate` (a sample labelled more than one horizon late, after a
//!   gap, is dropped);
//! - **closed trades**: the features of the entry that opened a trade, labelled
//!   `net PnL > 0` (fees included) when the decision book closes it.
//!
//! Until `warmup_labels` labels are seen the filter passes everything. The confusion matrix of
//! the predictions made once warm (`p ≥ threshold` = predicted win) is kept per label source.
//! Decision: one dot product of [`N`] floats and an `exp`; updates: one AdaGrad step; no
//! allocation after construction. Weights and counts are published lock-free for the state
//! file ([`Published`], [`state`]).

pub mod features;
pub mod state;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::model::indicators::IndicatorValues;
use crate::model::logistic::{Logistic, Threshold};
use crate::strategy::TickState;

pub use features::{features, FeatureCache, Features, Partial, N, NAMES, PER_TICK};

crate::model::params::params! {
    /// `[strategy.learned]`.
    pub struct LearnedParams in "strategy.learned" {
        /// Gate entries on the model (off: no features, no learning, no cost).
        pub enabled: bool = false,
        /// Entries need `P(win) ≥ threshold`.
        pub threshold: f64 = 0.5 => unit_closed,
        /// AdaGrad learning rate.
        pub learning_rate: f64 = 0.05 => positive,
        /// L2 penalty on the non-bias weights.
        pub l2: f64 = 1e-4 => non_negative,
        /// Horizon of the signal labels, seconds.
        pub horizon_s: f64 = 30.0 => positive,
        /// Labels seen before the filter refuses anything.
        pub warmup_labels: u64 = 200,
    }
}

/// Pending signal samples per symbol.
pub const RING: usize = 64;

/// Where a label came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// An entry signal's price move at the horizon.
    Signal = 0,
    /// A closed trade's net PnL.
    Trade = 1,
}

/// Prequential confusion counts (predicted = `p ≥ threshold`, actual = label).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Confusion {
    /// Predicted win, won.
    pub tp: u64,
    /// Predicted win, lost.
    pub fp: u64,
    /// Predicted loss, won.
    pub fn_: u64,
    /// Predicted loss, lost.
    pub tn: u64,
}

impl Confusion {
    /// Counts one prediction.
    #[inline]
    pub fn add(&mut self, predicted: bool, actual: bool) {
        match (predicted, actual) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }

    /// `tp / (tp + fp)` (NaN when nothing was predicted positive).
    pub fn precision(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fp) as f64
    }

    /// `tp / (tp + fn)`.
    pub fn recall(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fn_) as f64
    }

    /// `2PR / (P + R)`.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        2.0 * p * r / (p + r)
    }

    /// All counts.
    pub fn total(&self) -> u64 {
        self.tp + self.fp + self.fn_ + self.tn
    }

    /// Share of actual wins (the precision of passing everything).
    pub fn base_rate(&self) -> f64 {
        (self.tp + self.fn_) as f64 / self.total() as f64
    }

    fn to_array(self) -> [u64; 4] {
        [self.tp, self.fp, self.fn_, self.tn]
    }

    fn from_array(a: [u64; 4]) -> Self {
        Self {
            tp: a[0],
            fp: a[1],
            fn_: a[2],
            tn: a[3],
        }
    }
}

/// What survives a restart: the model and its counts.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Weights and AdaGrad accumulators.
    pub model: Logistic<N>,
    /// Labels learnt from, per [`Source`].
    pub labels: [u64; 2],
    /// Prequential confusion once warm, per [`Source`].
    pub confusion: [Confusion; 2],
}

impl Snapshot {
    /// Labels learnt from in all.
    pub fn total_labels(&self) -> u64 {
        self.labels.iter().sum()
    }
}

/// Atomic words of a published [`Snapshot`]: `w`, `G`, labels, confusion.
const WORDS: usize = 2 * N + 2 + 8;

/// The filter's state published by the compute thread for a cold reader (the monitor writes the
/// file from it): a sequence lock over relaxed atomic words — the writer makes `seq` odd, stores,
/// makes it even (`Release`); a reader retries until it sees the same even `seq` around its
/// loads. No lock, no allocation on the writer's side.
#[derive(Debug)]
pub struct Published {
    seq: AtomicU64,
    words: [AtomicU64; WORDS],
}

impl Default for Published {
    fn default() -> Self {
        Self {
            seq: AtomicU64::new(0),
            words: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Published {
    fn store(&self, s: &Snapshot) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq + 1, Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::Release);
        let floats = s.model.w.iter().chain(&s.model.g2).map(|v| v.to_bits());
        let counts = s
            .labels
            .into_iter()
            .chain(s.confusion.iter().flat_map(|c| c.to_array().into_iter()));
        for (w, v) in self.words.iter().zip(floats.chain(counts)) {
            w.store(v, Ordering::Relaxed);
        }
        self.seq.store(seq + 2, Ordering::Release);
    }

    /// A consistent copy of the last published state (`None` before the first publication).
    pub fn load(&self) -> Option<Snapshot> {
        loop {
            let s0 = self.seq.load(Ordering::Acquire);
            if s0 == 0 {
                return None;
            }
            if s0 % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let v: [u64; WORDS] = std::array::from_fn(|k| self.words[k].load(Ordering::Relaxed));
            std::sync::atomic::fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) != s0 {
                continue;
            }
            let f = |k: usize| f64::from_bits(v[k]);
            let c = |k: usize| Confusion::from_array([v[k], v[k + 1], v[k + 2], v[k + 3]]);
            return Some(Snapshot {
                model: Logistic {
                    w: std::array::from_fn(f),
                    g2: std::array::from_fn(|j| f(N + j)),
                },
                labels: [v[2 * N], v[2 * N + 1]],
                confusion: [c(2 * N + 2), c(2 * N + 6)],
            });
        }
    }
}

/// Largest value of a feature: `ln_1p(f64::MAX) / 4 ≈ 177.4` (the others are within [−1, 1]).
const MAX_FEATURE: f64 = 180.0;

/// True when `w·x` is certainly `≤ lo` whatever the pending per-tick features of `x` (0 in
/// `x`) turn out to be: the known terms plus each pending term's largest value (`|w_j|` for the
/// `tanh` features within [−1, 1]; 0 for the `ln_1p` features, ≥ 0, when `w_j ≤ 0`, else no
/// bound), plus a margin of `1e-9·(1 + Σ|w_j·x_j|)` over any rounding of the two sums (the
/// known terms are summed in four interleaved lanes, a rounding far inside that margin). `None`
/// (no band) or a non-finite bound answers false.
const _: () = assert!(N % 4 == 0, "surely_refused sums N in lanes of four");

#[inline]
fn surely_refused(w: &[f64; N], x: &Features, lo: Option<f64>) -> bool {
    let Some(lo) = lo else {
        return false;
    };
    let (mut up, mut sc) = ([0.0; 4], [0.0; 4]);
    for j in 0..N / 4 {
        for l in 0..4 {
            let t = w[4 * j + l] * x[4 * j + l];
            up[l] += t;
            sc[l] += t.abs();
        }
    }
    let mut upper = (up[0] + up[1]) + (up[2] + up[3]);
    let mut scale = 1.0 + ((sc[0] + sc[1]) + (sc[2] + sc[3]));
    for j in PER_TICK {
        let wj = w[j];
        upper += if j == 4 || j == 6 {
            if wj > 0.0 {
                return false;
            }
            0.0
        } else {
            wj.abs()
        };
        scale += wj.abs() * MAX_FEATURE;
    }
    upper + 1e-9 * scale <= lo
}

/// A queued entry signal.
#[derive(Clone, Copy, Debug)]
struct Pending {
    x: Features,
    ts_ms: u64,
    price: f64,
    side: f64,
}

/// One symbol's queue and the features of its last checked and its open entry.
#[derive(Clone, Copy, Debug)]
struct Sym {
    ring: [Pending; RING],
    head: usize,
    len: usize,
    last_queued_ms: u64,
    /// The last checked entry's features (per-tick ones computed when needed).
    checked: Option<Partial>,
    open: Option<Features>,
    /// The symbol's slowly changing features.
    cache: FeatureCache,
}

/// Counters of the filter (one writer: the compute thread).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LearnedStats {
    /// Entry signals checked once warm.
    pub checked: u64,
    /// Of those, predicted below the threshold (refused by this gate when no earlier gate was).
    pub refused: u64,
    /// Signal samples not queued (ring full) or dropped (labelled more than a horizon late).
    pub dropped: u64,
}

/// The filter: parameters, model, per-symbol queues.
#[derive(Debug)]
pub struct LearnedFilter {
    p: LearnedParams,
    /// Round-trip fee, fraction (`2·fee_rate`).
    fee_rt: f64,
    /// `P(win) ≥ threshold` on the log-odds.
    threshold: Threshold,
    horizon_ms: u64,
    spacing_ms: u64,
    state: Snapshot,
    syms: Vec<Sym>,
    stats: LearnedStats,
    published: Option<Arc<Published>>,
}

impl LearnedFilter {
    /// A cold filter for `n` symbols; `fee_rate` is the taker fee per side.
    pub fn new(p: LearnedParams, fee_rate: f64, n: usize) -> Self {
        let horizon_ms = (p.horizon_s * 1e3).round().max(1.0) as u64;
        let empty = Pending {
            x: [0.0; N],
            ts_ms: 0,
            price: 0.0,
            side: 0.0,
        };
        let sym = Sym {
            ring: [empty; RING],
            head: 0,
            len: 0,
            last_queued_ms: 0,
            checked: None,
            open: None,
            cache: FeatureCache::default(),
        };
        Self {
            p,
            fee_rt: 2.0 * fee_rate,
            threshold: Threshold::new(p.threshold),
            horizon_ms,
            spacing_ms: horizon_ms / RING as u64,
            state: Snapshot::default(),
            syms: if p.enabled { vec![sym; n] } else { Vec::new() },
            stats: LearnedStats::default(),
            published: None,
        }
    }

    /// Whether the filter gates entries.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.p.enabled
    }

    /// True once `warmup_labels` labels were learnt.
    #[inline]
    pub fn warm(&self) -> bool {
        self.state.total_labels() >= self.p.warmup_labels
    }

    /// `P(win)` of an entry of `side` on `st`.
    #[inline]
    pub fn predict(&self, st: &TickState, ind: &IndicatorValues, side: i8) -> f64 {
        self.state.model.predict(&features(st, ind, side))
    }

    /// The gate: whether the entry of direction `side` (±1) on symbol `i`'s tick `st` may go.
    /// Queues the signal for labelling and remembers its features (for the trade it may open).
    /// Always true when disabled or still warming up. The per-tick features are computed only
    /// when the signal is queued, or when the others cannot settle a refusal alone
    /// (`surely_refused`).
    #[inline]
    pub fn allows(&mut self, i: usize, st: &TickState, ind: &IndicatorValues, side: i8) -> bool {
        let warm = self.warm();
        let Some(sym) = self.syms.get_mut(i) else {
            return true;
        };
        // Built in place: the checked features are this signal's from now on.
        let c = sym.checked.get_or_insert(Partial::EMPTY);
        sym.cache.fill_partial(c, st, ind, side);
        if sym.len == 0 || st.ts_ms >= sym.last_queued_ms + self.spacing_ms {
            if sym.len < RING {
                sym.ring[(sym.head + sym.len) % RING] = Pending {
                    x: *c.finish(),
                    ts_ms: st.ts_ms,
                    price: st.price,
                    side: f64::from(side.signum()),
                };
                sym.len += 1;
                sym.last_queued_ms = st.ts_ms;
            } else {
                self.stats.dropped += 1;
            }
        }
        if !warm {
            return true;
        }
        self.stats.checked += 1;
        let model = &self.state.model;
        let refused = !c.complete() && surely_refused(&model.w, &c.x, self.threshold.below());
        let pass = !refused && self.threshold.reached(model.score(c.finish()));
        self.stats.refused += u64::from(!pass);
        pass
    }

    /// Symbol `i` traded at `price` at `ts_ms`: labels and learns its signals now a horizon old.
    #[inline]
    pub fn on_tick(&mut self, i: usize, ts_ms: u64, price: f64) {
        while let Some(sym) = self.syms.get_mut(i) {
            if sym.len == 0 || ts_ms < sym.ring[sym.head].ts_ms + self.horizon_ms {
                return;
            }
            let s = sym.ring[sym.head];
            sym.head = (sym.head + 1) % RING;
            sym.len -= 1;
            if ts_ms >= s.ts_ms + 2 * self.horizon_ms || s.price <= 0.0 {
                self.stats.dropped += 1;
                continue;
            }
            let won = s.side * (price / s.price - 1.0) > self.fee_rt;
            self.learn(&s.x, won, Source::Signal);
        }
    }

    /// The decision book of symbol `i` closed a trade (`net` = its PnL after fees, if one
    /// closed) and/or opened one (with the features last checked): learns the closed trade.
    #[inline]
    pub fn on_book(&mut self, i: usize, closed_net: Option<f64>, opened: bool) {
        let Some(sym) = self.syms.get_mut(i) else {
            return;
        };
        let open = sym.open.take();
        if opened {
            sym.open = sym.checked.map(Partial::finished);
        }
        if let (Some(x), Some(net)) = (open, closed_net) {
            self.learn(&x, net > 0.0, Source::Trade);
        }
    }

    /// Predict (counted once warm), then one AdaGrad step; publishes the new state.
    #[inline]
    fn learn(&mut self, x: &Features, won: bool, src: Source) {
        let warm = self.warm();
        let p = self
            .state
            .model
            .update(x, won, self.p.learning_rate, self.p.l2);
        if warm {
            self.state.confusion[src as usize].add(p >= self.p.threshold, won);
        }
        self.state.labels[src as usize] += 1;
        if let Some(pb) = &self.published {
            pb.store(&self.state);
        }
    }

    /// Model and counts now.
    pub fn snapshot(&self) -> &Snapshot {
        &self.state
    }

    /// Counters.
    pub fn stats(&self) -> &LearnedStats {
        &self.stats
    }

    /// Continues from a saved state (start-up).
    pub fn restore(&mut self, s: &Snapshot) {
        self.state = *s;
        if let Some(pb) = &self.published {
            pb.store(&self.state);
        }
    }

    /// Publishes the state to `pb` now and after every update.
    pub fn publish_to(&mut self, pb: Arc<Published>) {
        pb.store(&self.state);
        self.published = Some(pb);
    }
}

#[cfg(test)]
mod tests;
