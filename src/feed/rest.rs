//! The feed's cold thread: REST polling fallback and the network thread's log lines.
//!
//! Why a thread with a blocking client (ureq + rustls) and not HTTP inside the mio loop: the
//! fallback runs only while a feed is degraded, every few seconds, and needs DNS, TLS, HTTP/1.1
//! and JSON — all blocking-friendly, well-tested in ureq, and none of it belongs on the hot
//! core. The network thread never waits for it: it publishes which symbols want polling
//! ([`SymbolHealth::rest_wanted`], atomics), and this thread pushes parsed ticks into an SPSC
//! ring and wakes the network thread's `poll` through a `mio::Waker`. The network thread
//! drains the ring on every poll and de-duplicates those ticks with the WebSocket ones.
//!
//! The same thread prints the network thread's transition log lines (handed over through
//! another SPSC ring), so the network thread never blocks on a stderr write.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::liveness::SymbolHealth;
use super::protocol::Venue;
use crate::ring::{Consumer, Producer};
use crate::telemetry::Clock;
use crate::types::symbols::SymbolTable;
use crate::types::{SymbolId, Tick};
use crate::venue::{binance, bybit};

/// What the fallback polls and how often.
#[derive(Clone, Debug)]
pub struct RestPlan {
    /// Venue (request path and response shape).
    pub venue: Venue,
    /// REST base URL (`https://api.bybit.com`, or the embedded exchange's `http://127.0.0.1:…`).
    pub base: String,
    /// Time between polls of a degraded symbol.
    pub interval: Duration,
    /// Trades requested per poll (newest first on the venue; delivered oldest first).
    pub limit: u32,
    /// The subscribed trade topic (`trade`, `aggTrade`, `publicTrade`).
    pub trade_topic: String,
    /// Symbols (ids match the feed's).
    pub symbols: SymbolTable,
    /// Poll at all (false: the thread only prints logs).
    pub enabled: bool,
    /// HTTP timeout per request.
    pub timeout: Duration,
    /// TLS settings (`venue.ca_file`).
    pub tls: ureq::tls::TlsConfig,
}

/// Counters of the cold thread, read by the network thread when it publishes its counters.
#[derive(Debug, Default)]
pub struct RestStats {
    /// Requests sent.
    pub polls: AtomicU64,
    /// Requests that failed (transport, HTTP status, venue error, bad JSON).
    pub errors: AtomicU64,
    /// Trades parsed from responses and handed to the network thread.
    pub ticks: AtomicU64,
    /// Log lines dropped because the log ring was full.
    pub logs_dropped: AtomicU64,
}

/// The running cold thread; dropping it stops and joins it (after printing pending logs).
#[derive(Debug)]
pub struct FeedCold {
    stop: Arc<AtomicBool>,
    stats: Arc<RestStats>,
    thread: Option<JoinHandle<()>>,
}

impl FeedCold {
    /// Starts the thread. `ticks` carries fallback trades to the network thread, woken by
    /// `waker`; `logs` carries its log lines here.
    pub fn spawn(
        plan: RestPlan,
        health: Arc<SymbolHealth>,
        ticks: Producer<Tick>,
        logs: Consumer<String>,
        waker: Arc<mio::Waker>,
        clock: Clock,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(RestStats::default());
        let (s2, st2) = (stop.clone(), stats.clone());
        let thread = std::thread::Builder::new()
            .name("feed-cold".into())
            .spawn(move || run(plan, health, ticks, logs, waker, clock, &s2, &st2))?;
        Ok(Self {
            stop,
            stats,
            thread: Some(thread),
        })
    }

    /// The thread's counters.
    pub fn stats(&self) -> Arc<RestStats> {
        self.stats.clone()
    }

    /// Stops and joins the thread (idempotent).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for FeedCold {
    fn drop(&mut self) {
        self.stop();
    }
}

#[allow(clippy::too_many_arguments)]
fn run(
    plan: RestPlan,
    health: Arc<SymbolHealth>,
    mut ticks: Producer<Tick>,
    mut logs: Consumer<String>,
    waker: Arc<mio::Waker>,
    clock: Clock,
    stop: &AtomicBool,
    stats: &RestStats,
) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(plan.timeout))
        .tls_config(plan.tls.clone())
        .http_status_as_error(false)
        .build()
        .into();
    let base = plan.base.trim_end_matches('/').to_string();
    let mut next_poll = Instant::now() + plan.interval;
    let print = |logs: &mut Consumer<String>| {
        while let Some(line) = logs.pop() {
            eprintln!("{line}");
        }
    };
    while !stop.load(Ordering::Acquire) {
        print(&mut logs);
        let now = Instant::now();
        if plan.enabled && now >= next_poll {
            next_poll = now + plan.interval;
            for i in 0..plan.symbols.len() {
                let sym = SymbolId(i as u16);
                if !health.rest_wanted(sym) || stop.load(Ordering::Acquire) {
                    continue;
                }
                let name = plan.symbols.name(sym);
                let url = format!(
                    "{base}{}",
                    plan.venue
                        .recent_trades_path(name, plan.limit, &plan.trade_topic)
                );
                stats.polls.fetch_add(1, Ordering::Relaxed);
                match fetch(&agent, &url)
                    .and_then(|body| parse_recent_trades(plan.venue, &body, sym, &plan.trade_topic))
                {
                    Ok(mut got) => {
                        let recv_ns = clock.now_ns();
                        for t in got.iter_mut() {
                            t.recv_ns = recv_ns;
                            t.parsed_ns = recv_ns;
                        }
                        for t in got {
                            let mut item = t;
                            loop {
                                match ticks.push(item) {
                                    Ok(()) => break,
                                    Err(back) => {
                                        if ticks.is_abandoned() || stop.load(Ordering::Acquire) {
                                            return;
                                        }
                                        item = back;
                                        let _ = waker.wake();
                                        std::thread::sleep(Duration::from_millis(1));
                                    }
                                }
                            }
                            stats.ticks.fetch_add(1, Ordering::Relaxed);
                        }
                        let _ = waker.wake();
                    }
                    Err(e) => {
                        stats.errors.fetch_add(1, Ordering::Relaxed);
                        eprintln!("feed: REST fallback {name}: {e}");
                    }
                }
            }
        }
        let until = if plan.enabled {
            next_poll.saturating_duration_since(Instant::now())
        } else {
            Duration::from_millis(20)
        };
        std::thread::sleep(until.min(Duration::from_millis(10)));
    }
    print(&mut logs);
}

fn fetch(agent: &ureq::Agent, url: &str) -> Result<String, String> {
    let mut resp = agent.get(url).call().map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("{url}: reading body: {e}"))?;
    if status != 200 {
        return Err(format!(
            "{url}: HTTP {status}: {}",
            body.chars().take(200).collect::<String>()
        ));
    }
    Ok(body)
}

/// Parses a recent-trades REST response of `venue` for `symbol` into ticks, oldest first
/// (`recv_ns`/`parsed_ns` left 0 for the caller), with the venue's own reader
/// (`venue::<name>::endpoint::parse_recent_trades`); a stable sort on time keeps a venue's
/// order within one millisecond.
pub fn parse_recent_trades(
    venue: Venue,
    body: &str,
    symbol: SymbolId,
    trade_topic: &str,
) -> Result<Vec<Tick>, String> {
    let mut out = match venue {
        Venue::Binance => binance::endpoint::parse_recent_trades(body, symbol, trade_topic)?,
        Venue::Bybit => bybit::endpoint::parse_recent_trades(body, symbol)?,
    };
    out.sort_by_key(|t| t.exch_ts_ms);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::protocol::bybit_trade_id;
    use crate::types::Side;

    #[test]
    fn binance_trades_response_becomes_ticks_oldest_first() {
        // Shape of GET /fapi/v1/trades (Binance docs), values from the real 2024 BTCUSDT stream.
        let body = r#"[{"id":5266583935,"price":"61800.30","qty":"0.006","quoteQty":"370.80","time":1723161256322,"isBuyerMaker":false},
                      {"id":5266583936,"price":"61800.20","qty":"0.010","quoteQty":"618.00","time":1723161256330,"isBuyerMaker":true}]"#;
        let t = parse_recent_trades(Venue::Binance, body, SymbolId(3), "trade").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            (t[0].trade_id, t[0].side, t[0].price, t[0].qty),
            (5266583935, Side::Buy, 61800.30, 0.006)
        );
        assert_eq!((t[1].side, t[1].exch_ts_ms), (Side::Sell, 1723161256330));
        assert_eq!(t[1].symbol, SymbolId(3));
        assert!(parse_recent_trades(Venue::Binance, "[{\"id\":1}]", SymbolId(0), "trade").is_err());
        let agg = r#"[{"a":26129,"p":"0.01633102","q":"4.70443515","f":27781,"l":27781,"T":1498793709153,"m":true}]"#;
        let t = parse_recent_trades(Venue::Binance, agg, SymbolId(0), "aggTrade").unwrap();
        assert_eq!((t[0].trade_id, t[0].side), (26129, Side::Sell));
    }

    #[test]
    fn bybit_recent_trade_response_is_reversed_and_ids_hashed() {
        // Shape of GET /v5/market/recent-trade (Bybit docs): newest first, ids are UUIDs.
        let body = r#"{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[
            {"execId":"b","symbol":"BTCUSDT","price":"65114.30","size":"0.002","side":"Sell","time":"1786310818001","isBlockTrade":false},
            {"execId":"a","symbol":"BTCUSDT","price":"65114.20","size":"0.001","side":"Buy","time":"1786310818000","isBlockTrade":false}]},
            "retExtInfo":{},"time":1786310818100}"#;
        let t = parse_recent_trades(Venue::Bybit, body, SymbolId(0), "publicTrade").unwrap();
        assert_eq!(t[0].trade_id, bybit_trade_id("a"));
        assert_eq!((t[0].side, t[0].exch_ts_ms), (Side::Buy, 1786310818000));
        assert_eq!((t[1].side, t[1].price), (Side::Sell, 65114.30));
        let err =
            r#"{"retCode":10001,"retMsg":"params error","result":{},"retExtInfo":{},"time":1}"#;
        assert!(
            parse_recent_trades(Venue::Bybit, err, SymbolId(0), "publicTrade")
                .unwrap_err()
                .contains("10001")
        );
    }
}
