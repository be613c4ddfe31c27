//! Historical trade files → [`Tick`]s: format detection, per-file row parsing with file:line
//! errors, and a streaming k-way merge of several files by timestamp.
//!
//! Formats (detected from the first line, or named with `--format`; gzip detected from the magic
//! bytes):
//! - `binance-trades`: Binance public daily dumps, `id,price,qty,quote_qty,time,is_buyer_maker`
//!   (futures: with header; spot: no header and a 7th `is_best_match` column).
//! - `binance-aggtrades`: `agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker`.
//! - `bybit`: Bybit public trading history, `timestamp,symbol,side,size,price,...`, timestamp in
//!   seconds with a fraction (`1723075200.1234`).
//! - `recorded`: `<recv timestamp> <combined-stream frame JSON>` per line (data/replay/*.gz), parsed
//!   by the live Binance parser; non-trade frames (bookTicker, depth, REST snapshots) are skipped.
//! - `trades-csv`: the flattened trade tables of the shared data set (header names the columns:
//!   `local_recv_ns,...,trade_time_ms,symbol,trade_id,price,qty,is_buyer_maker,...` or
//!   `msg_ts_ms,trade_time_ms,symbol,trade_id,taker_side,price,size,...`).
//! - `plain`: `timestamp_ms,price[,qty,side]`, header optional; without a side column the side
//!   follows the tick rule (uptick = buy, downtick = sell, unchanged = previous).
//!
//! Timestamps are normalised to Unix ms by magnitude: `< 1e11` seconds (fraction allowed),
//! `< 1e14` ms, `< 1e17` µs, else ns. Files without a symbol column take the configured symbol
//! named in the file name (or the only configured symbol). The merge key is the recorder's
//! receive time where the file has one (`recorded`, `local_recv_ns`), so a merged recording
//! replays in exactly the order the live embedded exchange sends it; else the trade time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use crate::data::{to_ns, Input};
use crate::types::SymbolTable;
use crate::types::{MarketEvent, ParseError};
use crate::types::{Side, SymbolId, Tick};
use crate::venue::binance::market::BinanceParser;
use crate::venue::recorded;

/// An input file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Binance public daily trades dump.
    BinanceTrades,
    /// Binance public daily aggTrades dump.
    BinanceAggTrades,
    /// Bybit public trading-history CSV.
    Bybit,
    /// Recorded `<ts> <frame>` lines.
    Recorded,
    /// The shared data set's flattened trade CSVs.
    TradesCsv,
    /// `timestamp_ms,price[,qty,side]`.
    Plain,
}

impl Format {
    /// Every format, in `--format` help order.
    pub const ALL: [Format; 6] = [
        Format::BinanceTrades,
        Format::BinanceAggTrades,
        Format::Bybit,
        Format::Recorded,
        Format::TradesCsv,
        Format::Plain,
    ];

    /// The `--format` name.
    pub fn name(self) -> &'static str {
        match self {
            Format::BinanceTrades => "binance-trades",
            Format::BinanceAggTrades => "binance-aggtrades",
            Format::Bybit => "bybit",
            Format::Recorded => "recorded",
            Format::TradesCsv => "trades-csv",
            Format::Plain => "plain",
        }
    }

    /// Detects the format from a file's first line; `None` when nothing matches.
    pub fn detect(first_line: &str) -> Option<Format> {
        let line = first_line.trim();
        if let Some((ts, rest)) = line.split_once(' ') {
            if !ts.is_empty() && ts.bytes().all(|b| b.is_ascii_digit()) && rest.starts_with('{') {
                return Some(Format::Recorded);
            }
        }
        let fields: Vec<String> = line
            .split(',')
            .map(|f| f.trim().to_ascii_lowercase())
            .collect();
        let has = |n: &str| fields.iter().any(|f| f == n);
        if is_header(&fields) {
            return if has("agg_trade_id") || has("first_trade_id") {
                Some(Format::BinanceAggTrades)
            } else if has("quote_qty") && has("is_buyer_maker") {
                Some(Format::BinanceTrades)
            } else if has("local_recv_ns") || has("msg_ts_ms") {
                Some(Format::TradesCsv)
            } else if has("timestamp") && has("symbol") && has("side") && has("size") {
                Some(Format::Bybit)
            } else if has("price") && find(&fields, TIME_NAMES).is_some() {
                Some(Format::Plain)
            } else {
                None
            };
        }
        let is_bool = |i: usize| fields.get(i).is_some_and(|f| f == "true" || f == "false");
        match fields.len() {
            6 | 7 if is_bool(5) => Some(Format::BinanceTrades),
            7 | 8 if is_bool(6) => Some(Format::BinanceAggTrades),
            2..=4 => Some(Format::Plain),
            _ => None,
        }
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                format!("unknown format {s:?}; valid: {}", names.join(", "))
            })
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

const TIME_NAMES: &[&str] = &[
    "transact_time",
    "trade_time_ms",
    "time",
    "timestamp_ms",
    "timestamp",
    "ts",
];

fn is_header(fields: &[String]) -> bool {
    fields
        .first()
        .is_some_and(|f| f.bytes().any(|b| b.is_ascii_alphabetic()) && f.parse::<f64>().is_err())
}

fn find(fields: &[String], names: &[&str]) -> Option<usize> {
    names
        .iter()
        .find_map(|n| fields.iter().position(|f| f == n))
}

/// A malformed row: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line number.
    pub line: u64,
    /// What is wrong.
    pub msg: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.msg)
    }
}

/// How the side of a trade is given.
#[derive(Clone, Copy, Debug)]
enum SideCol {
    /// `true` = the buyer was the maker = the taker sold.
    BuyerMaker(usize),
    /// `Buy`/`Sell` (any case, or `b`/`s`).
    Named(usize),
    /// Tick rule.
    TickRule,
}

/// Column positions of a CSV format.
#[derive(Clone, Copy, Debug)]
struct Columns {
    time: usize,
    price: usize,
    qty: Option<usize>,
    side: SideCol,
    symbol: Option<usize>,
    id: Option<usize>,
    key_ns: Option<usize>,
    min_fields: usize,
}

impl Columns {
    fn from_header(fields: &[String]) -> Result<Self, String> {
        let time = find(fields, TIME_NAMES).ok_or(
            "no time column (time, transact_time, timestamp, timestamp_ms, trade_time_ms)",
        )?;
        let price = find(fields, &["price"]).ok_or("no price column")?;
        let qty = find(fields, &["qty", "quantity", "size", "volume", "amount"]);
        let side = match (
            find(fields, &["is_buyer_maker"]),
            find(fields, &["side", "taker_side"]),
        ) {
            (Some(i), _) => SideCol::BuyerMaker(i),
            (None, Some(i)) => SideCol::Named(i),
            (None, None) => SideCol::TickRule,
        };
        let symbol = find(fields, &["symbol"]);
        let id = find(fields, &["id", "agg_trade_id", "trade_id"]);
        let key_ns = find(fields, &["local_recv_ns"]);
        let min_fields = [Some(time), Some(price), qty, symbol, key_ns]
            .into_iter()
            .flatten()
            .chain(match side {
                SideCol::BuyerMaker(i) | SideCol::Named(i) => Some(i),
                SideCol::TickRule => None,
            })
            .max()
            .unwrap_or(0)
            + 1;
        Ok(Self {
            time,
            price,
            qty,
            side,
            symbol,
            id,
            key_ns,
            min_fields,
        })
    }

    fn positional(format: Format, n_fields: usize) -> Result<Self, String> {
        let c = |time, bm, min| Columns {
            time,
            price: 1,
            qty: Some(2),
            side: SideCol::BuyerMaker(bm),
            symbol: None,
            id: Some(0),
            key_ns: None,
            min_fields: min,
        };
        match format {
            Format::BinanceTrades => Ok(c(4, 5, 6)),
            Format::BinanceAggTrades => Ok(c(5, 6, 7)),
            Format::Plain => Ok(Columns {
                time: 0,
                price: 1,
                qty: (n_fields >= 3).then_some(2),
                side: if n_fields >= 4 {
                    SideCol::Named(3)
                } else {
                    SideCol::TickRule
                },
                symbol: None,
                id: None,
                key_ns: None,
                min_fields: n_fields.clamp(2, 4),
            }),
            Format::Bybit | Format::TradesCsv => Err(format!(
                "format {format} needs its header line (column names)"
            )),
            Format::Recorded => Err("recorded files are not CSV".into()),
        }
    }
}

/// Normalises a timestamp to Unix ms by magnitude (see the module doc); seconds may carry a
/// fraction, converted exactly (digits beyond ms truncated).
pub fn parse_time_ms(s: &str) -> Result<u64, String> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let v: u64 = int
        .parse()
        .map_err(|_| format!("timestamp {s:?} is not a number"))?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("timestamp {s:?} is not a number"));
    }
    if v < 100_000_000_000 {
        let mut ms = 0u64;
        for i in 0..3 {
            ms = ms * 10 + frac.as_bytes().get(i).map_or(0, |b| (b - b'0') as u64);
        }
        Ok(v * 1000 + ms)
    } else if !frac.is_empty() {
        Err(format!(
            "timestamp {s:?}: a fraction only makes sense in seconds"
        ))
    } else if v < 100_000_000_000_000 {
        Ok(v)
    } else if v < 100_000_000_000_000_000 {
        Ok(v / 1_000)
    } else {
        Ok(v / 1_000_000)
    }
}

fn positive(s: &str, what: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{what} {s:?} is not a number"))?;
    if !v.is_finite() || v <= 0.0 {
        return Err(format!("{what} {s:?} is not a positive finite number"));
    }
    Ok(v)
}

/// What one row turned out to be.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Row {
    /// A trade of a configured symbol; `key_ns` orders the merge.
    Trade {
        /// Merge key, ns.
        key_ns: u64,
        /// The trade.
        tick: Tick,
    },
    /// A trade of a symbol that is not configured.
    OtherSymbol,
    /// A valid line that is not a trade (bookTicker, depth, REST snapshot, ack).
    NonTrade,
}

enum Source {
    Csv {
        rdr: csv::Reader<Box<dyn Read>>,
        rec: csv::ByteRecord,
        cols: Columns,
    },
    Lines {
        rdr: BufReader<Box<dyn Read>>,
        buf: Vec<u8>,
        line: u64,
        parser: Box<BinanceParser>,
    },
}

/// One file's rows, in file order.
pub struct FileReader {
    path: PathBuf,
    format: Format,
    symbols: SymbolTable,
    file_symbol: Option<SymbolId>,
    source: Source,
    last_price: f64,
    last_side: Side,
    row_seq: u64,
}

impl std::fmt::Debug for FileReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileReader")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("file_symbol", &self.file_symbol)
            .field("row_seq", &self.row_seq)
            .finish_non_exhaustive()
    }
}

impl FileReader {
    /// Opens `path` (gzip or plain), detecting the format unless `format` is given. `bytes`
    /// (optional) counts the bytes read from disk.
    pub fn open(
        path: &Path,
        format: Option<Format>,
        symbols: &SymbolTable,
        bytes: Option<Arc<AtomicU64>>,
    ) -> Result<Self, String> {
        let mut rdr = Input::open(path, bytes)?;
        let mut first = Vec::new();
        rdr.read_line(&mut first).map_err(|e| e.to_string())?;
        let first_text = String::from_utf8_lossy(&first).into_owned();
        let format = match format {
            Some(f) => f,
            None => Format::detect(&first_text).ok_or_else(|| {
                format!(
                    "{}:1: cannot detect the format from {:?}; name it with --format ({})",
                    path.display(),
                    first_text.trim().chars().take(80).collect::<String>(),
                    Format::ALL.map(|f| f.name()).join(", ")
                )
            })?,
        };
        let stream: Box<dyn Read> = Box::new(Cursor::new(first).chain(rdr));
        let source = if format == Format::Recorded {
            Source::Lines {
                rdr: BufReader::with_capacity(1 << 16, stream),
                buf: Vec::with_capacity(1 << 16),
                line: 0,
                parser: Box::new(BinanceParser::new()),
            }
        } else {
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .trim(csv::Trim::All)
                .from_reader(stream);
            let mut rec = csv::ByteRecord::new();
            let fields: Vec<String> = first_text
                .trim()
                .split(',')
                .map(|f| f.trim().to_ascii_lowercase())
                .collect();
            let cols = if is_header(&fields) {
                // Consume the header record.
                rdr.read_byte_record(&mut rec)
                    .map_err(|e| format!("{}:1: {e}", path.display()))?;
                Columns::from_header(&fields).map_err(|e| format!("{}:1: {e}", path.display()))?
            } else {
                Columns::positional(format, fields.len())
                    .map_err(|e| format!("{}:1: {e}", path.display()))?
            };
            Source::Csv { rdr, rec, cols }
        };
        let has_symbol_col = matches!(&source, Source::Csv { cols, .. } if cols.symbol.is_some())
            || format == Format::Recorded;
        let file_symbol = if has_symbol_col {
            None
        } else {
            Some(symbol_from_name(path, symbols)?)
        };
        Ok(Self {
            path: path.to_path_buf(),
            format,
            symbols: symbols.clone(),
            file_symbol,
            source,
            last_price: 0.0,
            last_side: Side::Buy,
            row_seq: 0,
        })
    }

    /// The detected (or given) format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next row (a malformed one is an `Err` row to count or refuse), `Ok(None)` at the end
    /// of the file. `Err`: the file cannot be read further (truncated or corrupt gzip, I/O
    /// error; the message names the file and byte offset) and the run must stop.
    pub fn next_row(&mut self) -> Result<Option<Result<Row, RowError>>, String> {
        Ok(match &mut self.source {
            Source::Lines {
                rdr,
                buf,
                line,
                parser,
            } => {
                buf.clear();
                *line += 1;
                let n = *line;
                if rdr
                    .read_until(b'\n', buf)
                    .map_err(|e| format!("{e} (line {n})"))?
                    == 0
                {
                    return Ok(None);
                }
                while matches!(buf.last(), Some(b'\n' | b'\r')) {
                    buf.pop();
                }
                if buf.is_empty() {
                    return Ok(Some(Ok(Row::NonTrade)));
                }
                let r = recorded_row(buf, parser, &self.symbols);
                Some(r.map_err(|msg| row_error(&self.path, n, msg)))
            }
            Source::Csv { rdr, rec, cols } => {
                let cols = *cols;
                match rdr.read_byte_record(rec) {
                    Ok(false) => None,
                    Err(e) if e.is_io_error() => {
                        let line = e.position().map_or(0, |p| p.line());
                        return Err(format!("{e} (line {line})"));
                    }
                    Err(e) => {
                        let line = e.position().map_or(0, |p| p.line());
                        Some(Err(row_error(&self.path, line, e.to_string())))
                    }
                    Ok(true) => {
                        let line = rec.position().map_or(0, |p| p.line());
                        self.row_seq += 1;
                        let r = self.csv_row(&cols);
                        Some(r.map_err(|msg| row_error(&self.path, line, msg)))
                    }
                }
            }
        })
    }

    fn csv_row(&mut self, c: &Columns) -> Result<Row, String> {
        let Source::Csv { rec, .. } = &self.source else {
            unreachable!("csv_row on a CSV source")
        };
        if rec.len() < c.min_fields {
            return Err(format!(
                "{} fields, expected at least {}",
                rec.len(),
                c.min_fields
            ));
        }
        let field = |i: usize| -> Result<&str, String> {
            std::str::from_utf8(&rec[i]).map_err(|_| format!("field {} is not UTF-8", i + 1))
        };
        let symbol = match (c.symbol, self.file_symbol) {
            (Some(i), _) => match self.symbols.lookup(field(i)?) {
                Some(s) => s,
                None => return Ok(Row::OtherSymbol),
            },
            (None, Some(s)) => s,
            (None, None) => return Err("no symbol".into()),
        };
        let price = positive(field(c.price)?, "price")?;
        let qty = match c.qty {
            Some(i) => positive(field(i)?, "quantity")?,
            None => 0.0,
        };
        let exch_ts_ms = parse_time_ms(field(c.time)?)?;
        let side = match c.side {
            SideCol::BuyerMaker(i) => match field(i)?.to_ascii_lowercase().as_str() {
                "true" => Side::Sell,
                "false" => Side::Buy,
                other => return Err(format!("is_buyer_maker {other:?} is not true/false")),
            },
            SideCol::Named(i) => match field(i)?.to_ascii_lowercase().as_str() {
                "buy" | "b" => Side::Buy,
                "sell" | "s" => Side::Sell,
                other => return Err(format!("side {other:?} is not buy/sell")),
            },
            SideCol::TickRule => {
                if price > self.last_price && self.last_price > 0.0 {
                    Side::Buy
                } else if price < self.last_price {
                    Side::Sell
                } else {
                    self.last_side
                }
            }
        };
        self.last_price = price;
        self.last_side = side;
        let trade_id =
            c.id.and_then(|i| field(i).ok()?.parse::<u64>().ok())
                .unwrap_or(self.row_seq);
        let key_ns = match c.key_ns {
            Some(i) => {
                let v: u64 = field(i)?
                    .parse()
                    .map_err(|_| "local_recv_ns is not an integer".to_string())?;
                to_ns(v)
            }
            None => exch_ts_ms.saturating_mul(1_000_000),
        };
        Ok(Row::Trade {
            key_ns,
            tick: Tick {
                symbol,
                side,
                price,
                qty,
                exch_ts_ms,
                trade_id,
                recv_ns: key_ns,
                parsed_ns: 0,
            },
        })
    }
}

fn row_error(path: &Path, line: u64, msg: String) -> RowError {
    RowError {
        file: path.to_path_buf(),
        line,
        msg,
    }
}

fn recorded_row(
    buf: &mut [u8],
    parser: &mut BinanceParser,
    symbols: &SymbolTable,
) -> Result<Row, String> {
    let sp = buf
        .iter()
        .position(|&b| b == b' ')
        .ok_or("expected `<timestamp> <json>`")?;
    let ts: u64 = std::str::from_utf8(&buf[..sp])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or("timestamp is not an integer")?;
    let frame = &mut buf[sp + 1..];
    // Combined-stream frames name their stream first: skip book and depth frames (most of a
    // recording, and the largest) without parsing them.
    if recorded::names_a_non_trade_stream(frame) {
        return Ok(Row::NonTrade);
    }
    // Trade frames carry one trade each (Binance `trade` / `aggTrade`).
    let mut trade = None;
    let parsed = parser.parse(frame, symbols, |ev| {
        if let MarketEvent::Trade(t) = ev {
            trade = Some(t);
        }
    });
    match parsed {
        Ok(_) if trade.is_some() => {
            let mut tick = trade.unwrap_or_default();
            let key_ns = to_ns(ts);
            tick.recv_ns = key_ns;
            Ok(Row::Trade { key_ns, tick })
        }
        Ok(_) | Err(ParseError::MissingField("data")) => Ok(Row::NonTrade),
        Err(ParseError::UnknownSymbol) => Ok(Row::OtherSymbol),
        Err(e) => Err(format!("frame: {e}")),
    }
}

/// The configured symbol named in the file name (longest match), or the only configured one.
fn symbol_from_name(path: &Path, symbols: &SymbolTable) -> Result<SymbolId, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_uppercase())
        .unwrap_or_default();
    let best = symbols
        .names()
        .iter()
        .enumerate()
        .filter(|(_, s)| name.contains(s.as_str()))
        .max_by_key(|(_, s)| s.len());
    match best {
        Some((i, _)) => Ok(SymbolId(i as u16)),
        None if symbols.len() == 1 => Ok(SymbolId(0)),
        None => Err(format!(
            "{}: the file has no symbol column and its name names none of the configured symbols {:?}; rename it (e.g. BTCUSDT-trades.csv) or configure one symbol",
            path.display(),
            symbols.names()
        )),
    }
}

/// Counts of a read.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReadStats {
    /// Trades of configured symbols handed on.
    pub ticks: u64,
    /// Malformed rows skipped.
    pub bad_rows: u64,
    /// Trades of symbols that are not configured (skipped).
    pub other_symbol_rows: u64,
    /// Valid non-trade lines (skipped).
    pub non_trade_rows: u64,
    /// Rows whose merge key is earlier than the previous row of the same file (kept, in file order).
    pub out_of_order_rows: u64,
    /// The first malformed rows, as `file:line: reason`.
    pub first_errors: Vec<String>,
}

/// How many malformed rows [`ReadStats::first_errors`] keeps.
pub const KEPT_ERRORS: usize = 20;

/// Several files merged by key (ties: earlier file first; within a file: file order), streaming:
/// one pending row per file.
#[derive(Debug)]
pub struct TradeStream {
    files: Vec<FileReader>,
    heads: Vec<Option<Tick>>,
    last_key: Vec<u64>,
    heap: BinaryHeap<Reverse<(u64, usize)>>,
    strict: bool,
    stats: ReadStats,
}

impl TradeStream {
    /// Opens every file (format detected per file unless given). With `strict`, the first
    /// malformed row is an error; otherwise it is counted and skipped.
    pub fn open(
        paths: &[PathBuf],
        format: Option<Format>,
        symbols: &SymbolTable,
        strict: bool,
        bytes: Option<Arc<AtomicU64>>,
    ) -> Result<Self, String> {
        if paths.is_empty() {
            return Err("no data files given".into());
        }
        let files = paths
            .iter()
            .map(|p| FileReader::open(p, format, symbols, bytes.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let n = files.len();
        let mut s = Self {
            files,
            heads: vec![None; n],
            last_key: vec![0; n],
            heap: BinaryHeap::with_capacity(n),
            strict,
            stats: ReadStats::default(),
        };
        for i in 0..n {
            s.refill(i)?;
        }
        Ok(s)
    }

    /// Formats per file, in argument order.
    pub fn formats(&self) -> Vec<(PathBuf, Format)> {
        self.files
            .iter()
            .map(|f| (f.path().to_path_buf(), f.format()))
            .collect()
    }

    fn refill(&mut self, i: usize) -> Result<(), String> {
        loop {
            match self.files[i].next_row()? {
                None => {
                    self.heads[i] = None;
                    return Ok(());
                }
                Some(Ok(Row::Trade { key_ns, tick })) => {
                    if key_ns < self.last_key[i] {
                        self.stats.out_of_order_rows += 1;
                    }
                    self.last_key[i] = key_ns;
                    self.heads[i] = Some(tick);
                    self.heap.push(Reverse((key_ns, i)));
                    return Ok(());
                }
                Some(Ok(Row::OtherSymbol)) => self.stats.other_symbol_rows += 1,
                Some(Ok(Row::NonTrade)) => self.stats.non_trade_rows += 1,
                Some(Err(e)) => {
                    if self.strict {
                        return Err(format!("malformed row (--strict): {e}"));
                    }
                    self.stats.bad_rows += 1;
                    if self.stats.first_errors.len() < KEPT_ERRORS {
                        self.stats.first_errors.push(e.to_string());
                    }
                }
            }
        }
    }

    /// The next trade in key order; `Ok(None)` when every file is exhausted.
    pub fn next_tick(&mut self) -> Result<Option<Tick>, String> {
        let Some(Reverse((_, i))) = self.heap.pop() else {
            return Ok(None);
        };
        let t = self.heads[i].take();
        self.refill(i)?;
        self.stats.ticks += 1;
        Ok(t)
    }

    /// Counts so far.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }
}

/// Reads and merges every file into memory (for sweeps, walk-forward and benches).
pub fn read_all(
    paths: &[PathBuf],
    format: Option<Format>,
    symbols: &SymbolTable,
    strict: bool,
) -> Result<(Vec<Tick>, ReadStats), String> {
    let mut s = TradeStream::open(paths, format, symbols, strict, None)?;
    let mut out = Vec::new();
    while let Some(t) = s.next_tick()? {
        out.push(t);
    }
    Ok((out, s.stats.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_normalised_by_magnitude() {
        assert_eq!(parse_time_ms("1723161256322").unwrap(), 1_723_161_256_322);
        assert_eq!(
            parse_time_ms("1723161256322123").unwrap(),
            1_723_161_256_322
        );
        assert_eq!(
            parse_time_ms("1723161256322123456").unwrap(),
            1_723_161_256_322
        );
        assert_eq!(parse_time_ms("1723161256.3221").unwrap(), 1_723_161_256_322);
        assert_eq!(parse_time_ms("1723161256.3").unwrap(), 1_723_161_256_300);
        assert_eq!(parse_time_ms("1723161256").unwrap(), 1_723_161_256_000);
        assert!(parse_time_ms("17231x").is_err());
        assert!(parse_time_ms("1723161256322.5").is_err());
    }

    #[test]
    fn formats_are_detected_from_the_first_line() {
        let cases = [
            ("id,price,qty,quote_qty,time,is_buyer_maker", Format::BinanceTrades),
            ("5266583935,61800.30,0.006,370.8018,1723161256322,false", Format::BinanceTrades),
            ("5266583935,61800.30,0.006,370.8018,1723161256322,false,true", Format::BinanceTrades),
            ("agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker", Format::BinanceAggTrades),
            ("1,61800.30,0.006,5,6,1723161256322,true", Format::BinanceAggTrades),
            ("timestamp,symbol,side,size,price,tickDirection,trdMatchID,grossValue,homeNotional,foreignNotional", Format::Bybit),
            ("1723161255088176367 {\"stream\":\"btcusdt@trade\"}", Format::Recorded),
            ("local_recv_ns,event_time_ms,trade_time_ms,symbol,trade_id,price,qty,is_buyer_maker,exec_type", Format::TradesCsv),
            ("msg_ts_ms,trade_time_ms,symbol,trade_id,taker_side,price,size,tick_direction,block_trade,rpi,seq", Format::TradesCsv),
            ("timestamp_ms,price,qty,side", Format::Plain),
            ("1723161256322,61800.3", Format::Plain),
        ];
        for (line, want) in cases {
            assert_eq!(Format::detect(line), Some(want), "{line}");
        }
        assert_eq!(Format::detect("hello,world"), None);
        assert_eq!("BYBIT".parse::<Format>().unwrap(), Format::Bybit);
        assert!("csv"
            .parse::<Format>()
            .unwrap_err()
            .contains("binance-trades"));
    }
}
