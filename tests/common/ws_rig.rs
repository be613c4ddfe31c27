//! An executor on order lanes to a fresh embedded exchange listing BTCUSDT, its entries and
//! exits over the venue's order WebSocket (HMAC-signed, or after an Ed25519 `session.logon`) or
//! over REST only; orders submitted in entry/exit rounds and polled until each ended known.

use std::time::Duration;

use calculus_trader::exchange::rest_orders::RestOptions;
use calculus_trader::exec::journal::{client_prefix, FsyncPolicy, Journal};
use calculus_trader::exec::rate_limit::RateLimits;
use calculus_trader::exec::{
    BinanceOrderBuilder, BinanceVenue, BybitVenue, ExecEvent, Executor, LaneConfig, OrderLanes,
    OrderVenue, PaperVenue, Signer, WsOrderConn, WsPhase, WsVenue,
};
use calculus_trader::feed::ws::WsTarget;
use calculus_trader::telemetry::Clock;
use calculus_trader::types::{
    Case, Instrument, IntentFields, OrderIntent, ReportStatus, Side, SymbolId,
};
use calculus_trader::venue::ed25519::Ed25519Signer;
use rust_decimal::Decimal;

use super::alloc::counted;
use super::exchange::{listed, start_with, Exchange, Options};
use super::files::temp_dir;
use super::rig::V;
use super::values::{d, now_ms, BTC_TRADE};

/// How the orders reach the venue.
pub enum WsAuth {
    /// REST only: no WebSocket.
    Rest,
    /// The order WebSocket, requests signed with HMAC (`Some(secret)` overrides the key's).
    Hmac(Option<String>),
    /// Binance's order WebSocket after `session.logon` with `key`; the exchange registered the
    /// public key `registered`.
    Ed25519 {
        registered: [u8; 32],
        key: Ed25519Signer,
    },
}

/// The rig; see the module doc.
pub struct WsRig {
    pub ex: Exchange,
    pub exec: Executor,
    pub clock: Clock,
    dir: std::path::PathBuf,
    pub seq: u64,
    /// Signed quantity booked from the filled reports.
    pub booked: Decimal,
    /// `UnknownOrder(true)` reports: a symbol's order became of unknown outcome.
    pub unknown: u32,
    /// Whether the order WebSocket came up when the rig opened it (false with `WsAuth::Rest`).
    pub ws_up: bool,
}

/// The order venue of `v` for the exchange's key, signing with recvWindow 60 s.
fn order_venue(v: V, api_key: &str, secret: &str, host: &str) -> OrderVenue {
    match v {
        V::Bybit => OrderVenue::Bybit(
            BybitVenue::new(api_key, secret.as_bytes(), host, 60_000, &client_prefix(1)).unwrap(),
        ),
        V::Binance => OrderVenue::Binance(BinanceVenue::new(BinanceOrderBuilder::new(
            api_key,
            secret.as_bytes(),
            host,
            60_000,
            &client_prefix(1),
        ))),
    }
}

/// A fresh exchange and an executor reaching it as `auth` says (the WebSocket opened before
/// returning); its journal in a fresh folder named after `name`.
pub fn ws_rig(v: V, rest: RestOptions, auth: WsAuth, name: &str) -> WsRig {
    let btc = listed(&["BTCUSDT"]);
    let registered = match &auth {
        WsAuth::Ed25519 { registered, .. } => Some(*registered),
        _ => rest.ed25519_public_key,
    };
    let opts = Options {
        rest: RestOptions {
            bybit_order_limit: 1_000,
            ed25519_public_key: registered,
            ..rest
        },
        ..Options::default()
    };
    let ex = start_with(btc.clone(), "0.0004", "1", opts);
    let (names, inst): (Vec<String>, Vec<Instrument>) = btc.into_iter().unzip();
    ex.market.on_frame(BTC_TRADE);
    let c = ex.server.credentials().clone();
    let host = ex.server.addr().to_string();
    let venue = order_venue(v, &c.api_key, &c.secret, &host);
    let clock = Clock::new();
    let timeout = Duration::from_secs(5);
    let mut lanes = OrderLanes::new(
        &ex.server.url(),
        LaneConfig::new(2, 8),
        timeout,
        clock.clone(),
        None,
    )
    .unwrap();
    let api_key = c.api_key.clone();
    let ws = match auth {
        WsAuth::Rest => None,
        WsAuth::Hmac(secret) => {
            let signer = Signer::new(secret.as_deref().unwrap_or(&c.secret).as_bytes());
            Some(match v {
                V::Bybit => ("/v5/trade", WsVenue::Bybit { api_key, signer }),
                V::Binance => ("/ws-fapi/v1", WsVenue::Binance { api_key, signer }),
            })
        }
        WsAuth::Ed25519 { key, .. } => {
            Some(("/ws-fapi/v1", WsVenue::BinanceEd25519 { api_key, key }))
        }
    };
    let ws_up = ws.is_some_and(|(path, venue)| {
        let target = WsTarget::new(&format!("ws://{host}{path}"), None).unwrap();
        lanes.set_websocket(WsOrderConn::new(
            venue,
            target,
            calculus_trader::exec::lanes::WS_TOKEN,
            8,
            timeout.as_nanos() as u64,
            20_000_000_000,
            clock.clone(),
        ));
        lanes.open_websocket(Duration::from_secs(5))
    });
    let fill = PaperVenue {
        taker_fee: d("0.0004"),
        slippage_bps: 1.0,
    };
    let mut exec = Executor::venue(inst, names, venue, lanes, fill, 1, 8);
    let dir = temp_dir(name);
    let journal = dir.join("orders.journal");
    let (j, _) = Journal::open(&journal, exec.names(), FsyncPolicy::Never).unwrap();
    exec.set_journal(j);
    if v == V::Bybit {
        exec.set_rate_limits(RateLimits::bybit_v5().with_order_limit(1_000, 1_000_000_000));
    }
    WsRig {
        ex,
        exec,
        clock,
        dir,
        seq: 0,
        booked: Decimal::ZERO,
        unknown: 0,
        ws_up,
    }
}

impl WsRig {
    /// An entry (odd seq, Buy; with TP/SL when `tpsl`) or the exit that closes it (even,
    /// reduce-only).
    pub fn intent(&self, seq: u64, tpsl: bool) -> OrderIntent {
        OrderIntent::new(IntentFields {
            symbol: SymbolId(0),
            side: if seq % 2 == 1 { Side::Buy } else { Side::Sell },
            qty: d("0.016"),
            ref_price: 61800.3,
            reduce_only: seq % 2 == 0,
            case: Case::AcceleratingUp,
            client_seq: seq,
            tick_recv_ns: 0,
            decided_ns: 0,
            take_profit: (tpsl && seq % 2 == 1).then(|| d("62000.07")),
            stop_loss: (tpsl && seq % 2 == 1).then(|| d("61000.01")),
        })
    }

    /// Submits `n` orders (entry, exit, …) and polls until none is in flight (30 s at most);
    /// returns (filled reports, rtt samples). Any report other than a fill or an unknown
    /// outcome fails the test.
    pub fn round(&mut self, n: u32, tpsl: bool) -> (u32, u32) {
        for _ in 0..n {
            self.seq += 1;
            let it = self.intent(self.seq, tpsl);
            self.exec.set_now_ns(self.clock.now_ns());
            assert!(self.exec.submit(&it, now_ms(), |_| {}).is_none(), "sent");
        }
        let (mut fills, mut rtts) = (0, 0);
        let deadline = self.clock.now_ns() + 30_000_000_000;
        let (booked, unknown) = (&mut self.booked, &mut self.unknown);
        while self.exec.in_flight() > 0 && self.clock.now_ns() < deadline {
            self.exec
                .poll(self.clock.now_ns(), now_ms(), None, |ev| match ev {
                    ExecEvent::Report(r) if matches!(r.status, ReportStatus::UnknownOrder(_)) => {
                        *unknown += u32::from(r.status == ReportStatus::UnknownOrder(true))
                    }
                    ExecEvent::Report(r) => {
                        assert_eq!(r.status, ReportStatus::Filled, "{r:?}");
                        *booked += match r.side {
                            Side::Buy => r.qty,
                            Side::Sell => -r.qty,
                        };
                        fills += 1;
                    }
                    ExecEvent::Rtt(_) => rtts += 1,
                });
        }
        assert_eq!(self.exec.in_flight(), 0, "every order ended known");
        (fills, rtts)
    }

    /// 10 rounds of entry + exit to warm up, then 25 more with this thread's allocations
    /// counted (the test crate installs the counting allocator): all 70 orders fill over the
    /// WebSocket and the 50 counted ones allocate nothing.
    pub fn assert_order_path_allocates_nothing(&mut self, tpsl: bool) {
        for _ in 0..10 {
            assert_eq!(self.round(2, tpsl), (2, 2));
        }
        let (res, allocations) = counted(|| {
            (0..25)
                .map(|_| self.round(2, tpsl))
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
        });
        assert_eq!(res, (50, 50));
        let stats = self.ws().stats();
        assert_eq!(
            (stats.replies, stats.failed),
            (70, 0),
            "all over the WebSocket"
        );
        assert_eq!(
            allocations, 0,
            "the WebSocket order path allocated {allocations} times"
        );
    }

    /// The rig's executor, for a test that drives it through an `ExecStage`; a paper executor
    /// on the same instruments takes its place.
    pub fn take_exec(&mut self) -> Executor {
        let spare = Executor::paper_with(
            self.exec.instruments().to_vec(),
            self.exec.names().to_vec(),
            order_venue(V::Binance, "spare", "spare", "localhost"),
            PaperVenue {
                taker_fee: d("0.0004"),
                slippage_bps: 1.0,
            },
        );
        std::mem::replace(&mut self.exec, spare)
    }

    /// The exchange's BTCUSDT position.
    pub fn venue_position(&self) -> Decimal {
        self.ex.server.venue().with(|m| m.position("BTCUSDT").qty)
    }

    /// The order WebSocket (panics without one).
    pub fn ws(&self) -> &WsOrderConn {
        self.exec.lanes().unwrap().websocket().unwrap()
    }

    /// Polls until the WebSocket is up (`up`) or not (10 s at most).
    pub fn wait_phase(&mut self, up: bool) {
        let end = self.clock.now_ns() + 10_000_000_000;
        while (self.ws().phase() == WsPhase::Up) != up && self.clock.now_ns() < end {
            self.exec.poll(self.clock.now_ns(), now_ms(), None, |_| {});
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for WsRig {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}
