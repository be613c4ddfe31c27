//! Venue instrument filters (tick size, quantity step, minimums) and exact rounding to them.

use std::path::Path;
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::report::RejectReason;

/// One instrument's filters, as the venue publishes them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Instrument {
    /// Price increment.
    pub tick_size: Decimal,
    /// Quantity increment.
    pub qty_step: Decimal,
    /// Minimum order quantity.
    pub min_qty: Decimal,
    /// Maximum market order quantity.
    pub max_market_qty: Decimal,
    /// Minimum price × quantity for orders that are not reduce-only.
    pub min_notional: Decimal,
    /// `tick_size` as f64 (for turning model prices into whole ticks).
    tick_f64: f64,
    /// `qty_step` as f64 (for turning model quantities into whole steps).
    step_f64: f64,
}

impl Instrument {
    /// Builds an instrument; every increment must be positive.
    pub fn new(
        tick_size: Decimal,
        qty_step: Decimal,
        min_qty: Decimal,
        max_market_qty: Decimal,
        min_notional: Decimal,
    ) -> Result<Self, String> {
        if tick_size <= Decimal::ZERO || qty_step <= Decimal::ZERO {
            return Err(format!(
                "tick size {tick_size} and quantity step {qty_step} must be positive"
            ));
        }
        Ok(Self {
            tick_size,
            qty_step,
            min_qty,
            max_market_qty,
            min_notional,
            tick_f64: tick_size.to_f64().unwrap_or(f64::NAN),
            step_f64: qty_step.to_f64().unwrap_or(f64::NAN),
        })
    }

    /// `floor(q / step) · step`: a model quantity floored to whole steps, never rounded up.
    /// (An f64 quotient one ulp below a whole number floors one step lower: conservative.)
    #[inline]
    pub fn floor_qty(&self, q: f64) -> Decimal {
        let steps = (q / self.step_f64).floor();
        if steps.is_nan() || steps < 1.0 || steps > i64::MAX as f64 {
            return Decimal::ZERO;
        }
        Decimal::from(steps as i64) * self.qty_step
    }

    /// The filter an order of `qty` at about `price` breaks, if any: zero or below min qty,
    /// above max market qty, or (unless reduce-only) notional below min notional.
    #[inline]
    pub fn violation(&self, qty: Decimal, price: f64, reduce_only: bool) -> Option<RejectReason> {
        if qty.is_zero() || qty < self.min_qty {
            return Some(RejectReason::BelowMinQty);
        }
        if qty > self.max_market_qty {
            return Some(RejectReason::AboveMaxQty);
        }
        if !reduce_only && self.price_on_tick(price) * qty < self.min_notional {
            return Some(RejectReason::BelowMinNotional);
        }
        None
    }

    /// `round(p / tick) · tick`: a price that was on the tick, recovered exactly from its f64.
    #[inline]
    pub fn price_on_tick(&self, p: f64) -> Decimal {
        let ticks = (p / self.tick_f64).round();
        if ticks.is_nan() || ticks < 0.0 || ticks > i64::MAX as f64 {
            return Decimal::ZERO;
        }
        Decimal::from(ticks as i64) * self.tick_size
    }
}

#[derive(Deserialize)]
struct SpecFile {
    rows: Vec<SpecRow>,
}

#[derive(Deserialize)]
struct SpecRow {
    exchange: String,
    symbol: String,
    tick_size: String,
    qty_step: String,
    min_order_qty: String,
    max_market_order_qty: String,
    min_notional: String,
}

/// Loads the instruments of `symbols` on `exchange` from a spec table (the bundled
/// `data/instruments/instrument_specs_8_symbols.json` format), in the order of `symbols`.
pub fn load_specs(
    path: &Path,
    exchange: &str,
    symbols: &[String],
) -> Result<Vec<Instrument>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read instrument specs {}: {e}", path.display()))?;
    let file: SpecFile = serde_json::from_str(&text)
        .map_err(|e| format!("instrument specs {} are malformed: {e}", path.display()))?;
    symbols
        .iter()
        .map(|sym| {
            let row = file
                .rows
                .iter()
                .find(|r| {
                    r.exchange.eq_ignore_ascii_case(exchange) && r.symbol.eq_ignore_ascii_case(sym)
                })
                .ok_or_else(|| format!("{}: no {exchange} instrument {sym}", path.display()))?;
            let dec = |field: &str, v: &str| {
                Decimal::from_str(v).map_err(|e| {
                    format!(
                        "{}: {sym} {field} {v:?} is not a decimal: {e}",
                        path.display()
                    )
                })
            };
            Instrument::new(
                dec("tick_size", &row.tick_size)?,
                dec("qty_step", &row.qty_step)?,
                dec("min_order_qty", &row.min_order_qty)?,
                dec("max_market_order_qty", &row.max_market_order_qty)?,
                dec("min_notional", &row.min_notional)?,
            )
            .map_err(|e| format!("{}: {sym}: {e}", path.display()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn btc() -> Instrument {
        Instrument::new(d("0.10"), d("0.001"), d("0.001"), d("150"), d("5")).unwrap()
    }

    #[test]
    fn quantity_is_floored_to_the_step_never_rounded_up() {
        let i = btc();
        assert_eq!(i.floor_qty(0.0169999), d("0.016"));
        assert_eq!(i.floor_qty(0.016), d("0.016"));
        assert_eq!(i.floor_qty(0.0009), Decimal::ZERO);
        assert_eq!(i.floor_qty(-1.0), Decimal::ZERO);
        assert_eq!(i.floor_qty(f64::NAN), Decimal::ZERO);
        assert_eq!(i.floor_qty(1000.0 / 61800.3), d("0.016"));
        assert_eq!(i.floor_qty(1.0).to_string(), "1.000");
    }

    #[test]
    fn price_on_tick_recovers_the_venue_decimal() {
        let i = btc();
        assert_eq!(i.price_on_tick(61800.30).to_string(), "61800.30");
        assert_eq!(i.price_on_tick(0.1 + 0.2).to_string(), "0.30");
    }

    #[test]
    fn bundled_specs_load_for_binance_btc_and_eth() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data/instruments/instrument_specs_8_symbols.json");
        let v = load_specs(&path, "binance", &["BTCUSDT".into(), "ETHUSDT".into()]).unwrap();
        assert_eq!(v[0].qty_step, d("0.001"));
        assert_eq!(v[0].tick_size, d("0.01"));
        assert_eq!(v[1].min_notional, d("5"));
        let err = load_specs(&path, "binance", &["NOPEUSDT".into()]).unwrap_err();
        assert!(err.contains("NOPEUSDT"), "{err}");
    }

    #[test]
    fn violations_follow_the_venue_filters() {
        let i = btc();
        assert_eq!(
            i.violation(Decimal::ZERO, 60_000.0, false),
            Some(RejectReason::BelowMinQty)
        );
        assert_eq!(i.violation(d("0.001"), 60_000.0, false), None);
        assert_eq!(
            i.violation(d("0.001"), 4_000.0, false),
            Some(RejectReason::BelowMinNotional)
        );
        assert_eq!(
            i.violation(d("0.001"), 4_000.0, true),
            None,
            "reduce-only is exempt from min notional"
        );
        assert_eq!(
            i.violation(d("150.001"), 60_000.0, true),
            Some(RejectReason::AboveMaxQty)
        );
    }

    #[test]
    fn zero_step_is_refused() {
        assert!(Instrument::new(d("0"), d("1"), d("1"), d("1"), d("1")).is_err());
    }
}
