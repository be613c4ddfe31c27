//! Parameter sweeps: `key=v1,v2,…` specs over config keys, every combination replayed in
//! parallel (rayon) over the same trades, ranked by net PnL.
//!
//! A key is a dotted config path (`model.lambda`) or a short name: the unique key whose last
//! segment equals it (`lambda`), else the unique key with it as one `_`-separated word of the
//! last segment (`snr` → e.g. `kalman.min_snr`). Keys of sections that do not change a backtest
//! (`run`, `venue`, `replay`, `cores`, `wait`, `rings`) cannot be swept. Values take the type of
//! the key in the base config.

use rayon::prelude::*;

use super::replay::{run_ticks, Setup};
use super::report::Metrics;
use crate::config::Config;
use crate::types::Tick;

const FIXED_SECTIONS: &[&str] = &["run", "venue", "replay", "cores", "wait", "rings"];

/// One swept key with its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepSpec {
    /// Resolved dotted config path.
    pub key: String,
    /// Values, as given.
    pub values: Vec<String>,
}

/// One combination: `(dotted key, value)` per swept key.
pub type Combo = Vec<(String, String)>;

/// The sweepable keys of `base`: dotted paths of scalar leaves outside the fixed sections.
pub fn sweepable_keys(base: &toml::Table) -> Vec<String> {
    fn walk(t: &toml::Table, prefix: &str, out: &mut Vec<String>) {
        for (k, v) in t {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(sub) => walk(sub, &path, out),
                toml::Value::Array(_) => {}
                _ => out.push(path),
            }
        }
    }
    let mut out = Vec::new();
    walk(base, "", &mut out);
    out.retain(|k| {
        let section = k.split('.').next().unwrap_or("");
        !FIXED_SECTIONS.contains(&section) && k != "backtest.out_dir"
    });
    out.sort();
    out
}

/// Resolves a key or short name against `keys` (see the module doc).
pub fn resolve_key(key: &str, keys: &[String]) -> Result<String, String> {
    if keys.iter().any(|k| k == key) {
        return Ok(key.to_string());
    }
    let last = |k: &str| k.rsplit('.').next().unwrap_or(k).to_string();
    let exact: Vec<&String> = keys.iter().filter(|k| last(k) == key).collect();
    let word: Vec<&String> = keys
        .iter()
        .filter(|k| last(k).split('_').any(|w| w == key))
        .collect();
    let pick = if exact.is_empty() { word } else { exact };
    match pick.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!(
            "unknown sweep key {key:?}; valid keys: {}",
            keys.join(", ")
        )),
        many => Err(format!(
            "ambiguous sweep key {key:?}: matches {}; use the full dotted path",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Parses `key=v1,v2` arguments against the base config's table.
pub fn parse_specs(args: &[String], base: &toml::Table) -> Result<Vec<SweepSpec>, String> {
    let keys = sweepable_keys(base);
    let mut specs: Vec<SweepSpec> = Vec::new();
    for a in args {
        let (k, vs) = a
            .split_once('=')
            .ok_or_else(|| format!("--sweep {a:?}: expected key=v1,v2,..."))?;
        let key = resolve_key(k.trim(), &keys)?;
        if specs.iter().any(|s| s.key == key) {
            return Err(format!("--sweep: {key} given twice"));
        }
        let values: Vec<String> = vs
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            return Err(format!("--sweep {a:?}: no values"));
        }
        specs.push(SweepSpec { key, values });
    }
    Ok(specs)
}

/// Every combination, the first spec varying slowest.
pub fn combinations(specs: &[SweepSpec]) -> Vec<Combo> {
    specs.iter().fold(vec![Vec::new()], |acc, s| {
        acc.iter()
            .flat_map(|c| {
                s.values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((s.key.clone(), v.clone()));
                    c
                })
            })
            .collect()
    })
}

/// The base config with `combo` applied, each value typed like the base value, validated.
pub fn apply(base: &toml::Table, combo: &Combo) -> Result<Config, String> {
    let mut t = base.clone();
    for (key, v) in combo {
        let mut parts: Vec<&str> = key.split('.').collect();
        let leaf = parts.pop().unwrap_or_default();
        let mut cur = &mut t;
        for p in parts {
            cur = cur
                .get_mut(p)
                .and_then(|x| x.as_table_mut())
                .ok_or_else(|| format!("sweep key {key}: no section {p}"))?;
        }
        let old = cur
            .get(leaf)
            .ok_or_else(|| format!("sweep key {key}: not in the config"))?;
        let bad = |what: &str| format!("sweep {key}={v}: not {what}");
        let new = match old {
            toml::Value::Float(_) => toml::Value::Float(
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| bad("a number"))?,
            ),
            toml::Value::Integer(_) => {
                toml::Value::Integer(v.parse().map_err(|_| bad("an integer"))?)
            }
            toml::Value::Boolean(_) => {
                toml::Value::Boolean(v.parse().map_err(|_| bad("true/false"))?)
            }
            _ => toml::Value::String(v.clone()),
        };
        cur.insert(leaf.to_string(), new);
    }
    let text = toml::to_string(&t).map_err(|e| e.to_string())?;
    Config::parse(&text).map_err(|e| format!("sweep {}: {e}", label(combo)))
}

/// `k=v k=v` of a combination (short key names).
pub fn label(combo: &Combo) -> String {
    combo
        .iter()
        .map(|(k, v)| format!("{}={v}", k.rsplit('.').next().unwrap_or(k)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One evaluated combination.
#[derive(Clone, Debug)]
pub struct SweepRow {
    /// The parameters.
    pub combo: Combo,
    /// The strategy's metrics.
    pub metrics: Metrics,
}

/// Replays every combination over `ticks` in parallel; rows ranked by net PnL (best first,
/// ties by the order of the combinations).
pub fn run(base: &toml::Table, combos: &[Combo], ticks: &[Tick]) -> Result<Vec<SweepRow>, String> {
    let mut rows = combos
        .par_iter()
        .map(|c| {
            let cfg = apply(base, c)?;
            let setup = Setup::from_config(&cfg)?;
            let o = run_ticks(&setup, ticks);
            let m = Metrics::of(&o.strategy, o.net_pnl, o.gross_pnl, &o.trips, o.bar_s);
            Ok(SweepRow {
                combo: c.clone(),
                metrics: m,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    rows.sort_by(|a, b| b.metrics.net_pnl.total_cmp(&a.metrics.net_pnl));
    Ok(rows)
}

/// The bias warning printed under every sweep table.
pub const BIAS_WARNING: &str = "warning: the best row is chosen in-sample and is biased upwards (selection bias / overfitting); judge it on out-of-sample data (--walk-forward N)";

/// The ranked table with the bias warning.
pub fn table(rows: &[SweepRow]) -> String {
    let mut s = format!(
        "\n== sweep: {} combinations, ranked by net PnL\n{:>4}  {:<40} {:>12} {:>9} {:>8} {:>9} {:>7} {:>7} {:>10}\n",
        rows.len(),
        "rank",
        "parameters",
        "net PnL",
        "return %",
        "Sharpe",
        "maxDD %",
        "trades",
        "t-stat",
        "fees"
    );
    for (i, r) in rows.iter().enumerate() {
        let m = &r.metrics;
        s.push_str(&format!(
            "{:>4}  {:<40} {:>12.4} {:>9.4} {:>8.2} {:>9.4} {:>7} {:>7.2} {:>10.4}\n",
            i + 1,
            label(&r.combo),
            m.net_pnl,
            m.return_pct,
            m.sharpe,
            m.max_drawdown_pct,
            m.trades,
            m.trade_t_stat,
            m.fees
        ));
    }
    s.push_str(BIAS_WARNING);
    s.push('\n');
    s
}
