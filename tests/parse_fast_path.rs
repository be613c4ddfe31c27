//! The specialised extractors (`venue::binance::fast`, `venue::bybit::fast`) give exactly the general parsers' answer: on every
//! real recorded frame, and (property test) on random mutations of real frames.

use calculus_trader::exchange::Recording;
use calculus_trader::feed::{Control, MarketEvent, ParseError, SymbolTable};
use calculus_trader::venue::binance::fast::parse as parse_binance;
use calculus_trader::venue::binance::market::BinanceParser;
use calculus_trader::venue::bybit::fast::parse as parse_bybit;
use calculus_trader::venue::bybit::market::BybitParser;
use proptest::prelude::*;

mod common;
use common::files::{bybit_capture_lines, root};

fn bybit_frames() -> Vec<String> {
    let mut v = bybit_capture_lines();
    v.push(
        std::fs::read_to_string(root().join("tests/fixtures/bybit/ws_public_trade_linear.json"))
            .unwrap(),
    );
    v
}

fn binance_frames(limit: usize) -> Vec<String> {
    let rec = Recording::load(&[
        root().join("data/replay/binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz"),
        root().join("data/replay/binance_usdm_ETHUSDT_2024-08-08_2354-2400.gz"),
    ])
    .unwrap();
    let mut v: Vec<String> = rec.frames.into_iter().take(limit).map(|f| f.text).collect();
    for name in [
        "ws_combined_aggtrade_real_2021.json",
        "ws_aggtrade_docs.json",
        "ws_aggtrade_sdkdocs.json",
        "ws_combined_trade_real_BTCUSDT_2024.json",
    ] {
        v.push(
            std::fs::read_to_string(root().join("tests/fixtures/binance").join(name))
                .unwrap()
                .trim()
                .to_string(),
        );
    }
    v
}

fn symbols() -> SymbolTable {
    SymbolTable::new(&["BTCUSDT", "ETHUSDT", "AKROUSDT"]).unwrap()
}

type Outcome = (Result<Control, ParseError>, Vec<MarketEvent>, bool);

/// Runs the general parser and the fast path on separate copies of `bytes`.
struct Both {
    bybit: (BybitParser, BybitParser),
    binance: (BinanceParser, BinanceParser),
    symbols: SymbolTable,
}

impl Both {
    fn new() -> Self {
        Self {
            bybit: (BybitParser::new(), BybitParser::new()),
            binance: (BinanceParser::new(), BinanceParser::new()),
            symbols: symbols(),
        }
    }

    fn run(&mut self, bybit: bool, bytes: &[u8]) -> (Outcome, Outcome) {
        let sy = &self.symbols;
        let (mut a, mut b) = (bytes.to_vec(), bytes.to_vec());
        let (mut ea, mut eb) = (Vec::new(), Vec::new());
        let (ra, rb) = if bybit {
            let ra = self.bybit.0.parse(&mut a, sy, |e| ea.push(e));
            let rb = parse_bybit(&mut self.bybit.1, &mut b, sy, |e| eb.push(e));
            (ra, rb)
        } else {
            let ra = self.binance.0.parse(&mut a, sy, |e| ea.push(e));
            let rb = parse_binance(&mut self.binance.1, &mut b, sy, |e| eb.push(e));
            (ra, rb)
        };
        ((ra, ea, false), (rb.0, eb, rb.1))
    }
}

fn same(general: &Outcome, fast: &Outcome) -> bool {
    // Compare bit patterns too: equal f64s must be the same f64s.
    let bits = |e: &[MarketEvent]| -> Vec<u64> {
        e.iter()
            .flat_map(|e| match e {
                MarketEvent::Trade(t) => vec![t.price.to_bits(), t.qty.to_bits()],
                MarketEvent::Quote(q) => vec![q.bid.to_bits(), q.ask.to_bits()],
            })
            .collect()
    };
    general.0 == fast.0 && general.1 == fast.1 && bits(&general.1) == bits(&fast.1)
}

#[test]
fn fast_path_equals_the_general_parser_on_every_real_frame() {
    let mut both = Both::new();
    let mut hits = [0usize; 2];
    for (i, (bybit, frames)) in [(true, bybit_frames()), (false, binance_frames(usize::MAX))]
        .into_iter()
        .enumerate()
    {
        for f in &frames {
            let (g, fa) = both.run(bybit, f.as_bytes());
            assert!(same(&g, &fa), "{f}\n{g:?}\n{fa:?}");
            hits[i] += fa.2 as usize;
        }
    }
    // The extractor answers every compact real trade frame: Bybit's 28 publicTrade frames
    // (the 41-trade batch included), the 35389 recorded Binance trades and the 2 compact
    // fixtures; the 401 recorded Bybit tickers frames and the 120081 recorded Binance
    // bookTickers. The pretty-printed docs samples (whitespace) go to the general parser.
    assert_eq!(hits, [28 + 401, 21313 + 14076 + 2 + 120_081]);
}

/// A random edit of a frame: insert, delete or replace one byte with a JSON-significant one.
#[derive(Clone, Debug)]
enum Edit {
    Insert(usize, u8),
    Delete(usize),
    Replace(usize, u8),
    Swap(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte =
        prop::sample::select(b" \t\n\"\\{}[],:0123456789.-+eEtfnulsaTpqvimS\xc3\x80".to_vec());
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), byte).prop_map(|(i, b)| Edit::Replace(i, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Edit::Swap(i, j)),
    ]
}

fn apply(mut v: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = v.len().max(1);
        match *e {
            Edit::Insert(i, b) => v.insert(i % (v.len() + 1), b),
            Edit::Delete(i) if !v.is_empty() => {
                v.remove(i % n);
            }
            Edit::Replace(i, b) if !v.is_empty() => v[i % n] = b,
            Edit::Swap(i, j) if !v.is_empty() => v.swap(i % n, j % n),
            _ => {}
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn fast_path_equals_the_general_parser_on_mutated_real_frames(
        pick in any::<prop::sample::Index>(),
        bybit in any::<bool>(),
        edits in prop::collection::vec(edit(), 0..4),
    ) {
        thread_local! {
            static POOL: (Vec<String>, Vec<String>) = {
                // Trade frames only: they are what the extractor could answer.
                let by = bybit_frames().into_iter().filter(|f| f.contains("publicTrade")).collect();
                let bn = binance_frames(4000).into_iter().filter(|f| f.contains("rade\"")).collect();
                (by, bn)
            };
        }
        let frame = POOL.with(|(by, bn)| {
            let pool = if bybit { by } else { bn };
            pool[pick.index(pool.len())].clone()
        });
        let bytes = apply(frame.into_bytes(), &edits);
        thread_local! {
            static BOTH: std::cell::RefCell<Both> = std::cell::RefCell::new(Both::new());
        }
        let (g, f) = BOTH.with(|b| b.borrow_mut().run(bybit, &bytes));
        prop_assert!(same(&g, &f), "{}\n{:?}\n{:?}", String::from_utf8_lossy(&bytes), g, f);
    }
}

/// Every `ws_*` fixture of `venue` (one message per file; the `.jsonl` ones one per line).
fn ws_fixtures(venue: &str) -> Vec<(String, String)> {
    let dir = root().join("tests/fixtures").join(venue);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ws_") || n.ends_with(".jsonl"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for n in names {
        let text = std::fs::read_to_string(dir.join(&n)).unwrap();
        if n.ends_with(".jsonl") {
            out.extend(text.lines().map(|l| (n.clone(), l.to_string())));
        } else {
            out.push((n, text.trim().to_string()));
        }
    }
    out
}

#[test]
fn fast_path_and_general_parser_agree_on_every_recorded_frame_of_both_venues() {
    let mut both = Both::new();
    let replay = |name: &str| root().join("data/replay").join(name);
    let binance = Recording::load(&[
        replay("binance_usdm_BTCUSDT_2023-04-05_0000-0007.gz"),
        replay("binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz"),
        replay("binance_usdm_ETHUSDT_2024-08-08_2354-2400.gz"),
    ])
    .unwrap();
    let mut frames: Vec<(bool, String, String)> = binance
        .frames
        .into_iter()
        .map(|f| (false, "data/replay".to_string(), f.text))
        .collect();
    frames.extend(
        ws_fixtures("binance")
            .into_iter()
            .map(|(n, t)| (false, n, t)),
    );
    frames.extend(
        bybit_capture_lines()
            .into_iter()
            .map(|t| (true, "capture".into(), t)),
    );
    frames.extend(ws_fixtures("bybit").into_iter().map(|(n, t)| (true, n, t)));
    let (mut book_hits, mut ticker_hits, mut tickers) = (0, 0, 0);
    for (bybit, name, f) in &frames {
        let (g, fa) = both.run(*bybit, f.as_bytes());
        assert!(same(&g, &fa), "{name}: {f}\n{g:?}\n{fa:?}");
        if name == "ws_combined_bookticker_real_BTCUSDT_2024.json" {
            book_hits += fa.2 as usize;
        }
        if f.contains("\"topic\":\"tickers.") {
            tickers += 1;
            ticker_hits += fa.2 as usize;
        }
    }
    assert!(frames.len() > 50_000, "{} frames", frames.len());
    // The recorded bookTicker and every recorded Bybit tickers frame are answered by the
    // extractors.
    assert_eq!(book_hits, 1);
    assert!(tickers > 0);
    assert_eq!(ticker_hits, tickers);
}
