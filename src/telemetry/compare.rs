//! `calculus-trader hist --compare a b`: two sets of interval-log dumps side by side per stage
//! (before/after a change), with the ratio b/a of every percentile.

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::Histogram;

use super::hlog::{read_interval_logs, HlogError};
use super::report::{aligned_table, percentile_cells, tag_order, TABLE_QUANTILES};

/// `b / a` as shown in the ratio row: two decimals, `-` when either side is missing or `a` is 0.
pub fn format_ratio(a: Option<u64>, b: Option<u64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if a > 0 => format!("{:.2}", b as f64 / a as f64),
        _ => "-".to_owned(),
    }
}

/// p50, p90, p99, p99.9 and max of `h` (ns), `None` when empty.
fn quantile_values(h: Option<&Histogram<u64>>) -> Vec<Option<u64>> {
    let h = h.filter(|h| !h.is_empty());
    TABLE_QUANTILES
        .iter()
        .map(|&q| h.map(|h| h.value_at_quantile(q)))
        .chain([h.map(Histogram::max)])
        .collect()
}

/// Three rows per tag (stages first in pipeline order, then other tags): `a` and `b` with the
/// same cells as their own [`super::percentile_table`] rows, then `b/a` per percentile.
/// A tag present on one side only shows `-` for the other.
pub fn compare_table(
    a: &BTreeMap<String, Histogram<u64>>,
    b: &BTreeMap<String, Histogram<u64>>,
) -> String {
    let mut tags: Vec<&String> = a.keys().chain(b.keys()).collect();
    tags.sort();
    tags.dedup();
    let mut rows = vec![
        ["stage", "run", "count", "p50", "p90", "p99", "p99.9", "max"]
            .map(str::to_owned)
            .to_vec(),
    ];
    let empty = || vec!["-".to_owned(); TABLE_QUANTILES.len() + 1];
    for tag in tag_order(tags.into_iter()) {
        let (ha, hb) = (a.get(tag), b.get(tag));
        for (run, h) in [("a", ha), ("b", hb)] {
            let mut row = vec![
                if run == "a" {
                    tag.to_owned()
                } else {
                    String::new()
                },
                run.to_owned(),
                h.map_or("-".to_owned(), |h| h.len().to_string()),
            ];
            row.extend(h.map_or_else(empty, percentile_cells));
            rows.push(row);
        }
        let mut ratio = vec![String::new(), "b/a".to_owned(), String::new()];
        ratio.extend(
            quantile_values(ha)
                .into_iter()
                .zip(quantile_values(hb))
                .map(|(x, y)| format_ratio(x, y)),
        );
        rows.push(ratio);
    }
    aligned_table(&rows)
}

/// Implements `hist --compare a b`: reads both (files or directories of `.hlog`) and renders
/// [`compare_table`] under a header naming them.
pub fn compare_command(a: &Path, b: &Path) -> Result<String, HlogError> {
    let ha = read_interval_logs(a)?;
    let hb = read_interval_logs(b)?;
    Ok(format!(
        "a = {}\nb = {}\n{}",
        a.display(),
        b.display(),
        compare_table(&ha, &hb)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{Stage, StageHistograms};

    #[test]
    fn ratio_formatting() {
        assert_eq!(format_ratio(Some(200), Some(300)), "1.50");
        assert_eq!(format_ratio(Some(0), Some(300)), "-");
        assert_eq!(format_ratio(None, Some(300)), "-");
        assert_eq!(format_ratio(Some(3), None), "-");
    }

    #[test]
    fn one_sided_tags_show_dashes_and_stage_order_is_kept() {
        let mut ha = StageHistograms::new();
        ha.record(Stage::Sign, 400);
        let mut hb = StageHistograms::new();
        hb.record(Stage::Parse, 200);
        hb.record(Stage::Sign, 800);
        let to_map = |h: &StageHistograms| -> BTreeMap<String, Histogram<u64>> {
            h.iter()
                .filter(|(_, x)| !x.is_empty())
                .map(|(s, x)| (s.name().to_owned(), x.clone()))
                .collect()
        };
        let table = compare_table(&to_map(&ha), &to_map(&hb));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 1 + 2 * 3);
        assert!(lines[1].starts_with("parse"));
        let a_parse: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(a_parse, ["parse", "a", "-", "-", "-", "-", "-", "-"]);
        assert!(lines[4].starts_with("sign"));
        let ratio: Vec<&str> = lines[6].split_whitespace().collect();
        assert_eq!(ratio, ["b/a", "2.00", "2.00", "2.00", "2.00", "2.00"]);
    }
}
