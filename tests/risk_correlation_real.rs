//! The correlation tracker on real recorded Binance USD-M trades (BTCUSDT and ETHUSDT,
//! 2024-08-08 23:54–24:00 UTC): the two majors co-move, so their bar-return correlation is
//! clearly positive, and a shuffled-in-time pairing (ETH lagged by a minute) is not.

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
    let mut c = Correlation::new(2, 5_000, 20.0, 30);
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
    let mut lagged = Correlation::new(2, 5_000, 20.0, 30);
    for &(i, p, ts) in &shifted {
        lagged.on_price(i, p, ts);
    }
    let rho_lag = lagged.corr(0, 1).expect("enough bars");
    eprintln!("rho lagged = {rho_lag:.3}");
    assert!(rho > 0.5, "BTC/ETH 5 s correlation {rho}");
    assert!(rho_lag < rho - 0.3, "lagged {rho_lag} vs {rho}");
}
