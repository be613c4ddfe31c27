//! The run's symbol universe: every symbol that can trade in this run, with ids fixed for the
//! run (so no per-symbol table ever grows across threads), and the subset active at start.
//!
//! Ids: `venue.symbols` first, in their configured order (ids 0..n, as without a universe),
//! then the rest of `venue.universe` in spec-table (or list) order. Every per-symbol array
//! (engine slots, risk gate, correlation, executor, feed guard and liveness) is sized for the
//! universe; per-tick work never loops over it (untraded symbols cost memory, not time).
//! Only the active symbols are subscribed; [`attach`] lets the control handle add and remove
//! the others at run time.

use std::path::PathBuf;
use std::time::Duration;

use rust_decimal::prelude::ToPrimitive;

use crate::config::{resolve_path, Config, UniverseConfig};
use crate::control::ControlHandle;
use crate::exec::specs::{load_venue_specs, SpecOrigin, SpecSource, VenueSpecs};
use crate::exec::ExecMode;
use crate::feed::stage::FeedStage;
use crate::types::instrument::{load_specs, spec_symbols};
use crate::types::{Instrument, SymbolId, SymbolTable};

/// The symbols of a run.
#[derive(Clone, Debug)]
pub struct Universe {
    /// Every known symbol; ids fixed for the run.
    pub table: SymbolTable,
    /// Their instruments, in id order.
    pub instruments: Vec<Instrument>,
    /// The symbols subscribed and trading at start (`venue.symbols`, ids `0..n`); a symbol
    /// holding a journaled position is subscribed too ([`subscribe_held`]), not active.
    pub active: Vec<SymbolId>,
    /// Where the instrument specs came from (the bundled table, the venue, its cache).
    pub origin: SpecOrigin,
    /// Fallbacks taken loading the specs, and universe candidates left out with the reason.
    pub notes: Vec<String>,
}

/// Where instrument specs are looked up: the venue's reply (`venue.specs.source = "venue"`,
/// fetched or cached) or the bundled table.
struct Specs {
    venue: Option<VenueSpecs>,
    bundled: PathBuf,
    exchange: String,
}

impl Specs {
    fn get(&self, name: &str) -> Result<Instrument, String> {
        match &self.venue {
            Some(v) => v.get(name),
            None => load_specs(&self.bundled, &self.exchange, &[name.to_string()])
                .map(|mut v| v.remove(0)),
        }
    }

    /// Every symbol the source offers, upper case.
    fn names(&self) -> Result<Vec<String>, String> {
        match &self.venue {
            Some(v) => Ok(v.tradable().map(str::to_string).collect()),
            None => spec_symbols(&self.bundled, &self.exchange),
        }
    }
}

/// `venue.specs`, its `rest_url` defaulting to `exec.rest_url` when that is a URL (specs come
/// from the host orders go to: a testnet, a loopback exchange), else the venue's mainnet.
/// With the venue's trust (`venue.ca_file`) for the spec requests.
pub fn specs_config(cfg: &Config) -> crate::exec::specs::SpecsConfig {
    let mut s = cfg.venue.specs.with_exec_url(&cfg.exec.rest_url);
    s.tls = cfg.venue_trust().ok().map(|t| t.ureq());
    s
}

/// The spec source of `cfg` ([`crate::exec::specs::SpecsConfig::effective`]): the venue's
/// reply or `None` (the bundled table), its origin and a note per fallback. In live mode the
/// venue's reply must be fetched now or cached no longer than `venue.specs.max_cache_age_s`
/// ago; without one no symbol can trade (an error naming every configured symbol and why).
fn spec_source(cfg: &Config) -> Result<(Option<VenueSpecs>, SpecOrigin, Vec<String>), String> {
    let live = cfg.exec.mode == ExecMode::Live;
    let bundled = resolve_path(&cfg.venue.instruments);
    if cfg.venue.specs.effective(live) == SpecSource::Bundled {
        return Ok((None, SpecOrigin::Bundled(bundled), Vec::new()));
    }
    let (required, max_age) = if live {
        let age = Duration::from_secs_f64(cfg.venue.specs.max_cache_age_s);
        (Vec::new(), Some(age))
    } else if cfg.venue.top_symbols > 0 {
        (Vec::new(), None)
    } else {
        (cfg.venue.symbols.clone(), None)
    };
    match load_venue_specs(cfg.venue(), &specs_config(cfg), &required, max_age) {
        (Some((s, o)), notes) => Ok((Some(s), o, notes)),
        (None, notes) if live => {
            let why = notes.join("; ");
            let refused: Vec<String> = cfg
                .venue
                .symbols
                .iter()
                .map(|n| format!("{n} not traded: no spec from the venue ({why})"))
                .collect();
            Err(format!(
                "live mode trades only on the venue's instrument specs (or --offline-specs for the bundled table):\n{}",
                refused.join("\n")
            ))
        }
        (None, mut notes) => {
            notes.push("using the bundled specs".into());
            Ok((None, SpecOrigin::Bundled(bundled), notes))
        }
    }
}

/// The symbols to trade from the start: `venue.top_symbols` (`--symbols N`) most liquid by the
/// venue's 24 h tickers, else `venue.symbols`.
fn configured_names(cfg: &Config, specs: &Specs) -> Result<Vec<String>, String> {
    let n = cfg.venue.top_symbols;
    if n == 0 {
        let t = SymbolTable::new(&cfg.venue.symbols).map_err(|e| format!("venue.symbols: {e}"))?;
        return Ok(t.names().to_vec());
    }
    let Some(v) = &specs.venue else {
        return Err(format!(
            "--symbols {n} ranks the venue's 24 h tickers: it needs the venue's specs (venue.specs.source = \"venue\" or live mode, without --offline-specs)"
        ));
    };
    let s = &specs_config(cfg);
    let volumes = crate::exec::tickers::fetch(
        cfg.venue(),
        &s.base_url(cfg.venue()),
        Duration::from_secs_f64(s.timeout_s),
        s.tls.clone().unwrap_or_default(),
    )?;
    crate::exec::tickers::top(volumes, n, |name| {
        v.get(name)
            .and_then(|i| check_leverage(cfg, name, &i))
            .is_ok()
    })
}

/// Resolves `venue.symbols` (or `--symbols N`) and `venue.universe` against the instrument
/// specs (per `venue.specs`: the bundled table, or the venue's reply with its fallbacks). A
/// symbol is any name the specs list (dated contracts included). A configured symbol without
/// a spec (not listed, not trading), or whose venue maximum leverage is below
/// `risk.max_leverage`, is an error outside live mode; in live mode it is not traded and a
/// note says why (an error when none is left). A universe candidate failing the leverage check
/// is left out with a note; one named in an explicit list without a spec is an error naming it.
pub fn resolve(cfg: &Config) -> Result<Universe, String> {
    let live = cfg.exec.mode == ExecMode::Live;
    let (venue_specs, origin, mut notes) = spec_source(cfg)?;
    let specs = Specs {
        venue: venue_specs,
        bundled: resolve_path(&cfg.venue.instruments),
        exchange: cfg.venue.name.clone(),
    };
    let mut names = Vec::new();
    let mut instruments = Vec::new();
    for name in configured_names(cfg, &specs)? {
        match specs
            .get(&name)
            .and_then(|i| check_leverage(cfg, &name, &i).map(|_| i))
        {
            Ok(inst) => {
                names.push(name);
                instruments.push(inst);
            }
            Err(e) if live => notes.push(format!("{name} not traded: {e}")),
            Err(e) => return Err(e),
        }
    }
    if names.is_empty() {
        return Err(format!(
            "no configured symbol can trade:\n{}",
            notes.join("\n")
        ));
    }
    let configured = names.len();
    let (candidates, must_exist) = match &cfg.venue.universe {
        UniverseConfig::Named(n) if n == "symbols" => (Vec::new(), true),
        UniverseConfig::Named(_) => (specs.names()?, false),
        UniverseConfig::List(v) => (v.iter().map(|s| s.to_ascii_uppercase()).collect(), true),
    };
    for name in candidates {
        if names.contains(&name) {
            continue;
        }
        let inst = match specs.get(&name) {
            Ok(i) => i,
            Err(e) if must_exist => return Err(format!("venue.universe: {e}")),
            Err(e) => {
                notes.push(format!("{name} left out: {e}"));
                continue;
            }
        };
        if let Err(e) = check_leverage(cfg, &name, &inst) {
            notes.push(format!("{name} left out: {e}"));
            continue;
        }
        names.push(name);
        instruments.push(inst);
    }
    let active = (0..configured).map(|i| SymbolId(i as u16)).collect();
    let table = SymbolTable::new(&names).map_err(|e| format!("venue.universe: {e}"))?;
    Ok(Universe {
        table,
        instruments,
        active,
        origin,
        notes,
    })
}

/// [`resolve`], and its [`banner`] printed.
pub fn load(cfg: &Config) -> Result<Universe, String> {
    let u = resolve(cfg)?;
    println!("{}", banner(&u));
    Ok(u)
}

/// `risk.max_leverage` within the venue's maximum for `name` (when its spec has one).
fn check_leverage(cfg: &Config, name: &str, inst: &Instrument) -> Result<(), String> {
    match inst.max_leverage.and_then(|l| l.to_f64()) {
        Some(max) => crate::risk::config::validate_venue_leverage(&cfg.risk, name, max)
            .map_err(|e| format!("{}: {}", e.key, e.why)),
        None => Ok(()),
    }
}

/// Lets `handle` add and remove `universe`'s symbols at run time through `feed`'s command
/// ring. Call once, before the feed stage moves to its thread; an error if the feed's control
/// was already taken.
pub fn attach(
    handle: &ControlHandle,
    universe: &Universe,
    feed: &mut FeedStage,
) -> Result<(), String> {
    let control = feed
        .control()
        .ok_or_else(|| "the feed's command ring was already taken".to_string())?;
    handle.set_symbols(universe.table.clone(), &universe.active, control);
    Ok(())
}

/// Subscribes every inactive symbol of `universe` that holds a position restored from the
/// journal (`positions`, by symbol id), so its exits are managed (its entries stay blocked
/// until an operator adds it). Returns their names.
pub fn subscribe_held(
    universe: &Universe,
    feed: &mut FeedStage,
    positions: &[crate::types::Position],
) -> Vec<String> {
    let mut held = Vec::new();
    for (i, p) in positions.iter().enumerate() {
        let id = SymbolId(i as u16);
        if p.qty.is_zero() || i >= universe.table.len() || universe.active.contains(&id) {
            continue;
        }
        feed.subscribe(id);
        let name = universe.table.name(id);
        println!("start-up: {name} holds a journaled position: subscribed to manage its exits");
        held.push(name.to_string());
    }
    held
}

/// Blocks the entries of every universe symbol that is not active at start (they trade once
/// an operator adds them).
pub fn deactivate_inactive(universe: &Universe, engine: &mut crate::strategy::Engine) {
    for i in 0..universe.table.len() {
        let id = SymbolId(i as u16);
        if !universe.active.contains(&id) {
            engine.set_active(id, false);
        }
    }
}

/// Notes printed at start-up at most (a venue listing can leave out hundreds of symbols).
const BANNER_NOTES: usize = 12;

/// The start-up lines: how many symbols are active, how many more can be added, where the
/// specs came from, and every note.
pub fn banner(u: &Universe) -> String {
    let from = match &u.origin {
        SpecOrigin::Venue(url) => format!("the venue ({url})"),
        SpecOrigin::Cache(p) => format!("the specs cache {}", p.display()),
        SpecOrigin::Bundled(p) => p.display().to_string(),
    };
    let mut s = format!(
        "symbols: {} active, {} more can be added at run time (universe of {}, specs from {from})",
        u.active.len(),
        u.table.len() - u.active.len(),
        u.table.len(),
    );
    for n in u.notes.iter().take(BANNER_NOTES) {
        s.push_str(&format!("\nsymbols: {n}"));
    }
    if u.notes.len() > BANNER_NOTES {
        s.push_str(&format!(
            "\nsymbols: … and {} more note(s)",
            u.notes.len() - BANNER_NOTES
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_TOML;

    fn cfg(edits: &[(&str, &str)]) -> Config {
        let mut t = DEFAULT_TOML.to_string();
        for (from, to) in edits {
            assert!(t.contains(from), "default lacks {from:?}");
            t = t.replacen(from, to, 1);
        }
        Config::parse(&t).unwrap()
    }

    const SYMBOLS: &str = r#"symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "AVAXUSDT", "ADAUSDT", "LINKUSDT", "LTCUSDT"]"#;

    #[test]
    fn configured_symbols_keep_ids_0_to_n_and_the_spec_table_fills_the_rest() {
        let u = resolve(&cfg(&[])).unwrap();
        assert_eq!(u.table.len(), 8);
        assert_eq!(
            u.active.len(),
            8,
            "the default trades all 8 bundled symbols"
        );
        let u = resolve(&cfg(&[(SYMBOLS, r#"symbols = ["ETHUSDT", "ltcusdt"]"#)])).unwrap();
        assert_eq!(
            u.table.names(),
            [
                "ETHUSDT", "LTCUSDT", "BTCUSDT", "SOLUSDT", "BNBUSDT", "AVAXUSDT", "ADAUSDT",
                "LINKUSDT"
            ]
        );
        assert_eq!(u.active, vec![SymbolId(0), SymbolId(1)]);
        assert_eq!(u.instruments.len(), 8);
        let eth = load_specs(
            &resolve_path(&cfg(&[]).venue.instruments),
            "binance",
            &["ETHUSDT".into()],
        )
        .unwrap();
        assert_eq!(u.instruments[0], eth[0]);
        assert!(u.notes.is_empty());
        assert!(matches!(u.origin, SpecOrigin::Bundled(_)));
    }

    #[test]
    fn universe_symbols_or_a_list_narrow_it_and_a_list_needs_specs() {
        let only = (SYMBOLS, r#"symbols = ["BTCUSDT"]"#);
        let with = |u: &str| cfg(&[only, (r#"universe = "specs""#, u)]);
        let u = resolve(&with(r#"universe = "symbols""#)).unwrap();
        assert_eq!(u.table.names(), ["BTCUSDT"]);
        let u = resolve(&with(r#"universe = ["solusdt", "BTCUSDT"]"#)).unwrap();
        assert_eq!(u.table.names(), ["BTCUSDT", "SOLUSDT"]);
        let e = resolve(&with(r#"universe = ["DOGEUSDT"]"#)).unwrap_err();
        assert!(
            e.contains("venue.universe") && e.contains("DOGEUSDT"),
            "{e}"
        );
        let bad = DEFAULT_TOML.replacen(r#"universe = "specs""#, r#"universe = "all""#, 1);
        let e = Config::parse(&bad).unwrap_err().to_string();
        assert!(e.contains("venue.universe"), "{e}");
    }

    #[test]
    fn candidates_the_leverage_cap_does_not_fit_are_left_out_with_the_reason() {
        // Bybit lists BNB, AVAX, LINK, LTC at 50x: a 60x cap leaves them out of the universe
        // (a configured one would be an error, as before).
        let c = cfg(&[
            (SYMBOLS, r#"symbols = ["BTCUSDT"]"#),
            ("name = \"binance\"", "name = \"bybit\""),
            ("max_leverage = 5.0", "max_leverage = 60.0"),
        ]);
        let u = resolve(&c).unwrap();
        assert_eq!(
            u.table.names(),
            ["BTCUSDT", "ETHUSDT", "SOLUSDT", "ADAUSDT"]
        );
        assert_eq!(u.notes.len(), 4);
        assert!(u.notes[0].starts_with("BNBUSDT") && u.notes[0].contains("risk.max_leverage"));
        let mut c2 = c.clone();
        c2.venue.symbols = vec!["BNBUSDT".into()];
        assert!(resolve(&c2).unwrap_err().contains("BNBUSDT"));
    }
}
