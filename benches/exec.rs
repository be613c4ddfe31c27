//! Order build on the execution hot path, per venue: exact Decimal rounding to step/tick,
//! filter checks, JSON / form serialization, HMAC-SHA256 signature (keyed states built once),
//! HTTP/1.1 request bytes — into buffers reused across orders (no allocation after warm-up,
//! proved by tests/no_alloc_exec.rs).
//!
//! - `exec_order/bybit_market_tpsl`: Bybit v5 market order with takeProfit/stopLoss (one request)
//!   on `LastPrice` triggers, as the executor sends it (`BybitVenue::build_order`; the trigger
//!   types are then left out, Bybit's default).
//! - `exec_order/bybit_market_tpsl_mark`: the same on `MarkPrice` triggers (written out: a
//!   longer body, one more SHA-256 block).
//! - `exec_order/bybit_limit`: Bybit v5 limit order.
//! - `exec_order/binance_market`: Binance USD-M market order.
//! - `exec_order/binance_limit`: Binance USD-M limit order.
//! - `exec_order/binance_algo_stop`: one Binance STOP_MARKET algo order (TP/SL are separate requests).
//! - `exec_order/binance_fields`: the executor's Binance entry (exact fields, no rounding).
//! - `*_tpl`: the same orders from the per-symbol order templates (`set_symbols`), in the same
//!   run as the field-by-field writer (same bytes: tests/order_templates.rs).
//! - `exec_order/hmac_only_*`: the signature alone over a body of the same length, for scale.
//! - `hmac/<impl>/<payload>`: HMAC-SHA256 + hex alone over the exact signed payloads of five of
//!   these orders (Bybit `timestamp + api_key + recv_window + body`, Binance the query string
//!   before `&signature=`), keyed once, in the same run: `ring` (ring 0.17 `hmac::sign`, its
//!   SHA-NI assembly on this CPU), `rustcrypto` (the `hmac` crate's `Hmac<sha2::Sha256>`, keyed
//!   state cloned per message) and `signer` (our [`Signer`]: the kept ipad/opad midstates,
//!   compressed with the SHA-NI instructions, `sha2`'s compression where the CPU lacks them).
//!
//! After criterion, a per-call pass (quanta TSC clock, timer overhead included) prints
//! p50/p99/p99.9 per builder, then the three HMAC implementations per call, interleaved call by
//! call (machine load falls on all alike), with each p50 as a ratio to ring's.
//!
//! Run: `cargo bench --bench exec -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use calculus_trader::exec::{
    BinanceOrderBuilder, BybitOrderBuilder, ExitKind, ExitOrder, NewOrder, OrderFields, Signer,
    TriggerBy,
};
use calculus_trader::types::{Instrument, Side};
use criterion::{criterion_group, Criterion};
use rust_decimal::Decimal;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn btc() -> Instrument {
    Instrument::new(d("0.10"), d("0.001"), d("0.001"), d("150"), d("5"))
        .unwrap()
        .with_limits(d("1500"), Some(d("100")))
}

/// 1024 distinct orders: model-made quantities/prices with more decimals than the venue takes,
/// so every build really rounds.
fn orders(limit: bool, exits: bool) -> Vec<NewOrder<'static>> {
    (0..1024u64)
        .map(|i| {
            let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
            let px = Decimal::new(6_180_030 + (i as i64 % 977) * 7, 2) + Decimal::new(37, 5);
            let qty = Decimal::new(16_180_339 + i as i64 * 13, 9);
            let mut o = if limit {
                NewOrder::limit("BTCUSDT", side, qty, px)
            } else {
                NewOrder::market("BTCUSDT", side, qty, px)
            };
            o.client_seq = Some(1_000_000 + i);
            o.timestamp_ms = 1_700_000_000_000 + i;
            if exits {
                let (tp, sl) = match side {
                    Side::Buy => (px * d("1.0123"), px * d("0.99377")),
                    Side::Sell => (px * d("0.9877"), px * d("1.00623")),
                };
                o.take_profit = Some(tp);
                o.stop_loss = Some(sl);
                o.trigger_by = TriggerBy::MarkPrice;
            }
            o
        })
        .collect()
}

/// `os` with the exits triggered by the last price (what the Bybit executor sends).
fn on_last_price(mut os: Vec<NewOrder<'static>>) -> Vec<NewOrder<'static>> {
    for o in &mut os {
        o.trigger_by = TriggerBy::LastPrice;
    }
    os
}

/// Field-by-field builders and, `*_tpl`, the same keys with templates for 100 symbols.
struct Builders {
    inst: Instrument,
    bybit: BybitOrderBuilder,
    binance: BinanceOrderBuilder,
    bybit_tpl: BybitOrderBuilder,
    binance_tpl: BinanceOrderBuilder,
}

fn bybit() -> BybitOrderBuilder {
    BybitOrderBuilder::new(
        "XXXXXXXXXXXXXXXXXX",
        b"YYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYY",
        "api.bybit.com",
        5000,
        "ct-",
    )
    .unwrap()
}

fn binance() -> BinanceOrderBuilder {
    BinanceOrderBuilder::new(
        "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83",
        b"2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9",
        "fapi.binance.com",
        5000,
        "ct-",
    )
}

fn builders() -> Builders {
    let mut symbols: Vec<String> = (0..99).map(|i| format!("SYM{i}USDT")).collect();
    symbols.push("BTCUSDT".into());
    let (mut bybit_tpl, mut binance_tpl) = (bybit(), binance());
    bybit_tpl.set_symbols(&symbols);
    binance_tpl.set_symbols(&symbols);
    Builders {
        inst: btc(),
        bybit: bybit(),
        binance: binance(),
        bybit_tpl,
        binance_tpl,
    }
}

/// The executor's Binance entry: exact, already-rounded fields.
fn fields<'a>(b: &Builders, o: &NewOrder<'a>) -> OrderFields<'a> {
    OrderFields {
        symbol: o.symbol,
        side: o.side,
        quantity: b.inst.floor_qty_dec(o.qty),
        reduce_only: false,
        client_seq: o.client_seq.unwrap_or(0),
        timestamp_ms: o.timestamp_ms,
    }
}

type Case = (
    &'static str,
    Vec<NewOrder<'static>>,
    fn(&mut Builders, &NewOrder<'static>) -> usize,
);

fn cases() -> Vec<Case> {
    vec![
        (
            "bybit_market_tpsl",
            on_last_price(orders(false, true)),
            |b, o| b.bybit.build(&b.inst, o).map(|r| r.len()).unwrap_or(0),
        ),
        ("bybit_market_tpsl_mark", orders(false, true), |b, o| {
            b.bybit.build(&b.inst, o).map(|r| r.len()).unwrap_or(0)
        }),
        ("bybit_limit", orders(true, false), |b, o| {
            b.bybit.build(&b.inst, o).map(|r| r.len()).unwrap_or(0)
        }),
        ("binance_market", orders(false, false), |b, o| {
            b.binance
                .build_order(&b.inst, o)
                .map(|r| r.len())
                .unwrap_or(0)
        }),
        ("binance_limit", orders(true, false), |b, o| {
            b.binance
                .build_order(&b.inst, o)
                .map(|r| r.len())
                .unwrap_or(0)
        }),
        (
            "bybit_market_tpsl_tpl",
            on_last_price(orders(false, true)),
            |b, o| b.bybit_tpl.build(&b.inst, o).map(|r| r.len()).unwrap_or(0),
        ),
        ("bybit_market_tpsl_mark_tpl", orders(false, true), |b, o| {
            b.bybit_tpl.build(&b.inst, o).map(|r| r.len()).unwrap_or(0)
        }),
        ("bybit_limit_tpl", orders(true, false), |b, o| {
            b.bybit_tpl.build(&b.inst, o).map(|r| r.len()).unwrap_or(0)
        }),
        ("binance_market_tpl", orders(false, false), |b, o| {
            b.binance_tpl
                .build_order(&b.inst, o)
                .map(|r| r.len())
                .unwrap_or(0)
        }),
        ("binance_limit_tpl", orders(true, false), |b, o| {
            b.binance_tpl
                .build_order(&b.inst, o)
                .map(|r| r.len())
                .unwrap_or(0)
        }),
        ("binance_fields", orders(false, false), |b, o| {
            let f = fields(b, o);
            b.binance.build(&f).len()
        }),
        ("binance_fields_tpl", orders(false, false), |b, o| {
            let f = fields(b, o);
            b.binance_tpl.build(&f).len()
        }),
        ("binance_algo_stop", orders(false, true), |b, o| {
            let x = ExitOrder::from_entry(o, ExitKind::StopLoss).unwrap();
            b.binance
                .build_exit(&b.inst, &x)
                .map(|r| r.len())
                .unwrap_or(0)
        }),
    ]
}

fn exec_order(c: &mut Criterion) {
    let mut g = c.benchmark_group("exec_order");
    for (name, os, f) in cases() {
        let mut b = builders();
        // Every case must build (a rejection would time the early return).
        assert!(
            os.iter().all(|o| f(&mut b, o) > 0),
            "{name}: some order was rejected"
        );
        let mut i = 0usize;
        g.bench_function(name, |bench| {
            bench.iter(|| {
                i = (i + 1) & 1023;
                black_box(f(&mut b, black_box(&os[i])))
            })
        });
    }
    // HMAC alone over the body lengths the builders sign, for scale.
    let signer = Signer::new(b"YYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYY");
    for len in [180usize, 300] {
        let payload = vec![b'a'; len];
        let mut out = [0u8; 64];
        g.bench_function(format!("hmac_only_{len}B"), |bench| {
            bench.iter(|| {
                signer.sign_hex(black_box(&payload), &mut out);
                black_box(out[0])
            })
        });
    }
    g.finish();
}

/// Per-call latency distribution (TSC clock; includes ~10-20 ns of timer overhead).
fn percentiles() {
    let clock = quanta::Clock::new();
    println!("\nper-call latency (ns), 200k calls each, after 20k warm-up calls:");
    println!(
        "{:<28} {:>6} {:>6} {:>7} {:>7}",
        "case", "p50", "p99", "p99.9", "max"
    );
    let mut empty = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).unwrap();
    for _ in 0..200_000 {
        let t0 = clock.raw();
        let t1 = clock.raw();
        let _ = empty.record(clock.delta_as_nanos(t0, t1).max(1));
    }
    println!(
        "{:<28} {:>6} {:>6} {:>7} {:>7}",
        "(timer overhead)",
        empty.value_at_quantile(0.5),
        empty.value_at_quantile(0.99),
        empty.value_at_quantile(0.999),
        empty.max()
    );
    for (name, os, f) in cases() {
        let mut b = builders();
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).unwrap();
        for i in 0..20_000 {
            black_box(f(&mut b, &os[i & 1023]));
        }
        for i in 0..200_000 {
            let o = &os[i & 1023];
            let t0 = clock.raw();
            black_box(f(&mut b, black_box(o)));
            let t1 = clock.raw();
            let _ = h.record(clock.delta_as_nanos(t0, t1).max(1));
        }
        println!(
            "{:<28} {:>6} {:>6} {:>7} {:>7}",
            name,
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max()
        );
    }
}

/// Lowercase hex of a tag, as [`Signer`] writes it.
fn hex_tag(tag: &[u8], out: &mut [u8; 64]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (pair, &b) in out.chunks_exact_mut(2).zip(tag) {
        pair[0] = HEX[(b >> 4) as usize];
        pair[1] = HEX[(b & 15) as usize];
    }
}

/// The exact bytes each venue signs for order 0 of a case: (name, key, payload).
fn signed_payloads() -> Vec<(&'static str, &'static [u8], Vec<u8>)> {
    let mut b = builders();
    let bybit_prehash = |b: &Builders, o: &NewOrder<'_>| {
        let mut p = format!("{}XXXXXXXXXXXXXXXXXX5000", o.timestamp_ms).into_bytes();
        p.extend_from_slice(b.bybit.last_body());
        p
    };
    let o = &on_last_price(orders(false, true))[0];
    b.bybit.build(&b.inst, o).unwrap();
    let bybit_tpsl = bybit_prehash(&b, o);
    let o = &orders(false, true)[0];
    b.bybit.build(&b.inst, o).unwrap();
    let bybit_tpsl_mark = bybit_prehash(&b, o);
    let o = &orders(true, false)[0];
    b.bybit.build(&b.inst, o).unwrap();
    let bybit_limit = bybit_prehash(&b, o);
    let binance_query = |b: &Builders| {
        let body = b.binance.last_body();
        body[..body.len() - b"&signature=".len() - 64].to_vec()
    };
    b.binance
        .build_order(&b.inst, &orders(false, false)[0])
        .unwrap();
    let binance_market = binance_query(&b);
    b.binance
        .build_order(&b.inst, &orders(true, false)[0])
        .unwrap();
    let binance_limit = binance_query(&b);
    let bybit_key: &[u8] = b"YYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYY";
    let binance_key: &[u8] = b"2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9";
    vec![
        ("bybit_market_tpsl", bybit_key, bybit_tpsl),
        ("bybit_market_tpsl_mark", bybit_key, bybit_tpsl_mark),
        ("bybit_limit", bybit_key, bybit_limit),
        ("binance_market", binance_key, binance_market),
        ("binance_limit", binance_key, binance_limit),
    ]
}

fn hmac_impls(c: &mut Criterion) {
    use hmac::{KeyInit, Mac};
    let mut g = c.benchmark_group("hmac");
    for (name, key, payload) in signed_payloads() {
        let id = format!("{name}_{}B", payload.len());
        let mut out = [0u8; 64];
        let ring_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
        g.bench_function(format!("ring/{id}"), |bench| {
            bench.iter(|| {
                hex_tag(
                    ring::hmac::sign(&ring_key, black_box(&payload)).as_ref(),
                    &mut out,
                );
                black_box(out[0])
            })
        });
        let rc_key = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        g.bench_function(format!("rustcrypto/{id}"), |bench| {
            bench.iter(|| {
                let mut m = rc_key.clone();
                m.update(black_box(&payload));
                hex_tag(&m.finalize().into_bytes(), &mut out);
                black_box(out[0])
            })
        });
        let signer = Signer::new(key);
        // The three agree before any is timed.
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        hex_tag(ring::hmac::sign(&ring_key, &payload).as_ref(), &mut a);
        let mut m = rc_key.clone();
        m.update(&payload);
        hex_tag(&m.finalize().into_bytes(), &mut b);
        signer.sign_hex(&payload, &mut out);
        assert!(a == b && b == out, "{id}: implementations disagree");
        g.bench_function(format!("signer/{id}"), |bench| {
            bench.iter(|| {
                signer.sign_hex(black_box(&payload), &mut out);
                black_box(out[0])
            })
        });
    }
    g.finish();
}

criterion_group!(benches, exec_order, hmac_impls);

/// A labelled implementation timed per call.
type Timed<'a> = (&'static str, Box<dyn FnMut() -> u8 + 'a>);

/// HMAC-SHA256 + hex per call, the three implementations interleaved call by call (the order
/// rotating each round), so machine load falls on all alike: p50/p99 and p50 / ring's p50.
fn hmac_interleaved() {
    use hmac::{KeyInit, Mac};
    let clock = quanta::Clock::new();
    println!("\nHMAC-SHA256 + hex per call (ns), interleaved, 200k calls each:");
    println!(
        "{:<34} {:<11} {:>6} {:>6} {:>8}",
        "payload", "impl", "p50", "p99", "vs ring"
    );
    for (name, key, payload) in signed_payloads() {
        let ring_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
        let rc_key = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        let signer = Signer::new(key);
        let p = &payload[..];
        let mut impls: [Timed; 3] = [
            (
                "ring",
                Box::new(|| {
                    let mut out = [0u8; 64];
                    hex_tag(ring::hmac::sign(&ring_key, black_box(p)).as_ref(), &mut out);
                    out[0]
                }),
            ),
            (
                "rustcrypto",
                Box::new(|| {
                    let mut out = [0u8; 64];
                    let mut m = rc_key.clone();
                    m.update(black_box(p));
                    hex_tag(&m.finalize().into_bytes(), &mut out);
                    out[0]
                }),
            ),
            (
                "signer",
                Box::new(|| {
                    let mut out = [0u8; 64];
                    signer.sign_hex(black_box(p), &mut out);
                    out[0]
                }),
            ),
        ];
        let mut hists: Vec<hdrhistogram::Histogram<u64>> = (0..impls.len())
            .map(|_| hdrhistogram::Histogram::new_with_bounds(1, 10_000_000, 3).unwrap())
            .collect();
        for _ in 0..20_000 {
            for (_, f) in impls.iter_mut() {
                black_box(f());
            }
        }
        for round in 0..200_000 {
            for k in 0..impls.len() {
                let j = (round + k) % impls.len();
                let t0 = clock.raw();
                black_box((impls[j].1)());
                let t1 = clock.raw();
                let _ = hists[j].record(clock.delta_as_nanos(t0, t1).max(1));
            }
        }
        let ring_p50 = hists[0].value_at_quantile(0.5) as f64;
        for ((label, _), h) in impls.iter().zip(&hists) {
            println!(
                "{:<34} {:<11} {:>6} {:>6} {:>8.2}",
                format!("{name} ({} B)", payload.len()),
                label,
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.99),
                h.value_at_quantile(0.5) as f64 / ring_p50
            );
        }
    }
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    percentiles();
    hmac_interleaved();
}
