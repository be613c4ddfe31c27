//! A [`Rig`] whose executor also takes the exchange's private stream: the stream's thread
//! (`runtime::private_stream`) connected to the embedded exchange, its events drained into the
//! executor before every poll, as the execution stage does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use calculus_trader::exchange::rest_orders::RestOptions;
use calculus_trader::exec::clock::AccountLink;
use calculus_trader::exec::private_config::PrivateStreamConfig;
use calculus_trader::exec::ExecEvent;
use calculus_trader::exec::Venue;
use calculus_trader::ring::Consumer;
use calculus_trader::runtime::account::AccountClient;
use calculus_trader::runtime::private_stream::{self, PrivateStream};
use calculus_trader::types::{AccountEvent, SymbolTable};

use super::exchange::Exchange;
use super::rig::{rig_with, Rig, V};

/// Private-stream settings for tests: fast heartbeat, dead link and reconnect.
pub fn fast_stream() -> PrivateStreamConfig {
    PrivateStreamConfig {
        enabled: Some(true),
        heartbeat_s: 0.5,
        dead_after_s: 2.0,
        backoff_base_ms: 50,
        backoff_cap_ms: 200,
        ..PrivateStreamConfig::default()
    }
}

/// The venue of a rig.
pub fn venue(v: V) -> Venue {
    match v {
        V::Binance => Venue::Binance,
        V::Bybit => Venue::Bybit,
    }
}

/// A signed account client of `ex` (its keys, or `secret` instead of its secret).
pub fn client(ex: &Exchange, v: V, names: usize, secret: Option<&str>) -> Arc<AccountClient> {
    let c = ex.server.credentials();
    Arc::new(AccountClient::new(
        venue(v),
        &ex.server.url(),
        (&c.api_key, secret.unwrap_or(&c.secret).as_bytes()),
        60_000,
        Duration::from_secs(5),
        Arc::new(AccountLink::new(names)),
    ))
}

/// The private stream of `ex` with `cfg`, its events into the returned ring.
pub fn stream(
    ex: &Exchange,
    v: V,
    names: &[String],
    cfg: &PrivateStreamConfig,
    secret: Option<&str>,
) -> Result<(PrivateStream, Consumer<AccountEvent>), String> {
    let (tx, rx) = calculus_trader::ring::channel(private_stream::RING).unwrap();
    let symbols = SymbolTable::new(names).unwrap();
    let base = private_stream::base_url(cfg, venue(v), false, &ex.server.url());
    let s = PrivateStream::new(
        cfg,
        (venue(v), &base, None),
        client(ex, v, names.len(), secret),
        symbols,
        tx,
        None,
    )?;
    Ok((s, rx))
}

/// A rig with its private stream running on its own thread.
pub struct StreamRig {
    /// The rig (exchange, executor, engine).
    pub rig: Rig,
    rx: Consumer<AccountEvent>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// The last link state the stream reported.
    pub up: bool,
    /// Account events seen, in order.
    pub events: Vec<AccountEvent>,
}

impl StreamRig {
    /// The exchange's conditional orders still open.
    pub fn open_stops(&self) -> usize {
        use calculus_trader::exchange::orders::{OrderKind, OrderStatus};
        self.rig.ex.server.venue().with(|m| {
            m.orders()
                .iter()
                .filter(|o| o.kind != OrderKind::Market && o.status == OrderStatus::New)
                .count()
        })
    }
}

/// A rig (exchange slippage `slippage_bps`) whose private stream is up (re-synced).
pub fn stream_rig(v: V, names: &[&str], prices: &[&str], slippage_bps: &str) -> StreamRig {
    let rig = rig_with(
        v,
        names,
        prices,
        RestOptions::default(),
        (1, Duration::from_secs(5), 60_000),
        slippage_bps,
    );
    let (s, rx) = stream(&rig.ex, v, &rig.names, &fast_stream(), None).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let thread = private_stream::spawn(s, move || st.load(Ordering::Relaxed)).unwrap();
    let mut r = StreamRig {
        rig,
        rx,
        stop,
        thread: Some(thread),
        up: false,
        events: Vec::new(),
    };
    assert!(r.poll_until(|r| r.up), "private stream never came up");
    r
}

impl StreamRig {
    /// Drains the stream into the executor, then one rig poll.
    pub fn poll_once(&mut self) {
        let now = self.rig.clock.now_ns();
        let mut got = Vec::new();
        let mut on = |ev: ExecEvent| {
            if let ExecEvent::Report(r) = ev {
                got.push(r)
            }
        };
        while let Some(ev) = self.rx.pop() {
            if let AccountEvent::Link(up) = ev {
                self.up = up;
            }
            self.events.push(ev);
            self.rig.exec.on_account_event(&ev, now, &mut on);
        }
        self.rig.exec.stream_timers(now, &mut on);
        for r in got {
            self.rig.engine.on_report(&r);
            self.rig.reports.push(r);
        }
        self.rig.poll_once();
    }

    /// Polls until `done` holds (bounded: 30 s); returns whether it did.
    pub fn poll_until(&mut self, mut done: impl FnMut(&StreamRig) -> bool) -> bool {
        let deadline = self.rig.clock.now_ns() + 30_000_000_000;
        while !done(self) && self.rig.clock.now_ns() < deadline {
            self.poll_once();
        }
        done(self)
    }

    /// Polls for `d`.
    pub fn poll_for(&mut self, d: Duration) {
        let until = self.rig.clock.now_ns() + d.as_nanos() as u64;
        self.poll_until(|r| r.rig.clock.now_ns() >= until);
    }
}

impl Drop for StreamRig {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
