//! Each rule against a hand-computed bar series; the sum, the cap and the threshold; the stop
//! and take-profit levels.
//!
//! The series use short periods so every value can be worked out by hand (in the comments):
//! SMA_slow 4 (and the indicators' EMA 2), RSI 3, MACD 2/3/2, Bollinger 4 (k = 2), ATR 3, volume ratio over 3 bars;
//! scalper SMA 2/3, momentum lookback 4 bars (`momentum_s = 4` on 1 s bars: exact), absolute
//! band widths with the seed's 0.02 / 0.08. With these periods every indicator is defined at
//! bar 3 and the signal (which also needs the previous bar's MACD) from bar 4 on.

use rust_decimal::Decimal;

use super::*;
use crate::model::indicators::{Bands, IndicatorParams, Indicators};
use crate::risk::ExitLevels;
use crate::types::Instrument;

fn ind_params() -> IndicatorParams {
    IndicatorParams {
        sma: 4,
        ema: 2,
        rsi: 3,
        macd_fast: 2,
        macd_slow: 3,
        macd_signal: 2,
        bollinger: 4,
        bollinger_k: 2.0,
        atr: 3,
        volume: 3,
        ..IndicatorParams::default()
    }
}

fn scalper_params() -> ScalperParams {
    ScalperParams {
        sma_fast: 2,
        sma_mid: 3,
        momentum_s: 4.0,
        width: WidthRef::Absolute,
        squeeze: 0.02,
        expansion: 0.08,
        ..ScalperParams::default()
    }
}

/// Indicators and scalper state fed one bar per second.
struct Rig {
    ip: IndicatorParams,
    sp: ScalperParams,
    ind: Indicators,
    st: ScalperState,
}

impl Rig {
    fn new(ip: IndicatorParams, sp: ScalperParams) -> Self {
        Self {
            ind: Indicators::new(&ip),
            st: ScalperState::new(&sp, ip.bar_s),
            ip,
            sp,
        }
    }

    /// Bar `k` made of `prices` (each trade 1 unit, the last one `last_qty`), then the first
    /// trade of bar `k + 1`, which closes bar `k` with flow imbalance `flow`.
    fn bar(&mut self, k: u64, prices: &[f64], last_qty: f64, flow: f64) -> ScalperSignal {
        for (j, &p) in prices.iter().enumerate() {
            let q = if j + 1 == prices.len() { last_qty } else { 1.0 };
            self.trade(k * 1000 + j as u64, p, q, flow);
        }
        // The closing trade belongs to bar k + 1: volume 0 (not counted), price = the close.
        self.trade((k + 1) * 1000, prices[prices.len() - 1], 0.0, flow);
        *self.st.signal()
    }

    fn trade(&mut self, ts: u64, price: f64, qty: f64, flow: f64) {
        let mut sink = ScalperSink {
            state: &mut self.st,
            params: &self.sp,
            flow,
        };
        self.ind.update_with(&self.ip, price, qty, ts, &mut sink);
    }

    /// One single-trade bar per close, volume 1; the signal of the last bar.
    fn closes(&mut self, closes: &[f64], flow: f64) -> ScalperSignal {
        let mut s = ScalperSignal::default();
        for (k, &c) in closes.iter().enumerate() {
            s = self.bar(k as u64, &[c], 1.0, flow);
        }
        s
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Rising 100..105, flow +0.5: MA alignment, momentum and flow long; RSI 100 fires short.
#[test]
fn rising_series_fires_alignment_momentum_and_flow_long_and_rsi_short() {
    let mut r = Rig::new(ind_params(), scalper_params());
    // Bar 3: every indicator defined, no previous MACD yet: not ready.
    let s3 = r.closes(&[100.0, 101.0, 102.0, 103.0], 0.5);
    assert!(!s3.ready && s3.side == 0);
    let s = r.bar(4, &[104.0], 1.0, 0.5);
    assert!(s.ready);
    let s = r.bar(5, &[105.0], 1.0, 0.5);
    let v = *r.ind.values();
    // SMA_4 = (102 + 103 + 104 + 105)/4 = 103.5; SMA_2 = 104.5, SMA_3 = 104: 104.5 > 104 > 103.5.
    assert!(close(v.sma, 103.5));
    // RSI_3: three gains, no loss → 100 (> 70: the short rule).
    assert!(close(v.rsi, 100.0));
    // EMA_2 seeded 100.5 at bar 1, then 101.5, 102.5, 103.5, 104.5 (lag ½ on a unit slope);
    // EMA_3 seeded 101 at bar 2, then 102, 103, 104: MACD 0.5 on every bar, signal 0.5, h = 0:
    // no crossover, no growth.
    assert!(close(v.macd.macd, 0.5) && close(v.macd.signal, 0.5) && close(v.macd.histogram, 0.0));
    // Bollinger 4 at bar 5: mean 103.5, σ² = (2·1.5² + 2·0.5²)/4 = 1.25, up = 103.5 + 2·1.118 =
    // 105.74 > 105: no touch; width 4.472/103.5 = 0.0432: neither squeeze (< 0.02) nor
    // expansion (> 0.08). Volume ratio 1/1 = 1: no volume rule.
    assert!(close(v.bands.upper, 103.5 + 2.0 * 1.25f64.sqrt()));
    assert!(close(v.volume_ratio, 1.0));
    // Momentum: 105/c_1 − 1 = 105/101 − 1 = 3.96 % > 0.1 %.
    use rule::*;
    assert_eq!(s.score.fired_long, MA | MOMENTUM | FLOW);
    assert_eq!(s.score.fired_short, RSI);
    // Long 0.30 + 0.25 + 0.20 = 0.75 ≥ 0.65 > short 0.20.
    assert!(close(s.score.long, 0.75) && close(s.score.short, 0.20));
    assert_eq!(s.side, 1);
    assert!(close(s.signed_strength(), 0.75));
}

/// The mirror image (falling 105..100, flow −0.5): every directional rule flips side.
#[test]
fn falling_series_is_the_mirror_image() {
    let mut r = Rig::new(ind_params(), scalper_params());
    let s = r.closes(&[105.0, 104.0, 103.0, 102.0, 101.0, 100.0], -0.5);
    // SMA_2 = 100.5 < SMA_3 = 101 < SMA_4 = 101.5; momentum 100/104 − 1 = −3.8 %; RSI 0 < 30.
    assert!(close(r.ind.values().rsi, 0.0));
    use rule::*;
    assert_eq!(s.score.fired_short, MA | MOMENTUM | FLOW);
    assert_eq!(s.score.fired_long, RSI);
    assert!(close(s.score.short, 0.75) && close(s.score.long, 0.20));
    assert_eq!(s.side, -1);
    assert!(close(s.signed_strength(), -0.75));
}

/// Alternating 100/101 with a volume spike on bar 4: volume (both sides), RSI neutral penalty
/// (both), squeeze (both) and a bearish MACD crossover.
#[test]
fn alternating_series_fires_volume_neutral_rsi_squeeze_and_a_bearish_cross() {
    let mut r = Rig::new(ind_params(), scalper_params());
    r.closes(&[100.0, 101.0, 100.0, 101.0], 0.0);
    let s = r.bar(4, &[100.0], 2.0, 0.0);
    let v = *r.ind.values();
    // RSI_3 seeded at bar 3 on changes +1, −1, +1: G = 2/3, L = 1/3. Bar 4 (−1):
    // G = (2/3·2 + 0)/3 = 4/9, L = (1/3·2 + 1)/3 = 5/9, RSI = 100 − 100/(1 + 0.8) = 44.44:
    // inside (40, 60), the neutral penalty.
    assert!(close(v.rsi, 100.0 - 100.0 / 1.8));
    // EMA_2: 100.5, 100.1667, 100.7222, 100.2407; EMA_3: 100.3333 (bar 2), 100.6667, 100.3333.
    // MACD: bar 2 −0.1667, bar 3 0.0556, bar 4 −0.0926; signal (EMA_2 of MACD) seeded at bar 3
    // = −0.0556, bar 4 = −0.0556 + 2/3·(−0.0926 + 0.0556) = −0.0802. Bar 4: m < g, and bar 3
    // had m' = 0.0556 ≥ g' = −0.0556: a bearish crossover. |h| = 0.0123 < |h'| = 0.1111.
    assert!((v.macd.macd + 0.0926).abs() < 1e-4 && (v.macd.signal + 0.0802).abs() < 1e-4);
    // Volume ratio: 2 / mean(1, 1, 1) = 2 > 1.5.
    assert!(close(v.volume_ratio, 2.0));
    // Bollinger 4 over 101, 100, 101, 100: mean 100.5, σ = 0.5, bands 99.5 / 101.5 (close 100:
    // no touch); width 2/100.5 = 0.0199 < 0.02: squeeze.
    assert!(close(v.bands.lower, 99.5) && close(v.bands.upper, 101.5));
    // SMA_2 = 100.5, SMA_3 = 100.33, SMA_4 = 100.5: no alignment; momentum 100/100 − 1 = 0.
    use rule::*;
    assert_eq!(s.score.fired_long, VOLUME | RSI_NEUTRAL | SQUEEZE);
    assert_eq!(
        s.score.fired_short,
        VOLUME | RSI_NEUTRAL | SQUEEZE | MACD_CROSS
    );
    // Long 0.15 − 0.10 + 0.15 = 0.20; short + 0.25 = 0.45: below 0.65, no trade.
    assert!(close(s.score.long, 0.20) && close(s.score.short, 0.45));
    assert_eq!(s.side, 0);
}

/// The price mirror (p → 201 − p) of the alternating series: a bullish MACD crossover.
#[test]
fn mirrored_alternating_series_crosses_bullish() {
    let mut r = Rig::new(ind_params(), scalper_params());
    r.closes(&[101.0, 100.0, 101.0, 100.0], 0.0);
    let s = r.bar(4, &[101.0], 1.0, 0.0);
    // Every EMA mirrors, so MACD and signal change sign: m = 0.0926 > g = 0.0802 with
    // m' = −0.0556 ≤ g' = 0.0556.
    let v = r.ind.values();
    assert!((v.macd.macd - 0.0926).abs() < 1e-4 && (v.macd.signal - 0.0802).abs() < 1e-4);
    assert!(s.score.fired_long & rule::MACD_CROSS != 0);
    assert!(s.score.fired_short & rule::MACD_CROSS == 0);
}

/// 100, 100, 100, 101, 103: the histogram grows on the long side without a crossover.
#[test]
fn accelerating_series_grows_the_histogram_long() {
    let mut r = Rig::new(ind_params(), scalper_params());
    let s = r.closes(&[100.0, 100.0, 100.0, 101.0, 103.0], 0.0);
    // EMA_2: 100, 100, 100.6667, 102.2222; EMA_3: 100 (bar 2), 100.5, 101.75. MACD: 0, 0.1667,
    // 0.4722; signal seeded at bar 3 = 0.0833, bar 4 = 0.0833 + 2/3·(0.4722 − 0.0833) = 0.3426.
    // h: 0.0833 → 0.1296 (grows, positive); m' = 0.1667 > g' = 0.0833: no crossover.
    let v = r.ind.values();
    assert!((v.macd.histogram - 0.1296).abs() < 1e-4);
    assert!(s.score.fired_long & rule::MACD_GROWTH != 0);
    assert!(s.score.fired_long & rule::MACD_CROSS == 0);
    assert!(s.score.fired_short & (rule::MACD_GROWTH | rule::MACD_CROSS) == 0);
}

/// Bollinger touches: on the close (k = 1.5) and on the wick (k = 2, where a close cannot
/// reach the band: with 4 closes the largest z-score is √3 = 1.73).
#[test]
fn bollinger_touch_on_close_and_on_wick() {
    let ip = IndicatorParams {
        bollinger_k: 1.5,
        ..ind_params()
    };
    let mut r = Rig::new(ip, scalper_params());
    let s = r.closes(&[100.0, 100.0, 100.0, 100.0, 98.0], 0.0);
    // 100, 100, 100, 98: mean 99.5, σ² = (3·0.25 + 2.25)/4 = 0.75, lower = 99.5 − 1.5·0.866 =
    // 98.20 ≥ 98: the close touches the lower band: long.
    assert!(close(
        r.ind.values().bands.lower,
        99.5 - 1.5 * 0.75f64.sqrt()
    ));
    assert!(s.score.fired_long & rule::BAND != 0 && s.score.fired_short & rule::BAND == 0);
    let mut r = Rig::new(ind_params(), scalper_params());
    r.closes(&[100.0, 100.0, 100.0, 100.0, 100.0], 0.0);
    // Bar 5 trades 99.0 then closes 99.8; up to the wick 102.0 on the short side below.
    let s = r.bar(5, &[99.0, 99.8], 1.0, 0.0);
    // 100, 100, 100, 99.8: mean 99.95, σ² = (3·0.0025 + 0.0225)/4 = 0.0075, lower = 99.95 −
    // 2·0.0866 = 99.78 < 99.8: the close does not touch.
    assert!(close(
        r.ind.values().bands.lower,
        99.95 - 2.0 * 0.0075f64.sqrt()
    ));
    assert_eq!(s.score.fired_long & rule::BAND, 0);
    let wick = ScalperParams {
        touch: Touch::Wick,
        ..scalper_params()
    };
    let mut r = Rig::new(ind_params(), wick);
    r.closes(&[100.0, 100.0, 100.0, 100.0, 100.0], 0.0);
    // The same bar: its low 99.0 ≤ 99.78.
    let s = r.bar(5, &[99.0, 99.8], 1.0, 0.0);
    assert!(s.score.fired_long & rule::BAND != 0);
    let s = r.bar(6, &[102.0, 100.0], 1.0, 0.0);
    // 100, 100, 99.8, 100: mean 99.95, upper = 99.95 + 0.1732 = 100.12 ≤ high 102.
    assert!(s.score.fired_short & rule::BAND != 0);
}

/// The ATR of three hand-made bars, and the stop / take-profit it gives: the seed's example
/// (entry 100, ATR 2 → 97 / 106) and the bars' ATR 7/3 on entry 102 (98.50 / 109.00).
#[test]
fn stops_are_atr_times_one_and_a_half_with_two_to_one_reward() {
    let ip = ind_params();
    let mut ind = Indicators::new(&ip);
    // (high, low, close): (101, 99, 100), (102, 100, 101), (103, 100, 102).
    // TR: 2 (first bar: h − l), max(2, |102 − 100|, |100 − 100|) = 2, max(3, 2, 1) = 3 → ATR 7/3.
    for (k, prices) in [
        [99.0, 101.0, 100.0],
        [100.0, 102.0, 101.0],
        [100.0, 103.0, 102.0],
    ]
    .iter()
    .enumerate()
    {
        for (j, &p) in prices.iter().enumerate() {
            ind.update(&ip, p, 1.0, k as u64 * 1000 + j as u64);
        }
    }
    ind.update(&ip, 102.0, 1.0, 3000);
    let atr = ind.values().atr;
    assert!(close(atr, 7.0 / 3.0));
    let sp = ScalperParams::default();
    let base = ExitParams::from_config(&crate::risk::config::ExitsConfig::default());
    let ex = sp.exits(&base);
    let inst = Instrument::new(
        "0.01".parse().unwrap(),
        "0.001".parse().unwrap(),
        "0.001".parse().unwrap(),
        "5".parse().unwrap(),
        "5".parse().unwrap(),
    )
    .unwrap();
    let d = |s: &str| s.parse::<Decimal>().unwrap();
    let lv = ExitLevels::plan(&ex, 1, d("100"), 2.0, &inst).unwrap();
    assert_eq!((lv.stop_loss, lv.take_profit), (d("97"), d("106")));
    let lv = ExitLevels::plan(&ex, -1, d("100"), 2.0, &inst).unwrap();
    assert_eq!((lv.stop_loss, lv.take_profit), (d("103"), d("94")));
    // 1.5·7/3 = 3.5, 2·3.5 = 7: 102 − 3.5 = 98.50, 102 + 7 = 109.00.
    let lv = ExitLevels::plan(&ex, 1, d("102"), atr, &inst).unwrap();
    assert_eq!((lv.stop_loss, lv.take_profit), (d("98.50"), d("109.00")));
    assert_eq!(lv.reward_risk(), d("2"));
    // No percent floor, rounding toward the entry: ATR 0.25 → stop 0.375 → 99.63 (ceil),
    // take-profit 0.75 → 100.75.
    let lv = ExitLevels::plan(&ex, 1, d("100"), 0.25, &inst).unwrap();
    assert_eq!((lv.stop_loss, lv.take_profit), (d("99.63"), d("100.75")));
}

/// Inputs with nothing firing (RSI 50 sits in the neutral zone, so it is 65 here).
fn quiet() -> RuleInputs {
    RuleInputs {
        bar: Bar {
            index: 0,
            high: 100.0,
            low: 100.0,
            close: 100.0,
            volume: 1.0,
        },
        sma: (100.0, 100.0, 100.0),
        momentum: 0.0,
        volume_ratio: 1.0,
        rsi: 65.0,
        macd: MacdValue::default(),
        macd_prev: MacdValue::default(),
        bands: Bands {
            mid: 100.0,
            upper: 102.0,
            lower: 98.0,
        },
        width_ref: 1.0,
        flow: 0.0,
    }
}

#[test]
fn strength_is_the_capped_sum_and_trades_at_the_threshold() {
    let p = ScalperParams {
        width: WidthRef::Absolute,
        squeeze: 0.02,
        expansion: 0.08,
        ..ScalperParams::default()
    };
    // Width 4/100 = 0.04: neither squeeze nor expansion.
    let s = score(&p, &quiet());
    assert_eq!(
        (s.long, s.short, s.fired_long, s.fired_short),
        (0.0, 0.0, 0, 0)
    );
    // Flow exactly at 0.3 does not fire (strict), 0.31 does.
    assert_eq!(
        score(
            &p,
            &RuleInputs {
                flow: 0.3,
                ..quiet()
            }
        )
        .fired_long,
        0
    );
    assert_eq!(
        score(
            &p,
            &RuleInputs {
                flow: -0.31,
                ..quiet()
            }
        )
        .fired_short,
        rule::FLOW
    );
    // MA 0.30 + momentum 0.25 + volume 0.15 = 0.70 ≥ 0.65: long.
    let x = RuleInputs {
        sma: (101.0, 100.5, 100.0),
        momentum: 0.002,
        volume_ratio: 1.6,
        ..quiet()
    };
    let s = score(&p, &x);
    assert!(close(s.long, 0.70) && close(s.short, 0.15));
    assert_eq!(s.side(p.threshold), 1);
    // The neutral RSI takes 0.10 off both sides: 0.60 < 0.65, no trade.
    let s = score(&p, &RuleInputs { rsi: 50.0, ..x });
    assert!(close(s.long, 0.60) && close(s.short, 0.05));
    assert_eq!(s.side(p.threshold), 0);
    // Everything long at once: 0.30 + 0.25 + 0.15 + 0.20 + 0.25 + 0.10 + 0.20 + 0.15 + 0.20 =
    // 1.80, capped at 1.
    let all = RuleInputs {
        bar: Bar {
            close: 97.0,
            low: 97.0,
            ..quiet().bar
        },
        rsi: 20.0,
        macd: MacdValue {
            macd: 0.2,
            signal: 0.1,
            histogram: 0.1,
        },
        macd_prev: MacdValue {
            macd: 0.0,
            signal: 0.05,
            histogram: -0.05,
        },
        bands: Bands {
            mid: 100.0,
            upper: 100.5,
            lower: 99.5,
        },
        flow: 0.9,
        ..x
    };
    let s = score(&p, &all);
    assert_eq!(s.fired_long.count_ones(), 9, "{:#b}", s.fired_long);
    assert_eq!(s.long, 1.0);
    // Expansion and the neutral zone can push a side below 0: clamped at 0.
    let wide = RuleInputs {
        rsi: 50.0,
        bands: Bands {
            mid: 100.0,
            upper: 110.0,
            lower: 90.0,
        },
        ..quiet()
    };
    let s = score(&p, &wide);
    assert_eq!(s.fired_long, rule::RSI_NEUTRAL | rule::EXPANSION);
    assert_eq!((s.long, s.short), (0.0, 0.0));
}

#[test]
fn threshold_is_inclusive_and_ties_trade_nothing() {
    // Binary-exact weights: 0.5 + 0.25 = 0.75 = threshold.
    let p = ScalperParams {
        threshold: 0.75,
        w_ma: 0.5,
        w_flow: 0.25,
        width: WidthRef::Absolute,
        squeeze: 0.02,
        expansion: 0.08,
        ..ScalperParams::default()
    };
    let x = RuleInputs {
        sma: (101.0, 100.5, 100.0),
        flow: 0.5,
        ..quiet()
    };
    assert_eq!(score(&p, &x).long, 0.75);
    assert_eq!(score(&p, &x).side(0.75), 1);
    assert_eq!(score(&p, &RuleInputs { flow: 0.0, ..x }).side(0.75), 0);
    let tie = Score {
        long: 0.8,
        short: 0.8,
        ..Score::default()
    };
    assert_eq!(tie.side(0.65), 0);
}

/// Relative width: `w / EMA(w)` against 0.5 and 2.
#[test]
fn relative_squeeze_and_expansion_compare_with_the_reference_width() {
    let p = ScalperParams::default();
    assert_eq!(p.width, WidthRef::Relative);
    // Width 0.04 with reference 0.1: 0.04 < 0.5·0.1, squeeze; reference 0.01: 0.04 > 2·0.01.
    let s = score(
        &p,
        &RuleInputs {
            width_ref: 0.1,
            ..quiet()
        },
    );
    assert_eq!(s.fired_long, rule::SQUEEZE);
    let s = score(
        &p,
        &RuleInputs {
            width_ref: 0.01,
            ..quiet()
        },
    );
    assert_eq!(s.fired_short, rule::EXPANSION);
    let s = score(
        &p,
        &RuleInputs {
            width_ref: 0.04,
            ..quiet()
        },
    );
    assert_eq!(s.fired_long | s.fired_short, 0);
    // In the state, the reference is EMA_2 of the widths from the first ready bar: on the
    // rising series of the first test the bands at bars 3 and 4 are those of (100..103) and
    // (101..104): σ = √1.25 both, widths 4√1.25/101.5 and 4√1.25/102.5; the EMA is seeded at
    // bar 4 with their mean, so bar 4 is the first ready one.
    let sp = ScalperParams {
        width_period: 2,
        ..scalper_params()
    };
    let sp = ScalperParams {
        width: WidthRef::Relative,
        squeeze: 0.5,
        expansion: 2.0,
        ..sp
    };
    let mut r = Rig::new(ind_params(), sp);
    let s = r.closes(&[100.0, 101.0, 102.0, 103.0], 0.0);
    assert!(!s.ready);
    let s = r.bar(4, &[104.0], 1.0, 0.0);
    assert!(s.ready);
    let w = 4.0 * 1.25f64.sqrt();
    let seeded = (w / 101.5 + w / 102.5) / 2.0;
    assert!(close(r.st.width_ref.value().unwrap(), seeded));
}

/// Momentum lookback beyond 32 bars: samples every `k = ⌈L/32⌉` bars.
#[test]
fn momentum_samples_every_k_bars_beyond_32() {
    let p = ScalperParams {
        momentum_s: 64.0,
        ..ScalperParams::default()
    };
    let mut st = ScalperState::new(&p, 1.0);
    assert_eq!((st.lookback, st.step), (64, 2));
    let c = |b: u64| 100.0 + b as f64;
    let mut got = Vec::new();
    for b in 0..=101 {
        got.push(st.momentum(b, c(b)));
    }
    // Bar 64: 64 − 64 = 0, no sample ends at or before bar 0 (samples are bars 1, 3, 5, …).
    assert_eq!(got[64], None);
    // Bar 65: target 1 → the sample of bar 1: 165/101 − 1.
    assert!(close(got[65].unwrap(), 165.0 / 101.0 - 1.0));
    // Bar 100: target 36 → sample of bar 35 (65 bars back); bar 101: target 37 → bar 37.
    assert!(close(got[100].unwrap(), 200.0 / 135.0 - 1.0));
    assert!(close(got[101].unwrap(), 201.0 / 137.0 - 1.0));
}

#[test]
fn params_validate_with_the_key_named() {
    assert_eq!(ScalperParams::default().validate(20), Ok(()));
    let e = ScalperParams::default().validate(10).unwrap_err();
    assert!(e.contains("scalper.sma_mid"), "{e}");
    let e = ScalperParams {
        threshold: 1.5,
        ..ScalperParams::default()
    }
    .validate(20)
    .unwrap_err();
    assert!(e.contains("scalper.threshold"), "{e}");
    let e = ScalperParams {
        rsi_neutral_low: 20.0,
        ..ScalperParams::default()
    }
    .validate(20)
    .unwrap_err();
    assert!(e.contains("scalper.rsi_"), "{e}");
}

/// Beside the calculus strategy's per-symbol state (≤ 4 KiB, PERFORMANCE.md), the scalper keeps
/// this much per symbol when it is on.
#[test]
fn state_size() {
    let n = std::mem::size_of::<ScalperState>();
    assert!(n <= 1280, "{n}");
}
