//! Fault plans for the embedded exchange: which fault, if any, request number `i` of a kind
//! meets — a seeded, deterministic decision from a small TOML table, so a failing soak or
//! test replays exactly.
//!
//! ```toml
//! seed = 7
//! [[rule]]
//! p = 0.02
//! on = ["order"]
//! fault = { kind = "http5xx_unknown", filled = true }
//! [[rule]]
//! p = 0.01
//! on = ["order", "query"]
//! fault = { kind = "rate_limit", status = 429, retry_after_s = 2 }
//! ```
//!
//! Decision: `u = splitmix64(seed, kind, i) / 2^64`; the rules that apply to `kind`, in file
//! order, own consecutive intervals of `[0, 1)` of their probabilities; `u` in no interval is
//! [`Fault::None`]. Per kind the probabilities sum to at most 1.
//!
//! # Wiring (the embedded exchange: `exchange::rest_orders`, `RestOptions::faults`)
//! The exchange keeps one request counter per [`RequestKind`] (new order / status query /
//! position query / executions read), asks [`FaultPlan::fault_for`] for each request after
//! reading it whole, and applies the fault:
//! - [`Fault::Http5xxUnknown`]: apply the order (fill it, book the position) when `filled`,
//!   else drop it; reply HTTP 503 with Binance `{"code":-1007,"msg":"Timeout waiting for
//!   response from backend server. Send status unknown; execution status unknown."}` / Bybit
//!   HTTP 503 (or `retCode` 10016 "server error"). Later status queries report the truth.
//! - [`Fault::RateLimit`]: do not apply; reply `status` (429 or 418) with
//!   `Retry-After: retry_after_s` and Binance `{"code":-1003,…}` / Bybit `retCode` 10006 with
//!   `X-Bapi-Limit-Status: 0` and `X-Bapi-Limit-Reset-Timestamp` = now + `retry_after_s`.
//! - [`Fault::Timeout`]: apply when `applied`, never reply (keep the connection open until the
//!   client closes it).
//! - [`Fault::ResetAfterRead`]: apply when `applied`, then close the connection with a reset
//!   (`SO_LINGER` 0) without replying.
//! - [`Fault::Hang`]: apply, reply after `ms` (the connection stays busy: head-of-line test).
//! - [`Fault::PartialFill`]: fill `fraction × qty` rounded down to the step (at least one step
//!   when the quantity allows, else nothing), expire the rest (IOC), reply
//!   `PARTIALLY_FILLED`/`EXPIRED` with the cumulative `executedQty` and `cumQuote`.
//! - [`Fault::DuplicateAck`]: apply and reply normally, then answer the next status query of
//!   that order with the same (possibly stale) body once more before the current one.
//! - [`Fault::ClockSkew`]: this request sees the exchange clock shifted by `ms` (its
//!   `recvWindow` check and the reply's timestamps): beyond the window it is refused with
//!   Binance -1021 / Bybit 10002.
//! - [`Fault::Liquidation`]: apply the request, then the venue liquidates every open position
//!   of the account before the (normal) reply goes out
//!   ([`crate::exchange::liquidation::force_liquidation`], at the last trade price; counted in
//!   `OrderEntryStats::liquidations`). On an entry the trader learns of a fill whose position
//!   is already gone: as after a real liquidation, it finds out when its exit is refused (or
//!   from the private stream). `fault = { kind = "liquidation" }`.
//! - [`Fault::NoEntry`] (position queries only; any other request is served as without a
//!   fault): the reply reports every position's entry price as 0 (Binance `entryPrice`
//!   `"0.0"`, Bybit `avgPrice` `"0"`), a venue fault no documentation allows for an open
//!   position, for the adoption that then has only the mark. `fault = { kind = "no_entry" }`.

use serde::Deserialize;

/// What a request is, for fault selection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// New order (`POST /fapi/v1/order`, `POST /v5/order/create`).
    Order,
    /// Order-status query by client id.
    Query,
    /// Position query.
    Position,
    /// Executions read (`GET /fapi/v1/userTrades`, `GET /v5/execution/list`).
    Executions,
}

impl RequestKind {
    const ALL: [RequestKind; 4] = [
        RequestKind::Order,
        RequestKind::Query,
        RequestKind::Position,
        RequestKind::Executions,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// One injected fault (how the exchange applies each: see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Answer normally.
    None,
    /// HTTP 503 / Binance -1007 "execution status unknown"; the order filled or not.
    Http5xxUnknown {
        /// Whether the exchange applied (filled) the order before answering.
        filled: bool,
    },
    /// Throttled: HTTP 429, or 418 (IP ban), with `Retry-After`.
    RateLimit {
        /// 429 or 418.
        status: u16,
        /// `Retry-After`, seconds.
        retry_after_s: u32,
    },
    /// No reply at all.
    Timeout {
        /// Whether the exchange applied the request.
        applied: bool,
    },
    /// Connection reset after the request was read.
    ResetAfterRead {
        /// Whether the exchange applied the request.
        applied: bool,
    },
    /// Reply delayed.
    Hang {
        /// Delay, ms.
        ms: u32,
    },
    /// Only part of the order fills; the rest expires.
    PartialFill {
        /// Filled share of the quantity, in (0, 1).
        fraction: f64,
    },
    /// The order's reply is delivered a second time.
    DuplicateAck,
    /// The exchange clock is shifted for this request.
    ClockSkew {
        /// Shift, ms (positive: exchange ahead).
        ms: i32,
    },
    /// The request is served, then the venue liquidates every open position.
    Liquidation,
    /// A position query is answered with every entry price 0 (other requests: no fault).
    NoEntry,
}

/// One line of the plan.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Probability per request of a listed kind, in [0, 1].
    pub p: f64,
    /// Request kinds it applies to.
    pub on: Vec<RequestKind>,
    /// The fault.
    pub fault: Fault,
}

/// The table as written.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlanConfig {
    /// Seed of the decisions.
    #[serde(default)]
    pub seed: u64,
    /// Rules, in priority order.
    #[serde(default, rename = "rule")]
    pub rules: Vec<FaultRule>,
}

/// A plan rejected by validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultPlanError(pub String);

impl std::fmt::Display for FaultPlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fault plan: {}", self.0)
    }
}

impl std::error::Error for FaultPlanError {}

/// A validated plan: per kind, cumulative thresholds on a 64-bit scale (decisions allocate
/// nothing).
#[derive(Clone, Debug, PartialEq)]
pub struct FaultPlan {
    seed: u64,
    table: [Vec<(u64, Fault)>; 4],
}

impl FaultPlan {
    /// The plan that injects nothing.
    pub fn none() -> Self {
        Self {
            seed: 0,
            table: Default::default(),
        }
    }

    /// Parses and validates a TOML table (see the module documentation).
    pub fn from_toml(text: &str) -> Result<Self, FaultPlanError> {
        let cfg: FaultPlanConfig =
            toml::from_str(text).map_err(|e| FaultPlanError(e.to_string()))?;
        Self::new(&cfg)
    }

    /// Validates `cfg`: probabilities in [0, 1] summing to ≤ 1 per kind, `status` 429 or 418,
    /// `fraction` in (0, 1), `hang.ms` > 0, every rule on at least one kind, and order-only
    /// faults (`partial_fill`, `duplicate_ack`, `http5xx_unknown` with `filled`) only on orders.
    pub fn new(cfg: &FaultPlanConfig) -> Result<Self, FaultPlanError> {
        let err = |i: usize, m: &str| Err(FaultPlanError(format!("rule {}: {m}", i + 1)));
        let mut sums = [0f64; 4];
        let mut table = <[Vec<(u64, Fault)>; 4]>::default();
        for (i, r) in cfg.rules.iter().enumerate() {
            if !(0.0..=1.0).contains(&r.p) {
                return err(i, "p must be in [0, 1]");
            }
            if r.on.is_empty() {
                return err(i, "`on` lists no request kind");
            }
            match r.fault {
                Fault::RateLimit { status, .. } if status != 429 && status != 418 => {
                    return err(i, "rate_limit status must be 429 or 418");
                }
                Fault::PartialFill { fraction } if !(fraction > 0.0 && fraction < 1.0) => {
                    return err(i, "partial_fill fraction must be in (0, 1)");
                }
                Fault::Hang { ms: 0 } => return err(i, "hang ms must be > 0"),
                _ => {}
            }
            let order_only = matches!(
                r.fault,
                Fault::PartialFill { .. }
                    | Fault::DuplicateAck
                    | Fault::Http5xxUnknown { filled: true }
            );
            for k in RequestKind::ALL {
                if !r.on.contains(&k) {
                    continue;
                }
                if order_only && k != RequestKind::Order {
                    return err(i, "this fault applies to orders only");
                }
                sums[k.index()] += r.p;
                if sums[k.index()] > 1.0 + 1e-12 {
                    return err(i, "probabilities of one request kind sum above 1");
                }
                table[k.index()].push((threshold(sums[k.index()]), r.fault));
            }
        }
        Ok(Self {
            seed: cfg.seed,
            table,
        })
    }

    /// The fault request number `request_index` of `kind` meets (deterministic in the seed).
    pub fn fault_for(&self, request_index: u64, kind: RequestKind) -> Fault {
        let u =
            splitmix64(self.seed ^ splitmix64(request_index.wrapping_mul(4) + kind.index() as u64));
        self.table[kind.index()]
            .iter()
            .find(|(t, _)| u < *t)
            .map_or(Fault::None, |&(_, f)| f)
    }
}

/// `p ∈ [0, 1]` → `⌊p × 2^64⌋`, saturating (p = 1 covers every `u`).
fn threshold(p: f64) -> u64 {
    if p >= 1.0 {
        u64::MAX
    } else {
        (p * 18_446_744_073_709_551_616.0) as u64
    }
}

/// SplitMix64 finaliser.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"
seed = 7
[[rule]]
p = 0.05
on = ["order"]
fault = { kind = "http5xx_unknown", filled = true }
[[rule]]
p = 0.03
on = ["order", "query"]
fault = { kind = "rate_limit", status = 418, retry_after_s = 30 }
[[rule]]
p = 0.1
on = ["query", "position"]
fault = { kind = "timeout", applied = false }
[[rule]]
p = 0.02
on = ["order"]
fault = { kind = "partial_fill", fraction = 0.4 }
[[rule]]
p = 0.01
on = ["order"]
fault = { kind = "duplicate_ack" }
[[rule]]
p = 0.01
on = ["position"]
fault = { kind = "hang", ms = 250 }
[[rule]]
p = 0.01
on = ["order"]
fault = { kind = "clock_skew", ms = -1500 }
[[rule]]
p = 0.01
on = ["order"]
fault = { kind = "reset_after_read", applied = true }
[[rule]]
p = 0.01
on = ["order", "position"]
fault = { kind = "liquidation" }
"#;

    #[test]
    fn parses_every_fault() {
        let p = FaultPlan::from_toml(PLAN).unwrap();
        assert_eq!(p.table[RequestKind::Order.index()].len(), 7);
        assert_eq!(p.table[RequestKind::Query.index()].len(), 2);
        assert_eq!(p.table[RequestKind::Position.index()].len(), 3);
        assert_eq!(p.table[0][5].1, Fault::ResetAfterRead { applied: true });
        assert_eq!(p.table[0][6].1, Fault::Liquidation);
        assert_eq!(p.table[2][2].1, Fault::Liquidation);
    }

    #[test]
    fn deterministic_in_seed_and_index() {
        let a = FaultPlan::from_toml(PLAN).unwrap();
        let b = FaultPlan::from_toml(PLAN).unwrap();
        let c = FaultPlan::from_toml(&PLAN.replace("seed = 7", "seed = 8")).unwrap();
        let seq = |p: &FaultPlan| {
            (0..2_000)
                .map(|i| p.fault_for(i, RequestKind::Order))
                .collect::<Vec<_>>()
        };
        assert_eq!(seq(&a), seq(&b));
        assert_ne!(seq(&a), seq(&c));
        // Kinds draw independently: the same index does not fault on every kind together.
        let both = (0..20_000)
            .filter(|&i| {
                a.fault_for(i, RequestKind::Query) != Fault::None
                    && a.fault_for(i, RequestKind::Position) != Fault::None
            })
            .count();
        assert!(
            (200..=370).contains(&both),
            "{both}, expected ≈ 20000 × 0.13 × 0.11 = 286"
        );
    }

    #[test]
    fn frequencies_match_probabilities() {
        let p = FaultPlan::from_toml(PLAN).unwrap();
        let n = 200_000u64;
        let mut counts = [0u64; 4];
        for i in 0..n {
            match p.fault_for(i, RequestKind::Order) {
                Fault::Http5xxUnknown { filled: true } => counts[0] += 1,
                Fault::RateLimit {
                    status: 418,
                    retry_after_s: 30,
                } => counts[1] += 1,
                Fault::None => counts[3] += 1,
                Fault::Timeout { .. } | Fault::Hang { .. } => panic!("not an order fault"),
                _ => counts[2] += 1,
            }
        }
        // Binomial: 5 standard deviations.
        for (c, prob) in [
            (counts[0], 0.05),
            (counts[1], 0.03),
            (counts[2], 0.06),
            (counts[3], 0.86),
        ] {
            let mean = n as f64 * prob;
            let sd = (mean * (1.0 - prob)).sqrt();
            assert!((c as f64 - mean).abs() < 5.0 * sd, "{c} vs {mean}");
        }
        let t = (0..n)
            .filter(|&i| matches!(p.fault_for(i, RequestKind::Query), Fault::Timeout { .. }))
            .count();
        assert!((t as f64 - 0.1 * n as f64).abs() < 5.0 * (n as f64 * 0.09).sqrt());
    }

    #[test]
    fn empty_and_certain_plans() {
        let none = FaultPlan::none();
        assert!((0..1_000).all(|i| none.fault_for(i, RequestKind::Order) == Fault::None));
        assert_eq!(
            FaultPlan::from_toml("")
                .unwrap()
                .fault_for(3, RequestKind::Query),
            Fault::None
        );
        let all = FaultPlan::from_toml(
            "[[rule]]\np = 1.0\non = [\"order\"]\nfault = { kind = \"http5xx_unknown\", filled = false }",
        )
        .unwrap();
        assert!((0..1_000).all(
            |i| all.fault_for(i, RequestKind::Order) == Fault::Http5xxUnknown { filled: false }
        ));
        assert!((0..1_000).all(|i| all.fault_for(i, RequestKind::Query) == Fault::None));
    }

    #[test]
    fn invalid_plans_are_refused_with_the_rule() {
        let bad = [
            ("p = 1.5\non = [\"order\"]\nfault = { kind = \"duplicate_ack\" }", "p must be"),
            ("p = 0.1\non = []\nfault = { kind = \"duplicate_ack\" }", "no request kind"),
            ("p = 0.1\non = [\"order\"]\nfault = { kind = \"rate_limit\", status = 500, retry_after_s = 1 }", "429 or 418"),
            ("p = 0.1\non = [\"order\"]\nfault = { kind = \"partial_fill\", fraction = 1.0 }", "fraction"),
            ("p = 0.1\non = [\"order\"]\nfault = { kind = \"hang\", ms = 0 }", "ms must be"),
            ("p = 0.1\non = [\"query\"]\nfault = { kind = \"duplicate_ack\" }", "orders only"),
            ("p = 0.6\non = [\"query\"]\nfault = { kind = \"timeout\", applied = true }\n[[rule]]\np = 0.6\non = [\"query\"]\nfault = { kind = \"hang\", ms = 5 }", "sum above 1"),
        ];
        for (rule, msg) in bad {
            let e = FaultPlan::from_toml(&format!("[[rule]]\n{rule}")).unwrap_err();
            assert!(e.0.contains(msg) && e.0.starts_with("rule "), "{e} / {msg}");
        }
        assert!(FaultPlan::from_toml(
            "[[rule]]\np = 0.1\non = [\"order\"]\nfault = { kind = \"bogus\" }"
        )
        .is_err());
        assert!(FaultPlan::from_toml("seed = 1\nextra = 2").is_err());
    }
}
