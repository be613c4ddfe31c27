//! Property: whatever the inputs, a sized entry never exceeds any cap (risk per trade, leverage
//! from config / venue / tiers, venue max qty), passes the venue minimums, and is a whole number
//! of quantity steps.

use proptest::prelude::*;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;

use calculus_trader::risk::config::SizingMethod;
use calculus_trader::risk::sizing::LeverageTiers;
use calculus_trader::risk::{size_entry, EntryBlock, EntryRequest, SizingParams, TradeStats};
use calculus_trader::types::Instrument;

mod common;
use common::values::d;

/// Real filter shapes: (tick, step, min qty, max market qty, min notional).
const SPECS: [(&str, &str, &str, &str, &str); 5] = [
    ("0.10", "0.001", "0.001", "150", "5"),
    ("0.01", "0.01", "0.01", "2000", "5"),
    ("0.0001", "1", "1", "1000000", "5"),
    ("0.001", "0.1", "0.1", "5000", "5"),
    ("0.00001", "10", "10", "50000000", "5"),
];

#[derive(Debug, Clone)]
struct Case {
    spec: usize,
    price: f64,
    stop_frac: f64,
    balance: f64,
    risk: f64,
    max_risk: f64,
    max_lev: f64,
    venue_lev: f64,
    tiers: bool,
    kelly: Option<(f64, u32, f64)>,
    vol: Option<(f64, f64, f64)>,
    sigma: f64,
    mult: f64,
    fixed_notional: Option<f64>,
    wins: u32,
    losses: u32,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (
            0usize..SPECS.len(),
            1e-3f64..2e5,
            1e-4f64..0.2,
            1.0f64..1e7,
            1e-4f64..0.05,
            0.0f64..0.05,
            0.5f64..125.0,
            prop_oneof![Just(f64::NAN), 1.0f64..125.0],
        ),
        (
            any::<bool>(),
            proptest::option::of((0.05f64..1.0, 1u32..50, 1e-4f64..0.1)),
            proptest::option::of((1e-5f64..1e-2, 0.05f64..1.0, 1.0f64..5.0)),
            prop_oneof![Just(f64::NAN), 1e-6f64..1e-1],
            0.0f64..1.0,
            proptest::option::of(1.0f64..1e6),
            0u32..60,
            0u32..60,
        ),
    )
        .prop_map(
            |(
                (spec, price, stop_frac, balance, risk, extra, max_lev, venue_lev),
                (tiers, kelly, vol, sigma, mult, fixed_notional, wins, losses),
            )| Case {
                spec,
                price,
                stop_frac,
                balance,
                risk,
                max_risk: risk + extra,
                max_lev,
                venue_lev,
                tiers,
                kelly,
                vol,
                sigma,
                mult,
                fixed_notional,
                wins,
                losses,
            },
        )
}

/// Checks one case; returns whether it produced an order (to check the property is not vacuous).
fn check(c: &Case) -> Result<bool, TestCaseError> {
    let mut ok = false;
    let (tick, step, min_qty, max_qty, min_notional) = SPECS[c.spec];
    let inst = Instrument::new(d(tick), d(step), d(min_qty), d(max_qty), d(min_notional)).unwrap();
    let p = SizingParams {
        method: if c.fixed_notional.is_some() {
            SizingMethod::FixedNotional
        } else {
            SizingMethod::FixedFractional
        },
        order_notional: c.fixed_notional.unwrap_or(1_000.0),
        risk_per_trade: c.risk,
        max_risk_per_trade: c.max_risk,
        max_leverage: c.max_lev,
        kelly: c.kelly,
        vol: c.vol,
        tiers: c.tiers.then(|| {
            LeverageTiers::new(&[
                (10.0, 75.0),
                (50.0, 45.0),
                (200.0, 25.0),
                (f64::INFINITY, 15.0),
            ])
        }),
    };
    let mut stats = TradeStats::default();
    for k in 0..c.wins {
        stats.record(1.0 + k as f64);
    }
    for k in 0..c.losses {
        stats.record(-(2.0 + k as f64));
    }
    let stop = c.price * c.stop_frac;
    let req = EntryRequest {
        price: c.price,
        stop_distance: stop,
        balance: c.balance,
        sigma: c.sigma,
        venue_max_leverage: c.venue_lev,
        size_multiplier: c.mult,
    };
    match size_entry(&p, &stats, &req, &inst) {
        Ok(e) => {
            ok = true;
            let q = e.qty;
            prop_assert!(q > Decimal::ZERO);
            prop_assert!(
                (q / inst.qty_step).fract().is_zero(),
                "{} not on step {}",
                q,
                step
            );
            prop_assert!(q >= inst.min_qty);
            prop_assert!(q <= inst.max_market_qty);
            let px = inst.price_on_tick(c.price);
            prop_assert_eq!(e.notional, q * px);
            prop_assert!(e.notional >= inst.min_notional);
            // Leverage: exact, against every cap.
            let tier = match c.balance {
                b if b <= 10.0 => 75.0,
                b if b <= 50.0 => 45.0,
                b if b <= 200.0 => 25.0,
                _ => 15.0,
            };
            let mut lev = c.max_lev;
            if c.venue_lev.is_finite() {
                lev = lev.min(c.venue_lev);
            }
            if c.tiers {
                lev = lev.min(tier);
            }
            prop_assert_eq!(lev, p.leverage_cap(c.balance, c.venue_lev));
            let cap = Decimal::from_f64(c.balance).unwrap() * Decimal::from_f64(lev).unwrap();
            prop_assert!(e.notional <= cap, "notional {} > cap {}", e.notional, cap);
            // Risk per trade: qty·stop ≤ balance·max_risk (f64, relative 1e-12).
            let risk = q.to_f64().unwrap() * stop;
            prop_assert!(
                risk <= c.balance * c.max_risk * (1.0 + 1e-12),
                "risk {} > {}",
                risk,
                c.balance * c.max_risk
            );
            // The risked fraction never exceeds its caps.
            prop_assert!(e.risk_fraction <= c.max_risk);
        }
        Err(EntryBlock::Filter(_)) | Err(EntryBlock::Risk(_)) => {}
    }
    Ok(ok)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn sizing_respects_every_cap_and_the_step(c in case()) {
        check(&c)?;
    }
}

/// The property above must not hold vacuously: a good share of random cases size an order.
#[test]
fn most_random_cases_produce_an_order() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = case();
    let n = 2000;
    let ok = (0..n)
        .filter(|_| check(&strategy.new_tree(&mut runner).unwrap().current()).unwrap())
        .count();
    assert!(ok * 3 > n, "only {ok} of {n} cases produced an order");
}
