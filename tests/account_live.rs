//! The account of a venue order route against the embedded exchange, both venues: leverage and
//! margin mode set before the first entry (and "not modified" taken as success), a venue cap
//! below the configured leverage refusing the symbol, the wallet's available balance read
//! again after it changed, a clock skewed beyond recvWindow (re-sync and one resend with the
//! same client id, no double fill), and insufficient margin (rejected, not retried blindly,
//! balance refreshed). The engine's positions equal the exchange's at the end of each.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use calculus_trader::control::ControlHandle;
use calculus_trader::exchange::rest_orders::RestOptions;
use calculus_trader::exchange::AccountOptions;
use calculus_trader::exec::account_config::{AccountConfig, MarginMode};
use calculus_trader::exec::clock::AccountLink;
use calculus_trader::runtime::account::{self, AccountClient, Prepared};
use calculus_trader::types::control::Command;
use calculus_trader::types::{RejectReason, ReportStatus, Side};
use common::rig::{intent, rig, Rig, BOTH, V};
use common::values::d;
use rust_decimal::Decimal;

const NAMES: [&str; 2] = ["BTCUSDT", "ETHUSDT"];
const PRICES: [&str; 2] = ["60000", "3000"];

/// A rig on `v` with `account` options, its executor sharing a fresh account link.
fn account_rig(v: V, account: AccountOptions) -> (Rig, Arc<AccountLink>) {
    let rest = RestOptions {
        account,
        ..RestOptions::default()
    };
    let mut r = rig(v, &NAMES, &PRICES, rest, 2, Duration::from_secs(2));
    let link = Arc::new(AccountLink::new(NAMES.len()));
    r.exec.set_account_link(link.clone());
    (r, link)
}

/// An account client of the rig's exchange, with its keys, stamping with `link`'s clock.
fn client(v: V, r: &Rig, link: &Arc<AccountLink>) -> AccountClient {
    let c = r.ex.server.credentials();
    AccountClient::new(
        v.venue(),
        &r.ex.server.url(),
        (&c.api_key, c.secret.as_bytes()),
        60_000,
        Duration::from_secs(5),
        link.clone(),
    )
}

fn names() -> Vec<String> {
    NAMES.iter().map(|s| s.to_string()).collect()
}

fn cfg(leverage: u32) -> AccountConfig {
    AccountConfig {
        leverage,
        margin_mode: MarginMode::Isolated,
        ..AccountConfig::default()
    }
}

/// The account thread of `c` with a command ring; returns the ring's consumer and a stop flag.
fn account_thread(
    c: AccountClient,
    config: &AccountConfig,
) -> (
    calculus_trader::ring::Consumer<Command>,
    Arc<AtomicBool>,
    std::thread::JoinHandle<()>,
) {
    let (tx, rx) = calculus_trader::ring::channel(64).unwrap();
    let handle = Arc::new(ControlHandle::new(tx));
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let t = account::spawn(Arc::new(c), config, names(), handle, move || {
        s.load(Ordering::Acquire)
    })
    .unwrap();
    (rx, stop, t)
}

#[test]
fn leverage_and_margin_mode_are_set_before_the_first_entry_and_not_modified_is_success() {
    for v in BOTH {
        let (mut r, link) = account_rig(v, AccountOptions::default());
        let start = account::start(client(v, &r, &link), &cfg(5), 2.0, &names(), 2).unwrap();
        assert!(start.refused.is_empty(), "{v:?}: {:?}", start.refused);
        assert_eq!(start.balance, (d("10000"), d("10000")), "{v:?}");
        let (lev, mode, changes) = r.ex.server.venue().with(|m| {
            let b = m.book();
            (
                NAMES.map(|n| b.leverage_set(n)),
                NAMES.map(|n| b.margin_mode(n).map(str::to_string)),
                b.changes(),
            )
        });
        assert_eq!(
            lev,
            [Some(5), Some(5)],
            "{v:?}: the exchange records the leverage"
        );
        let want = match v {
            V::Binance => "ISOLATED",
            V::Bybit => "ISOLATED_MARGIN",
        };
        assert_eq!(mode, [Some(want.into()), Some(want.into())], "{v:?}");
        // Again: the venue answers "not modified" (Binance -4046 for the margin type, Bybit
        // 110043 for the leverage): success, nothing changes.
        let again = account::start(client(v, &r, &link), &cfg(5), 2.0, &names(), 2).unwrap();
        assert!(again.refused.is_empty(), "{v:?}: {:?}", again.refused);
        let already = match v {
            V::Binance => "marginType already ISOLATED",
            V::Bybit => "leverage already 5x",
        };
        assert!(
            again.lines.iter().any(|l| l.contains(already)),
            "{v:?}: {:?}",
            again.lines
        );
        assert_eq!(r.ex.server.venue().with(|m| m.book().changes()), changes);
        // Then the entry goes and fills.
        assert!(r
            .submit(&intent(0, 1, Side::Buy, "0.01", false, 60_000.0))
            .is_none());
        r.settle();
        assert_eq!(
            r.report_of(1).unwrap().status,
            ReportStatus::Filled,
            "{v:?}"
        );
        r.assert_positions_equal();
    }
}

#[test]
fn a_venue_cap_below_the_configured_leverage_refuses_the_symbol() {
    for v in BOTH {
        let caps = AccountOptions {
            leverage_cap: Some(3),
            ..AccountOptions::default()
        };
        let (r, link) = account_rig(v, caps);
        let start = account::start(client(v, &r, &link), &cfg(5), 2.0, &names(), 2).unwrap();
        assert_eq!(start.refused.len(), 2, "{v:?}: {:?}", start.refused);
        let why = &start.refused[0].1;
        assert!(
            why.contains("BTCUSDT") && why.contains("at most 3x") && why.contains("5x"),
            "{v:?}: {why}"
        );
        assert_eq!(
            r.ex.server
                .venue()
                .with(|m| m.book().leverage_set("BTCUSDT")),
            None,
            "{v:?}: nothing set on a refused symbol"
        );
        // A cap the client believes (stale) but the venue does not: the venue's own refusal
        // (Binance -4028, Bybit 110013) refuses the symbol with the venue's words.
        let c = client(v, &r, &link);
        match c.prepare_symbol("ETHUSDT", Some(d("100")), 50, MarginMode::Cross) {
            Prepared::Refused(m) => {
                let code = match v {
                    V::Binance => "-4028",
                    V::Bybit => "110013",
                };
                assert!(m.contains(code) && m.contains("not traded"), "{v:?}: {m}");
            }
            p => panic!("{v:?}: {p:?}"),
        }
    }
}

#[test]
fn the_available_balance_is_read_again_and_reaches_the_engine() {
    for v in BOTH {
        let (r, link) = account_rig(v, AccountOptions::default());
        let c = client(v, &r, &link);
        assert_eq!(c.balance().unwrap(), (d("10000"), d("10000")));
        let quick = AccountConfig {
            balance_interval_s: 0.1,
            ..cfg(5)
        };
        let (mut rx, stop, t) = account_thread(c, &quick);
        r.ex.server
            .venue()
            .with(|m| m.book_mut().deposit(d("-2500")));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut last = None;
        while std::time::Instant::now() < deadline {
            if let Some(Command::Balance { wallet, available }) = rx.pop() {
                last = Some((wallet, available));
                if available == d("7500") {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.store(true, Ordering::Release);
        t.join().unwrap();
        assert_eq!(last, Some((d("7500"), d("7500"))), "{v:?}");
        assert!(link.balance_generation() > 0, "{v:?}");
    }
}

#[test]
fn a_clock_skewed_beyond_recv_window_is_resynced_and_the_order_resent_once() {
    for v in BOTH {
        let skew = AccountOptions {
            clock_offset_ms: 90_000,
            ..AccountOptions::default()
        };
        let (mut r, link) = account_rig(v, skew);
        let (_rx, stop, t) = account_thread(client(v, &r, &link), &cfg(5));
        assert!(r
            .submit(&intent(0, 1, Side::Buy, "0.01", false, 60_000.0))
            .is_none());
        r.settle();
        stop.store(true, Ordering::Release);
        t.join().unwrap();
        assert_eq!(
            r.report_of(1).unwrap().status,
            ReportStatus::Filled,
            "{v:?}"
        );
        assert_eq!(r.exec.stats().timestamp_retries, 1, "{v:?}");
        let sent: Vec<u32> =
            r.ex.server
                .venue()
                .with(|m| m.received_client_ids().values().copied().collect());
        assert_eq!(sent, vec![1], "{v:?}: the resend reached matching once");
        let refused =
            r.ex.server
                .stats()
                .timestamp_rejects
                .load(Ordering::Relaxed);
        assert_eq!(
            refused, 1,
            "{v:?}: the first copy was refused for its timestamp"
        );
        assert_eq!(r.venue_qty(0), d("0.01"), "{v:?}: filled once");
        let off = link.clock.offset_ms();
        assert!((85_000..95_000).contains(&off), "{v:?}: offset {off}");
        r.assert_positions_equal();
    }
}

#[test]
fn without_a_resync_the_timestamp_refusal_is_final_after_one_resend() {
    for v in BOTH {
        let skew = AccountOptions {
            clock_offset_ms: 90_000,
            ..AccountOptions::default()
        };
        let (mut r, _link) = account_rig(v, skew);
        assert!(r
            .submit(&intent(0, 1, Side::Buy, "0.01", false, 60_000.0))
            .is_none());
        r.settle();
        assert_eq!(
            r.report_of(1).unwrap().status,
            ReportStatus::Rejected(RejectReason::VenueTimestamp),
            "{v:?}"
        );
        let refused =
            r.ex.server
                .stats()
                .timestamp_rejects
                .load(Ordering::Relaxed);
        assert_eq!(refused, 2, "{v:?}: resent once, never more");
        assert!(r
            .ex
            .server
            .venue()
            .with(|m| m.received_client_ids().is_empty()));
        r.assert_positions_equal();
    }
}

#[test]
fn insufficient_margin_is_rejected_not_retried_blindly_and_refreshes_the_balance() {
    for v in BOTH {
        let (mut r, link) = account_rig(v, AccountOptions::default());
        r.ex.server
            .venue()
            .with(|m| m.book_mut().enforce_margin = true);
        // 0.2 BTC at 60 000 = 12 000 USDT of margin at leverage 1: more than 10 000.
        assert!(r
            .submit(&intent(0, 1, Side::Buy, "0.2", false, 60_000.0))
            .is_none());
        r.settle();
        assert_eq!(
            r.report_of(1).unwrap().status,
            ReportStatus::Rejected(RejectReason::VenueMargin),
            "{v:?}"
        );
        assert!(
            link.balance_requested(),
            "{v:?}: a balance read is asked for"
        );
        // Until the balance was read again, the symbol's entries stay off the wire.
        let answered = r.answered();
        let local = r.submit(&intent(0, 2, Side::Buy, "0.2", false, 60_000.0));
        assert_eq!(
            local.map(|x| x.status),
            Some(ReportStatus::Rejected(RejectReason::VenueMargin)),
            "{v:?}"
        );
        assert_eq!(r.answered(), answered, "{v:?}: nothing sent");
        // Another symbol is not blocked.
        assert!(r
            .submit(&intent(1, 3, Side::Buy, "0.1", false, 3_000.0))
            .is_none());
        r.settle();
        assert_eq!(
            r.report_of(3).unwrap().status,
            ReportStatus::Filled,
            "{v:?}"
        );
        // Funds arrive; the account thread reads them (it was asked to) and entries go again.
        r.ex.server
            .venue()
            .with(|m| m.book_mut().deposit(d("5000")));
        let (mut rx, stop, t) = account_thread(client(v, &r, &link), &cfg(1));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut got = None;
        while got.is_none() && std::time::Instant::now() < deadline {
            got = rx.pop();
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.store(true, Ordering::Release);
        t.join().unwrap();
        assert!(
            matches!(got, Some(Command::Balance { .. })),
            "{v:?}: {got:?}"
        );
        assert!(!link.balance_requested(), "{v:?}");
        assert!(r
            .submit(&intent(0, 4, Side::Buy, "0.2", false, 60_000.0))
            .is_none());
        r.settle();
        assert_eq!(
            r.report_of(4).unwrap().status,
            ReportStatus::Filled,
            "{v:?}"
        );
        let sent: u32 =
            r.ex.server
                .venue()
                .with(|m| m.received_client_ids().values().sum());
        assert_eq!(
            sent, 3,
            "{v:?}: orders 1, 3 and 4 reached the venue, 2 did not"
        );
        r.assert_positions_equal();
    }
}

#[test]
fn a_reduce_only_refusal_resyncs_the_position_from_the_venue() {
    use calculus_trader::exchange::orders::OrderRequest;
    for v in BOTH {
        let (mut r, _link) = account_rig(v, AccountOptions::default());
        assert!(r
            .submit(&intent(0, 1, Side::Buy, "0.01", false, 60_000.0))
            .is_none());
        r.settle();
        assert_eq!(r.engine_qty(0), d("0.01"), "{v:?}");
        // The position is closed at the venue behind the engine's back (by hand, say).
        r.ex.server.venue().with(|m| {
            m.place(
                &OrderRequest::market("BTCUSDT", Side::Sell, d("0.01"), true, "by-hand"),
                common::values::now_ms(),
            )
            .unwrap();
        });
        // The engine's exit is refused (Binance -2022, Bybit 110017): the executor asks the
        // venue for the position and books it, instead of guessing.
        assert!(r
            .submit(&intent(0, 2, Side::Sell, "0.01", true, 60_000.0))
            .is_none());
        r.settle();
        assert_eq!(
            r.report_of(2).unwrap().status,
            ReportStatus::Rejected(RejectReason::VenueReduceOnly),
            "{v:?}"
        );
        assert_eq!(r.engine_qty(0), Decimal::ZERO, "{v:?}: re-synced flat");
        r.assert_positions_equal();
    }
}

/// Entries are sized from the venue's available balance the account thread hands over
/// ([`Command::Balance`]), never from `risk.balance`: on the synthetic path of
/// `tests/risk_engine.rs` (entry 100.16, stop 99.66, distance 0.50, 1 % risk) the quantity is
/// `available · 0.01 / 0.50`: 100.00 at 5 000 available, then 50.00 once it fell to 2 500.
#[test]
fn entries_are_sized_from_the_venue_available_balance() {
    use calculus_trader::model::DerivParams;
    use calculus_trader::risk::config::{ExitMode, SizingMethod};
    use calculus_trader::strategy::{Engine, SignalParams, StrategyParams, VelocitySource};
    use calculus_trader::types::{Instrument, SymbolId, Tick};

    let mut p = StrategyParams::default().without_layers();
    p.deriv = DerivParams::default();
    (p.v_band, p.a_band, p.warmup_steps, p.cooldown_ms) = (1e-5, 1e-6, 3, 0);
    p.signal = SignalParams {
        source: VelocitySource::FiniteDifference,
        snr_min: 0.0,
        confidence_min: 0.0,
        ..SignalParams::default()
    };
    let r = &mut p.risk;
    (r.balance, r.fee_rate) = (10_000.0, Decimal::ZERO);
    r.sizing.method = SizingMethod::FixedFractional;
    (r.sizing.risk_per_trade, r.sizing.max_leverage) = (0.01, 5.0);
    (r.sizing.kelly, r.sizing.vol, r.sizing.tiers) = (None, None, None);
    r.exits.mode = ExitMode::Percent;
    (r.exits.tp_fraction, r.exits.sl_fraction) = (0.01, 0.005);
    r.exits.min_reward_risk = d("1.5");
    r.drift.enabled = false;
    let inst = Instrument::new(d("0.01"), d("0.01"), d("0.01"), d("1000"), d("5")).unwrap();
    let mut e = Engine::new(p, &[inst, inst]);
    let enter = |e: &mut Engine, s: u16| {
        let tick = |i: u64| Tick {
            symbol: SymbolId(s),
            price: (100f64.ln() + 1e-4 * (i * i) as f64).exp(),
            qty: 1.0,
            exch_ts_ms: 1_000_000 + i * 1_000,
            ..Tick::default()
        };
        for i in 0..4 {
            assert!(e.on_tick(&tick(i)).is_none());
        }
        e.on_tick(&tick(4)).expect("a buy after warm-up")
    };
    e.apply_command(Command::Balance {
        wallet: d("5000"),
        available: d("5000"),
    });
    assert_eq!(enter(&mut e, 0).qty(), d("100.00"));
    e.apply_command(Command::Balance {
        wallet: d("5000"),
        available: d("2500"),
    });
    assert_eq!(enter(&mut e, 1).qty(), d("50.00"));
}
