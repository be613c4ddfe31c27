//! Execution: exact rounding to the venue's filters, signed order requests, paper fills.

pub mod binance_order;
pub mod bybit_order;
pub mod instrument;
pub mod keys;
pub mod order_request;
pub mod paper;
pub mod report;
pub mod sign;
pub mod specs;
pub mod venue_api;
pub mod venue_error;

use rust_decimal::Decimal;

pub use binance_order::{BinanceOrderBuilder, ExitKind, ExitOrder, OrderFields};
pub use bybit_order::BybitOrderBuilder;
pub use instrument::Instrument;
pub use keys::{check_endpoint, ApiKeys, LiveGate, Secret};
pub use order_request::{NewOrder, OrderReject, OrderType, TimeInForce, TriggerBy};
pub use paper::PaperVenue;
pub use report::{ExecReport, RejectReason, ReportStatus};
pub use sign::Signer;
pub use venue_api::{BinanceApi, BybitApi, ClockSync, Venue};
pub use venue_error::{ErrorKind, Retry, VenueError};

use crate::strategy::OrderIntent;

/// Counters the monitor reads (one writer: the execution thread).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecStats {
    /// Signed requests built.
    pub orders: u64,
    /// Paper fills.
    pub fills: u64,
    /// Rejections per [`RejectReason::index`].
    pub rejects: [u64; 3],
}

/// The execution stage: intent → exact quantity → signed request → (paper) fill.
pub struct Executor {
    instruments: Vec<Instrument>,
    names: Vec<String>,
    builder: BinanceOrderBuilder,
    paper: PaperVenue,
    stats: ExecStats,
}

impl Executor {
    /// An executor for the symbols in `names` (same order as their `SymbolId`s).
    pub fn new(
        instruments: Vec<Instrument>,
        names: Vec<String>,
        builder: BinanceOrderBuilder,
        paper: PaperVenue,
    ) -> Self {
        assert_eq!(instruments.len(), names.len(), "one instrument per symbol");
        Self {
            instruments,
            names,
            builder,
            paper,
            stats: ExecStats::default(),
        }
    }

    /// Executes one intent. `timestamp_ms` is the venue-clock request time; `on_signed` gets the
    /// signed request bytes as soon as they exist (the transport hand-off point). Returns the fill,
    /// or a rejection when the floored quantity breaks the instrument's filters.
    #[inline]
    pub fn execute<F: FnOnce(&[u8])>(
        &mut self,
        it: &OrderIntent,
        timestamp_ms: u64,
        on_signed: F,
    ) -> ExecReport {
        let i = it.symbol.index();
        let inst = &self.instruments[i];
        let qty = it.qty;
        let mut report = ExecReport {
            symbol: it.symbol,
            client_seq: it.client_seq,
            side: it.side,
            status: ReportStatus::Filled,
            price: Decimal::ZERO,
            qty: Decimal::ZERO,
            fee: Decimal::ZERO,
        };
        // Compute checked the filters already; checking again keeps a wrong intent off the wire.
        if let Some(reason) = inst.violation(qty, it.ref_price, it.reduce_only) {
            self.stats.rejects[reason.index()] += 1;
            report.status = ReportStatus::Rejected(reason);
            report.qty = qty;
            return report;
        }
        let bytes = self.builder.build(&OrderFields {
            symbol: &self.names[i],
            side: it.side,
            quantity: qty,
            reduce_only: it.reduce_only,
            client_seq: it.client_seq,
            timestamp_ms,
        });
        self.stats.orders += 1;
        on_signed(bytes);
        let (price, fee) = self.paper.fill(inst, it.side, it.ref_price, qty);
        self.stats.fills += 1;
        report.price = price;
        report.qty = qty;
        report.fee = fee;
        report
    }

    /// Counters so far.
    pub fn stats(&self) -> &ExecStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::{Side, SymbolId};
    use crate::strategy::Case;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn executor() -> Executor {
        let inst = Instrument::new(d("0.10"), d("0.001"), d("0.001"), d("150"), d("5")).unwrap();
        Executor::new(
            vec![inst],
            vec!["BTCUSDT".into()],
            BinanceOrderBuilder::new("key", b"secret", "localhost", 5000, "ct-"),
            PaperVenue {
                taker_fee: d("0.0004"),
                slippage_bps: 0.0,
            },
        )
    }

    fn intent(qty: &str, reduce_only: bool) -> OrderIntent {
        OrderIntent {
            symbol: SymbolId(0),
            side: Side::Buy,
            qty: d(qty),
            ref_price: 61800.3,
            reduce_only,
            case: Case::AcceleratingUp,
            client_seq: 7,
            tick_recv_ns: 0,
            decided_ns: 0,
        }
    }

    #[test]
    fn entry_is_signed_and_filled() {
        let mut e = executor();
        let mut seen = Vec::new();
        let r = e.execute(&intent("0.016", false), 1_700_000_000_000, |b| {
            seen.extend_from_slice(b)
        });
        assert_eq!(r.status, ReportStatus::Filled);
        assert_eq!(r.qty, d("0.016"));
        assert_eq!(r.price, d("61800.30"));
        assert_eq!(r.fee, d("0.39552192"));
        let text = String::from_utf8(seen).unwrap();
        assert!(
            text.contains("quantity=0.016&newClientOrderId=ct-7&"),
            "{text}"
        );
    }

    #[test]
    fn order_below_min_notional_is_not_sent() {
        let mut e = executor();
        let mut sent = false;
        // 0.001 BTC × 61800 = 61.8 USDT passes; at 4000 USDT/BTC it is 4 < 5.
        let mut it = intent("0.001", false);
        it.ref_price = 4000.0;
        let r = e.execute(&it, 1, |_| sent = true);
        assert_eq!(
            r.status,
            ReportStatus::Rejected(RejectReason::BelowMinNotional)
        );
        assert!(!sent);
        assert_eq!(e.stats().rejects[RejectReason::BelowMinNotional.index()], 1);
    }

    #[test]
    fn reduce_only_exit_ignores_min_notional_but_not_min_qty() {
        let mut e = executor();
        let mut it = intent("0.001", true);
        it.ref_price = 4000.0;
        assert_eq!(e.execute(&it, 1, |_| {}).status, ReportStatus::Filled);
        let r = e.execute(&intent("0.0004", false), 1, |_| {});
        assert_eq!(r.status, ReportStatus::Rejected(RejectReason::BelowMinQty));
    }
}
