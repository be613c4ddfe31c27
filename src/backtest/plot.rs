//! SVG charts (plotters' SVG backend: text is left to the viewer, so no system fonts are needed;
//! PNG would need a rasterised font and is not produced): the equity curve of the strategy and of
//! buy-and-hold above the strategy's drawdown, and per symbol a price chart with fill markers.
//! The x axis is seconds since the first trade.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::replay::Outcome;

fn err<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> String + '_ {
    move |e| format!("plot {}: {e}", path.display())
}

fn range(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = v.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(hi.abs() * 1e-6).max(1e-9);
    (lo - pad, hi + pad)
}

/// Drawdown in percent of the running peak, per point of `curve`.
pub fn drawdown_pct(curve: &[(u64, f64)]) -> Vec<(u64, f64)> {
    let mut peak = f64::NEG_INFINITY;
    curve
        .iter()
        .map(|&(t, v)| {
            peak = peak.max(v);
            (
                t,
                if peak > 0.0 {
                    -100.0 * (peak - v) / peak
                } else {
                    0.0
                },
            )
        })
        .collect()
}

/// Writes `equity.svg` into `dir`; returns its path.
pub fn equity_chart(o: &Outcome, dir: &Path) -> Result<PathBuf, String> {
    let path = dir.join("equity.svg");
    let e = err(&path);
    let t0 = o.strategy.span_ms.0;
    let secs = |t: u64| t.saturating_sub(t0) as f64 / 1e3;
    let x1 = secs(o.strategy.span_ms.1).max(1.0);
    let strat: Vec<(f64, f64)> = o
        .strategy
        .curve
        .iter()
        .map(|&(t, v)| (secs(t), v))
        .collect();
    let base: Vec<(f64, f64)> = o
        .baseline
        .curve
        .iter()
        .map(|&(t, v)| (secs(t), v))
        .collect();
    let dd: Vec<(f64, f64)> = drawdown_pct(&o.strategy.curve)
        .into_iter()
        .map(|(t, v)| (secs(t), v))
        .collect();
    let root = SVGBackend::new(&path, (1200, 800)).into_drawing_area();
    root.fill(&WHITE).map_err(&e)?;
    let (upper, lower) = root.split_vertically(540);
    let (y0, y1) = range(strat.iter().chain(&base).map(|p| p.1));
    let mut c = ChartBuilder::on(&upper)
        .caption("equity: strategy vs buy & hold", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(90)
        .build_cartesian_2d(0.0..x1, y0..y1)
        .map_err(&e)?;
    c.configure_mesh()
        .y_desc("equity (quote currency)")
        .draw()
        .map_err(&e)?;
    c.draw_series(LineSeries::new(strat, &BLUE))
        .map_err(&e)?
        .label("strategy")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    c.draw_series(LineSeries::new(base, &RGBColor(150, 150, 150)))
        .map_err(&e)?
        .label("buy & hold")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RGBColor(150, 150, 150)));
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(&e)?;
    let (d0, _) = range(dd.iter().map(|p| p.1));
    let mut c = ChartBuilder::on(&lower)
        .caption("strategy drawdown from peak, %", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(90)
        .build_cartesian_2d(0.0..x1, d0.min(-1e-6)..0.0)
        .map_err(&e)?;
    c.configure_mesh()
        .x_desc("seconds since the first trade")
        .y_desc("drawdown %")
        .draw()
        .map_err(&e)?;
    c.draw_series(AreaSeries::new(dd, 0.0, RED.mix(0.3)).border_style(RED))
        .map_err(&e)?;
    root.present().map_err(&e)?;
    drop(root);
    Ok(dir.join("equity.svg"))
}

/// Writes `trades_<SYMBOL>.svg` per symbol into `dir` (price line, ▲ buys, ▼ sells); returns
/// the paths.
pub fn trade_charts(o: &Outcome, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let t0 = o.strategy.span_ms.0;
    let secs = |t: u64| t.saturating_sub(t0) as f64 / 1e3;
    let x1 = secs(o.strategy.span_ms.1).max(1.0);
    let mut out = Vec::new();
    for (i, name) in o.names.iter().enumerate() {
        let prices: Vec<(f64, f64)> = o.prices[i].iter().map(|&(t, p)| (secs(t), p)).collect();
        if prices.is_empty() {
            continue;
        }
        let path = dir.join(format!("trades_{name}.svg"));
        let e = err(&path);
        let fills: Vec<_> = o.fills.iter().filter(|f| f.symbol as usize == i).collect();
        let (y0, y1) = range(
            prices
                .iter()
                .map(|p| p.1)
                .chain(fills.iter().map(|f| f.price)),
        );
        let root = SVGBackend::new(&path, (1200, 600)).into_drawing_area();
        root.fill(&WHITE).map_err(&e)?;
        let mut c = ChartBuilder::on(&root)
            .caption(
                format!("{name}: price and fills (▲ buy, ▼ sell)"),
                ("sans-serif", 22),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..x1, y0..y1)
            .map_err(&e)?;
        c.configure_mesh()
            .x_desc("seconds since the first trade")
            .y_desc("price")
            .draw()
            .map_err(&e)?;
        c.draw_series(LineSeries::new(prices, &RGBColor(90, 90, 90)))
            .map_err(&e)?;
        c.draw_series(
            fills
                .iter()
                .filter(|f| f.buy)
                .map(|f| TriangleMarker::new((secs(f.ts_ms), f.price), 7, GREEN.filled())),
        )
        .map_err(&e)?;
        c.draw_series(fills.iter().filter(|f| !f.buy).map(|f| {
            EmptyElement::at((secs(f.ts_ms), f.price))
                + Polygon::new(vec![(-6, -5), (6, -5), (0, 6)], RED.filled())
        }))
        .map_err(&e)?;
        root.present().map_err(&e)?;
        out.push(path.clone());
    }
    Ok(out)
}
