//! Start-up: the journal's unfinished orders are resolved by querying the venue by client
//! order id (never resent), then positions are reconciled with the venue's: a position the
//! venue has and the journal does not (a "phantom") is adopted, closed or reported per config.
//!
//! Cold path, blocking requests through the execution transport before trading starts.

use std::time::Duration;

use rust_decimal::Decimal;

use super::journal::{client_order_id, Record, RecordKind, Replayed};
use super::transport_venue::{
    EntryExits, OrderReply, PageStep, TradePages, VenuePosition, VenueTrade, MAX_TRADE_PAGES,
};
use super::{Executor, OrderFields};
use crate::risk::config::ReconcilePolicy;
use crate::types::{RejectReason, Side, SymbolId};

/// A symbol whose venue position differs from the journal's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// Symbol index.
    pub symbol: SymbolId,
    /// Venue symbol.
    pub name: String,
    /// Journal position (signed).
    pub ours: Decimal,
    /// Venue position (signed).
    pub venue: Decimal,
    /// Venue entry price (0 when the venue reports none).
    pub venue_entry: Decimal,
    /// Venue mark price (0 when unknown): what an adoption with no venue entry is booked at.
    pub venue_mark: Decimal,
}

/// `venue − ours` per symbol where they differ. Stand-in for `risk::reconcile` (the risk
/// branch's pure helper): same inputs, same answer; swap when merged.
pub fn reconcile_positions(
    names: &[String],
    ours: &[Decimal],
    venue: &[VenuePosition],
) -> Vec<Mismatch> {
    names
        .iter()
        .enumerate()
        .filter_map(|(i, name)| {
            let o = ours.get(i).copied().unwrap_or_default();
            let (v, e, mark) = venue
                .iter()
                .find(|p| &p.symbol == name)
                .map_or((Decimal::ZERO, Decimal::ZERO, Decimal::ZERO), |p| {
                    (p.qty, p.entry, p.mark_price)
                });
            (o != v).then(|| Mismatch {
                symbol: SymbolId(i as u16),
                name: name.clone(),
                ours: o,
                venue: v,
                venue_entry: e,
                venue_mark: mark,
            })
        })
        .collect()
}

/// What start-up did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StartupReport {
    /// Unfinished orders found filled at the venue (fill journaled now).
    pub recovered_fills: usize,
    /// Unfinished orders the venue does not have (never arrived; journaled as lost, not resent).
    pub recovered_missing: usize,
    /// Position differences found.
    pub mismatches: Vec<Mismatch>,
    /// The venue's own executions (stops, liquidations) booked at its price at start-up.
    pub venue_fills: usize,
    /// Differences adopted into the journal.
    pub adopted: usize,
    /// Differences the adopt policy could not adopt (the venue reported neither an entry nor
    /// a mark price for a position it grew or opened): left as they are, entries blocked.
    pub unadopted: Vec<Mismatch>,
    /// Differences closed with reduce-only orders.
    pub closed: usize,
    /// Open venue orders whose client id is not one of ours.
    pub foreign_open_orders: Vec<String>,
    /// Venue-side stops adopted or cancelled (Binance algo orders).
    pub stops: super::stop_recovery::StopRecovery,
    /// Venue-side stops missing at the venue re-placed from the journal's levels.
    pub restored: super::stop_restore::StopRestore,
}

/// First client sequence number of start-up (reconciliation) orders in a session.
pub const STARTUP_SEQ_BASE: u64 = 1 << 40;

fn journal_apply(exec: &mut Executor, replayed: &mut Replayed, r: &Record) -> Result<(), String> {
    if !exec.journal(r) {
        return Err("journal write failed during start-up".into());
    }
    replayed.apply(r);
    Ok(())
}

/// Resolves `replayed.pending` at the venue and reconciles positions; everything it learns is
/// journaled and applied to `replayed`. `now_ms` gives the venue-clock timestamp for signatures.
pub fn startup(
    exec: &mut Executor,
    replayed: &mut Replayed,
    policy: ReconcilePolicy,
    now_ms: &dyn Fn() -> u64,
    timeout: Duration,
) -> Result<StartupReport, String> {
    let mut rep = StartupReport::default();
    let names = exec.names().to_vec();
    let pending = replayed.pending.clone();
    let mut resolved = Vec::with_capacity(pending.len());
    for p in &pending {
        resolved.push(resolve_pending(
            exec, p.intent, &names, now_ms, timeout, &mut rep,
        )?);
    }
    let venue = venue_positions(
        exec,
        "reconciliation needs a venue transport",
        now_ms,
        timeout,
    )?;
    let ours = positions_with(replayed, &resolved, names.len());
    // The catch-up below reads every execution up to now: this session's executions reads
    // start no earlier (each booked one is in the journal, not in the run's memory).
    exec.set_settled_ms(now_ms());
    let mut caught = Vec::new();
    if let Some((id, start)) = replayed.catch_up_session(exec.session()) {
        // The venue's own executions since the last session that journaled anything started
        // (its stops that fired while this process was down or before they were booked) are
        // booked at the venue's price, then what is left is reconciled. Every symbol traded
        // since is read, not only those whose position differs: two such executions can
        // cancel out (a stop closed a short, another a long opened after it).
        let since = start.saturating_sub(VENUE_FILL_MARGIN_MS);
        for m in symbols_to_catch_up(&names, &ours, &venue, replayed, &resolved, id) {
            let found =
                catch_up_venue_fills(exec, replayed, &resolved, &m, since, now_ms, timeout)?;
            caught.extend(found);
        }
    }
    rep.venue_fills = caught.len();
    // Journaled in the venue's order, so the book replays as the venue's did.
    for r in in_venue_order(resolved, caught) {
        journal_apply(exec, replayed, &r)?;
    }
    let ours = positions_with(replayed, &[], names.len());
    let mismatches = reconcile_positions(&names, &ours, &venue);
    rep.mismatches = mismatches;
    rep.foreign_open_orders = foreign_open_orders(exec, now_ms, timeout)?;
    let mismatches = rep.mismatches.clone();
    for (k, m) in mismatches.iter().enumerate() {
        settle_mismatch(exec, replayed, policy, k, m, now_ms, timeout, &mut rep)?;
    }
    let ours: Vec<Decimal> = (0..names.len()).map(|i| replayed.position(i).qty).collect();
    rep.stops = super::stop_recovery::recover_stops(exec, &ours, now_ms, timeout)?;
    rep.restored = super::stop_restore::restore_stops(exec, replayed, now_ms, timeout)?;
    Ok(rep)
}

/// How far before the previous session's start the venue's executions are read, ms (clock
/// offset between this host and the venue).
const VENUE_FILL_MARGIN_MS: u64 = 5_000;

/// Reads of a symbol's executions before start-up gives up on them (a venue 5xx or throttle
/// is transient): the `k`-th retry waits `k ×` [`READ_RETRY`].
const READ_ATTEMPTS: u32 = 3;
/// See [`READ_ATTEMPTS`].
const READ_RETRY: Duration = Duration::from_millis(250);

/// The fills of no order, at the venue's price, quantity and fee, of the executions of
/// `m`'s symbol since `since_ms` that no journaled order made (their venue order id is not in
/// the journal), as [`venue_only_trades`] picks them for `m`'s difference (oldest first; the
/// caller journals them).
/// A venue without the query, or a reply that is not understood, gives none (said on
/// stderr): the difference then goes to the reconciliation policy as before.
fn catch_up_venue_fills(
    exec: &mut Executor,
    replayed: &Replayed,
    resolved: &[Record],
    m: &Mismatch,
    since_ms: u64,
    now_ms: &dyn Fn() -> u64,
    timeout: Duration,
) -> Result<Vec<Record>, String> {
    let mut attempt = 1;
    let trades = loop {
        match read_venue_trades(exec, &m.name, since_ms, now_ms, timeout)? {
            Ok(t) => break t,
            Err(why) if attempt < READ_ATTEMPTS => {
                eprintln!(
                    "warning: {}: the venue's executions could not be read ({why}); read again (attempt {} of {READ_ATTEMPTS})",
                    m.name,
                    attempt + 1
                );
                std::thread::sleep(READ_RETRY * attempt);
                attempt += 1;
            }
            Err(why) => {
                eprintln!("warning: {}: the venue's executions could not be read ({why}, {READ_ATTEMPTS} attempts); reconciling the difference as it is", m.name);
                return Ok(Vec::new());
            }
        }
    };
    let fills = replayed
        .fills
        .iter()
        .chain(resolved)
        .map(|r| (r.symbol, r.aux));
    let known: std::collections::HashSet<u64> = fills
        .chain(replayed.orders.iter().copied())
        .filter(|&(s, id)| s == m.symbol && id != 0)
        .map(|(_, id)| id)
        .collect();
    // Ours by id first: only what is left can be a fill journaled without an id (content).
    let unknown = trades.into_iter().filter(|t| !is_ours(t, &known)).collect();
    // Every fill without an id, whatever its session: the read reaches 5 s before its first
    // session, into the one before (a fill there matched by nothing would be booked twice;
    // an old fill taking a match leaves a difference to the policy instead: the safe side).
    let unbooked = not_booked_by_content(unknown, &replayed.fills, m.symbol);
    let picked = venue_only_trades(&unbooked, &known, m.venue - m.ours);
    let session = exec.session();
    Ok(picked
        .iter()
        .map(|t| {
            eprintln!(
                "start-up: {} books the venue's own execution {}: {:?} {} at {}",
                m.name,
                t.ids(),
                t.side,
                t.qty,
                t.price
            );
            let mut r = Record::new(RecordKind::Fill, m.symbol, t.side, session, 0);
            (r.qty, r.price, r.fee, r.aux) = (t.qty, t.price, t.fee, t.order_id);
            r.set_venue_ms(t.time_ms, true);
            r
        })
        .collect())
}

/// The account's executions of `name` since `since_ms`, every page (Bybit's
/// `nextPageCursor`, Binance's full pages read on by trade id), oldest first; `Ok(Err(why))`
/// when they could not all be read (a page refused or not understood, or more than
/// [`MAX_TRADE_PAGES`] pages, or a venue without the query): never taken as "none".
fn read_venue_trades(
    exec: &mut Executor,
    name: &str,
    since_ms: u64,
    now_ms: &dyn Fn() -> u64,
    timeout: Duration,
) -> Result<Result<Vec<VenueTrade>, String>, String> {
    let mut read = TradePages::default();
    loop {
        let ts = now_ms();
        let Some(bytes) = exec
            .venue_mut()
            .build_user_trades_page(name, since_ms, &read.next, ts)
            .map(<[u8]>::to_vec)
        else {
            return Ok(Err("no executions query for this venue".into()));
        };
        let (status, body) = read_blocking(
            exec,
            &bytes,
            timeout,
            "reconciliation needs a venue transport",
            "querying the venue's executions",
        )?;
        let (page, next) = match (status, exec.venue_mut().parse_user_trades_page(&body)) {
            (200, Ok(p)) => p,
            (_, r) => return Ok(Err(r.err().unwrap_or_else(|| format!("HTTP {status}")))),
        };
        match read.add(page, next) {
            PageStep::Done => return Ok(Ok(read.trades)),
            PageStep::More => {}
            PageStep::TooMany => {
                return Ok(Err(format!("more than {MAX_TRADE_PAGES} pages")));
            }
        }
    }
}

/// The symbols whose executions start-up reads: each one the journal's position differs on
/// from `venue`'s, and each one with a fill of session `since` or later or an unfinished
/// order (`resolved`), as a [`Mismatch`] (`ours == venue` when they agree).
fn symbols_to_catch_up(
    names: &[String],
    ours: &[Decimal],
    venue: &[VenuePosition],
    replayed: &Replayed,
    resolved: &[Record],
    since: u32,
) -> Vec<Mismatch> {
    let differ = reconcile_positions(names, ours, venue);
    let traded = |i: usize| {
        let of = |r: &Record| r.symbol.index() == i;
        replayed.fills.iter().any(|r| of(r) && r.session >= since) || resolved.iter().any(of)
    };
    (0..names.len())
        .filter_map(|i| {
            if let Some(m) = differ.iter().find(|m| m.symbol.index() == i) {
                return Some(m.clone());
            }
            traded(i).then(|| {
                let q = ours.get(i).copied().unwrap_or_default();
                Mismatch {
                    symbol: SymbolId(i as u16),
                    name: names[i].clone(),
                    ours: q,
                    venue: q,
                    venue_entry: Decimal::ZERO,
                    venue_mark: Decimal::ZERO,
                }
            })
        })
        .collect()
}

/// The executions of `trades` that no known order made (`known` venue order ids, or a client
/// id of ours): all of them when together they are exactly `gap` (venue − journal, signed;
/// zero included: they cancel out), else only those [`explaining_trades`] picks. Oldest first.
pub fn venue_only_trades(
    trades: &[super::transport_venue::VenueTrade],
    known: &std::collections::HashSet<u64>,
    gap: Decimal,
) -> Vec<super::transport_venue::VenueTrade> {
    let unknown: Vec<_> = trades
        .iter()
        .filter(|t| !is_ours(t, known))
        .cloned()
        .collect();
    let sum: Decimal = unknown.iter().map(|t| t.side.signed(t.qty)).sum();
    if sum == gap {
        return unknown;
    }
    explaining_trades(trades, known, gap)
}

/// An execution of an order of ours: its venue order id is known, or its client id is ours
/// (`ct…`, Bybit lists it).
pub(crate) fn is_ours(
    t: &super::transport_venue::VenueTrade,
    known: &std::collections::HashSet<u64>,
) -> bool {
    known.contains(&t.order_id) || t.client_id.starts_with("ct")
}

/// `trades` (none of a known order: the caller filters those first, or a fill journaled by id
/// would match an equal execution here and leave its own twin to be booked again) without
/// those the journal booked with no venue order id (a venue close booked at the venue's price
/// from the private stream, as a refused exit's fill or on its own; a fill of ours the stream
/// told without an id): each such fill of `symbol` among `fills` accounts for one execution of equal side, quantity and price, oldest
/// first. (Two equal executions, one booked: the other is kept out too, and its difference
/// goes to the reconciliation policy — never booked twice.)
fn not_booked_by_content(
    trades: Vec<super::transport_venue::VenueTrade>,
    fills: &[Record],
    symbol: SymbolId,
) -> Vec<super::transport_venue::VenueTrade> {
    let mut booked: Vec<(Side, Decimal, Decimal)> = fills
        .iter()
        .filter(|r| r.symbol == symbol && r.aux == 0 && r.kind == RecordKind::Fill)
        .map(|r| (r.side, r.qty, r.price))
        .collect();
    trades
        .into_iter()
        .filter(|t| {
            let key = (t.side, t.qty, t.price);
            match booked.iter().position(|b| *b == key) {
                Some(k) => {
                    booked.swap_remove(k);
                    false
                }
                None => true,
            }
        })
        .collect()
}

/// The executions of no known order (`known`: venue order ids) that explain `gap` (venue −
/// journal, signed), newest first, each taken only while it moves the gap toward zero without
/// passing it; returned oldest first (the order they are booked in).
pub fn explaining_trades(
    trades: &[super::transport_venue::VenueTrade],
    known: &std::collections::HashSet<u64>,
    gap: Decimal,
) -> Vec<super::transport_venue::VenueTrade> {
    let mut left = gap;
    let mut picked = Vec::new();
    for t in trades.iter().rev() {
        if left.is_zero() {
            break;
        }
        let s = t.side.signed(t.qty);
        let toward = (s > Decimal::ZERO) == (left > Decimal::ZERO) && s.abs() <= left.abs();
        if !is_ours(t, known) && toward {
            left -= s;
            picked.push(t.clone());
        }
    }
    picked.reverse();
    picked
}

/// Sends a blocking request: `need` is the error when there is no transport, `what` prefixes
/// a transport error.
fn blocking(
    exec: &mut Executor,
    bytes: &[u8],
    timeout: Duration,
    need: &'static str,
    what: &str,
) -> Result<(u16, Vec<u8>), String> {
    let t = exec.transport_mut().ok_or(need)?;
    t.request_blocking(bytes, timeout)
        .map_err(|e| format!("{what}: {e}"))
}

/// A blocking read-only request (positions, open orders) retried like a status query: a
/// transport failure or a transient HTTP status (429, 418, 5xx) is tried again with backoff
/// (250 ms doubling), up to [`STARTUP_QUERY_ATTEMPTS`]; the last outcome is returned.
fn read_blocking(
    exec: &mut Executor,
    bytes: &[u8],
    timeout: Duration,
    need: &'static str,
    what: &str,
) -> Result<(u16, Vec<u8>), String> {
    let mut wait = Duration::from_millis(250);
    let mut attempt = 1;
    loop {
        let r = blocking(exec, bytes, timeout, need, what);
        let transient = match &r {
            Ok((status, _)) => matches!(status, 418 | 429 | 500..=599),
            Err(e) => e != need,
        };
        if !transient || attempt == STARTUP_QUERY_ATTEMPTS {
            return r;
        }
        attempt += 1;
        std::thread::sleep(wait);
        wait *= 2;
    }
}

/// Status queries per unfinished order at start-up before giving up (backoff 250 ms doubling:
/// about 8 s in all).
const STARTUP_QUERY_ATTEMPTS: u32 = 6;

/// Queries order `it` by client id until the venue gives a final answer: a transport failure,
/// a transient error (429/418/5xx/-1007), an unknown or still-working reply is retried with
/// backoff, never taken as the answer. Returns the HTTP status and the final reply, or the last
/// cause after [`STARTUP_QUERY_ATTEMPTS`].
fn query_until_final(
    exec: &mut Executor,
    name: &str,
    it: &Record,
    id: &str,
    now_ms: &dyn Fn() -> u64,
    timeout: Duration,
) -> Result<(u16, OrderReply), String> {
    let mut wait = Duration::from_millis(250);
    let mut last = String::new();
    for attempt in 1..=STARTUP_QUERY_ATTEMPTS {
        if attempt > 1 {
            std::thread::sleep(wait);
            wait *= 2;
        }
        let ts = now_ms();
        let bytes = exec
            .venue_mut()
            .build_query_order(name, it.session, it.seq, ts)
            .to_vec();
        let (status, body) = match blocking(
            exec,
            &bytes,
            timeout,
            "start-up recovery needs a venue transport",
            &format!("querying unfinished order {id}"),
        ) {
            Ok(r) => r,
            Err(e) if e.contains("needs a venue transport") => return Err(e),
            Err(e) => {
                last = e;
                continue;
            }
        };
        let reply = exec.venue_mut().parse_order_reply(status, &body);
        let retry = match reply {
            OrderReply::Error { code } => exec.venue_mut().is_transient(status, code),
            OrderReply::Accepted { .. } | OrderReply::Unknown => true,
            _ => false,
        };
        if !retry {
            return Ok((status, reply));
        }
        last = format!("status query answered HTTP {status} ({reply:?})");
    }
    Err(format!(
        "unfinished order {id} is still working or unknown at the venue after {STARTUP_QUERY_ATTEMPTS} queries ({last}); resolve it before trading"
    ))
}

/// Queries one unfinished order by client id and returns the record of what the venue says
/// (journaled by the caller): a fill, or a loss (`RejectReason::Lost`) when the venue does not
/// have it. A still-working order is an error.
fn resolve_pending(
    exec: &mut Executor,
    it: Record,
    names: &[String],
    now_ms: &dyn Fn() -> u64,
    timeout: Duration,
    rep: &mut StartupReport,
) -> Result<Record, String> {
    let name = names.get(it.symbol.index()).ok_or_else(|| {
        format!(
            "journal names symbol #{} which is not configured",
            it.symbol.0
        )
    })?;
    let id = client_order_id(it.session, it.seq);
    let (status, reply) = query_until_final(exec, name, &it, &id, now_ms, timeout)?;
    match reply {
        OrderReply::Filled {
            order_id, price, qty, ..
        } => {
            let mut r = Record::new(RecordKind::Fill, it.symbol, it.side, it.session, it.seq);
            r.qty = qty;
            r.price = price;
            r.fee = exec.fill_model().fee(price, qty);
            r.aux = order_id;
            rep.recovered_fills += 1;
            Ok(r)
        }
        OrderReply::NotFound | OrderReply::Closed | OrderReply::Error { .. } => {
            let mut r = Record::new(RecordKind::Reject, it.symbol, it.side, it.session, it.seq);
            r.qty = it.qty;
            r.reason = RejectReason::Lost.index() as u8;
            r.code = match reply {
                OrderReply::Error { code } => code as i32,
                _ => -2013,
            };
            rep.recovered_missing += 1;
            Ok(r)
        }
        OrderReply::Accepted { .. } | OrderReply::Unknown => Err(format!(
            "unfinished order {id} is still working or unknown at the venue (HTTP {status}); resolve it before trading"
        )),
    }
}

/// Signed positions per symbol index: the journal's plus the fills among `extra` (not yet
/// journaled).
fn positions_with(replayed: &Replayed, extra: &[Record], n: usize) -> Vec<Decimal> {
    let mut q: Vec<Decimal> = (0..n).map(|i| replayed.position(i).qty).collect();
    for r in extra.iter().filter(|r| r.kind == RecordKind::Fill) {
        if let Some(x) = q.get_mut(r.symbol.index()) {
            *x += r.side.signed(r.qty);
        }
    }
    q
}

/// `resolved` (the unfinished orders' outcomes, in journal order) with each of `caught` (the
/// venue's own executions, oldest first) put before the first fill of its symbol with a
/// higher venue order id: the order the venue executed them in (Binance order ids grow).
fn in_venue_order(mut out: Vec<Record>, caught: Vec<Record>) -> Vec<Record> {
    for c in caught {
        let later =
            |r: &Record| r.kind == RecordKind::Fill && r.symbol == c.symbol && r.aux > c.aux;
        let at = out.iter().position(later).unwrap_or(out.len());
        out.insert(at, c);
    }
    out
}

/// The venue's positions (non-200 is an error); `need` is the error when there is no transport.
pub(super) fn venue_positions(
    exec: &mut Executor,
    need: &'static str,
    now_ms: &dyn Fn() -> u64,
    timeout: Duration,
) -> Result<Vec<VenuePosition>, String> {
    let bytes = exec.venue_mut().build_positions(now_ms()).to_vec();
    let (status, body) = read_blocking(exec, &bytes, timeout, need, "querying venue positions")?;
    if status != 200 {
        return Err(format!(
            "venue positions query failed: HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    exec.venue_mut().parse_positions(&body)
}

/// Open venue orders whose client id is not ours (`ct…`), as `"SYMBOL clientId"`; empty when
/// the query is not answered with 200.
fn foreign_open_orders(
    exec: &mut Executor,
    now_ms: &dyn Fn() -> u64,
    timeout: Duration,
) -> Result<Vec<String>, String> {
    let bytes = exec.venue_mut().build_open_orders(now_ms()).to_vec();
    let (status, body) = read_blocking(
        exec,
        &bytes,
        timeout,
        "reconciliation needs a venue transport",
        "querying open orders",
    )?;
    if status != 200 {
        return Ok(Vec::new());
    }
    Ok(exec
        .venue_mut()
        .parse_open_orders(&body)?
        .into_iter()
        .filter(|o| !o.client_id.starts_with("ct"))
        .map(|o| format!("{} {}", o.symbol, o.client_id))
        .collect())
}

/// Applies `policy` to the `k`-th position difference: report it, adopt it into the journal,
/// or trade it away.
#[allow(clippy::too_many_arguments)]
fn settle_mismatch(
    exec: &mut Executor,
    replayed: &mut Replayed,
    policy: ReconcilePolicy,
    k: usize,
    m: &Mismatch,
    now_ms: &dyn Fn() -> u64,
    timeout: Duration,
    rep: &mut StartupReport,
) -> Result<(), String> {
    let diff = m.venue - m.ours;
    eprintln!(
        "warning: reconciliation: {} venue position {} != journal {} (phantom {}); policy {:?}",
        m.name, m.venue, m.ours, diff, policy
    );
    let side = if diff > Decimal::ZERO {
        Side::Buy
    } else {
        Side::Sell
    };
    match policy {
        ReconcilePolicy::Report => {}
        ReconcilePolicy::Adopt => {
            let entry = replayed.position(m.symbol.index()).entry;
            match adoption(m, entry, exec.session()) {
                Some(r) => {
                    journal_apply(exec, replayed, &r)?;
                    rep.adopted += 1;
                }
                None => {
                    eprintln!(
                        "warning: reconciliation: {} venue position {} reported with neither an entry nor a mark price: not adopted, entries on it blocked",
                        m.name, m.venue
                    );
                    rep.unadopted.push(m.clone());
                }
            }
        }
        ReconcilePolicy::Close => {
            close_phantom(
                exec,
                replayed,
                side,
                STARTUP_SEQ_BASE + k as u64,
                m,
                now_ms,
                timeout,
            )?;
            rep.closed += 1;
        }
    }
    Ok(())
}

/// The adoption record that takes the venue's position `m` onto the journal's (average entry
/// `entry`), no execution telling how it came about:
/// - the venue flat, or holding less on the same side: the part it no longer holds is closed
///   at the journal's own entry. Its realized PnL is unknown and booked as zero (said on
///   stderr), never at a made-up price (before: the venue's entry, 0 for a flat venue, so
///   the whole notional was booked as a loss);
/// - otherwise (opened from flat, grown, or flipped through zero) at the venue's average
///   entry ([`Record::set_at_entry`]): the books hold the venue's quantity and entry
///   exactly; a flip closes the journal's position at that entry, the flip's own price when
///   one execution made it;
/// - with no entry reported (a venue reports one for every open position, so this is a
///   venue fault), at the venue's mark price as a plain fill, said on stderr: the quantity is
///   the venue's, the entry and any PnL measured from it are the mark's. Before, at 0, so the
///   unrealized PnL was the whole notional and the equity the sizing scales with was wrong.
///   With no mark either, `None`: not adopted ([`StartupReport::unadopted`]).
fn adoption(m: &Mismatch, entry: Decimal, session: u32) -> Option<Record> {
    let (ours, venue) = (m.ours, m.venue);
    let diff = venue - ours;
    let side = if diff > Decimal::ZERO {
        Side::Buy
    } else {
        Side::Sell
    };
    let cut = crate::types::position::is_cut(ours, venue);
    let mut r = Record::new(RecordKind::Adopt, m.symbol, side, session, 0);
    r.qty = diff.abs();
    if cut {
        eprintln!(
            "warning: reconciliation: {} {} of the journal's position closed at its own entry {entry}: no execution tells the price, realized PnL booked as 0",
            m.name, r.qty
        );
        r.price = entry;
    } else if m.venue_entry > Decimal::ZERO {
        r.price = m.venue_entry;
        r.set_at_entry();
    } else if m.venue_mark > Decimal::ZERO {
        eprintln!(
            "warning: reconciliation: {} venue reports no entry price for its position {}: {} adopted at its mark price {} (entry and PnL from it are the mark's)",
            m.name, m.venue, r.qty, m.venue_mark
        );
        r.price = m.venue_mark;
    } else {
        return None;
    }
    Some(r)
}

/// Trades the difference away (the venue ends at the journal's position): journals the
/// intent, sends a market order, and journals its fill as `External` — the journal never had
/// the phantom, so its close is final but leaves the journal's positions as they are.
fn close_phantom(
    exec: &mut Executor,
    replayed: &mut Replayed,
    side: Side,
    seq: u64,
    m: &Mismatch,
    now_ms: &dyn Fn() -> u64,
    timeout: Duration,
) -> Result<(), String> {
    let diff = m.venue - m.ours;
    let close_side = match side {
        Side::Buy => Side::Sell,
        Side::Sell => Side::Buy,
    };
    let reduce_only =
        m.venue.abs() > m.ours.abs() && (m.venue > Decimal::ZERO) == (diff > Decimal::ZERO);
    let mut intent = Record::new(
        RecordKind::Intent,
        m.symbol,
        close_side,
        exec.session(),
        seq,
    );
    intent.qty = diff.abs();
    intent.reduce_only = reduce_only;
    if !exec.journal(&intent) {
        return Err("journal write failed during start-up".into());
    }
    match market_order(
        exec,
        m.symbol,
        close_side,
        diff.abs(),
        reduce_only,
        seq,
        m.venue_entry,
        now_ms,
        timeout,
    )
    .map_err(|e| format!("closing phantom {}: {e}", m.name))?
    {
        OrderReply::Filled {
            order_id,
            price,
            qty,
            ..
        } => {
            let mut r = Record::new(
                RecordKind::External,
                m.symbol,
                close_side,
                exec.session(),
                seq,
            );
            r.qty = qty;
            r.price = price;
            r.aux = order_id;
            journal_apply(exec, replayed, &r)
        }
        other => Err(format!("closing phantom {} failed: {other:?}", m.name,)),
    }
}

/// Sends a market order for `qty` of `symbol` (not journaled here) and waits for its outcome,
/// querying by client id while the venue only acknowledges it (Bybit). `ref_price` is the
/// notional reference (the venue's entry price; 1 when unknown).
#[allow(clippy::too_many_arguments)]
fn market_order(
    exec: &mut Executor,
    symbol: SymbolId,
    side: Side,
    qty: Decimal,
    reduce_only: bool,
    seq: u64,
    ref_price: Decimal,
    now_ms: &dyn Fn() -> u64,
    timeout: Duration,
) -> Result<OrderReply, String> {
    let name = exec.names()[symbol.index()].clone();
    let inst = exec.instruments()[symbol.index()];
    let ref_price = if ref_price > Decimal::ZERO {
        ref_price
    } else {
        Decimal::ONE
    };
    let bytes = exec
        .venue_mut()
        .build_order(
            &inst,
            &OrderFields {
                symbol: &name,
                side,
                quantity: qty,
                reduce_only,
                client_seq: seq,
                timestamp_ms: now_ms(),
            },
            ref_price,
            EntryExits::default(),
        )
        .map_err(|e| e.to_string())?
        .to_vec();
    let t = exec
        .transport_mut()
        .ok_or("orders need a venue transport")?;
    let (mut status, mut body) = t
        .request_blocking(&bytes, timeout)
        .map_err(|e| e.to_string())?;
    for _ in 0..20 {
        let reply = exec.venue_mut().parse_order_reply(status, &body);
        if !matches!(reply, OrderReply::Accepted { .. }) {
            return Ok(reply);
        }
        std::thread::sleep(Duration::from_millis(20));
        let session = exec.session();
        let q = exec
            .venue_mut()
            .build_query_order(&name, session, seq, now_ms())
            .to_vec();
        let t = exec
            .transport_mut()
            .ok_or("orders need a venue transport")?;
        (status, body) = t.request_blocking(&q, timeout).map_err(|e| e.to_string())?;
    }
    Ok(exec.venue_mut().parse_order_reply(status, &body))
}

/// First client sequence number of emergency (flatten) orders in a session.
pub const FLATTEN_SEQ_BASE: u64 = 1 << 41;

/// Emergency exit (the journal can no longer be written): closes every venue position of the
/// configured symbols with reduce-only market orders, read from the venue (the authority), and
/// returns what was closed (`name`, signed qty closed). These orders cannot be journaled: the
/// next start's reconciliation finds the venue flat and reports the difference. Call with no
/// order in flight. Paper routes hold nothing at a venue: `Ok(empty)`.
pub fn flatten(
    exec: &mut Executor,
    now_ms: &dyn Fn() -> u64,
    timeout: Duration,
) -> Result<Vec<(String, Decimal)>, String> {
    if exec.transport_mut().is_none() {
        return Ok(Vec::new());
    }
    let venue = venue_positions(exec, "flatten needs a venue transport", now_ms, timeout)?;
    let names = exec.names().to_vec();
    let mut closed = Vec::new();
    let mut failed = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let Some(p) = venue.iter().find(|p| &p.symbol == name && !p.qty.is_zero()) else {
            continue;
        };
        let side = if p.qty > Decimal::ZERO {
            Side::Sell
        } else {
            Side::Buy
        };
        let seq = FLATTEN_SEQ_BASE + i as u64;
        match market_order(
            exec,
            SymbolId(i as u16),
            side,
            p.qty.abs(),
            true,
            seq,
            p.entry,
            now_ms,
            timeout,
        ) {
            Ok(OrderReply::Filled { .. }) => closed.push((name.clone(), -p.qty)),
            Ok(other) => failed.push(format!("{name} {}: {other:?}", p.qty)),
            Err(e) => failed.push(format!("{name} {}: {e}", p.qty)),
        }
    }
    if failed.is_empty() {
        Ok(closed)
    } else {
        Err(format!(
            "positions left open: {} (closed: {closed:?})",
            failed.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::transport_venue::VenueTrade;
    use crate::types::Position;
    use std::collections::HashSet;

    fn t(id: u64, order_id: u64, side: Side, qty: &str) -> VenueTrade {
        VenueTrade {
            id,
            order_id,
            client_id: String::new(),
            side,
            price: Decimal::from(61_000 + id),
            qty: qty.parse().unwrap(),
            fee: Decimal::ZERO,
            time_ms: id,
            listed: Default::default(),
        }
    }

    fn ids(v: &[VenueTrade]) -> Vec<u64> {
        v.iter().map(|t| t.id).collect()
    }

    fn mismatch(ours: &str, venue: &str, entry: &str, mark: &str) -> Mismatch {
        Mismatch {
            symbol: SymbolId(0),
            name: "BTCUSDT".into(),
            ours: ours.parse().unwrap(),
            venue: venue.parse().unwrap(),
            venue_entry: entry.parse().unwrap(),
            venue_mark: mark.parse().unwrap(),
        }
    }

    /// The adoption of a position opened or grown while down is at the venue's average entry
    /// when it reports one, else at its mark (a plain fill: the entry is the mark's), else none;
    /// a cut is at the journal's own entry whatever the venue reports. Booked onto the
    /// journal's position, each lands on the venue's quantity.
    #[test]
    fn an_adoption_with_no_venue_entry_is_at_the_mark_and_with_no_mark_is_refused() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let held = |qty: &str, entry: &str| {
            let mut p = Position::default();
            if !d(qty).is_zero() {
                p.apply_fill(Side::Buy, d(entry), d(qty), Decimal::ZERO);
            }
            p
        };
        // Opened from flat, venue entry reported: at it, flagged as the venue's entry.
        let r = adoption(&mismatch("0", "0.030", "61800.30", "62000"), d("0"), 1).unwrap();
        assert_eq!(
            (r.side, r.qty, r.price, r.at_entry()),
            (Side::Buy, d("0.030"), d("61800.30"), true)
        );
        // No entry: at the mark, a plain fill; the books take the venue's quantity at it.
        let m = mismatch("0", "0.030", "0", "62000.5");
        let r = adoption(&m, d("0"), 1).unwrap();
        assert_eq!(
            (r.side, r.qty, r.price, r.at_entry()),
            (Side::Buy, d("0.030"), d("62000.5"), false)
        );
        let mut p = held("0", "0");
        r.book_onto(&mut p);
        assert_eq!((p.qty, p.entry), (d("0.030"), d("62000.5")));
        // Grown from a long of 0.010 at 61000 with no entry reported: the growth at the mark.
        let r = adoption(&mismatch("0.010", "0.030", "0", "62000"), d("61000"), 1).unwrap();
        let mut p = held("0.010", "61000");
        r.book_onto(&mut p);
        // (0.010·61000 + 0.020·62000) / 0.030, to the position's 12 decimals of entry.
        assert_eq!((p.qty, p.entry), (d("0.030"), d("61666.666666666667")));
        // Short opened from flat, no entry: a sell at the mark.
        let r = adoption(&mismatch("0", "-0.5", "0", "3000"), d("0"), 1).unwrap();
        assert_eq!((r.side, r.qty, r.price), (Side::Sell, d("0.5"), d("3000")));
        // Neither entry nor mark: not adopted (the caller blocks the symbol's entries).
        assert_eq!(adoption(&mismatch("0", "0.030", "0", "0"), d("0"), 1), None);
        // A cut is at the journal's entry, reported entry and mark aside.
        let r = adoption(&mismatch("0.030", "0.010", "0", "0"), d("61000"), 1).unwrap();
        assert_eq!(
            (r.side, r.qty, r.price),
            (Side::Sell, d("0.020"), d("61000"))
        );
    }

    #[test]
    fn the_newest_unknown_executions_that_close_the_gap_are_taken_oldest_first() {
        let trades = [
            t(1, 10, Side::Buy, "0.010"),  // our entry (known)
            t(2, 11, Side::Sell, "0.010"), // a stop that closed it
            t(3, 12, Side::Buy, "0.020"),  // our next entry (known)
            t(4, 13, Side::Sell, "0.020"), // its stop
        ];
        let known: HashSet<u64> = [10, 12].into();
        // Journal long 0.030, venue flat: both stops explain it.
        assert_eq!(
            ids(&explaining_trades(
                &trades,
                &known,
                "-0.030".parse().unwrap()
            )),
            [2, 4]
        );
        // Only 0.020 unexplained: the newest stop alone.
        assert_eq!(
            ids(&explaining_trades(
                &trades,
                &known,
                "-0.020".parse().unwrap()
            )),
            [4]
        );
        // A gap no execution fits (too small, wrong side, or zero) takes none.
        assert!(explaining_trades(&trades, &known, "-0.005".parse().unwrap()).is_empty());
        assert!(explaining_trades(&trades, &known, "0.030".parse().unwrap()).is_empty());
        assert!(explaining_trades(&trades, &known, Decimal::ZERO).is_empty());
        // An execution listed with a client id of ours (Bybit) is ours, whatever its order id.
        let mut listed = trades.clone();
        listed[3].client_id = "ct1-9".into();
        assert_eq!(
            ids(&explaining_trades(
                &listed,
                &known,
                "-0.030".parse().unwrap()
            )),
            [2]
        );
        // Our own orders' executions are never taken, whatever the gap.
        let all: HashSet<u64> = [10, 11, 12, 13].into();
        assert!(explaining_trades(&trades, &all, "-0.030".parse().unwrap()).is_empty());
    }

    #[test]
    fn unknown_executions_that_together_make_the_gap_are_all_taken_even_a_zero_gap() {
        let trades = [
            t(1, 10, Side::Buy, "0.010"),  // our entry (known)
            t(2, 11, Side::Sell, "0.010"), // its stop closed it
            t(3, 12, Side::Sell, "0.010"), // our short entry (known)
            t(4, 13, Side::Buy, "0.010"),  // its stop closed it
        ];
        let known: HashSet<u64> = [10, 12].into();
        // Journal and venue agree (both stops missing cancel out): both are taken.
        assert_eq!(
            ids(&venue_only_trades(&trades, &known, Decimal::ZERO)),
            [2, 4]
        );
        // Only one missing (the short's stop booked elsewhere, id known): the sum is the gap.
        let one: HashSet<u64> = [10, 12, 13].into();
        assert_eq!(
            ids(&venue_only_trades(&trades, &one, "-0.010".parse().unwrap())),
            [2]
        );
        // Together they do not make the gap: only what explains it, newest first without
        // passing it (nothing for zero), never all.
        let extra = [t(5, 14, Side::Sell, "0.005")];
        let more: Vec<_> = trades.iter().chain(&extra).cloned().collect();
        assert!(venue_only_trades(&more, &known, Decimal::ZERO).is_empty());
        assert_eq!(
            ids(&venue_only_trades(&more, &known, "-0.010".parse().unwrap())),
            [5]
        );
        assert_eq!(
            ids(&venue_only_trades(&more, &known, "-0.005".parse().unwrap())),
            [2, 4, 5]
        );
        // Our own orders' executions are never taken.
        let all: HashSet<u64> = [10, 11, 12, 13].into();
        assert!(venue_only_trades(&trades, &all, Decimal::ZERO).is_empty());
    }

    #[test]
    fn the_venues_own_executions_are_journaled_in_the_venues_order() {
        let fill = |symbol: u16, seq: u64, aux: u64| {
            let mut r = Record::new(RecordKind::Fill, SymbolId(symbol), Side::Buy, 1, seq);
            r.aux = aux;
            r
        };
        let lost = Record::new(RecordKind::Reject, SymbolId(0), Side::Buy, 1, 3);
        // Unfinished orders 1 (venue order 10), 2 (lost), 3 (order 30); ETH order 5.
        let resolved = vec![fill(0, 1, 10), lost, fill(0, 3, 30), fill(1, 4, 5)];
        // The stop executed as order 20, between 10 and 30; a later one as order 40.
        let caught = vec![fill(0, 0, 20), fill(0, 0, 40)];
        let order: Vec<(u16, u64)> = in_venue_order(resolved, caught)
            .iter()
            .map(|r| (r.symbol.0, r.aux))
            .collect();
        assert_eq!(order, [(0, 10), (0, 0), (0, 20), (0, 30), (1, 5), (0, 40)]);
    }

    #[test]
    fn an_execution_the_journal_booked_without_its_order_id_is_not_booked_again() {
        let trades = vec![t(1, 11, Side::Sell, "0.010"), t(2, 12, Side::Sell, "0.010")];
        // The stream's close of trade 1 was journaled as the refused exit's fill (no order id).
        let mut f = Record::new(RecordKind::Fill, SymbolId(0), Side::Sell, 1, 7);
        (f.qty, f.price) = (trades[0].qty, trades[0].price);
        let other_symbol = Record {
            symbol: SymbolId(1),
            ..f
        };
        let left = not_booked_by_content(trades.clone(), &[f, other_symbol], SymbolId(0));
        assert_eq!(ids(&left), [2]);
        // With its order id known instead, both executions stay candidates here.
        f.aux = 11;
        assert_eq!(
            ids(&not_booked_by_content(trades, &[f], SymbolId(0))),
            [1, 2]
        );
    }
}
