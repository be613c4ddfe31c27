//! After warm-up, building signed orders allocates nothing: Bybit v5 and Binance USD-M entry
//! orders (round to step/tick, check filters, format, sign, serialize) and Binance TP/SL algo
//! orders. Proved with the counting global allocator (per thread) of `tests/common/alloc.rs`.

use calculus_trader::exec::{
    BinanceOrderBuilder, BybitOrderBuilder, ExitKind, ExitOrder, NewOrder, TriggerBy,
};
use calculus_trader::types::{Instrument, Side};
use rust_decimal::Decimal;

mod common;
use common::alloc::counted;
use common::values::d;

// The counting global allocator, and the test that it counts.
common::alloc::install!();

fn btc() -> Instrument {
    Instrument::new(d("0.10"), d("0.001"), d("0.001"), d("150"), d("5"))
        .unwrap()
        .with_limits(d("1500"), Some(d("100")))
}

/// Orders of varied shape: market/limit, both sides, exits, reduce-only, growing ids/prices.
fn order(i: u64) -> NewOrder<'static> {
    let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
    let px = Decimal::from(60_000 + (i % 997)) + Decimal::new((i % 100) as i64, 2);
    let mut o = if i % 3 == 0 {
        NewOrder::limit("BTCUSDT", side, Decimal::new(16_999 + i as i64, 6), px)
    } else {
        NewOrder::market("BTCUSDT", side, Decimal::new(16_999 + i as i64, 6), px)
    };
    o.client_seq = Some(1_000_000 + i);
    o.timestamp_ms = 1_700_000_000_000 + i;
    o.reduce_only = i % 5 == 0;
    if i % 4 != 0 {
        let (tp, sl) = match side {
            Side::Buy => (px * d("1.02"), px * d("0.99")),
            Side::Sell => (px * d("0.98"), px * d("1.01")),
        };
        o.take_profit = Some(tp);
        o.stop_loss = Some(sl);
        o.trigger_by = if i % 8 == 1 {
            TriggerBy::LastPrice
        } else {
            TriggerBy::MarkPrice
        };
    }
    o
}

#[test]
fn bybit_order_build_allocates_nothing_after_warm_up() {
    let inst = btc();
    let mut b =
        BybitOrderBuilder::new("api-key-123", b"secret", "api.bybit.com", 5000, "ct-").unwrap();
    for i in 0..64 {
        b.build(&inst, &order(i)).unwrap();
    }
    let (bytes, n) = counted(|| {
        let mut total = 0usize;
        for i in 64..2064 {
            total += b.build(&inst, &order(i)).unwrap().len();
        }
        total
    });
    assert!(bytes > 2000 * 300, "requests were built ({bytes} bytes)");
    assert_eq!(n, 0, "Bybit order build allocated {n} times");
}

#[test]
fn binance_order_and_exit_build_allocates_nothing_after_warm_up() {
    let inst = btc();
    let mut b = BinanceOrderBuilder::new("api-key-123", b"secret", "fapi.binance.com", 5000, "ct-");
    for i in 0..64 {
        let o = order(i);
        b.build_order(&inst, &o).unwrap();
        if let Some(x) = ExitOrder::from_entry(&o, ExitKind::StopLoss) {
            b.build_exit(&inst, &x).unwrap();
        }
    }
    let (bytes, n) = counted(|| {
        let mut total = 0usize;
        for i in 64..2064 {
            let o = order(i);
            total += b.build_order(&inst, &o).unwrap().len();
            for kind in [ExitKind::TakeProfit, ExitKind::StopLoss] {
                if let Some(x) = ExitOrder::from_entry(&o, kind) {
                    total += b.build_exit(&inst, &x).unwrap().len();
                }
            }
        }
        total
    });
    assert!(bytes > 2000 * 250, "requests were built ({bytes} bytes)");
    assert_eq!(n, 0, "Binance order build allocated {n} times");
}

#[test]
fn rejected_orders_allocate_nothing_either() {
    let inst = btc();
    let mut b = BybitOrderBuilder::new("k", b"s", "h", 5000, "ct-").unwrap();
    b.build(&inst, &order(1)).unwrap();
    let (r, n) = counted(|| {
        b.build(
            &inst,
            &NewOrder::market("BTCUSDT", Side::Buy, d("0.0001"), d("60000")),
        )
        .is_err()
    });
    assert!(r);
    assert_eq!(n, 0);
}

/// `order(i)` for one of several symbols, so the template lookup misses its last-used cache.
fn order_on(i: u64, symbols: &[&'static str]) -> NewOrder<'static> {
    NewOrder {
        symbol: symbols[(i % symbols.len() as u64) as usize],
        ..order(i)
    }
}

#[test]
fn templated_orders_of_several_symbols_allocate_nothing_after_warm_up() {
    const SYMBOLS: [&str; 3] = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];
    let inst = btc();
    let mut bybit =
        BybitOrderBuilder::new("api-key-123", b"secret", "api.bybit.com", 5000, "ct-").unwrap();
    let mut binance =
        BinanceOrderBuilder::new("api-key-123", b"secret", "fapi.binance.com", 5000, "ct-");
    bybit.set_symbols(&SYMBOLS);
    binance.set_symbols(&SYMBOLS);
    for i in 0..64 {
        bybit.build(&inst, &order_on(i, &SYMBOLS)).unwrap();
        binance.build_order(&inst, &order_on(i, &SYMBOLS)).unwrap();
    }
    let ((bytes, templated), n) = counted(|| {
        let (mut total, mut templated) = (0usize, true);
        for i in 64..2064 {
            let o = order_on(i, &SYMBOLS);
            total += bybit.build(&inst, &o).unwrap().len();
            templated &= bybit.last_templated();
            total += binance.build_order(&inst, &o).unwrap().len();
            templated &= binance.last_templated();
        }
        (total, templated)
    });
    assert!(templated, "every order came from a template");
    assert!(bytes > 2000 * 550, "requests were built ({bytes} bytes)");
    assert_eq!(n, 0, "templated order build allocated {n} times");
}
