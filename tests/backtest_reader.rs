//! The backtester's readers: every supported format on real trades (the same trades in several
//! layouts must give the same ticks), merging, gzip, and malformed rows named by file and line.

use std::io::Write;
use std::path::PathBuf;

use calculus_trader::backtest::reader::{read_all, Format, TradeStream};
use calculus_trader::feed::SymbolTable;
use calculus_trader::types::{Side, SymbolId, Tick};

mod common;
use common::files::{fixture_path, replay_file, temp_dir};

/// `tests/fixtures/trades/<name>`.
fn fixture(name: &str) -> PathBuf {
    fixture_path("trades").join(name)
}

fn both() -> SymbolTable {
    SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap()
}

fn temp(name: &str, body: &[u8]) -> PathBuf {
    let dir = temp_dir("bt-reader");
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

fn detected(paths: &[PathBuf], symbols: &SymbolTable) -> Vec<Format> {
    TradeStream::open(paths, None, symbols, false, None)
        .unwrap()
        .formats()
        .into_iter()
        .map(|(_, f)| f)
        .collect()
}

/// (time, price, qty, side, symbol): what the engine consumes.
fn essence(t: &Tick) -> (u64, f64, f64, Side, SymbolId) {
    (t.exch_ts_ms, t.price, t.qty, t.side, t.symbol)
}

#[test]
fn the_same_real_trades_in_four_layouts_give_identical_ticks() {
    let t = both();
    let (rec, rs) = read_all(
        &[replay_file("binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz")],
        None,
        &t,
        true,
    )
    .unwrap();
    assert_eq!(rs.ticks, 21_313, "every @trade frame of the recording");
    assert!(
        rs.non_trade_rows > 60_000,
        "bookTicker/depth frames skipped"
    );
    assert_eq!(rs.bad_rows, 0);
    let files = [
        "BTCUSDT-trades-2024-08-08-head600.csv",
        "binance_usdm_BTCUSDT_2024-08-08_head600_trades.csv.gz",
        "BTCUSDT-plain-head600.csv",
    ];
    let paths: Vec<PathBuf> = files.iter().map(|f| fixture(f)).collect();
    assert_eq!(
        detected(&paths, &t),
        [Format::BinanceTrades, Format::TradesCsv, Format::Plain]
    );
    let want: Vec<_> = rec[..600].iter().map(essence).collect();
    assert_eq!(
        want[0],
        (1_723_161_256_322, 61_800.30, 0.006, Side::Buy, SymbolId(0)),
        "the documented first trade"
    );
    for p in &paths {
        let (ticks, s) = read_all(std::slice::from_ref(p), None, &t, true).unwrap();
        assert_eq!(s.ticks, 600, "{}", p.display());
        let got: Vec<_> = ticks.iter().map(essence).collect();
        assert_eq!(got, want, "{}", p.display());
    }
    // Trade ids survive where the layout carries them.
    for p in &paths[..2] {
        let (ticks, _) = read_all(std::slice::from_ref(p), None, &t, true).unwrap();
        let ids: Vec<u64> = ticks.iter().map(|t| t.trade_id).collect();
        let want: Vec<u64> = rec[..600].iter().map(|t| t.trade_id).collect();
        assert_eq!(ids, want);
    }
}

#[test]
fn aggtrades_carry_the_summed_quantity_of_the_underlying_trades() {
    let t = both();
    let p = fixture("ETHUSDT-aggTrades-2024-08-08-head.csv.gz");
    assert_eq!(
        detected(std::slice::from_ref(&p), &t),
        [Format::BinanceAggTrades]
    );
    let (agg, s) = read_all(std::slice::from_ref(&p), None, &t, true).unwrap();
    assert_eq!(s.ticks, 349);
    let (rec, _) = read_all(
        &[replay_file("binance_usdm_ETHUSDT_2024-08-08_2354-2400.gz")],
        None,
        &t,
        true,
    )
    .unwrap();
    let raw: f64 = rec[..800].iter().map(|t| t.qty).sum();
    let summed: f64 = agg.iter().map(|t| t.qty).sum();
    assert!((raw - summed).abs() < 1e-6, "{raw} vs {summed}");
    assert_eq!(
        essence(&agg[0]),
        (1_723_161_256_560, 2_681.62, 1.0, Side::Sell, SymbolId(1))
    );
    assert_eq!(agg.last().unwrap().exch_ts_ms, rec[799].exch_ts_ms);
}

#[test]
fn bybit_history_layout_matches_the_bybit_trade_table() {
    let t = both();
    let hist = fixture("bybit_BTCUSDT_ETHUSDT_2026-08-09_history.csv");
    let table = fixture("bybit_linear_trades_BTCUSDT_ETHUSDT_2026-08-09.csv");
    assert_eq!(
        detected(&[hist.clone(), table.clone()], &t),
        [Format::Bybit, Format::TradesCsv]
    );
    let (a, _) = read_all(&[hist], None, &t, true).unwrap();
    let (b, _) = read_all(&[table], None, &t, true).unwrap();
    assert_eq!(a.len(), 79);
    assert_eq!(
        a.iter().map(essence).collect::<Vec<_>>(),
        b.iter().map(essence).collect::<Vec<_>>()
    );
    assert_eq!(
        essence(&a[0]),
        (1_786_310_819_680, 65_114.20, 0.004, Side::Sell, SymbolId(0))
    );
}

#[test]
fn trades_of_unconfigured_symbols_are_counted_not_errors() {
    let only_btc = SymbolTable::new(&["BTCUSDT"]).unwrap();
    let (ticks, s) = read_all(
        &[fixture("bybit_BTCUSDT_ETHUSDT_2026-08-09_history.csv")],
        None,
        &only_btc,
        true,
    )
    .unwrap();
    assert!(!ticks.is_empty());
    assert_eq!(s.ticks + s.other_symbol_rows, 79);
    assert!(s.other_symbol_rows > 0);
    assert_eq!(s.bad_rows, 0);
}

#[test]
fn malformed_rows_are_counted_skipped_and_named_by_file_and_line() {
    let t = both();
    let p = temp(
        "BTCUSDT-bad.csv",
        b"timestamp_ms,price,qty,side\n\
          1723161256322,61800.3,0.1,buy\n\
          1723161256323,abc,0.1,buy\n\
          1723161256324,61800.4,0.1,sell\n\
          1723161256325,61800.5\n\
          1723161256326,-5,0.1,buy\n\
          1723161256327,61800.6,0.1,hold\n\
          1723161256328,61800.7,0.2,sell\n",
    );
    let (ticks, s) = read_all(std::slice::from_ref(&p), None, &t, false).unwrap();
    assert_eq!(ticks.len(), 3);
    assert_eq!(s.bad_rows, 4);
    let name = p.display().to_string();
    for (k, line, what) in [
        (0, 3, "price"),
        (1, 5, "fields"),
        (2, 6, "price"),
        (3, 7, "side"),
    ] {
        let e = &s.first_errors[k];
        assert!(e.starts_with(&format!("{name}:{line}: ")), "{e}");
        assert!(e.contains(what), "{e}");
    }
    let err = read_all(std::slice::from_ref(&p), None, &t, true).unwrap_err();
    assert!(err.contains(&format!("{name}:3:")), "{err}");
    assert!(err.contains("--strict"), "{err}");
}

#[test]
fn malformed_recorded_frames_are_named_by_line() {
    let t = both();
    let good = r#"1723161255088176367 {"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}"#;
    let body = format!("{good}\n1723161255088176368 {{\"stream\":\"btcusdt@trade\",\"data\":{{\"e\":\"trade\"\n{good}\n");
    let p = temp("rec.txt", body.as_bytes());
    let (ticks, s) = read_all(std::slice::from_ref(&p), None, &t, false).unwrap();
    assert_eq!(ticks.len(), 2);
    assert_eq!(s.bad_rows, 1);
    assert!(
        s.first_errors[0].starts_with(&format!("{}:2: ", p.display())),
        "{}",
        s.first_errors[0]
    );
}

#[test]
fn gzip_is_recognised_by_its_magic_bytes_not_the_name() {
    let t = both();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"1723161256322,61800.3,0.1,buy\n1723161256400,61801.0,0.2,sell\n")
        .unwrap();
    let p = temp("BTCUSDT-gz-named.csv", &gz.finish().unwrap());
    let (ticks, _) = read_all(&[p], None, &t, true).unwrap();
    assert_eq!(ticks.len(), 2);
    assert_eq!(ticks[1].side, Side::Sell);
    assert_eq!(ticks[1].price, 61_801.0);
}

#[test]
fn files_merge_by_time_with_ties_in_argument_order() {
    let t = both();
    let a = temp(
        "BTCUSDT-m.csv",
        b"1000000000100,1,1\n1000000000300,3,1\n1000000000300,4,1\n",
    );
    let b = temp(
        "ETHUSDT-m.csv",
        b"1000000000200,2,1\n1000000000300,5,1\n1000000000400,6,1\n",
    );
    let (ticks, _) = read_all(&[a, b], None, &t, true).unwrap();
    let prices: Vec<f64> = ticks.iter().map(|t| t.price).collect();
    assert_eq!(prices, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let syms: Vec<u16> = ticks.iter().map(|t| t.symbol.0).collect();
    assert_eq!(syms, [0, 1, 0, 0, 1, 1]);
}

#[test]
fn headerless_spot_dump_with_microseconds_and_tick_rule_plain() {
    let t = both();
    // Binance spot dumps since 2025: no header, µs timestamps, a 7th is_best_match column.
    let p = temp(
        "BTCUSDT-trades-spot.csv",
        b"1,61800.3,0.5,30900.15,1723161256322123,true,true\n2,61800.4,0.5,30900.2,1723161256323456,false,true\n",
    );
    let (ticks, _) = read_all(&[p], None, &t, true).unwrap();
    assert_eq!(
        ticks.iter().map(essence).collect::<Vec<_>>(),
        [
            (1_723_161_256_322, 61_800.3, 0.5, Side::Sell, SymbolId(0)),
            (1_723_161_256_323, 61_800.4, 0.5, Side::Buy, SymbolId(0)),
        ]
    );
    // Plain without side: the tick rule (up = buy, down = sell, unchanged = previous).
    let p = temp(
        "ETHUSDT-tickrule.csv",
        b"1000000000000,10\n1000000000001,11\n1000000000002,11\n1000000000003,9\n",
    );
    let (ticks, _) = read_all(&[p], None, &t, true).unwrap();
    let sides: Vec<Side> = ticks.iter().map(|t| t.side).collect();
    assert_eq!(sides, [Side::Buy, Side::Buy, Side::Buy, Side::Sell]);
    assert!(ticks.iter().all(|t| t.symbol == SymbolId(1)));
}

#[test]
fn unknown_layout_and_unnamed_symbol_errors_name_the_file() {
    let t = both();
    let p = temp("mystery.csv", b"foo,bar,baz\n1,2,3\n");
    let err = read_all(std::slice::from_ref(&p), None, &t, false).unwrap_err();
    assert!(
        err.contains("mystery.csv:1:") && err.contains("--format"),
        "{err}"
    );
    let p = temp("prices.csv", b"1000000000000,10\n");
    let err = read_all(std::slice::from_ref(&p), None, &t, false).unwrap_err();
    assert!(
        err.contains("prices.csv") && err.contains("symbol"),
        "{err}"
    );
    // With one configured symbol, the file needs no symbol in its name.
    let one = SymbolTable::new(&["SOLUSDT"]).unwrap();
    let (ticks, _) = read_all(&[p], None, &one, true).unwrap();
    assert_eq!(ticks.len(), 1);
    // A forced format is used even when detection would say otherwise.
    let p = temp("BTCUSDT-forced.csv", b"1000000000000,10,1\n");
    let (ticks, _) = read_all(&[p], Some(Format::Plain), &t, true).unwrap();
    assert_eq!(ticks[0].qty, 1.0);
}

/// A damaged gzip file stops the read with an error naming the file; it never ends early as if
/// complete (the decoder is zlib-rs through flate2: its end-of-stream and CRC checks apply).
#[test]
fn a_truncated_or_corrupt_gzip_file_is_an_error_not_a_short_read() {
    let t = both();
    let src = replay_file("binance_usdm_BTCUSDT_2023-04-05_0000-0007.gz");
    let raw = std::fs::read(&src).unwrap();
    let (whole, _) = read_all(std::slice::from_ref(&src), None, &t, true).unwrap();
    assert!(!whole.is_empty());
    let truncated = temp("truncated.gz", &raw[..raw.len() / 2]);
    let err = read_all(std::slice::from_ref(&truncated), None, &t, true).unwrap_err();
    assert!(err.contains("truncated.gz"), "{err}");
    // One flipped byte in the stored CRC-32 (the trailer's first four bytes).
    let mut bad = raw.clone();
    let n = bad.len();
    bad[n - 8] ^= 0x01;
    let corrupt = temp("crc.gz", &bad);
    let err = read_all(std::slice::from_ref(&corrupt), None, &t, true).unwrap_err();
    assert!(err.contains("crc.gz"), "{err}");
}
