//! `calculus-trader hist --plot <dumps> --out chart.svg`: the percentile-distribution chart of
//! every stage, as HdrHistogram's plotter draws it: latency against percentile on a log-scaled
//! "1 / (1 − q)" axis (0%, 90%, 99%, 99.9%, ... equally spaced), one line per stage.
//!
//! SVG only: a bitmap needs font files to draw text, SVG leaves text to the viewer.

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::Histogram;
use plotters::prelude::*;

use super::hlog::read_interval_logs;
use super::report::tag_order;

/// Points per decade of the percentile axis.
const POINTS_PER_DECADE: usize = 20;
/// The axis stops at 99.9999% (six nines) even for longer runs.
const MAX_NINES: f64 = 6.0;

/// The percentile axis position of quantile `q`: `x = −log10(1 − q)` (90% → 1, 99.9% → 3).
pub fn nines(q: f64) -> f64 {
    -(1.0 - q).log10()
}

/// The quantile at axis position `x` (inverse of [`nines`]).
pub fn quantile_at(x: f64) -> f64 {
    1.0 - 10f64.powf(-x)
}

/// Axis label of position `x`: `0%`, `90%`, `99%`, `99.9%`, ...
pub fn percentile_label(x: f64) -> String {
    let pct = 100.0 * quantile_at(x);
    let decimals = (x.ceil() as usize).saturating_sub(2);
    format!("{pct:.decimals$}%")
}

/// The `(x = nines(q), latency ns)` points of `h` from q = 0 up to the last quantile that
/// `h.len()` values can tell apart (`1 − 1/len`, at most six nines), 20 points per decade.
pub fn series_points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let max_x = (h.len() as f64).log10().clamp(0.0, MAX_NINES);
    let steps = (max_x * POINTS_PER_DECADE as f64).ceil().max(1.0) as usize;
    (0..=steps)
        .map(|i| {
            let x = max_x * i as f64 / steps as f64;
            (x, h.value_at_quantile(quantile_at(x)).max(1) as f64)
        })
        .collect()
}

/// Draws one line per `(name, histogram)` (empty ones skipped) into the SVG file `out`;
/// returns the number of lines drawn.
pub fn plot_percentiles(
    series: &[(&str, &Histogram<u64>)],
    title: &str,
    out: &Path,
) -> Result<usize, String> {
    let drawn: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .filter(|(_, h)| !h.is_empty())
        .map(|(name, h)| (*name, series_points(h)))
        .collect();
    if drawn.is_empty() {
        return Err("no recorded latencies to plot".into());
    }
    let max_x = drawn
        .iter()
        .flat_map(|(_, p)| p.last().map(|l| l.0))
        .fold(1.0, f64::max);
    let max_y = drawn
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.1))
        .fold(1.0, f64::max);
    let min_y = drawn
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.1))
        .fold(f64::MAX, f64::min);
    let err = |e: &dyn std::fmt::Display| format!("drawing {}: {e}", out.display());

    let root = SVGBackend::new(out, (1000, 620)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            0.0..max_x,
            ((min_y / 1.5).max(1.0)..max_y * 1.5).log_scale(),
        )
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ns)")
        .x_labels(max_x.ceil() as usize + 1)
        .x_label_formatter(&|x| percentile_label(*x))
        .y_label_formatter(&|y| super::report::format_ns(*y as u64))
        .draw()
        .map_err(|e| err(&e))?;
    for (i, (name, points)) in drawn.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| err(&e))?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(drawn.len())
}

/// Implements `hist --plot <path> --out <file.svg>`: reads the dumps at `path` and plots every
/// tag (stages in pipeline order first). Returns the number of series drawn.
pub fn plot_command(path: &Path, out: &Path) -> Result<usize, String> {
    match out.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("svg") => {}
        _ => {
            return Err(format!(
                "--out {}: only .svg is supported (PNG would need system fonts; convert the SVG, e.g. `rsvg-convert -o chart.png chart.svg`)",
                out.display()
            ))
        }
    }
    let by_tag: BTreeMap<String, Histogram<u64>> =
        read_interval_logs(path).map_err(|e| e.to_string())?;
    let series: Vec<(&str, &Histogram<u64>)> = tag_order(by_tag.keys())
        .into_iter()
        .map(|t| (t, &by_tag[t]))
        .collect();
    plot_percentiles(
        &series,
        &format!("latency by percentile: {}", path.display()),
        out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_axis_maps_percentiles_to_decades() {
        assert!((nines(0.9) - 1.0).abs() < 1e-12);
        assert!((nines(0.999) - 3.0).abs() < 1e-9);
        assert_eq!(nines(0.0), 0.0);
        assert!((quantile_at(2.0) - 0.99).abs() < 1e-12);
        assert_eq!(percentile_label(0.0), "0%");
        assert_eq!(percentile_label(1.0), "90%");
        assert_eq!(percentile_label(2.0), "99%");
        assert_eq!(percentile_label(3.0), "99.9%");
        assert_eq!(percentile_label(5.0), "99.999%");
    }

    #[test]
    fn points_follow_the_histogram_quantiles() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 2).unwrap();
        for v in 1..=1000 {
            h.record(v).unwrap();
        }
        let p = series_points(&h);
        // 1000 values tell apart quantiles up to 99.9%: x from 0 to 3.
        assert_eq!(p.first().unwrap().0, 0.0);
        assert!((p.last().unwrap().0 - 3.0).abs() < 1e-12);
        assert_eq!(p.len(), 3 * POINTS_PER_DECADE + 1);
        let at_90 = p.iter().find(|(x, _)| (*x - 1.0).abs() < 1e-9).unwrap();
        assert_eq!(at_90.1, h.value_at_quantile(0.9) as f64);
        assert!(
            p.windows(2).all(|w| w[0].1 <= w[1].1),
            "latency never decreases"
        );
    }
}
