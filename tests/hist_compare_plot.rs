//! `hist --compare` and `hist --plot` over real interval-log files: the comparison shows for
//! each run exactly the cells of that run's own `hist` table, the ratio row is b/a of the
//! histogram values, and the chart has one line per recorded stage.

use std::fs;
use std::path::PathBuf;

use calculus_trader::telemetry::{
    compare_command, hist_command, plot_command, IntervalLog, Stage, StageHistograms,
};

mod common;
use common::files::temp_dir;

/// Run a: parse 1..=1000 ns, sign 5..=5000 ns; run b: parse twice as slow, sign 0.8x, plus
/// tick_to_order (absent from a).
fn two_runs(dir: &std::path::Path) -> (PathBuf, PathBuf, StageHistograms, StageHistograms) {
    let mut a = StageHistograms::new();
    let mut b = StageHistograms::new();
    for ns in 1..=1000u64 {
        a.record(Stage::Parse, ns);
        a.record(Stage::Sign, ns * 5);
        b.record(Stage::Parse, ns * 2);
        b.record(Stage::Sign, ns * 4);
        b.record(Stage::TickToOrder, ns * 700);
    }
    let pa = dir.join("a.hlog");
    let pb = dir.join("b.hlog");
    IntervalLog::create(&pa, "a")
        .unwrap()
        .write_interval(0.0, 1.0, &a)
        .unwrap();
    IntervalLog::create(&pb, "b")
        .unwrap()
        .write_interval(0.0, 1.0, &b)
        .unwrap();
    (pa, pb, a, b)
}

fn words(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `stage -> cells after the stage name` of a `hist` table.
fn own_rows(table: &str) -> Vec<(String, Vec<String>)> {
    table
        .lines()
        .skip(1)
        .map(|l| {
            let w = words(l);
            (w[0].clone(), w[1..].to_vec())
        })
        .collect()
}

#[test]
fn compare_shows_each_runs_own_table_cells_and_their_ratio() {
    let dir = temp_dir("hist-compare");
    let (pa, pb, a, b) = two_runs(&dir);
    let own_a = own_rows(&hist_command(&pa).unwrap());
    let own_b = own_rows(&hist_command(&pb).unwrap());

    let out = compare_command(&pa, &pb).unwrap();
    let mut lines = out.lines();
    assert_eq!(lines.next().unwrap(), format!("a = {}", pa.display()));
    assert_eq!(lines.next().unwrap(), format!("b = {}", pb.display()));
    let table: Vec<Vec<String>> = lines.map(words).collect();
    assert_eq!(
        table[0],
        ["stage", "run", "count", "p50", "p90", "p99", "p99.9", "max"]
    );
    // parse, sign, tick_to_order (pipeline order), three rows each.
    assert_eq!(table.len(), 1 + 3 * 3);
    let cells = |run_row: &Vec<String>| -> Vec<String> {
        // Rows are "stage run ..." on the first line of a block, "run ..." after.
        let i = run_row.iter().position(|c| c == "a" || c == "b").unwrap();
        run_row[i + 1..].to_vec()
    };
    for (block, stage) in [(0, "parse"), (1, "sign")] {
        let a_row = &table[1 + 3 * block];
        let b_row = &table[2 + 3 * block];
        assert_eq!(a_row[0], stage);
        let own_a_row = &own_a.iter().find(|(s, _)| s == stage).unwrap().1;
        let own_b_row = &own_b.iter().find(|(s, _)| s == stage).unwrap().1;
        assert_eq!(&cells(a_row), own_a_row, "{stage} a");
        assert_eq!(&cells(b_row), own_b_row, "{stage} b");
    }
    // Ratio row of parse: b/a of each histogram value.
    let st = Stage::Parse;
    let (ha, hb) = (a.get(st), b.get(st));
    let expected: Vec<String> = [0.5, 0.9, 0.99, 0.999]
        .iter()
        .map(|&q| hb.value_at_quantile(q) as f64 / ha.value_at_quantile(q) as f64)
        .chain([hb.max() as f64 / ha.max() as f64])
        .map(|r| format!("{r:.2}"))
        .collect();
    assert_eq!(table[3][0], "b/a");
    assert_eq!(table[3][1..], expected[..]);
    // Twice the values, within the 1% bucket precision.
    for r in &expected {
        let r: f64 = r.parse().unwrap();
        assert!((r - 2.0).abs() <= 0.03, "{r}");
    }
    // tick_to_order exists only in b: a shows dashes, the ratio too.
    assert_eq!(table[7][0], "tick_to_order");
    assert_eq!(table[7][1..], ["a", "-", "-", "-", "-", "-", "-"]);
    assert_eq!(table[9], ["b/a", "-", "-", "-", "-", "-"]);
    fs::remove_dir_all(dir).ok();
}

#[test]
fn plot_writes_an_svg_with_one_line_per_recorded_stage() {
    let dir = temp_dir("hist-plot");
    let (_, pb, _, _) = two_runs(&dir);
    let out = dir.join("chart.svg");
    let n = plot_command(&pb, &out).unwrap();
    assert_eq!(n, 3);
    let svg = fs::read_to_string(&out).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
    // One 2-px polyline per series (axes and ticks are 1-px polylines, legend swatches are
    // rectangles), each in its own colour.
    let series: Vec<&str> = svg
        .split("<polyline")
        .skip(1)
        .filter(|p| p.contains("stroke-width=\"2\""))
        .collect();
    assert_eq!(series.len(), 3);
    let mut colours: Vec<&str> = series
        .iter()
        .map(|p| {
            p.split("stroke=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
        })
        .collect();
    colours.dedup();
    assert_eq!(colours.len(), 3);
    // 1000 values per stage: the axis runs to 99.9%, 20 points per decade, 61 points a line.
    for p in &series {
        let points = p
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(points.split_whitespace().count(), 61);
    }
    for name in ["parse", "sign", "tick_to_order"] {
        assert!(
            svg.contains(&format!(">{name}<")) || svg.contains(&format!(">\n{name}\n<")),
            "legend lacks {name}"
        );
    }
    assert!(!svg.contains(">md_hop<"));
    for label in ["90%", "99%", "99.9%", "percentile"] {
        assert!(svg.contains(label), "axis lacks {label}");
    }
    fs::remove_dir_all(dir).ok();
}

#[test]
fn plot_refuses_png_and_empty_dumps_clearly() {
    let dir = temp_dir("hist-plot-bad");
    let (pa, _, _, _) = two_runs(&dir);
    let err = plot_command(&pa, &dir.join("chart.png")).unwrap_err();
    assert!(err.contains("only .svg"), "{err}");
    assert!(!dir.join("chart.png").exists());
    let err = plot_command(&dir.join("missing.hlog"), &dir.join("c.svg")).unwrap_err();
    assert!(err.contains("missing.hlog"), "{err}");
    fs::remove_dir_all(dir).ok();
}
