//! ns per message: our simd-json tape parsers vs serde_json and sonic-rs (serde derive into
//! borrowed structs, then the same conversion to `Tick`/`Quote`), on real recorded messages.
//!
//! Every variant copies the frame into a reused buffer first (simd-json parses in place); the
//! `copy_only` baseline shows that harness cost. After criterion, a per-call latency
//! distribution (p50/p99/p99.9) of the single-trade parsers is printed, timer overhead
//! subtracted. Last, a same-conditions table: the decoders of one message type take turns in
//! short batches (order rotated every round), so on a loaded machine every decoder sees the
//! same load; medians per call and the ratio to sonic-rs are printed.
//!
//! `cargo bench --bench parse -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use calculus_trader::feed::event::{parse_decimal, positive_decimal};
use calculus_trader::feed::{MarketEvent, SymbolTable};
use calculus_trader::types::{Quote, Side, Tick};
use calculus_trader::venue::binance::market::BinanceParser;
use calculus_trader::venue::bybit::market::{trade_id_hash, BybitParser};
use calculus_trader::venue::scan::FastPath;
use calculus_trader::venue::{binance, bybit};
use criterion::{criterion_group, Bencher, BenchmarkId, Criterion, Throughput};
use serde::Deserialize;

// ---------- real messages ----------

struct Msgs {
    bybit_trade_1: String,
    bybit_trade_20: String,
    bybit_ticker_delta: String,
    binance_trade: String,
    binance_agg_trade: String,
    binance_book_ticker: String,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn msgs() -> Msgs {
    let f = std::fs::File::open(
        root().join("data/replay/bybit_v5_linear_public_BTCUSDT_ETHUSDT_2026-08-09.jsonl.gz"),
    )
    .unwrap();
    let lines: Vec<String> = BufReader::new(flate2::read::GzDecoder::new(f))
        .lines()
        .map(Result::unwrap)
        .collect();
    let trades = |n: usize| {
        lines
            .iter()
            .find(|l| l.contains("\"publicTrade.") && l.matches("\"T\":").count() == n)
            .cloned()
    };
    let bybit_trade_1 = trades(1).unwrap();
    // 20 real trades: the first 20 elements of the recorded 41-trade batch (elements hold no
    // nested objects, so `},{` separates them).
    let big = trades(41).unwrap();
    let (head, rest) = big.split_once("\"data\":[{").unwrap();
    let (elems, _) = rest.rsplit_once("}]").unwrap();
    let first20: Vec<&str> = elems.split("},{").take(20).collect();
    let bybit_trade_20 = format!("{head}\"data\":[{{{}}}]}}", first20.join("},{"));
    let bybit_ticker_delta = lines
        .iter()
        .find(|l| l.contains("\"tickers.") && l.contains("\"delta\"") && l.contains("ask1Size"))
        .cloned()
        .unwrap();
    let fx = |name: &str| {
        std::fs::read_to_string(root().join("tests/fixtures/binance").join(name))
            .unwrap()
            .trim()
            .to_string()
    };
    Msgs {
        bybit_trade_1,
        bybit_trade_20,
        bybit_ticker_delta,
        binance_trade: fx("ws_combined_trade_real_BTCUSDT_2024.json"),
        binance_agg_trade: fx("ws_combined_aggtrade_real_2021.json"),
        binance_book_ticker: fx("ws_combined_bookticker_real_BTCUSDT_2024.json"),
    }
}

// ---------- the competitors' structs (serde derive, borrowed strings) ----------

#[derive(Deserialize)]
struct BybitTradeMsg<'a> {
    #[serde(borrow)]
    data: Vec<BybitTradeRow<'a>>,
}

#[derive(Deserialize)]
struct BybitTradeRow<'a> {
    #[serde(rename = "T")]
    ts: u64,
    s: &'a str,
    #[serde(rename = "S")]
    side: &'a str,
    v: &'a str,
    p: &'a str,
    i: &'a str,
}

#[derive(Deserialize)]
struct BybitTickerMsg<'a> {
    ts: u64,
    #[serde(borrow)]
    data: BybitTicker<'a>,
}

#[derive(Deserialize)]
struct BybitTicker<'a> {
    symbol: &'a str,
    #[serde(rename = "bid1Price", default)]
    bid: Option<&'a str>,
    #[serde(rename = "bid1Size", default)]
    bid_qty: Option<&'a str>,
    #[serde(rename = "ask1Price", default)]
    ask: Option<&'a str>,
    #[serde(rename = "ask1Size", default)]
    ask_qty: Option<&'a str>,
}

#[derive(Deserialize)]
struct Combined<T> {
    data: T,
}

#[derive(Deserialize)]
struct BinanceTrade<'a> {
    #[serde(rename = "T")]
    ts: u64,
    s: &'a str,
    #[serde(default)]
    t: Option<u64>,
    #[serde(default)]
    a: Option<u64>,
    p: &'a str,
    q: &'a str,
    m: bool,
}

#[derive(Deserialize)]
struct BinanceBook<'a> {
    #[serde(rename = "T")]
    ts: u64,
    s: &'a str,
    b: &'a str,
    #[serde(rename = "B")]
    bq: &'a str,
    a: &'a str,
    #[serde(rename = "A")]
    aq: &'a str,
}

fn bybit_tick(r: &BybitTradeRow<'_>, sy: &SymbolTable) -> Option<Tick> {
    Some(Tick {
        symbol: sy.lookup(r.s)?,
        side: if r.side == "Buy" {
            Side::Buy
        } else {
            Side::Sell
        },
        price: positive_decimal(r.p, "p").ok()?,
        qty: positive_decimal(r.v, "v").ok()?,
        exch_ts_ms: r.ts,
        trade_id: trade_id_hash(r.i),
        recv_ns: 0,
        parsed_ns: 0,
    })
}

fn binance_tick(r: &BinanceTrade<'_>, sy: &SymbolTable) -> Option<Tick> {
    Some(Tick {
        symbol: sy.lookup(r.s)?,
        side: if r.m { Side::Sell } else { Side::Buy },
        price: positive_decimal(r.p, "p").ok()?,
        qty: positive_decimal(r.q, "q").ok()?,
        exch_ts_ms: r.ts,
        trade_id: r.t.or(r.a)?,
        recv_ns: 0,
        parsed_ns: 0,
    })
}

fn binance_quote(r: &BinanceBook<'_>, sy: &SymbolTable) -> Option<Quote> {
    Some(Quote {
        symbol: sy.lookup(r.s)?,
        bid: positive_decimal(r.b, "b").ok()?,
        bid_qty: positive_decimal(r.bq, "B").ok()?,
        ask: positive_decimal(r.a, "a").ok()?,
        ask_qty: positive_decimal(r.aq, "A").ok()?,
        exch_ts_ms: r.ts,
        recv_ns: 0,
    })
}

/// Merges a ticker delta into `top` like our parser does; a quote when all four are known.
fn ticker_quote(m: &BybitTickerMsg<'_>, sy: &SymbolTable, top: &mut [f64; 4]) -> Option<Quote> {
    let d = &m.data;
    for (slot, v) in top.iter_mut().zip([d.bid, d.bid_qty, d.ask, d.ask_qty]) {
        if let Some(v) = v {
            *slot = parse_decimal(v, "x").ok()?;
        }
    }
    Some(Quote {
        symbol: sy.lookup(d.symbol)?,
        bid: top[0],
        bid_qty: top[1],
        ask: top[2],
        ask_qty: top[3],
        exch_ts_ms: m.ts,
        recv_ns: 0,
    })
}

// ---------- benches ----------

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    BybitTrades,
    BybitTicker,
    BinanceTrade,
    BinanceBook,
}

/// `(group name, message, kind, events per message)` of every benchmarked message.
fn cases(m: &Msgs) -> [(&'static str, &str, Kind, usize); 6] {
    use Kind::*;
    [
        ("bybit_publicTrade_1", &m.bybit_trade_1, BybitTrades, 1),
        ("bybit_publicTrade_20", &m.bybit_trade_20, BybitTrades, 20),
        ("bybit_tickers_delta", &m.bybit_ticker_delta, BybitTicker, 1),
        ("binance_trade", &m.binance_trade, BinanceTrade, 1),
        ("binance_aggTrade", &m.binance_agg_trade, BinanceTrade, 1),
        ("binance_bookTicker", &m.binance_book_ticker, BinanceBook, 1),
    ]
}

fn symbols() -> SymbolTable {
    SymbolTable::new(&["BTCUSDT", "ETHUSDT", "AKROUSDT"]).unwrap()
}

/// A competitor's `from_slice` (serde derive into borrowed structs).
trait SerdeLib {
    fn from_slice<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> T;
}

struct SerdeJson;

impl SerdeLib for SerdeJson {
    fn from_slice<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> T {
        serde_json::from_slice(bytes).unwrap()
    }
}

struct SonicRs;

impl SerdeLib for SonicRs {
    fn from_slice<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> T {
        sonic_rs::from_slice(bytes).unwrap()
    }
}

/// Events the competitor decoder `L` produces for `bytes` (sum of prices: checked equal to ours).
fn serde_decode<L: SerdeLib>(
    kind: Kind,
    bytes: &[u8],
    sy: &SymbolTable,
    top: &mut [f64; 4],
) -> f64 {
    match kind {
        Kind::BybitTrades => {
            let m: BybitTradeMsg = L::from_slice(bytes);
            m.data
                .iter()
                .filter_map(|r| bybit_tick(r, sy))
                .map(|t| t.price)
                .sum()
        }
        Kind::BybitTicker => {
            let m: BybitTickerMsg = L::from_slice(bytes);
            ticker_quote(&m, sy, top).map_or(0.0, |q| q.bid)
        }
        Kind::BinanceTrade => {
            let m: Combined<BinanceTrade> = L::from_slice(bytes);
            binance_tick(&m.data, sy).map_or(0.0, |t| t.price)
        }
        Kind::BinanceBook => {
            let m: Combined<BinanceBook> = L::from_slice(bytes);
            binance_quote(&m.data, sy).map_or(0.0, |q| q.bid)
        }
    }
}

struct Ours {
    bybit: BybitParser,
    binance: BinanceParser,
    fast: FastPath,
}

fn price_of(e: MarketEvent) -> f64 {
    match e {
        MarketEvent::Trade(t) => t.price,
        MarketEvent::Quote(q) => q.bid,
    }
}

fn ours_decode(kind: Kind, buf: &mut [u8], sy: &SymbolTable, p: &mut Ours) -> f64 {
    let mut sum = 0.0;
    let on = |e| sum += price_of(e);
    match kind {
        Kind::BybitTrades | Kind::BybitTicker => p.bybit.parse(buf, sy, on).map(|_| ()),
        Kind::BinanceTrade | Kind::BinanceBook => p.binance.parse(buf, sy, on).map(|_| ()),
    }
    .unwrap();
    sum
}

fn fast_decode(kind: Kind, buf: &mut [u8], sy: &SymbolTable, p: &mut Ours) -> f64 {
    let mut sum = 0.0;
    let on = |e| sum += price_of(e);
    let r = match kind {
        Kind::BybitTrades | Kind::BybitTicker => p
            .fast
            .count(bybit::fast::parse(&mut p.bybit, buf, sy, on))
            .map(|_| ()),
        Kind::BinanceTrade | Kind::BinanceBook => p
            .fast
            .count(binance::fast::parse(&mut p.binance, buf, sy, on))
            .map(|_| ()),
    };
    r.unwrap();
    sum
}

fn new_ours(sy: &SymbolTable) -> Ours {
    Ours {
        bybit: BybitParser::for_symbols(sy),
        binance: BinanceParser::new(),
        fast: FastPath::default(),
    }
}

/// One timed variant: copy `text` into the reused `buf` (simd-json parses in place), then
/// `decode` it; the result goes through `black_box`.
fn copy_then(
    bch: &mut Bencher<'_>,
    text: &str,
    buf: &mut [u8],
    mut decode: impl FnMut(&mut [u8]) -> f64,
) {
    bch.iter(|| {
        buf.copy_from_slice(black_box(text.as_bytes()));
        black_box(decode(buf))
    })
}

fn bench_parse(c: &mut Criterion) {
    let m = msgs();
    let sy = symbols();
    let mut ours = new_ours(&sy);
    // Prime the ticker state (a delta needs a snapshot first, in every decoder).
    let mut top = [1.0f64; 4];
    let snap = m.bybit_ticker_delta.replace("\"delta\"", "\"snapshot\"");
    let mut snap_full = snap.clone().into_bytes();
    // A snapshot with all four fields: the delta itself carries all four in this sample.
    ours.bybit.parse(&mut snap_full, &sy, |_| {}).unwrap();

    for (name, text, kind, n) in cases(&m) {
        // Check the decoders agree before timing them.
        let mut buf = text.as_bytes().to_vec();
        let a = ours_decode(kind, &mut buf, &sy, &mut ours);
        let mut buf = text.as_bytes().to_vec();
        let f = fast_decode(kind, &mut buf, &sy, &mut ours);
        let b = serde_decode::<SerdeJson>(kind, text.as_bytes(), &sy, &mut top);
        let s = serde_decode::<SonicRs>(kind, text.as_bytes(), &sy, &mut top);
        assert!(
            a == b && a == s && a == f && a > 0.0,
            "{name}: {a} {f} {b} {s}"
        );

        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(n as u64));
        let mut buf = vec![0u8; text.len()];
        let copy_only = BenchmarkId::new("copy_only", text.len());
        g.bench_function(copy_only, |b| {
            copy_then(b, text, &mut buf, |buf| {
                black_box(&*buf);
                0.0
            })
        });
        g.bench_function("ours_simd_json_tape", |b| {
            copy_then(b, text, &mut buf, |buf| {
                ours_decode(kind, buf, &sy, &mut ours)
            })
        });
        g.bench_function("ours_fast_path", |b| {
            copy_then(b, text, &mut buf, |buf| {
                fast_decode(kind, buf, &sy, &mut ours)
            })
        });
        g.bench_function("serde_json", |b| {
            copy_then(b, text, &mut buf, |buf| {
                serde_decode::<SerdeJson>(kind, buf, &sy, &mut top)
            })
        });
        g.bench_function("sonic_rs", |b| {
            copy_then(b, text, &mut buf, |buf| {
                serde_decode::<SonicRs>(kind, buf, &sy, &mut top)
            })
        });
        g.finish();
    }
}

/// Per-call p50/p99/p99.9 of the single-trade messages, timer overhead subtracted.
fn latency_distribution() {
    let m = msgs();
    let sy = symbols();
    let mut ours = new_ours(&sy);
    let clock = quanta::Clock::new();
    let n = 200_000;
    let mut empty = hdrhistogram::Histogram::<u64>::new(3).unwrap();
    for _ in 0..n {
        let t0 = clock.raw();
        let t1 = clock.raw();
        empty.saturating_record(clock.delta_as_nanos(t0, t1));
    }
    let floor = empty.value_at_quantile(0.5);
    println!("\nper-call latency, ns (timer floor p50 {floor} ns subtracted), {n} calls each:");
    println!(
        "{:<44} {:>6} {:>6} {:>7}",
        "message / decoder", "p50", "p99", "p99.9"
    );
    for (name, text, kind, _) in cases(&m) {
        if !(name.ends_with("_1") || name.starts_with("binance_") && kind == Kind::BinanceTrade) {
            continue;
        }
        let mut buf = text.as_bytes().to_vec();
        for (decoder, fast) in [("ours_simd_json_tape", false), ("ours_fast_path", true)] {
            let mut h = hdrhistogram::Histogram::<u64>::new(3).unwrap();
            for _ in 0..n {
                buf.copy_from_slice(text.as_bytes());
                let t0 = clock.raw();
                let v = if fast {
                    fast_decode(kind, &mut buf, &sy, &mut ours)
                } else {
                    ours_decode(kind, &mut buf, &sy, &mut ours)
                };
                let t1 = clock.raw();
                black_box(v);
                h.saturating_record(clock.delta_as_nanos(t0, t1).saturating_sub(floor));
            }
            println!(
                "{:<44} {:>6} {:>6} {:>7}",
                format!("{name} / {decoder}"),
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.99),
                h.value_at_quantile(0.999)
            );
        }
    }
}

/// Per-call medians of every decoder, timed in alternating batches so each sees the same load.
fn same_conditions() {
    let m = msgs();
    let sy = symbols();
    let mut ours = new_ours(&sy);
    let mut top = [1.0f64; 4];
    let mut snap = m
        .bybit_ticker_delta
        .replace("\"delta\"", "\"snapshot\"")
        .into_bytes();
    ours.bybit.parse(&mut snap, &sy, |_| {}).unwrap();
    const NAMES: [&str; 4] = ["general", "fast", "serde_json", "sonic_rs"];
    let rounds = 301;
    println!(
        "\nsame conditions, ns per message (median of {rounds} alternating batches of ~20 µs; \
         simd-json stage 1: {}):",
        simd_json::Deserializer::algorithm()
    );
    println!(
        "{:<22} {:>9} {:>9} {:>10} {:>9} {:>13} {:>10}",
        "message", NAMES[0], NAMES[1], NAMES[2], NAMES[3], "general/sonic", "fast/sonic"
    );
    for (name, text, kind, _) in cases(&m) {
        let mut buf = vec![0u8; text.len()];
        let mut run = |v: usize, buf: &mut [u8]| {
            buf.copy_from_slice(black_box(text.as_bytes()));
            black_box(match v {
                0 => ours_decode(kind, buf, &sy, &mut ours),
                1 => fast_decode(kind, buf, &sy, &mut ours),
                2 => serde_decode::<SerdeJson>(kind, buf, &sy, &mut top),
                _ => serde_decode::<SonicRs>(kind, buf, &sy, &mut top),
            });
        };
        // Batch size: ~20 µs of the slowest decoder.
        let t0 = std::time::Instant::now();
        for v in 0..4 {
            for _ in 0..100 {
                run(v, &mut buf);
            }
        }
        let per = t0.elapsed().as_nanos() as usize / 400;
        let batch = (20_000 / per.max(1)).max(1);
        let mut ns: [Vec<f64>; 4] = Default::default();
        for r in 0..rounds {
            for j in 0..4 {
                let v = (r + j) % 4;
                let t = std::time::Instant::now();
                for _ in 0..batch {
                    run(v, &mut buf);
                }
                ns[v].push(t.elapsed().as_nanos() as f64 / batch as f64);
            }
        }
        let med = ns.map(|mut x| {
            x.sort_by(f64::total_cmp);
            x[x.len() / 2]
        });
        println!(
            "{:<22} {:>9.1} {:>9.1} {:>10.1} {:>9.1} {:>13.2} {:>10.2}",
            name,
            med[0],
            med[1],
            med[2],
            med[3],
            med[0] / med[3],
            med[1] / med[3]
        );
    }
}

criterion_group!(benches, bench_parse);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    latency_distribution();
    same_conditions();
}
