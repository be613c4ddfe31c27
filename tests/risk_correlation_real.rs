//! The correlation tracker on real recorded Binance USD-M trades (BTCUSDT and ETHUSDT,
//! 2024-08-08 23:54–24:00 UTC): the two majors co-move, so their bar-return correlation is
//! clearly positive, and a shuffled-in-time pairing (ETH lagged by a minute) is not; the rolling
//! window's σ and ρ equal a direct two-pass computation over the same bars.

use calculus_trader::risk::Correlation;

mod common;
use common::setup::Replay;

/// `(symbol index, price, exchange ms)` of every recorded trade, in receive order.
fn trades() -> Vec<(usize, f64, u64)> {
    Replay::load()
        .ticks()
        .into_iter()
        .map(|t| (t.symbol.index(), t.price, t.exch_ts_ms))
        .collect()
}

#[test]
fn btc_and_eth_co_move_on_real_trades() {
    let ticks = trades();
    assert!(ticks.len() > 1_000, "{} trades", ticks.len());
    let mut c = Correlation::new(2, 5_000, 60, 30);
    for &(i, p, ts) in &ticks {
        c.on_price(i, p, ts);
    }
    let rho = c.corr(0, 1).expect("enough 5 s bars");
    eprintln!("rho(BTC, ETH) on 5 s bars = {rho:.3}");
    // Lagging ETH by 60 s breaks the pairing.
    let mut shifted: Vec<_> = ticks
        .iter()
        .map(|&(i, p, ts)| (i, p, if i == 1 { ts + 60_000 } else { ts }))
        .collect();
    shifted.sort_by_key(|t| t.2);
    let mut lagged = Correlation::new(2, 5_000, 60, 30);
    for &(i, p, ts) in &shifted {
        lagged.on_price(i, p, ts);
    }
    let rho_lag = lagged.corr(0, 1).expect("enough bars");
    eprintln!("rho lagged = {rho_lag:.3}");
    assert!(rho > 0.5, "BTC/ETH 5 s correlation {rho}");
    assert!(rho_lag < rho - 0.3, "lagged {rho_lag} vs {rho}");
}

/// Joint 5 s bar log returns built directly from the trades (the last price of each bar; a bar
/// is closed when a trade falls in a later bar; a symbol has returns from its second close on).
fn direct_returns(ticks: &[(usize, f64, u64)], bar_ms: u64) -> [Vec<f64>; 2] {
    let mut out = [Vec::new(), Vec::new()];
    let (mut last, mut prev) = ([0.0f64; 2], [f64::NAN; 2]);
    let mut bar = None;
    for &(i, p, ts) in ticks {
        let k = ts / bar_ms;
        match bar {
            None => bar = Some(k),
            Some(b) if k > b => {
                for s in 0..2 {
                    if last[s] > 0.0 {
                        let x = last[s].ln();
                        if prev[s].is_finite() {
                            out[s].push(x - prev[s]);
                        }
                        prev[s] = x;
                    }
                }
                bar = Some(k);
            }
            _ => {}
        }
        last[i] = p;
    }
    out
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

#[test]
fn rolling_sigma_and_correlation_equal_a_direct_two_pass_on_real_trades() {
    let ticks = trades();
    let (bar_ms, window) = (5_000, 40);
    let mut c = Correlation::new(2, bar_ms, window, 20);
    for &(i, p, ts) in &ticks {
        c.on_price(i, p, ts);
    }
    let r = direct_returns(&ticks, bar_ms);
    assert!(
        r[0].len() > window && r[1].len() > window,
        "{:?}",
        r.each_ref().map(Vec::len)
    );
    let n = r[0].len().min(r[1].len()).min(window);
    let (x, y) = (&r[0][r[0].len() - n..], &r[1][r[1].len() - n..]);
    let (mx, my) = (mean(x), mean(y));
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
    let vy: f64 = y.iter().map(|b| (b - my) * (b - my)).sum();
    let rho = cov / (vx * vy).sqrt();
    let sx = (vx / (n - 1) as f64).sqrt();
    let got = c.corr(0, 1).unwrap();
    eprintln!(
        "rho = {got:.6} (direct {rho:.6}), sigma BTC = {:e}",
        c.sigma(0).unwrap()
    );
    assert!((got - rho).abs() < 1e-9, "{got} vs {rho}");
    assert!(
        (c.sigma(0).unwrap() - sx).abs() < 1e-9 * sx,
        "{:?} vs {sx}",
        c.sigma(0)
    );
    assert_eq!(c.samples(0), window);
}
