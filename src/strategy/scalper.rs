//! The second system's scalper (seed 004, "Scalping Signal System"; MATH.md §9) as a strategy
//! of its own: rules on the indicator bars summed into a strength per side, traded at
//! `strength ≥ threshold` (0.65) with a stop at `sl_atr·ATR_14` (1.5) and a take-profit at
//! `reward_risk` (2) times that distance.
//!
//! Everything runs once per closed bar of `[indicators]` (`bar_s`), fed by
//! [`crate::model::indicators::Indicators::update_with`]: O(1), no heap; on the ticks in
//! between the engine only reads the stored [`ScalperSignal`]. Values of the bar just closed
//! (close `c`): SMAs of closes `F = SMA_fast` (5), `M = SMA_mid` (10), `S = SMA_slow` (the
//! indicators' `sma`, 20); RSI 14 (Wilder), MACD 12/26/9 (line `m`, signal `g`, histogram
//! `h = m − g`, the previous bar's `m'`, `g'`, `h'`), Bollinger 20/2 (`lo`, `mid`, `up`), the
//! volume ratio `r = v_t / mean(v_{t−20..t−1})` and the taker-flow imbalance `I = (B − S)/(B + S)`
//! of `[layers.flow]`'s window (30 s) at the bar's close.
//!
//! Rules for side `s` (+1 long, −1 short); each firing rule adds its weight (config key) to
//! that side's sum, a penalty subtracts it:
//!
//! | rule | long | short | weight |
//! |---|---|---|---|
//! | MA alignment | `F > M > S` | `F < M < S` | `w_ma` 0.30 |
//! | momentum `μ = c_t/c_{t−L} − 1`, `L` = `momentum_s` | `μ > momentum_min` (0.1 %) | `μ < −momentum_min` | `w_momentum` 0.25 |
//! | volume | `r > volume_min` (1.5) | same | `w_volume` 0.15 |
//! | RSI extreme | `RSI < rsi_low` (30) | `RSI > rsi_high` (70) | `w_rsi` 0.20 |
//! | RSI neutral zone | `rsi_neutral_low < RSI < rsi_neutral_high` (40, 60) | same | `−w_rsi_neutral` 0.10 |
//! | MACD crossover | `m > g` and `m' ≤ g'` | `m < g` and `m' ≥ g'` | `w_macd_cross` 0.25 |
//! | histogram growth | `|h| > |h'|` and `h > 0` | `|h| > |h'|` and `h < 0` | `w_macd_growth` 0.10 |
//! | Bollinger touch | `c ≤ lo` | `c ≥ up` | `w_band` 0.20 |
//! | squeeze | `w < squeeze·ref` | same | `w_squeeze` 0.15 |
//! | expansion | `w > expansion·ref` | same | `−w_expansion` 0.10 |
//! | order flow | `I > flow_min` (0.3) | `I < −flow_min` | `w_flow` 0.20 |
//!
//! `strength_s = clamp(Σ, 0, 1)`; the signal is the side with the larger strength when it is
//! `≥ threshold` (a tie trades nothing).
//!
//! Choices where the seed is ambiguous (each configurable):
//! - **Direction.** The seed adds every weight to one sum whichever way the rule points and
//!   lets the last rule set the side; here each side has its own sum. Volume, squeeze and the
//!   penalties say nothing about direction and count for both sides; the histogram growth
//!   ("trend strengthening") counts for the side of the histogram's sign.
//! - **Touch** (`touch`): `close` = the bar's close at or beyond the band (the seed's
//!   `current_price <= lower_band`, bands including that close); `wick` = the bar's low / high.
//! - **Squeeze** (`width`): band width `w = (up − lo)/mid`. `absolute` compares `w` itself with
//!   `squeeze`/`expansion` (the seed's 0.02 and 0.08: meant for its own time frame, on 1 s bars
//!   `w ≈ 0.05 %` so every bar would be a squeeze); `relative` (default) compares it with
//!   `ref = EMA_{width_period}(w)` (100 bars), defaults 0.5 and 2: the seed's two widths are
//!   0.5× and 2× their geometric mean.
//! - **Momentum lookback**: `L = round(momentum_s/bar_s)` bars (300); the close `L` bars back
//!   is read from a ring of 35 samples taken every `k = ⌈L/32⌉` bars, so the lookback is
//!   `L … L + k − 1` bars (exact when `L ≤ 32`).
//! - **Flow**: the aggressor side of each trade (MATH.md "do not reproduce" 7), not price
//!   changes.
//!
//! `ready` needs every input defined (momentum: `L` bars; relative width: its EMA seeded).

use serde::Deserialize;

use crate::model::indicators::{Bar, BarSink, Ema, IndicatorValues, MacdValue, Sma, CAP};
use crate::model::params::{check, non_negative, positive, unit_closed};
use crate::risk::config::ExitMode;
use crate::risk::ExitParams;

/// What a Bollinger touch is measured on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Touch {
    /// The bar's close at or beyond the band.
    #[default]
    Close,
    /// The bar's low (long) or high (short) at or beyond the band.
    Wick,
}

/// What the squeeze and expansion thresholds compare the band width with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WidthRef {
    /// `w` itself (the seed: 0.02 / 0.08).
    Absolute,
    /// `w / EMA_{width_period}(w)`.
    #[default]
    Relative,
}

crate::model::params::params! {
    /// `[scalper]` (every key optional; see the module doc for each rule).
    pub struct ScalperParams {
        /// Strength needed to trade, in `[0, 1]`.
        pub threshold: f64 = 0.65,
        /// Fast SMA period, bars (≤ 32).
        pub sma_fast: usize = 5,
        /// Medium SMA period, bars (≤ 32; the slow one is `indicators.sma`).
        pub sma_mid: usize = 10,
        /// Momentum lookback, seconds of bars.
        pub momentum_s: f64 = 300.0,
        /// Momentum threshold, fraction (0.001 = 0.1 %).
        pub momentum_min: f64 = 0.001,
        /// Volume ratio above which the volume rule fires.
        pub volume_min: f64 = 1.5,
        /// RSI below: long rule.
        pub rsi_low: f64 = 30.0,
        /// RSI above: short rule.
        pub rsi_high: f64 = 70.0,
        /// Neutral zone lower bound (exclusive).
        pub rsi_neutral_low: f64 = 40.0,
        /// Neutral zone upper bound (exclusive).
        pub rsi_neutral_high: f64 = 60.0,
        /// `close` or `wick`.
        pub touch: Touch = Touch::Close,
        /// `relative` or `absolute` band-width thresholds.
        pub width: WidthRef = WidthRef::Relative,
        /// Squeeze when the width is below this (× the reference).
        pub squeeze: f64 = 0.5,
        /// Expansion when the width is above this (× the reference).
        pub expansion: f64 = 2.0,
        /// EMA period of the reference width, bars.
        pub width_period: usize = 100,
        /// Flow imbalance beyond which the flow rule fires.
        pub flow_min: f64 = 0.3,
        /// Weight: MA alignment.
        pub w_ma: f64 = 0.30,
        /// Weight: momentum.
        pub w_momentum: f64 = 0.25,
        /// Weight: volume.
        pub w_volume: f64 = 0.15,
        /// Weight: RSI extreme.
        pub w_rsi: f64 = 0.20,
        /// Penalty: RSI neutral zone.
        pub w_rsi_neutral: f64 = 0.10,
        /// Weight: MACD crossover.
        pub w_macd_cross: f64 = 0.25,
        /// Weight: histogram growth.
        pub w_macd_growth: f64 = 0.10,
        /// Weight: Bollinger touch.
        pub w_band: f64 = 0.20,
        /// Weight: squeeze.
        pub w_squeeze: f64 = 0.15,
        /// Penalty: expansion.
        pub w_expansion: f64 = 0.10,
        /// Weight: order flow.
        pub w_flow: f64 = 0.20,
        /// Stop distance in ATRs.
        pub sl_atr: f64 = 1.5,
        /// Take-profit distance / stop distance.
        pub reward_risk: f64 = 2.0,
    }
}

impl ScalperParams {
    /// Checks every key (`scalper.<key>`); `sma_slow` is `indicators.sma`.
    pub fn validate(&self, sma_slow: usize) -> Result<(), String> {
        if !(1..=CAP).contains(&self.sma_fast)
            || !(1..=CAP).contains(&self.sma_mid)
            || self.sma_fast >= self.sma_mid
            || self.sma_mid >= sma_slow
        {
            return Err(format!(
                "scalper.sma_fast, scalper.sma_mid: need 1 ≤ sma_fast < sma_mid < indicators.sma ({sma_slow}) ≤ {CAP}, got {} and {}",
                self.sma_fast, self.sma_mid
            ));
        }
        if !(1..=10_000).contains(&self.width_period) {
            return Err(format!(
                "scalper.width_period: must be in 1..=10000, got {}",
                self.width_period
            ));
        }
        if !(self.rsi_low <= self.rsi_neutral_low
            && self.rsi_neutral_low <= self.rsi_neutral_high
            && self.rsi_neutral_high <= self.rsi_high
            && (0.0..=100.0).contains(&self.rsi_low)
            && (0.0..=100.0).contains(&self.rsi_high))
        {
            return Err("scalper.rsi_*: need 0 ≤ rsi_low ≤ rsi_neutral_low ≤ rsi_neutral_high ≤ rsi_high ≤ 100".into());
        }
        check(&[
            unit_closed("scalper.threshold", self.threshold),
            positive("scalper.momentum_s", self.momentum_s),
            non_negative("scalper.momentum_min", self.momentum_min),
            non_negative("scalper.volume_min", self.volume_min),
            positive("scalper.squeeze", self.squeeze),
            positive("scalper.expansion", self.expansion),
            unit_closed("scalper.flow_min", self.flow_min),
            non_negative("scalper.w_ma", self.w_ma),
            non_negative("scalper.w_momentum", self.w_momentum),
            non_negative("scalper.w_volume", self.w_volume),
            non_negative("scalper.w_rsi", self.w_rsi),
            non_negative("scalper.w_rsi_neutral", self.w_rsi_neutral),
            non_negative("scalper.w_macd_cross", self.w_macd_cross),
            non_negative("scalper.w_macd_growth", self.w_macd_growth),
            non_negative("scalper.w_band", self.w_band),
            non_negative("scalper.w_squeeze", self.w_squeeze),
            non_negative("scalper.w_expansion", self.w_expansion),
            non_negative("scalper.w_flow", self.w_flow),
            positive("scalper.sl_atr", self.sl_atr),
            positive("scalper.reward_risk", self.reward_risk),
        ])
    }

    /// The exit levels of a scalper entry: volatility mode on the ATR, stop `sl_atr·ATR`,
    /// take-profit `reward_risk·sl_atr·ATR`, no percent floors; the minimum reward:risk after
    /// rounding is the risk layer's (`risk.exits.min_reward_risk`).
    pub fn exits(&self, base: &ExitParams) -> ExitParams {
        ExitParams {
            mode: ExitMode::Volatility,
            tp_fraction: 0.0,
            sl_fraction: 0.0,
            tp_vol_mult: self.sl_atr * self.reward_risk,
            sl_vol_mult: self.sl_atr,
            min_reward_risk: base.min_reward_risk,
        }
    }
}

/// One bit per rule (a side's `fired` mask).
pub mod rule {
    /// MA alignment.
    pub const MA: u16 = 1;
    /// Momentum.
    pub const MOMENTUM: u16 = 1 << 1;
    /// Volume ratio.
    pub const VOLUME: u16 = 1 << 2;
    /// RSI extreme.
    pub const RSI: u16 = 1 << 3;
    /// RSI neutral zone (penalty).
    pub const RSI_NEUTRAL: u16 = 1 << 4;
    /// MACD crossover.
    pub const MACD_CROSS: u16 = 1 << 5;
    /// Histogram growth.
    pub const MACD_GROWTH: u16 = 1 << 6;
    /// Bollinger touch.
    pub const BAND: u16 = 1 << 7;
    /// Squeeze.
    pub const SQUEEZE: u16 = 1 << 8;
    /// Expansion (penalty).
    pub const EXPANSION: u16 = 1 << 9;
    /// Order flow.
    pub const FLOW: u16 = 1 << 10;
}

/// The inputs of the rules for one bar (see the module doc for the symbols).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RuleInputs {
    /// The bar (close, high, low).
    pub bar: Bar,
    /// `(F, M, S)`.
    pub sma: (f64, f64, f64),
    /// `μ`, fraction.
    pub momentum: f64,
    /// Volume ratio.
    pub volume_ratio: f64,
    /// RSI in `[0, 100]`.
    pub rsi: f64,
    /// MACD of this bar.
    pub macd: MacdValue,
    /// MACD of the previous bar.
    pub macd_prev: MacdValue,
    /// Bollinger bands.
    pub bands: crate::model::indicators::Bands,
    /// Reference width (1 in absolute mode).
    pub width_ref: f64,
    /// Flow imbalance in `[−1, 1]`.
    pub flow: f64,
}

/// Both sides' strengths and the rules that fired for each.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Score {
    /// Long strength in `[0, 1]`.
    pub long: f64,
    /// Short strength in `[0, 1]`.
    pub short: f64,
    /// Rules that fired for the long side ([`rule`] bits).
    pub fired_long: u16,
    /// Rules that fired for the short side.
    pub fired_short: u16,
}

impl Score {
    /// +1 / −1 for the side whose strength is larger and `≥ threshold`, else 0.
    #[inline]
    pub fn side(&self, threshold: f64) -> i8 {
        if self.long >= threshold && self.long > self.short {
            1
        } else if self.short >= threshold && self.short > self.long {
            -1
        } else {
            0
        }
    }
}

/// The rules of the module doc on one bar's inputs.
#[inline]
pub fn score(p: &ScalperParams, x: &RuleInputs) -> Score {
    let mut sides = [(0.0f64, 0u16); 2];
    let both = |on: bool, w: f64, bit: u16, sides: &mut [(f64, u16); 2]| {
        if on {
            for s in sides.iter_mut() {
                s.0 += w;
                s.1 |= bit;
            }
        }
    };
    let one = |long: bool, short: bool, w: f64, bit: u16, sides: &mut [(f64, u16); 2]| {
        for (s, on) in sides.iter_mut().zip([long, short]) {
            if on {
                s.0 += w;
                s.1 |= bit;
            }
        }
    };
    let (f, m, sl) = x.sma;
    one(
        f > m && m > sl,
        f < m && m < sl,
        p.w_ma,
        rule::MA,
        &mut sides,
    );
    one(
        x.momentum > p.momentum_min,
        x.momentum < -p.momentum_min,
        p.w_momentum,
        rule::MOMENTUM,
        &mut sides,
    );
    both(
        x.volume_ratio > p.volume_min,
        p.w_volume,
        rule::VOLUME,
        &mut sides,
    );
    one(
        x.rsi < p.rsi_low,
        x.rsi > p.rsi_high,
        p.w_rsi,
        rule::RSI,
        &mut sides,
    );
    let neutral = x.rsi > p.rsi_neutral_low && x.rsi < p.rsi_neutral_high;
    both(neutral, -p.w_rsi_neutral, rule::RSI_NEUTRAL, &mut sides);
    let (c, c0) = (x.macd, x.macd_prev);
    one(
        c.macd > c.signal && c0.macd <= c0.signal,
        c.macd < c.signal && c0.macd >= c0.signal,
        p.w_macd_cross,
        rule::MACD_CROSS,
        &mut sides,
    );
    let growing = c.histogram.abs() > c0.histogram.abs();
    one(
        growing && c.histogram > 0.0,
        growing && c.histogram < 0.0,
        p.w_macd_growth,
        rule::MACD_GROWTH,
        &mut sides,
    );
    let (lo_px, hi_px) = match p.touch {
        Touch::Close => (x.bar.close, x.bar.close),
        Touch::Wick => (x.bar.low, x.bar.high),
    };
    let b = x.bands;
    one(
        lo_px <= b.lower,
        hi_px >= b.upper,
        p.w_band,
        rule::BAND,
        &mut sides,
    );
    let w = band_width(&b);
    both(
        w < p.squeeze * x.width_ref,
        p.w_squeeze,
        rule::SQUEEZE,
        &mut sides,
    );
    both(
        w > p.expansion * x.width_ref,
        -p.w_expansion,
        rule::EXPANSION,
        &mut sides,
    );
    one(
        x.flow > p.flow_min,
        x.flow < -p.flow_min,
        p.w_flow,
        rule::FLOW,
        &mut sides,
    );
    let [(long, fired_long), (short, fired_short)] = sides;
    Score {
        long: long.clamp(0.0, 1.0),
        short: short.clamp(0.0, 1.0),
        fired_long,
        fired_short,
    }
}

/// Bollinger width `(up − lo)/mid` (0 for a non-positive middle band).
#[inline]
pub fn band_width(b: &crate::model::indicators::Bands) -> f64 {
    if b.mid > 0.0 {
        (b.upper - b.lower) / b.mid
    } else {
        0.0
    }
}

/// Samples of the momentum ring (see the module doc: 32 steps plus slack).
const SAMPLES: usize = 35;

/// The signal of the last closed bar.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ScalperSignal {
    /// Strengths and fired rules (zero while not ready).
    pub score: Score,
    /// +1 / −1 / 0: the side to trade ([`Score::side`]).
    pub side: i8,
    /// Bar number it was computed on.
    pub bar: u64,
    /// Every input was defined.
    pub ready: bool,
    /// An entry was sent on it (a signal opens at most one position).
    pub consumed: bool,
}

/// One symbol's scalper state: the fast and medium SMAs, the momentum samples, the reference
/// width, the previous MACD and the current signal. About 1.2 KiB, inline.
#[derive(Clone, Copy, Debug)]
pub struct ScalperState {
    fast: Sma,
    mid: Sma,
    width_ref: Ema,
    /// Closes of the bars ending a sampling step, and their bar numbers (`u64::MAX` = none).
    samples: [f64; SAMPLES],
    sample_bar: [u64; SAMPLES],
    /// Lookback `L` and sampling step `k`, bars.
    lookback: u64,
    step: u64,
    macd_prev: Option<MacdValue>,
    signal: ScalperSignal,
}

impl ScalperSignal {
    /// The stronger side's strength, signed: `+long` when `long ≥ short`, else `−short`.
    #[inline]
    pub fn signed_strength(&self) -> f64 {
        let s = &self.score;
        if s.long >= s.short {
            s.long
        } else {
            -s.short
        }
    }
}

impl ScalperState {
    /// Fresh state for `p` on bars of `bar_s` seconds.
    pub fn new(p: &ScalperParams, bar_s: f64) -> Self {
        let lookback = ((p.momentum_s / bar_s).round() as u64).max(1);
        Self {
            fast: Sma::new(p.sma_fast),
            mid: Sma::new(p.sma_mid),
            width_ref: Ema::new(p.width_period),
            samples: [0.0; SAMPLES],
            sample_bar: [u64::MAX; SAMPLES],
            lookback,
            step: lookback.div_ceil(32),
            macd_prev: None,
            signal: ScalperSignal::default(),
        }
    }

    /// The signal of the last closed bar.
    #[inline]
    pub fn signal(&self) -> &ScalperSignal {
        &self.signal
    }

    /// Marks the current signal as used by an entry.
    #[inline]
    pub fn consume(&mut self) {
        self.signal.consumed = true;
    }

    /// `μ = c/c_{b−L'} − 1` with `L'` in `L … L + k − 1` (module doc); `None` until that close
    /// was sampled.
    #[inline]
    fn momentum(&mut self, b: u64, c: f64) -> Option<f64> {
        if (b + 1) % self.step == 0 {
            let slot = ((b + 1) / self.step) as usize % SAMPLES;
            self.samples[slot] = c;
            self.sample_bar[slot] = b;
        }
        let t = b.checked_sub(self.lookback)?;
        let n = (t + 1) / self.step;
        let e = (n * self.step).checked_sub(1)?;
        let slot = n as usize % SAMPLES;
        let c0 = self.samples[slot];
        (self.sample_bar[slot] == e && c0 > 0.0).then(|| c / c0 - 1.0)
    }

    /// Takes one closed bar with the indicators' values and the flow imbalance at its close;
    /// recomputes the signal.
    #[inline]
    pub fn on_bar(&mut self, p: &ScalperParams, bar: &Bar, v: &IndicatorValues, flow: f64) {
        let f = self.fast.push(bar.close);
        let m = self.mid.push(bar.close);
        let mu = self.momentum(bar.index, bar.close);
        let w = band_width(&v.bands);
        let w_ref = match p.width {
            WidthRef::Absolute => Some(1.0),
            WidthRef::Relative if v.ready => self.width_ref.push(w),
            WidthRef::Relative => None,
        };
        let macd_prev = if v.ready { self.macd_prev } else { None };
        self.macd_prev = v.ready.then_some(v.macd);
        let inputs = match (f, m, mu, w_ref, macd_prev) {
            (Some(f), Some(m), Some(mu), Some(w_ref), Some(macd_prev)) if v.ready => {
                Some(RuleInputs {
                    bar: *bar,
                    sma: (f, m, v.sma),
                    momentum: mu,
                    volume_ratio: v.volume_ratio,
                    rsi: v.rsi,
                    macd: v.macd,
                    macd_prev,
                    bands: v.bands,
                    width_ref: w_ref,
                    flow,
                })
            }
            _ => None,
        };
        self.signal = match inputs {
            Some(x) => {
                let score = score(p, &x);
                ScalperSignal {
                    score,
                    side: score.side(p.threshold),
                    bar: bar.index,
                    ready: true,
                    consumed: false,
                }
            }
            None => ScalperSignal {
                bar: bar.index,
                ..ScalperSignal::default()
            },
        };
    }
}

/// A [`BarSink`] for one trade: the state, its parameters and the flow imbalance before the
/// trade (the imbalance at the close of any bar the trade closes).
#[derive(Debug)]
pub struct ScalperSink<'a> {
    /// The symbol's state.
    pub state: &'a mut ScalperState,
    /// `[scalper]`.
    pub params: &'a ScalperParams,
    /// Flow imbalance.
    pub flow: f64,
}

impl BarSink for ScalperSink<'_> {
    #[inline]
    fn on_bar(&mut self, bar: &Bar, values: &IndicatorValues) {
        self.state.on_bar(self.params, bar, values, self.flow);
    }
}

#[cfg(test)]
mod tests;
