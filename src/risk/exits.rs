//! Take-profit and stop-loss levels of an entry, exact on the venue's tick, with a minimum
//! reward:risk, and their trigger check on trade prices.
//!
//! Rounding is conservative: both levels are rounded to the tick **toward the entry**.
//! - Long: stop `sl = ceil((entry − sl_dist)/tick)·tick` (a stop never farther below the entry
//!   than planned, so the risk is never above plan); target `tp = floor((entry + tp_dist)/tick)·tick`
//!   (never farther than planned, so the reward is never overstated).
//! - Short: `sl = floor((entry + sl_dist)/tick)·tick`, `tp = ceil((entry − tp_dist)/tick)·tick`.
//!
//! The reward:risk `(tp − entry)/(entry − sl)` (mirrored for shorts) is checked on the rounded
//! prices, exactly.
//!
//! Everything is computed in whole ticks ([`ExitLevels::plan_ticks`]): the model's f64
//! distances become whole ticks with [`floor_ticks`] and the levels are `entry ± ticks`, the
//! same prices as the decimal formulas above; decimals are built from the integers.

use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;

use super::block::BlockReason;
use super::config::{ExitMode, ExitsConfig};
use crate::types::fixed::{
    dec_f64, dec_mul, floor_ticks, mantissa_i64, non_negative_finite, positive_finite, pow10_i128,
    POW10,
};
use crate::types::Instrument;

/// Exit parameters (from `[risk.exits]`); `Copy`, no heap.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExitParams {
    /// Percent or volatility distances.
    pub mode: ExitMode,
    /// Take-profit distance / entry (the floor in volatility mode).
    pub tp_fraction: f64,
    /// Stop-loss distance / entry (the floor in volatility mode).
    pub sl_fraction: f64,
    /// Take-profit distance in volatility units.
    pub tp_vol_mult: f64,
    /// Stop-loss distance in volatility units.
    pub sl_vol_mult: f64,
    /// Minimum reward:risk after rounding, as an exact decimal.
    pub min_reward_risk: Decimal,
}

impl ExitParams {
    /// From a validated `[risk.exits]` section.
    pub fn from_config(c: &ExitsConfig) -> Self {
        Self {
            mode: c.mode,
            tp_fraction: c.tp_fraction,
            sl_fraction: c.sl_fraction,
            tp_vol_mult: c.tp_vol_mult,
            sl_vol_mult: c.sl_vol_mult,
            min_reward_risk: Decimal::from_f64(c.min_reward_risk).unwrap_or(Decimal::ONE),
        }
    }

    /// Planned `(tp distance, sl distance)` in price units: percent `(f_tp·E, f_sl·E)`;
    /// volatility `(max(k_tp·vol, f_tp·E), max(k_sl·vol, f_sl·E))`, `vol` = ATR or σ_h·price.
    #[inline]
    pub fn distances(&self, entry: f64, vol: f64) -> (f64, f64) {
        let (tp_floor, sl_floor) = (self.tp_fraction * entry, self.sl_fraction * entry);
        match self.mode {
            ExitMode::Percent => (tp_floor, sl_floor),
            ExitMode::Volatility => (
                (self.tp_vol_mult * vol).max(tp_floor),
                (self.sl_vol_mult * vol).max(sl_floor),
            ),
        }
    }
}

/// Which exit a trade price reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitTrigger {
    /// The take-profit level.
    TakeProfit,
    /// The stop-loss level.
    StopLoss,
}

/// An entry's exit levels, exact on the tick. Long: `sl < entry < tp`; short: `tp < entry < sl`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExitLevels {
    /// +1 long, −1 short.
    pub direction: i8,
    /// Entry price on tick.
    pub entry: Decimal,
    /// Take-profit price on tick (send with the order).
    pub take_profit: Decimal,
    /// Stop-loss price on tick (send with the order).
    pub stop_loss: Decimal,
    tp_f64: f64,
    sl_f64: f64,
    /// `|entry − stop loss|` as the crate's difference gives it (see
    /// [`ExitLevels::stop_distance`]): kept, not subtracted on every risk figure. (Its double
    /// is computed when asked: the per-symbol slot's 4 KiB budget has no room for both.)
    stop: Decimal,
}

impl ExitLevels {
    /// Plans the levels of an entry at `entry` (on tick) in `direction` (+1 / −1), with
    /// volatility `vol` in price units (ignored in percent mode; must be ≥ 0 and finite in
    /// volatility mode). Refused with [`BlockReason::RewardRisk`] when the rounded levels miss
    /// the minimum reward:risk, [`BlockReason::BadInput`] when the inputs or the rounded stop
    /// are unusable (entry off the tick, stop at or beyond zero, or rounded onto the entry).
    pub fn plan(
        p: &ExitParams,
        direction: i8,
        entry: Decimal,
        vol: f64,
        inst: &Instrument,
    ) -> Result<Self, BlockReason> {
        let on_tick = inst.floor_price(entry);
        let tick = inst.tick();
        let ticks = i64::try_from(on_tick.mantissa()).ok();
        match ticks.map(|t| t / tick.mantissa) {
            Some(e) if on_tick == entry && on_tick.scale() == tick.scale => {
                Self::plan_ticks(p, direction, e, vol, inst)
            }
            _ => Err(BlockReason::BadInput),
        }
    }

    /// [`ExitLevels::plan`] for an entry of `entry` whole ticks, on integers: with `E` the entry
    /// in ticks and `floor(D/tick)` the planned distances in whole ticks ([`floor_ticks`] of the
    /// model's f64 distance), long `tp = E + ⌊D_tp/tick⌋`, `sl = E − ⌊D_sl/tick⌋`, short
    /// mirrored: the same levels as `floor((entry + D)/tick)` / `ceil((entry − D)/tick)` on
    /// decimals. The reward:risk check `reward < min_rr · risk` is exact on `i128` ticks.
    pub fn plan_ticks(
        p: &ExitParams,
        direction: i8,
        entry: i64,
        vol: f64,
        inst: &Instrument,
    ) -> Result<Self, BlockReason> {
        let tick = inst.tick();
        let e = tick.times_f64(entry);
        let vol_ok = non_negative_finite(vol);
        if !positive_finite(e) || (p.mode == ExitMode::Volatility && !vol_ok) {
            return Err(BlockReason::BadInput);
        }
        let (tp_d, sl_d) = p.distances(e, if vol_ok { vol } else { 0.0 });
        let (Ok(tp_d), Ok(sl_d)) = (floor_ticks(tp_d, tick), floor_ticks(sl_d, tick)) else {
            return Err(BlockReason::BadInput);
        };
        let add = |d: i64| entry.checked_add(d).ok_or(BlockReason::BadInput);
        let sub = |d: i64| entry.checked_sub(d).ok_or(BlockReason::BadInput);
        let (tp, sl) = match direction {
            1 => (add(tp_d)?, sub(sl_d)?),
            -1 => (sub(tp_d)?, add(sl_d)?),
            _ => return Err(BlockReason::BadInput),
        };
        let dir = i128::from(direction);
        let reward = dir * (i128::from(tp) - i128::from(entry));
        let risk = dir * (i128::from(entry) - i128::from(sl));
        if risk <= 0 || sl <= 0 || tp <= 0 {
            return Err(BlockReason::BadInput);
        }
        if below_ratio(reward, p.min_reward_risk, risk) {
            return Err(BlockReason::RewardRisk);
        }
        // `|entry − sl|` is `risk` ticks (`0 < risk < max(entry, sl)`, so it fits wherever
        // `sl` does): the same mantissa at the same scale as the crate's difference of the
        // two decimals on the tick, so the same decimal.
        let (Some(entry_d), Some(tp_dec), Some(sl_dec), Some(stop)) = (
            tick.times(entry),
            tick.times(tp),
            tick.times(sl),
            i64::try_from(risk).ok().and_then(|r| tick.times(r)),
        ) else {
            return Err(BlockReason::BadInput);
        };
        Ok(Self {
            direction,
            entry: entry_d,
            take_profit: tp_dec,
            stop_loss: sl_dec,
            tp_f64: tick.times_f64(tp),
            sl_f64: tick.times_f64(sl),
            stop,
        })
    }

    /// The levels of today's decimal arithmetic, for the test-only reference planner.
    #[cfg(test)]
    pub(crate) fn from_decimals(direction: i8, entry: Decimal, tp: Decimal, sl: Decimal) -> Self {
        use rust_decimal::prelude::ToPrimitive;
        Self {
            direction,
            entry,
            take_profit: tp,
            stop_loss: sl,
            tp_f64: tp.to_f64().unwrap_or(f64::NAN),
            sl_f64: sl.to_f64().unwrap_or(f64::NAN),
            stop: (entry - sl).abs(),
        }
    }

    /// `|entry − stop loss|` as f64 (the double `Decimal::to_f64` gives for
    /// [`ExitLevels::stop_distance`]), for sizing.
    #[inline]
    pub fn stop_distance_f64(&self) -> f64 {
        dec_f64(self.stop)
    }

    /// `|entry − stop loss|`, price units (> 0): the stop distance for sizing (kept from the
    /// plan; equal to the difference bit for bit, `plan_ticks_stop_is_the_difference`).
    #[inline]
    pub fn stop_distance(&self) -> Decimal {
        self.stop
    }

    /// Quote currency lost if `qty` is stopped out: `qty · |entry − sl|` (before fees).
    #[inline]
    pub fn risk(&self, qty: Decimal) -> Decimal {
        dec_mul(qty.abs(), self.stop_distance())
    }

    /// Reward:risk of the rounded levels, `|tp − entry| / |entry − sl|`.
    #[inline]
    pub fn reward_risk(&self) -> Decimal {
        (self.take_profit - self.entry).abs() / self.stop_distance()
    }

    /// The exit a trade at `price` reaches: long `price ≥ tp` / `price ≤ sl`, short mirrored.
    /// Trade prices are on the tick like the levels, and f64 rounding of decimals is monotone,
    /// so comparing the nearest doubles orders them exactly as the decimals.
    #[inline]
    pub fn check(&self, price: f64) -> Option<ExitTrigger> {
        let (tp_hit, sl_hit) = if self.direction > 0 {
            (price >= self.tp_f64, price <= self.sl_f64)
        } else {
            (price <= self.tp_f64, price >= self.sl_f64)
        };
        if sl_hit {
            Some(ExitTrigger::StopLoss)
        } else if tp_hit {
            Some(ExitTrigger::TakeProfit)
        } else {
            None
        }
    }
}

/// `reward < ratio · risk`, exact: on `i128` (`reward · 10^s < m · risk` for `ratio = m·10^−s`),
/// on decimals when that overflows (a product beyond the decimal range is above any reward).
/// When `reward`, `risk` and `m` fit `i64`s and `s ≤ 19`, both products are below 2¹²⁷ (no
/// overflow check): two widening multiplies, the same comparison.
#[inline]
fn below_ratio(reward: i128, ratio: Decimal, risk: i128) -> bool {
    if let (Ok(rw), Ok(rk), Some(m), Some(&p)) = (
        i64::try_from(reward),
        i64::try_from(risk),
        mantissa_i64(ratio),
        POW10.get(ratio.scale() as usize),
    ) {
        return i128::from(rw) * i128::from(p) < i128::from(m) * i128::from(rk);
    }
    below_ratio_i128(reward, ratio, risk)
}

/// [`below_ratio`] with checked `i128` products: the form it replaced, for the rest.
#[inline(never)]
fn below_ratio_i128(reward: i128, ratio: Decimal, risk: i128) -> bool {
    let lhs = pow10_i128(ratio.scale()).and_then(|p| reward.checked_mul(p));
    match (lhs, ratio.mantissa().checked_mul(risk)) {
        (Some(l), Some(r)) => l < r,
        _ => {
            let dec = |v: i128| Decimal::try_from_i128_with_scale(v, 0).ok();
            match (dec(reward), dec(risk).and_then(|r| ratio.checked_mul(r))) {
                (Some(l), Some(r)) => l < r,
                _ => true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// The stop distance kept by `plan_ticks` is the crate's `|entry − stop loss|` bit for bit
    /// (the form `stop_distance` computed before), and so is every risk figure, over ticks of
    /// every scale, entries up to 10¹⁵ ticks, both directions and percent and volatility exits.
    #[test]
    fn plan_ticks_stop_is_the_difference() {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let ticks = [
            "0.10",
            "0.01",
            "0.5",
            "1",
            "0.0001",
            "100",
            "0.000000025",
            "7",
        ];
        let mut planned = 0;
        for k in 0..200_000u64 {
            let tick = d(ticks[(next() % ticks.len() as u64) as usize]);
            let i = Instrument::new(tick, d("0.001"), d("0.001"), d("1000"), d("0")).unwrap();
            let mut p = pct(
                (next() % 1000) as f64 * 1e-4,
                (1 + next() % 1000) as f64 * 1e-4,
                ["0", "1", "1.5"][(next() % 3) as usize],
            );
            if k % 2 == 0 {
                p.mode = ExitMode::Volatility;
            }
            let e = (1 + next() % 1_000_000_000_000_000) >> (next() % 50);
            let vol = (next() % 1_000_000) as f64 * 1e-3;
            let dir = [1, -1][(next() % 2) as usize];
            let Ok(lv) = ExitLevels::plan_ticks(&p, dir, e as i64, vol, &i) else {
                continue;
            };
            let want = (lv.entry - lv.stop_loss).abs();
            assert_eq!(lv.stop_distance().serialize(), want.serialize(), "{lv:?}");
            let want_f64 = rust_decimal::prelude::ToPrimitive::to_f64(&want).unwrap();
            assert_eq!(
                lv.stop_distance_f64().to_bits(),
                want_f64.to_bits(),
                "{lv:?}"
            );
            let q = Decimal::new((next() % 2_000_000) as i64 - 1_000_000, 3);
            assert_eq!(
                lv.risk(q).serialize(),
                dec_mul(q.abs(), want).serialize(),
                "{lv:?} {q}"
            );
            planned += 1;
        }
        assert!(planned > 50_000, "{planned} planned");
    }

    /// `below_ratio` answers as its checked `i128` form over rewards and risks of every width
    /// (both signs, zero, beyond `i64`) and ratios of every mantissa width and scale.
    #[test]
    fn below_ratio_is_its_i128_form() {
        let mut s = 0x0123_4567_89AB_CDEFu64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let (mut below, mut fast) = (0, 0);
        for k in 0..300_000u64 {
            let mut v = || {
                let r = next();
                let w = (i128::from(next()) << 64 | i128::from(next())) >> (r % 127);
                if r % 4 == 0 {
                    -w
                } else {
                    w
                }
            };
            let (reward, risk) = (v(), v());
            let m = (i128::from(next()) << 32 | i128::from(next() >> 32)) >> (next() % 96);
            let ratio = Decimal::from_i128_with_scale(m, (next() % 29) as u32);
            let ratio = if k % 5 == 0 { -ratio } else { ratio };
            let want = below_ratio_i128(reward, ratio, risk);
            assert_eq!(
                below_ratio(reward, ratio, risk),
                want,
                "{reward} {ratio} {risk}"
            );
            below += usize::from(want);
            fast += usize::from(
                i64::try_from(reward).is_ok()
                    && i64::try_from(risk).is_ok()
                    && mantissa_i64(ratio).is_some()
                    && ratio.scale() < 20,
            );
        }
        assert!(
            fast > 10_000 && below > 50_000,
            "{fast} fast, {below} below"
        );
    }

    fn btc() -> Instrument {
        Instrument::new(d("0.10"), d("0.001"), d("0.001"), d("150"), d("5")).unwrap()
    }

    fn pct(tp: f64, sl: f64, rr: &str) -> ExitParams {
        ExitParams {
            mode: ExitMode::Percent,
            tp_fraction: tp,
            sl_fraction: sl,
            tp_vol_mult: 3.0,
            sl_vol_mult: 1.5,
            min_reward_risk: d(rr),
        }
    }

    /// Entry 61 800.30, tp 0.8 % = 494.4024, sl 0.5 % = 309.0015.
    /// Long: tp = floor(62 294.7024 / 0.1)·0.1 = 62 294.70; sl = ceil(61 491.2985/0.1)·0.1 = 61 491.30.
    /// Short: tp = ceil(61 305.8976/0.1)·0.1 = 61 305.90; sl = floor(62 109.3015/0.1)·0.1 = 62 109.30.
    #[test]
    fn percent_levels_round_toward_the_entry() {
        let p = pct(0.008, 0.005, "1.5");
        let long = ExitLevels::plan(&p, 1, d("61800.30"), 0.0, &btc()).unwrap();
        assert_eq!(long.take_profit, d("62294.70"));
        assert_eq!(long.stop_loss, d("61491.30"));
        assert_eq!(long.stop_distance(), d("309.00"));
        let short = ExitLevels::plan(&p, -1, d("61800.30"), 0.0, &btc()).unwrap();
        assert_eq!(short.take_profit, d("61305.90"));
        assert_eq!(short.stop_loss, d("62109.30"));
        assert_eq!(short.stop_distance(), d("309.00"));
        assert_eq!(short.risk(d("0.016")), d("4.944"));
        // Conservative: rounded distances never exceed the planned ones.
        assert!(long.take_profit - long.entry <= d("494.4024"));
        assert!(long.entry - long.stop_loss <= d("309.0015"));
    }

    /// ULTIMATE's example: entry 100, ATR 2, SL 1.5·ATR = 3, TP 3·ATR = 6 → 97 / 106, R:R 2.
    #[test]
    fn atr_levels_with_percentage_floors() {
        let inst = Instrument::new(d("0.01"), d("0.01"), d("0.01"), d("1000"), d("5")).unwrap();
        let mut p = pct(0.008, 0.005, "1.5");
        p.mode = ExitMode::Volatility;
        let l = ExitLevels::plan(&p, 1, d("100"), 2.0, &inst).unwrap();
        assert_eq!(l.stop_loss, d("97"));
        assert_eq!(l.take_profit, d("106"));
        assert_eq!(l.reward_risk(), d("2"));
        // Tiny ATR: the floors (0.8 % / 0.5 %) apply: 100.80 / 99.50.
        let l = ExitLevels::plan(&p, 1, d("100"), 0.01, &inst).unwrap();
        assert_eq!(l.take_profit, d("100.80"));
        assert_eq!(l.stop_loss, d("99.50"));
        assert_eq!(
            ExitLevels::plan(&p, 1, d("100"), f64::NAN, &inst),
            Err(BlockReason::BadInput)
        );
    }

    #[test]
    fn entry_refused_below_min_reward_risk_after_rounding() {
        // 1 % / 1 % → R:R 1 < 1.5.
        assert_eq!(
            ExitLevels::plan(&pct(0.01, 0.01, "1.5"), 1, d("100"), 0.0, &btc()),
            Err(BlockReason::RewardRisk)
        );
        // Planned 1.5 exactly, but rounding the target down on a coarse tick breaks it:
        // entry 100, tick 1: tp 1.5 → floor(101.5) = 101, sl 1 → 99: R:R 1 < 1.5.
        let coarse = Instrument::new(d("1"), d("1"), d("1"), d("1000"), d("5")).unwrap();
        assert_eq!(
            ExitLevels::plan(&pct(0.015, 0.01, "1.5"), 1, d("100"), 0.0, &coarse),
            Err(BlockReason::RewardRisk)
        );
        // A stop that rounds onto the entry is unusable.
        assert_eq!(
            ExitLevels::plan(&pct(0.015, 0.001, "1.5"), 1, d("100"), 0.0, &coarse),
            Err(BlockReason::BadInput)
        );
        assert_eq!(
            ExitLevels::plan(&pct(0.015, 0.01, "1.5"), 0, d("100"), 0.0, &btc()),
            Err(BlockReason::BadInput)
        );
    }

    #[test]
    fn triggers_on_trade_prices() {
        let p = pct(0.008, 0.005, "1.5");
        let long = ExitLevels::plan(&p, 1, d("61800.30"), 0.0, &btc()).unwrap();
        assert_eq!(long.check(61800.3), None);
        assert_eq!(long.check(62294.6), None);
        assert_eq!(long.check(62294.7), Some(ExitTrigger::TakeProfit));
        assert_eq!(long.check(61491.4), None);
        assert_eq!(long.check(61491.3), Some(ExitTrigger::StopLoss));
        let short = ExitLevels::plan(&p, -1, d("61800.30"), 0.0, &btc()).unwrap();
        assert_eq!(short.check(61305.9), Some(ExitTrigger::TakeProfit));
        assert_eq!(short.check(61306.0), None);
        assert_eq!(short.check(62109.3), Some(ExitTrigger::StopLoss));
        assert_eq!(short.check(62109.2), None);
    }

    /// On the tick exactly: 61 800.00 × 0.5 % = 309 → tp 62 109.00; × 0.25 % = 154.5 →
    /// sl 61 645.50; R:R 2. A reward:risk exactly at the minimum passes (100 ± 1.5 / 1).
    #[test]
    fn integer_levels_on_the_tick_and_at_the_minimum_ratio() {
        let i = btc();
        let l = ExitLevels::plan_ticks(&pct(0.005, 0.0025, "1.5"), 1, 618_000, 0.0, &i).unwrap();
        assert_eq!(l.take_profit.to_string(), "62109.00");
        assert_eq!(l.stop_loss.to_string(), "61645.50");
        assert_eq!(l.entry.to_string(), "61800.00");
        assert_eq!(l.stop_distance_f64(), 154.5);
        assert_eq!(l.reward_risk(), d("2"));
        let cent = Instrument::new(d("0.01"), d("0.01"), d("0.01"), d("1000"), d("5")).unwrap();
        let l = ExitLevels::plan(&pct(0.015, 0.01, "1.5"), -1, d("100.00"), 0.0, &cent).unwrap();
        assert_eq!((l.take_profit, l.stop_loss), (d("98.50"), d("101.00")));
        assert_eq!(
            ExitLevels::plan(&pct(0.015, 0.01, "1.5001"), 1, d("100"), 0.0, &cent),
            Err(BlockReason::RewardRisk)
        );
    }

    /// Inputs that cannot make levels are refused, never a panic: entry off the tick, zero or
    /// negative, non-finite distances or volatility, ticks or mantissas beyond `i64`.
    #[test]
    fn integer_levels_refuse_what_does_not_fit() {
        let i = btc();
        let p = pct(0.008, 0.005, "1.5");
        let bad = Err(BlockReason::BadInput);
        assert_eq!(ExitLevels::plan(&p, 1, d("61800.35"), 0.0, &i), bad);
        for e in [0, -618_003, i64::MAX, i64::MAX / 10, i64::MIN] {
            assert_eq!(ExitLevels::plan_ticks(&p, 1, e, 0.0, &i), bad, "{e}");
            assert_eq!(ExitLevels::plan_ticks(&p, -1, e, 0.0, &i), bad, "{e}");
        }
        let mut v = p;
        v.mode = ExitMode::Volatility;
        for vol in [f64::NAN, f64::INFINITY, -1.0] {
            assert_eq!(ExitLevels::plan_ticks(&v, 1, 618_003, vol, &i), bad);
        }
        assert_eq!(ExitLevels::plan_ticks(&v, 1, 618_003, 1e300, &i), bad);
        let mut n = p;
        n.tp_fraction = f64::NAN;
        assert_eq!(ExitLevels::plan_ticks(&n, 1, 618_003, 0.0, &i), bad);
        n.tp_fraction = f64::INFINITY;
        assert_eq!(ExitLevels::plan_ticks(&n, 1, 618_003, 0.0, &i), bad);
    }
}
