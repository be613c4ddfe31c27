//! Classic indicators of the second system (MATH.md §9), all O(1) per value, on time bars
//! built from trades.
//!
//! Bars: `bar_s` seconds of exchange time; open/high/low/close of the trade prices inside and
//! the traded base volume. A bar closes when the first trade of a later bar arrives; bars with
//! no trades are flat at the previous close with zero volume (at most 64 are replayed after a
//! gap; longer gaps reset the symbol anyway). Every indicator updates once per closed bar.

pub mod atr;
pub mod bollinger;
pub mod ma;
pub mod macd;
pub mod ring;
pub mod rsi;
pub mod volume;

use crate::model::params::{check, period, positive, unit_closed};

pub use atr::Atr;
pub use bollinger::{Bands, Bollinger};
pub use ma::{Ema, Sma};
pub use macd::{Macd, MacdValue};
pub use ring::CAP;
pub use rsi::Rsi;
pub use volume::VolumeRatio;

crate::model::params::params! {
    /// `[indicators]`.
    pub struct IndicatorParams {
        /// Compute the indicators at all.
        pub enabled: bool = true,
        /// Use the composite strength as a confirmation layer (needs `enabled`).
        pub confirm: bool = false,
        /// Bar length, seconds.
        pub bar_s: f64 = 1.0,
        /// SMA period (≤ 32).
        pub sma: usize = 20,
        /// EMA period.
        pub ema: usize = 20,
        /// RSI period.
        pub rsi: usize = 14,
        /// MACD fast EMA period.
        pub macd_fast: usize = 12,
        /// MACD slow EMA period.
        pub macd_slow: usize = 26,
        /// MACD signal EMA period.
        pub macd_signal: usize = 9,
        /// Bollinger period (≤ 32).
        pub bollinger: usize = 20,
        /// Bollinger width in standard deviations.
        pub bollinger_k: f64 = 2.0,
        /// ATR period.
        pub atr: usize = 14,
        /// Volume-ratio period (≤ 32).
        pub volume: usize = 20,
        /// Composite strength needed to confirm (weights in [`Indicators::strength`]).
        pub threshold: f64 = 0.65,
    }
}

impl IndicatorParams {
    /// Checks every key (`indicators.<key>`).
    pub fn validate(&self) -> Result<(), String> {
        check(&[period("indicators.bar_s", self.bar_s)])?;
        for (k, v, max) in [
            ("sma", self.sma, CAP),
            ("bollinger", self.bollinger, CAP),
            ("volume", self.volume, CAP),
            ("ema", self.ema, 10_000),
            ("rsi", self.rsi, 10_000),
            ("macd_fast", self.macd_fast, 10_000),
            ("macd_slow", self.macd_slow, 10_000),
            ("macd_signal", self.macd_signal, 10_000),
            ("atr", self.atr, 10_000),
        ] {
            if v == 0 || v > max {
                return Err(format!("indicators.{k}: must be in 1..={max}, got {v}"));
            }
        }
        if self.macd_fast >= self.macd_slow {
            return Err("indicators.macd_fast: must be below macd_slow".into());
        }
        check(&[
            positive("indicators.bollinger_k", self.bollinger_k),
            unit_closed("indicators.threshold", self.threshold),
        ])
    }
}

/// The latest indicator values (0 / `ready = false` until each is defined).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IndicatorValues {
    /// Close of the last closed bar.
    pub close: f64,
    /// SMA of closes.
    pub sma: f64,
    /// EMA of closes.
    pub ema: f64,
    /// EMA one bar earlier (its slope is the momentum component).
    pub ema_prev: f64,
    /// RSI in [0, 100].
    pub rsi: f64,
    /// MACD line, signal, histogram.
    pub macd: MacdValue,
    /// Bollinger bands.
    pub bands: Bands,
    /// ATR, price units.
    pub atr: f64,
    /// Volume ratio of the last closed bar.
    pub volume_ratio: f64,
    /// True once every indicator is defined.
    pub ready: bool,
}

/// A closed time bar (bar number `index = ts_ms / (bar_s·1000)`), handed to a [`BarSink`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bar {
    /// Bar number: exchange time / bar length.
    pub index: u64,
    /// Highest trade price in the bar.
    pub high: f64,
    /// Lowest trade price in the bar.
    pub low: f64,
    /// Last trade price in the bar.
    pub close: f64,
    /// Traded base volume.
    pub volume: f64,
}

/// Receives every closed bar (flat bars after a gap included) after the indicators took it,
/// with their values as of that bar: how a bar-based strategy updates once per bar, not per tick.
pub trait BarSink {
    /// Called once per closed bar, in bar order.
    fn on_bar(&mut self, bar: &Bar, values: &IndicatorValues);
}

/// No sink: the indicators alone.
impl BarSink for () {
    #[inline]
    fn on_bar(&mut self, _: &Bar, _: &IndicatorValues) {}
}

/// One symbol's indicator state, with its bar builder.
#[derive(Clone, Copy, Debug)]
pub struct Indicators {
    bar: u64,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
    started: bool,
    sma: Sma,
    ema: Ema,
    rsi: Rsi,
    macd: Macd,
    bollinger: Bollinger,
    atr: Atr,
    vol: VolumeRatio,
    out: IndicatorValues,
    defined: u8,
    /// `(bar + 1)·width` (saturating; 0 for a width beyond `u32`) and the width it was
    /// computed with: a stamp below it is still in the current bar.
    next_ms: u64,
    width_ms: u32,
}

impl Indicators {
    /// Fresh state for `p`'s periods.
    pub fn new(p: &IndicatorParams) -> Self {
        Self {
            bar: 0,
            open: 0.0,
            high: 0.0,
            low: 0.0,
            close: 0.0,
            volume: 0.0,
            started: false,
            sma: Sma::new(p.sma),
            ema: Ema::new(p.ema),
            rsi: Rsi::new(p.rsi),
            macd: Macd::new(p.macd_fast, p.macd_slow, p.macd_signal),
            bollinger: Bollinger::new(p.bollinger, p.bollinger_k),
            atr: Atr::new(p.atr),
            vol: VolumeRatio::new(p.volume),
            out: IndicatorValues::default(),
            defined: 0,
            next_ms: 0,
            width_ms: 0,
        }
    }

    /// Feeds one trade; closes bars as exchange time passes.
    #[inline]
    pub fn update(&mut self, p: &IndicatorParams, price: f64, qty: f64, ts_ms: u64) {
        self.update_with(p, price, qty, ts_ms, &mut ());
    }

    /// [`Indicators::update`], handing every bar it closes to `sink`.
    #[inline]
    pub fn update_with<S: BarSink>(
        &mut self,
        p: &IndicatorParams,
        price: f64,
        qty: f64,
        ts_ms: u64,
        sink: &mut S,
    ) {
        let width = ((p.bar_s * 1000.0) as u64).max(1);
        // Still in the current bar (`ts / width ≤ bar`): no division.
        let same = self.started && ts_ms < self.next_ms && width == u64::from(self.width_ms);
        let b = if same { self.bar } else { ts_ms / width };
        if !self.started {
            self.started = true;
            self.bar = b;
            self.start_bar(price);
        } else if b > self.bar {
            self.close_bar(self.bar, sink);
            let flat = self.close;
            for k in 1..(b - self.bar).min(64) {
                self.start_bar(flat);
                self.close_bar(self.bar + k, sink);
            }
            self.bar = b;
            self.start_bar(price);
        }
        if !same {
            let narrow = u32::try_from(width);
            self.width_ms = narrow.unwrap_or(0);
            self.next_ms = if narrow.is_ok() {
                self.bar.saturating_add(1).saturating_mul(width)
            } else {
                0
            };
        }
        self.high = self.high.max(price);
        self.low = self.low.min(price);
        self.close = price;
        if qty.is_finite() && qty > 0.0 {
            self.volume += qty;
        }
    }

    #[inline]
    fn start_bar(&mut self, price: f64) {
        self.open = price;
        self.high = price;
        self.low = price;
        self.close = price;
        self.volume = 0.0;
    }

    #[inline]
    fn close_bar<S: BarSink>(&mut self, index: u64, sink: &mut S) {
        let c = self.close;
        let o = &mut self.out;
        o.close = c;
        let mut defined = 0u8;
        if let Some(v) = self.sma.push(c) {
            o.sma = v;
            defined += 1;
        }
        o.ema_prev = o.ema;
        if let Some(v) = self.ema.push(c) {
            o.ema = v;
            defined += 1;
        }
        if let Some(v) = self.rsi.push(c) {
            o.rsi = v;
            defined += 1;
        }
        if let Some(v) = self.macd.push(c) {
            o.macd = v;
            defined += 1;
        }
        if let Some(v) = self.bollinger.push(c) {
            o.bands = v;
            defined += 1;
        }
        if let Some(v) = self.atr.push(self.high, self.low, c) {
            o.atr = v;
            defined += 1;
        }
        if let Some(v) = self.vol.push(self.volume) {
            o.volume_ratio = v;
            defined += 1;
        }
        self.defined = defined;
        o.ready = defined == 7;
        let bar = Bar {
            index,
            high: self.high,
            low: self.low,
            close: c,
            volume: self.volume,
        };
        sink.on_bar(&bar, &self.out);
    }

    /// The values as of the last closed bar.
    #[inline]
    pub fn values(&self) -> &IndicatorValues {
        &self.out
    }

    /// Composite signal strength for `side` (+1 long, −1 short), in `[0, 1]`: the sum of the
    /// weights of the components that point the trade's way, capped at 1 (MATH.md §9 weights):
    /// MA 0.30 (close beyond the SMA), momentum 0.25 (EMA slope), RSI 0.20 (between 50 and 70
    /// for a long, 30 and 50 for a short), MACD 0.25 (histogram sign), Bollinger 0.20 (close not
    /// beyond the band on the trade's side), order flow 0.20 (`side·I > 0`), volume 0.15
    /// (ratio > 1). 0 until every indicator is defined.
    #[inline]
    pub fn strength(&self, side: f64, flow_imbalance: f64) -> f64 {
        let o = &self.out;
        if !o.ready {
            return 0.0;
        }
        let mut s = 0.0;
        if side * (o.close - o.sma) > 0.0 {
            s += 0.30;
        }
        if side * (o.ema - o.ema_prev) > 0.0 {
            s += 0.25;
        }
        let rsi_ok = if side > 0.0 {
            o.rsi > 50.0 && o.rsi < 70.0
        } else {
            o.rsi > 30.0 && o.rsi < 50.0
        };
        if rsi_ok {
            s += 0.20;
        }
        if side * o.macd.histogram > 0.0 {
            s += 0.25;
        }
        let inside = if side > 0.0 {
            o.close < o.bands.upper
        } else {
            o.close > o.bands.lower
        };
        if inside {
            s += 0.20;
        }
        if side * flow_imbalance > 0.0 {
            s += 0.20;
        }
        if o.volume_ratio > 1.0 {
            s += 0.15;
        }
        f64::min(s, 1.0)
    }
}

#[cfg(test)]
mod tests;
