//! Every incremental indicator against a straightforward full-window recomputation.

use proptest::prelude::*;

use super::*;

fn close(a: f64, b: f64, scale: f64) -> bool {
    (a - b).abs() <= 1e-9 * scale.abs().max(1.0)
}

fn sma_ref(xs: &[f64], n: usize, t: usize) -> Option<f64> {
    (t + 1 >= n).then(|| xs[t + 1 - n..=t].iter().sum::<f64>() / n as f64)
}

/// EMA series: `None` before `n` values, seed = SMA of the first `n`.
fn ema_ref(xs: &[f64], n: usize) -> Vec<Option<f64>> {
    let a = 2.0 / (n as f64 + 1.0);
    let mut out = vec![None; xs.len()];
    if xs.len() < n {
        return out;
    }
    let mut e = xs[..n].iter().sum::<f64>() / n as f64;
    out[n - 1] = Some(e);
    for t in n..xs.len() {
        e += a * (xs[t] - e);
        out[t] = Some(e);
    }
    out
}

fn rsi_ref(xs: &[f64], n: usize, t: usize) -> Option<f64> {
    if t < n {
        return None;
    }
    let d: Vec<f64> = (1..=t).map(|i| xs[i] - xs[i - 1]).collect();
    let mut g = d[..n].iter().map(|v| v.max(0.0)).sum::<f64>() / n as f64;
    let mut l = d[..n].iter().map(|v| (-v).max(0.0)).sum::<f64>() / n as f64;
    for v in &d[n..] {
        g = (g * (n as f64 - 1.0) + v.max(0.0)) / n as f64;
        l = (l * (n as f64 - 1.0) + (-v).max(0.0)) / n as f64;
    }
    Some(if l > 0.0 {
        100.0 - 100.0 / (1.0 + g / l)
    } else if g > 0.0 {
        100.0
    } else {
        50.0
    })
}

fn prices() -> impl Strategy<Value = Vec<f64>> {
    (
        0.5f64..100_000.0,
        prop::collection::vec(-0.01f64..0.01, 1..150),
    )
        .prop_map(|(p0, rs)| {
            let mut p = p0;
            rs.iter()
                .map(|r| {
                    // Some flat stretches (zero changes) exercise the RSI and band edge cases.
                    if r.abs() > 0.002 {
                        p *= 1.0 + r;
                    }
                    p
                })
                .collect()
        })
}

proptest! {
    #[test]
    fn sma_matches_full_window(xs in prices(), n in 1usize..=32) {
        let mut s = Sma::new(n);
        for t in 0..xs.len() {
            let got = s.push(xs[t]);
            let want = sma_ref(&xs, n, t);
            prop_assert_eq!(got.is_some(), want.is_some());
            if let (Some(g), Some(w)) = (got, want) {
                prop_assert!(close(g, w, w), "t={} {} vs {}", t, g, w);
            }
        }
    }

    #[test]
    fn ema_matches_recursion_from_scratch(xs in prices(), n in 1usize..=40) {
        let want = ema_ref(&xs, n);
        let mut e = Ema::new(n);
        for t in 0..xs.len() {
            let got = e.push(xs[t]);
            prop_assert_eq!(got.is_some(), want[t].is_some());
            if let (Some(g), Some(w)) = (got, want[t]) {
                prop_assert!(close(g, w, w));
            }
        }
    }

    #[test]
    fn rsi_matches_wilder_from_scratch(xs in prices(), n in 1usize..=20) {
        let mut r = Rsi::new(n);
        for t in 0..xs.len() {
            let got = r.push(xs[t]);
            let want = rsi_ref(&xs, n, t);
            prop_assert_eq!(got.is_some(), want.is_some());
            if let (Some(g), Some(w)) = (got, want) {
                prop_assert!((g - w).abs() < 1e-7, "t={} {} vs {}", t, g, w);
                prop_assert!((0.0..=100.0).contains(&g));
            }
        }
    }

    #[test]
    fn macd_matches_ema_difference(xs in prices()) {
        let (f, s, k) = (12, 26, 9);
        let ef = ema_ref(&xs, f);
        let es = ema_ref(&xs, s);
        let line: Vec<f64> = (0..xs.len()).filter_map(|t| Some(ef[t]? - es[t]?)).collect();
        let sig = ema_ref(&line, k);
        let mut m = Macd::new(f, s, k);
        let mut j = 0;
        for t in 0..xs.len() {
            let got = m.push(xs[t]);
            if es[t].is_some() {
                let want = sig[j].map(|sg| (line[j], sg));
                j += 1;
                prop_assert_eq!(got.is_some(), want.is_some());
                if let (Some(g), Some((l, sg))) = (got, want) {
                    prop_assert!(close(g.macd, l, xs[t]));
                    prop_assert!(close(g.signal, sg, xs[t]));
                    prop_assert!(close(g.histogram, l - sg, xs[t]));
                }
            } else {
                prop_assert!(got.is_none());
            }
        }
    }

    #[test]
    fn bollinger_matches_two_pass_population_sigma(xs in prices(), n in 1usize..=32, k in 0.5f64..3.0) {
        let mut b = Bollinger::new(n, k);
        for t in 0..xs.len() {
            let got = b.push(xs[t]);
            prop_assert_eq!(got.is_some(), t + 1 >= n);
            if let Some(g) = got {
                let w = &xs[t + 1 - n..=t];
                let m = w.iter().sum::<f64>() / n as f64;
                let sd = (w.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64).sqrt();
                prop_assert!(close(g.mid, m, m));
                prop_assert!(close(g.upper, m + k * sd, m), "{} vs {}", g.upper, m + k * sd);
                prop_assert!(close(g.lower, m - k * sd, m));
            }
        }
    }

    #[test]
    fn atr_matches_wilder_over_true_ranges(
        bars in prop::collection::vec((1000.0f64..1100.0, 0.0f64..20.0, 0.0f64..1.0), 1..120),
        n in 1usize..=20,
    ) {
        // (close-ish level, range, position of the close in the range)
        let hlc: Vec<(f64, f64, f64)> = bars.iter().map(|&(m, r, u)| (m + r, m, m + u * r)).collect();
        let mut tr = Vec::new();
        let mut a = Atr::new(n);
        for (t, &(h, l, c)) in hlc.iter().enumerate() {
            let got = a.push(h, l, c);
            tr.push(if t == 0 {
                h - l
            } else {
                let pc = hlc[t - 1].2;
                (h - l).max((h - pc).abs()).max((l - pc).abs())
            });
            let want = (tr.len() >= n).then(|| {
                let mut v = tr[..n].iter().sum::<f64>() / n as f64;
                for x in &tr[n..] {
                    v = (v * (n as f64 - 1.0) + x) / n as f64;
                }
                v
            });
            prop_assert_eq!(got.is_some(), want.is_some());
            if let (Some(g), Some(w)) = (got, want) {
                prop_assert!(close(g, w, w));
            }
        }
    }

    #[test]
    fn volume_ratio_matches_previous_window_mean(vs in prop::collection::vec(0.0f64..50.0, 1..120), n in 1usize..=32) {
        let mut r = VolumeRatio::new(n);
        for t in 0..vs.len() {
            let got = r.push(vs[t]);
            let want = (t >= n).then(|| {
                let m = vs[t - n..t].iter().sum::<f64>() / n as f64;
                if m > 0.0 { vs[t] / m } else { 0.0 }
            });
            prop_assert_eq!(got.is_some(), want.is_some());
            if let (Some(g), Some(w)) = (got, want) {
                prop_assert!(close(g, w, w));
            }
        }
    }
}

#[test]
fn bars_from_trades_feed_the_indicators_once_per_bar() {
    let p = IndicatorParams {
        sma: 3,
        ..IndicatorParams::default()
    };
    let mut ind = Indicators::new(&p);
    // Bars 0..=3 at 1 s, two trades each; bar 4's first trade closes bar 3.
    for b in 0..5u64 {
        ind.update(&p, 100.0 + b as f64, 1.0, b * 1000 + 100);
        ind.update(&p, 100.5 + b as f64, 2.0, b * 1000 + 900);
    }
    let v = ind.values();
    assert_eq!(v.close, 103.5);
    // SMA(3) of closes 101.5, 102.5, 103.5.
    assert!((v.sma - 102.5).abs() < 1e-12);
    // A 3 s gap inserts two flat bars at the last close.
    ind.update(&p, 110.0, 1.0, 8_100);
    assert!(
        (ind.values().sma - 104.5).abs() < 1e-12,
        "{}",
        ind.values().sma
    );
}

#[test]
fn composite_strength_sums_the_agreeing_weights() {
    let p = IndicatorParams {
        sma: 2,
        ema: 2,
        rsi: 2,
        macd_fast: 2,
        macd_slow: 3,
        macd_signal: 2,
        bollinger: 2,
        atr: 2,
        volume: 2,
        ..IndicatorParams::default()
    };
    let mut ind = Indicators::new(&p);
    assert_eq!(ind.strength(1.0, 0.5), 0.0, "not ready");
    // A steady rise with growing volume, closing each bar up.
    for b in 0..12u64 {
        ind.update(&p, 100.0 + b as f64, 1.0 + b as f64, b * 1000);
    }
    let v = *ind.values();
    assert!(v.ready);
    // Long: MA, momentum, MACD, flow and volume agree; RSI is 100 (> 70) and the close sits on
    // the upper band (not inside), so 0.30 + 0.25 + 0.25 + 0.20 + 0.15 = 1.15 → capped at 1.
    assert_eq!(ind.strength(1.0, 0.5), 1.0);
    // Short: only the non-directional volume (0.15) and the Bollinger condition (close above
    // the lower band, 0.20) hold.
    assert!((ind.strength(-1.0, 0.5) - 0.35).abs() < 1e-12);
}
