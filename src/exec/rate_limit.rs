//! Per-venue request-rate limiter from the documented limits and the usage headers the venue
//! returns: O(1) per request, allocation-free after construction, driven by the caller's
//! monotonic `now_ns`.
//!
//! Documented limits (defaults of [`RateLimits::binance_usdm`] / [`RateLimits::bybit_v5`]):
//! - Binance USD-M futures: `exchangeInfo.rateLimits` ORDERS 300 per 10 s and 1200 per minute
//!   (per account), REQUEST_WEIGHT 2400 per minute (per IP). Every response carries
//!   `X-MBX-USED-WEIGHT-(intervalNum)(intervalLetter)` (weight used by the IP, e.g.
//!   `X-MBX-USED-WEIGHT-1M`), successful order responses `X-MBX-ORDER-COUNT-(n)(letter)`
//!   (`X-MBX-ORDER-COUNT-10S`, `X-MBX-ORDER-COUNT-1M`); rejected orders are not guaranteed to
//!   carry them. Intervals are counted per calendar interval ("a 1 MINUTE interval starts every
//!   minute"). 429 = a limit broken; 418 = IP auto-banned for continuing after 429s, "from 2
//!   minutes to 3 days"; "A Retry-After header is sent with a 418 or 429 responses and will give
//!   the number of seconds required to wait" (Binance REST API "Limits" and "HTTP return codes"
//!   pages). The three USD-M numbers are defaults: the venue publishes the live ones in
//!   `GET /fapi/v1/exchangeInfo` → `rateLimits`, which replace them at start-up.
//! - Bybit v5: per-UID limits per endpoint, rolling per second; default for a unified
//!   account's futures order endpoints 10/s (v5 "Rate Limit Rules", UID-level table). Every
//!   response carries `X-Bapi-Limit` (the endpoint's limit), `X-Bapi-Limit-Status` (requests
//!   left) and `X-Bapi-Limit-Reset-Timestamp` (ms; when the limit resets if exceeded, else the
//!   current time). Over the limit: `retCode` 10006 "Too many visits!". Per IP: 600 requests per
//!   5 s, over it HTTP 403 "access too frequent" (wait at least 10 minutes).
//!
//! Model: each limit is an exact sliding log of its last `limit` units (a ring allocated once;
//! O(1) per request): a unit counts for `len` after it was sent, so no span of `len` ever
//! holds more than the cap, whatever the alignment of the venue's own intervals. Entries may
//! use each limit up to `limit − reserve`; exits and cancels up to `limit`, so the reserve is
//! theirs alone and an exit is never refused for a slot an entry took: when even the reserve
//! is used up, [`Acquire::Wait`] says the earliest instant it may go (the caller keeps it
//! queued, first in line). Queries use only the request-weight limit, up to `limit − reserve`. A 429, 418 or
//! 10006 blocks every lane until `Retry-After` (or the reset timestamp) has passed — the venue
//! refuses exits then too.
//!
//! # Wiring (`exec::executor::Executor`)
//! One [`RateLimiter`] per venue account, owned by the executor.
//! - Before writing an entry / exit or cancel / status or position query:
//!   [`RateLimiter::try_acquire`] with [`Lane::Entry`] / [`Lane::Exit`] / [`Lane::Query`]. An
//!   entry that would wait for an order or weight window ([`RateLimiter::check`]) is held by
//!   the execution stage until `until_ns` (back-pressure, nothing refused); one that meets a
//!   429 / 418 back-off is refused (compute decides again later). An exit that must wait is
//!   held in the executor, unsigned, and sent first as soon as it is granted (counted in
//!   [`RateCounters`]); a status query is rescheduled.
//! - Every parsed response: [`RateLimiter::observe_header`] for each usage header (Binance
//!   `X-MBX-USED-WEIGHT-*` from every response, `X-MBX-ORDER-COUNT-*` from order replies;
//!   Bybit `X-Bapi-Limit*` from the order-create endpoint's replies only, since each Bybit
//!   endpoint has its own limit), read from the transport's header block without allocating.
//! - A 429 / 418 / Bybit 10006 reply to an order or a status query:
//!   [`RateLimiter::on_throttled`] with the reply's `Retry-After` seconds (and Bybit's reset
//!   timestamp).
//! - Any other reply: [`RateLimiter::on_accepted`] (resets the 429 doubling).
//! - Start-up: [`RateLimits::binance_usdm`] replaced by the numbers of the venue's
//!   `exchangeInfo.rateLimits` when fetched ([`RateLimits::with_order_limit`]).
//! - WebSocket connects honour `Retry-After` in the feed's own reconnect back-off
//!   (`feed::backoff`), not through this limiter.

/// What a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// A position-opening order: may not use the exit reserve.
    Entry,
    /// A reduce-only exit or a cancel: may use every slot.
    Exit,
    /// An order-status or position query: request weight only.
    Query,
}

/// Why a request must wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitCause {
    /// An order-count limit (or its entry share) is used up.
    Orders,
    /// The request-weight limit is used up.
    Weight,
    /// Backing off after a 429 / 10006.
    Throttled,
    /// IP banned (418).
    Banned,
}

/// Answer of [`RateLimiter::try_acquire`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquire {
    /// Send now (the request is counted).
    Granted,
    /// Not before `until_ns` (nothing counted).
    Wait {
        /// Earliest instant the request may be retried, ns.
        until_ns: u64,
        /// Which limit holds it.
        cause: WaitCause,
    },
}

/// One limit: `limit` units per `len_ns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Units per window.
    pub limit: u32,
    /// Window length, ns.
    pub len_ns: u64,
}

/// A venue's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Order-count limits (at most two: Binance 10 s and 1 min; Bybit one per second).
    pub orders: [Option<Limit>; 2],
    /// Request weight (Binance IP weight; Bybit IP requests).
    pub weight: Limit,
    /// Weight of an order request.
    pub order_weight: u32,
    /// Weight of a status or position query.
    pub query_weight: u32,
    /// Share of every limit kept for exits, per mille.
    pub exit_reserve_permille: u32,
    /// Back-off after a 429 without `Retry-After` (doubles per consecutive 429, up to 60 s), ns.
    pub default_backoff_ns: u64,
}

const SEC: u64 = 1_000_000_000;

impl RateLimits {
    /// Binance USD-M futures defaults: orders 300/10 s and 1200/min, weight 2400/min; an order
    /// and a query each counted as weight 1 (the order's IP weight is documented lower or
    /// zero: counting it is the safe side); 20 % kept for exits.
    pub fn binance_usdm() -> Self {
        Self {
            orders: [
                Some(Limit {
                    limit: 300,
                    len_ns: 10 * SEC,
                }),
                Some(Limit {
                    limit: 1_200,
                    len_ns: 60 * SEC,
                }),
            ],
            weight: Limit {
                limit: 2_400,
                len_ns: 60 * SEC,
            },
            order_weight: 1,
            query_weight: 1,
            exit_reserve_permille: 200,
            default_backoff_ns: SEC,
        }
    }

    /// Bybit v5 defaults: orders 10/s per UID, 600 requests per 5 s per IP, 20 % kept for exits.
    pub fn bybit_v5() -> Self {
        Self {
            orders: [
                Some(Limit {
                    limit: 10,
                    len_ns: SEC,
                }),
                None,
            ],
            weight: Limit {
                limit: 600,
                len_ns: 5 * SEC,
            },
            order_weight: 1,
            query_weight: 1,
            exit_reserve_permille: 200,
            default_backoff_ns: SEC,
        }
    }

    /// Replaces the order limit whose window is `len_ns` (from `exchangeInfo.rateLimits`).
    pub fn with_order_limit(mut self, limit: u32, len_ns: u64) -> Self {
        for l in self.orders.iter_mut().flatten() {
            if l.len_ns == len_ns {
                l.limit = limit;
            }
        }
        self
    }
}

/// Exact sliding log of one limit: the times of the last `limit` units (a ring allocated once).
/// A unit counts while `now < t + len`, so every span of `len` — and every fixed interval of
/// the venue, whatever its alignment — holds at most the cap.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Window {
    spec: Limit,
    ring: Box<[u64]>,
    head: usize,
    filled: usize,
}

impl Window {
    fn new(spec: Limit) -> Self {
        Self {
            spec,
            ring: vec![0; spec.limit.max(1) as usize].into_boxed_slice(),
            head: 0,
            filled: 0,
        }
    }

    /// Units allowed per window for a lane keeping `reserve_permille` back (≤ the ring).
    fn cap(&self, reserve_permille: u32) -> u64 {
        let l = u64::from(self.spec.limit).min(self.ring.len() as u64);
        l - l * u64::from(reserve_permille.min(1000)) / 1000
    }

    /// Time of the `k`-th newest unit (`k ≥ 1`).
    fn kth_newest(&self, k: usize) -> Option<u64> {
        let n = self.ring.len();
        (k >= 1 && k <= self.filled).then(|| self.ring[(self.head + n - k) % n])
    }

    /// Earliest instant ≥ `now_ns` at which `w` more units fit under `cap`: when the
    /// `(cap − w + 1)`-th newest unit has left the window.
    fn free_at(&self, now_ns: u64, w: u64, cap: u64) -> u64 {
        if w > cap {
            return u64::MAX;
        }
        match self.kth_newest((cap - w + 1) as usize) {
            Some(t) => now_ns.max(t.saturating_add(self.spec.len_ns)),
            None => now_ns,
        }
    }

    fn push(&mut self, now_ns: u64) {
        self.ring[self.head] = now_ns;
        self.head = (self.head + 1) % self.ring.len();
        self.filled = (self.filled + 1).min(self.ring.len());
    }

    /// Units inside the window ending at `now_ns` (walks back from the newest: bounded by the
    /// ring, used on header updates only).
    fn used(&self, now_ns: u64) -> u32 {
        let mut k = 1;
        while let Some(t) = self.kth_newest(k) {
            if t.saturating_add(self.spec.len_ns) <= now_ns {
                break;
            }
            k += 1;
        }
        (k - 1) as u32
    }

    /// Raises the count to what the venue reports (missing units stamped `now_ns`: kept a full
    /// window, the safe side).
    fn observe(&mut self, used: u32, now_ns: u64) {
        let have = self.used(now_ns);
        for _ in have..used.min(self.ring.len() as u32) {
            self.push(now_ns);
        }
    }
}

/// Counters (status line and summary).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateCounters {
    /// Grants per lane (entry, exit, query).
    pub granted: [u64; 3],
    /// Waits per lane (entry, exit, query).
    pub waited: [u64; 3],
    /// 429 / 10006 replies.
    pub throttled: u64,
    /// 418 replies.
    pub banned: u64,
}

/// A throttling reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Throttle {
    /// HTTP 429 (Binance -1003/-1015, Bybit HTTP 429).
    TooMany,
    /// HTTP 418: IP banned (Binance).
    Banned,
    /// Bybit `retCode` 10006, with `X-Bapi-Limit-Reset-Timestamp` in ms when present.
    BybitTooMany {
        /// Reset time, ms since the epoch.
        reset_ms: Option<u64>,
    },
}

/// The limiter of one venue account.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    cfg: RateLimits,
    orders: [Option<Window>; 2],
    weight: Window,
    blocked_until_ns: u64,
    blocked_cause: WaitCause,
    streak: u32,
    counters: RateCounters,
}

impl RateLimiter {
    /// A limiter with nothing counted.
    pub fn new(cfg: RateLimits) -> Self {
        Self {
            orders: cfg.orders.map(|l| l.map(Window::new)),
            weight: Window::new(cfg.weight),
            blocked_until_ns: 0,
            blocked_cause: WaitCause::Throttled,
            streak: 0,
            counters: RateCounters::default(),
            cfg,
        }
    }

    /// Counters so far.
    pub fn counters(&self) -> RateCounters {
        self.counters
    }

    /// No request (nor WebSocket connect) before this instant, ns (0: none pending).
    pub fn blocked_until_ns(&self) -> u64 {
        self.blocked_until_ns
    }

    /// Asks for one request of `lane` at `now_ns`; counts it when granted.
    pub fn try_acquire(&mut self, lane: Lane, now_ns: u64) -> Acquire {
        self.acquire(lane, now_ns, true)
    }

    /// [`RateLimiter::try_acquire`] (`commit`), or its probe (see [`RateLimiter::warm`]): one
    /// body, so a warm-up runs the instructions of a grant.
    #[inline]
    pub fn acquire(&mut self, lane: Lane, now_ns: u64, commit: bool) -> Acquire {
        let li = lane as usize;
        let r = self.check(lane, now_ns);
        if !commit {
            for w in self.orders.iter().flatten().chain([&self.weight]) {
                std::hint::black_box(w.ring[w.head]);
            }
            std::hint::black_box(self.counters.granted[li]);
            return r;
        }
        match r {
            Acquire::Granted => {
                self.counters.granted[li] += 1;
                for _ in 0..self.weight_of(lane) {
                    self.weight.push(now_ns);
                }
                if lane != Lane::Query {
                    for win in self.orders.iter_mut().flatten() {
                        win.push(now_ns);
                    }
                }
            }
            Acquire::Wait { .. } => self.counters.waited[li] += 1,
        }
        r
    }

    fn weight_of(&self, lane: Lane) -> u32 {
        if lane == Lane::Query {
            self.cfg.query_weight
        } else {
            self.cfg.order_weight
        }
    }

    /// The warm-up's probe: what [`RateLimiter::try_acquire`] would answer for `lane` at
    /// `now_ns`, reading the counter and the window slots a grant writes. Changes nothing.
    #[inline]
    pub fn warm(&mut self, lane: Lane, now_ns: u64) -> Acquire {
        self.acquire(lane, now_ns, false)
    }

    /// What [`RateLimiter::try_acquire`] would answer for `lane` at `now_ns`, counting nothing.
    pub fn check(&self, lane: Lane, now_ns: u64) -> Acquire {
        if now_ns < self.blocked_until_ns {
            return Acquire::Wait {
                until_ns: self.blocked_until_ns,
                cause: self.blocked_cause,
            };
        }
        let reserve = if lane == Lane::Exit {
            0
        } else {
            self.cfg.exit_reserve_permille
        };
        let w = u64::from(self.weight_of(lane));
        let mut until = self.weight.free_at(now_ns, w, self.weight.cap(reserve));
        let mut cause = WaitCause::Weight;
        if lane != Lane::Query {
            for win in self.orders.iter().flatten() {
                let t = win.free_at(now_ns, 1, win.cap(reserve));
                if t > until {
                    until = t;
                    cause = WaitCause::Orders;
                }
            }
        }
        if until <= now_ns {
            Acquire::Granted
        } else {
            Acquire::Wait {
                until_ns: until,
                cause,
            }
        }
    }

    /// A 429 / 418 / 10006 reply at `now_ns`: every lane waits `retry_after_s` (the
    /// `Retry-After` header, seconds) or until Bybit's reset time (`wall_ms` is the wall clock
    /// at `now_ns`, ms); without either, 429 waits the default back-off doubled per consecutive
    /// 429 (≤ 60 s), 418 waits 2 minutes (the documented shortest ban).
    pub fn on_throttled(
        &mut self,
        t: Throttle,
        retry_after_s: Option<u64>,
        now_ns: u64,
        wall_ms: u64,
    ) {
        let fallback = match t {
            Throttle::Banned => 120 * SEC,
            Throttle::BybitTooMany { reset_ms: Some(r) } if r > wall_ms => {
                (r - wall_ms) * 1_000_000
            }
            Throttle::TooMany | Throttle::BybitTooMany { .. } => {
                let d = self
                    .cfg
                    .default_backoff_ns
                    .saturating_mul(1 << self.streak.min(16));
                d.min(60 * SEC)
            }
        };
        let wait = retry_after_s.map_or(fallback, |s| s.saturating_mul(SEC));
        if t == Throttle::Banned {
            self.counters.banned += 1;
            self.blocked_cause = WaitCause::Banned;
        } else {
            self.counters.throttled += 1;
            self.streak += 1;
            if self.blocked_until_ns <= now_ns {
                self.blocked_cause = WaitCause::Throttled;
            }
        }
        self.blocked_until_ns = self.blocked_until_ns.max(now_ns.saturating_add(wait));
    }

    /// A reply that was not throttled: the 429 doubling starts over.
    pub fn on_accepted(&mut self) {
        self.streak = 0;
    }

    /// One response header (name case-insensitive): Binance `X-MBX-USED-WEIGHT-<n><S|M|H|D>`
    /// and `X-MBX-ORDER-COUNT-<n><S|M|H|D>` raise the matching window's count to the venue's;
    /// Bybit `X-Bapi-Limit` sets the order limit, `X-Bapi-Limit-Status` (requests left) raises
    /// the count to `limit − left`, `X-Bapi-Limit-Reset-Timestamp` later than `wall_ms` blocks
    /// orders until then. Unknown headers and unparsable values are ignored.
    pub fn observe_header(&mut self, name: &str, value: &str, now_ns: u64, wall_ms: u64) {
        let Ok(v) = value.trim().parse::<u64>() else {
            return;
        };
        let n = u32::try_from(v).unwrap_or(u32::MAX);
        if let Some(iv) = strip_prefix_ci(name, "x-mbx-used-weight-") {
            if interval_ns(iv) == Some(self.weight.spec.len_ns) {
                self.weight.observe(n, now_ns);
            }
        } else if let Some(iv) = strip_prefix_ci(name, "x-mbx-order-count-") {
            let len = interval_ns(iv);
            for w in self.orders.iter_mut().flatten() {
                if Some(w.spec.len_ns) == len {
                    w.observe(n, now_ns);
                }
            }
        } else if name.eq_ignore_ascii_case("x-bapi-limit") {
            // Up to the configured limit: the ring holds that many.
            if let Some(w) = self.orders[0].as_mut() {
                w.spec.limit = n.min(w.ring.len() as u32);
            }
        } else if name.eq_ignore_ascii_case("x-bapi-limit-status") {
            if let Some(w) = self.orders[0].as_mut() {
                let used = w.spec.limit.saturating_sub(n);
                w.observe(used, now_ns);
            }
        } else if name.eq_ignore_ascii_case("x-bapi-limit-reset-timestamp") && v > wall_ms {
            let until = now_ns.saturating_add((v - wall_ms).saturating_mul(1_000_000));
            if until > self.blocked_until_ns {
                self.blocked_until_ns = until;
                self.blocked_cause = WaitCause::Throttled;
            }
        }
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `10S`, `1M`, `1H`, `1D` → ns.
fn interval_ns(iv: &str) -> Option<u64> {
    let (num, unit) = iv.split_at(iv.len().checked_sub(1)?);
    let n: u64 = num.parse().ok()?;
    let unit = match unit.as_bytes()[0].to_ascii_uppercase() {
        b'S' => SEC,
        b'M' => 60 * SEC,
        b'H' => 3_600 * SEC,
        b'D' => 86_400 * SEC,
        _ => return None,
    };
    Some(n * unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock that starts at a window boundary far from 0.
    const T0: u64 = 1_000 * 60 * SEC;

    fn drain(l: &mut RateLimiter, lane: Lane, now: u64) -> u32 {
        let mut n = 0;
        while l.try_acquire(lane, now) == Acquire::Granted {
            n += 1;
            assert!(n < 100_000);
        }
        n
    }

    #[test]
    fn the_warm_probe_answers_as_check_and_changes_nothing() {
        let mut l = RateLimiter::new(RateLimits::binance_usdm());
        let used = drain(&mut l, Lane::Entry, T0);
        let before = format!("{l:?}");
        for lane in [Lane::Entry, Lane::Exit, Lane::Query] {
            assert_eq!(l.warm(lane, T0), l.check(lane, T0), "{lane:?}");
        }
        assert!(matches!(l.warm(Lane::Entry, T0), Acquire::Wait { .. }));
        assert_eq!(format!("{l:?}"), before, "the probe changed the limiter");
        // The windows still count every grant, and nothing more.
        let mut fresh = RateLimiter::new(RateLimits::binance_usdm());
        assert_eq!(drain(&mut fresh, Lane::Entry, T0), used);
    }

    #[test]
    fn binance_entries_stop_at_the_reserve_exits_use_it() {
        let mut l = RateLimiter::new(RateLimits::binance_usdm());
        assert_eq!(
            drain(&mut l, Lane::Entry, T0),
            240,
            "300 per 10 s minus 20 %"
        );
        assert!(matches!(
            l.try_acquire(Lane::Entry, T0),
            Acquire::Wait {
                cause: WaitCause::Orders,
                ..
            }
        ));
        assert_eq!(drain(&mut l, Lane::Exit, T0), 60, "exits get the reserve");
        assert_eq!(
            l.try_acquire(Lane::Exit, T0),
            Acquire::Wait {
                until_ns: T0 + 10 * SEC,
                cause: WaitCause::Orders
            }
        );
        // Queries are not orders: only weight.
        assert_eq!(l.try_acquire(Lane::Query, T0), Acquire::Granted);
        assert_eq!(l.counters().granted, [240, 60, 1]);
    }

    #[test]
    fn wait_instant_is_exact_and_granted_there() {
        let mut l = RateLimiter::new(RateLimits::bybit_v5());
        assert_eq!(drain(&mut l, Lane::Exit, T0), 10);
        let Acquire::Wait { until_ns, cause } = l.try_acquire(Lane::Exit, T0) else {
            panic!()
        };
        assert_eq!(cause, WaitCause::Orders);
        // All ten were sent at T0: they leave the 1 s window at T0 + 1 s.
        assert_eq!(until_ns, T0 + SEC);
        assert!(matches!(
            l.try_acquire(Lane::Exit, until_ns - 1),
            Acquire::Wait { .. }
        ));
        assert_eq!(l.try_acquire(Lane::Exit, until_ns), Acquire::Granted);
    }

    #[test]
    fn sustained_rate_never_exceeds_the_limit_in_any_window() {
        // Greedy sender on a synthetic 1 ms clock for 5 s: every 1 s span (fixed or sliding)
        // holds at most 10 orders.
        let mut l = RateLimiter::new(RateLimits::bybit_v5());
        let mut sent = Vec::new();
        for ms in 0..5_000u64 {
            let now = T0 + ms * 1_000_000;
            while l.try_acquire(Lane::Exit, now) == Acquire::Granted {
                sent.push(now);
            }
        }
        for (i, &t) in sent.iter().enumerate() {
            let in_span = sent[i..].iter().take_while(|&&u| u < t + SEC).count();
            assert!(in_span <= 10, "{in_span} orders in 1 s from {t}");
        }
        assert_eq!(sent.len(), 50, "full throughput: 10 per second");
    }

    #[test]
    fn usage_headers_raise_the_count() {
        let mut l = RateLimiter::new(RateLimits::binance_usdm());
        l.observe_header("X-MBX-ORDER-COUNT-10S", "239", T0, 0);
        assert_eq!(drain(&mut l, Lane::Entry, T0), 1);
        l.observe_header("x-mbx-used-weight-1m", "2399", T0, 0);
        assert_eq!(
            l.try_acquire(Lane::Exit, T0),
            Acquire::Granted,
            "exit may use all 2400"
        );
        assert!(matches!(
            l.try_acquire(Lane::Query, T0),
            Acquire::Wait {
                cause: WaitCause::Weight,
                ..
            }
        ));
        // Unknown interval and garbage are ignored.
        l.observe_header("X-MBX-ORDER-COUNT-1D", "999999", T0, 0);
        l.observe_header("X-MBX-ORDER-COUNT-1M", "abc", T0, 0);
        assert_eq!(interval_ns("10S"), Some(10 * SEC));
        assert_eq!(interval_ns("1m"), Some(60 * SEC));
        assert_eq!(interval_ns("X"), None);
    }

    #[test]
    fn bybit_headers_set_limit_status_and_reset() {
        let mut l = RateLimiter::new(RateLimits::bybit_v5());
        l.observe_header("X-Bapi-Limit", "20", T0, 5_000);
        l.observe_header("X-Bapi-Limit-Status", "4", T0, 5_000);
        assert_eq!(drain(&mut l, Lane::Exit, T0), 4);
        // Reset equal to now means "not exceeded": no block.
        l.observe_header("X-Bapi-Limit-Reset-Timestamp", "5000", T0, 5_000);
        assert_eq!(l.blocked_until_ns(), 0);
        l.observe_header("X-Bapi-Limit-Reset-Timestamp", "5300", T0, 5_000);
        assert_eq!(l.blocked_until_ns(), T0 + 300_000_000);
    }

    #[test]
    fn retry_after_blocks_every_lane_and_418_defaults_to_two_minutes() {
        let mut l = RateLimiter::new(RateLimits::binance_usdm());
        l.on_throttled(Throttle::TooMany, Some(30), T0, 0);
        for lane in [Lane::Entry, Lane::Exit, Lane::Query] {
            assert_eq!(
                l.try_acquire(lane, T0 + 29 * SEC),
                Acquire::Wait {
                    until_ns: T0 + 30 * SEC,
                    cause: WaitCause::Throttled
                }
            );
        }
        assert_eq!(l.try_acquire(Lane::Exit, T0 + 30 * SEC), Acquire::Granted);
        l.on_throttled(Throttle::Banned, None, T0 + 31 * SEC, 0);
        assert_eq!(
            l.try_acquire(Lane::Exit, T0 + 31 * SEC),
            Acquire::Wait {
                until_ns: T0 + 151 * SEC,
                cause: WaitCause::Banned
            }
        );
        assert_eq!(l.counters().throttled, 1);
        assert_eq!(l.counters().banned, 1);
    }

    #[test]
    fn consecutive_429_without_retry_after_double_and_reset() {
        let mut l = RateLimiter::new(RateLimits::bybit_v5());
        l.on_throttled(Throttle::BybitTooMany { reset_ms: None }, None, T0, 0);
        assert_eq!(l.blocked_until_ns(), T0 + SEC);
        l.on_throttled(Throttle::TooMany, None, T0 + SEC, 0);
        assert_eq!(l.blocked_until_ns(), T0 + 3 * SEC);
        l.on_accepted();
        l.on_throttled(Throttle::TooMany, None, T0 + 3 * SEC, 0);
        assert_eq!(l.blocked_until_ns(), T0 + 4 * SEC);
        l.on_throttled(
            Throttle::BybitTooMany {
                reset_ms: Some(10_500),
            },
            None,
            T0 + 4 * SEC,
            10_000,
        );
        assert_eq!(l.blocked_until_ns(), T0 + 4 * SEC + 500_000_000);
    }

    #[test]
    fn exchange_info_overrides_order_limits() {
        let cfg = RateLimits::binance_usdm().with_order_limit(100, 10 * SEC);
        let mut l = RateLimiter::new(cfg);
        assert_eq!(drain(&mut l, Lane::Exit, T0), 100);
    }
}
