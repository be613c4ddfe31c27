//! Event counters of the hot threads, published with each histogram snapshot.

crate::types::named::named_enum! {
    /// A counted event. Each counter has exactly one writer thread.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum Counter {
        /// WebSocket data frames received.
        Frames => "frames",
        /// Trades parsed into ticks.
        Ticks => "ticks",
        /// Frames rejected: malformed JSON.
        RejectJson => "reject_json",
        /// Frames rejected: a required field missing.
        RejectMissingField => "reject_missing_field",
        /// Frames rejected: a number that is not a finite decimal.
        RejectBadNumber => "reject_bad_number",
        /// Frames rejected: price or quantity ≤ 0.
        RejectNonPositive => "reject_non_positive",
        /// Frames rejected: symbol not configured.
        RejectUnknownSymbol => "reject_unknown_symbol",
        /// Subscription acks received.
        VenueAcks => "venue_acks",
        /// Venue error frames received.
        VenueErrors => "venue_errors",
        /// Decisions wanting a different position than held.
        Signals => "signals",
        /// Order intents emitted by compute.
        Intents => "intents",
        /// Matrix orders that open (or flip to) a position: every entry the strategy sent.
        Entries => "entries",
        /// Signals suppressed: per-symbol cooldown.
        BlockedCooldown => "blocked_cooldown",
        /// Signals not sent by compute: floored quantity below min qty.
        FilteredMinQty => "filtered_min_qty",
        /// Signals not sent by compute: notional below min notional.
        FilteredMinNotional => "filtered_min_notional",
        /// Signals not sent by compute: above max market qty.
        FilteredMaxQty => "filtered_max_qty",
        /// Signed order requests built.
        Orders => "orders",
        /// Paper fills.
        Fills => "fills",
        /// Intents refused by execution: below min quantity.
        RejectMinQty => "reject_min_qty",
        /// Intents refused by execution: below min notional.
        RejectMinNotional => "reject_min_notional",
        /// Intents refused by execution: above max quantity.
        RejectMaxQty => "reject_max_qty",
        /// Pushes that found the md ring full (retried, never dropped).
        MdRingFull => "md_ring_full",
        /// Pushes that found the order ring full (retried, never dropped).
        OrderRingFull => "order_ring_full",
        /// Pushes that found the fill ring full (retried, never dropped).
        FillRingFull => "fill_ring_full",
        /// Entries refused by risk: stop-risk above max risk per trade.
        BlockedRiskPerTrade => "blocked_risk_per_trade",
        /// Entries refused by risk: portfolio stop-risk limit.
        BlockedPortfolioRisk => "blocked_portfolio_risk",
        /// Entries refused by risk: max concurrent positions.
        BlockedMaxPositions => "blocked_max_positions",
        /// Entries refused by risk: per-symbol exposure cap.
        BlockedSymbolExposure => "blocked_symbol_exposure",
        /// Entries refused by risk: correlated with an open position.
        BlockedCorrelation => "blocked_correlation",
        /// Entries refused by risk: daily loss limit (until the next UTC day).
        BlockedDailyLoss => "blocked_daily_loss",
        /// Entries refused by risk: drawdown pause.
        BlockedDrawdown => "blocked_drawdown",
        /// Entries refused by risk: consecutive losses pause.
        BlockedConsecutiveLosses => "blocked_consecutive_losses",
        /// Entries refused by risk: emergency stop.
        BlockedEmergencyStop => "blocked_emergency_stop",
        /// Entries refused by risk: symbol left unreconciled at start-up.
        BlockedUnreconciled => "blocked_unreconciled",
        /// Entries refused by risk: reward:risk below the minimum.
        BlockedRewardRisk => "blocked_reward_risk",
        /// Entries refused by risk: Kelly fraction ≤ 0.
        BlockedNoEdge => "blocked_no_edge",
        /// Entries refused by risk: unusable sizing input.
        BlockedBadRiskInput => "blocked_bad_risk_input",
        /// Drift monitor reductions (reduce-only).
        DriftReduces => "drift_reduces",
        /// Drift monitor exits (drift flipped against the position).
        DriftExits => "drift_exits",
        /// Take-profit levels hit by a trade price.
        ExitTakeProfit => "exit_take_profit",
        /// Stop-loss levels hit by a trade price.
        ExitStopLoss => "exit_stop_loss",
        /// Emergency stops triggered (manual or by drawdown).
        EmergencyStops => "emergency_stops",
        /// Entry signals blocked by compute: SNR below `signal.snr_min`.
        BlockedSnr => "blocked_snr",
        /// Entry signals blocked by compute: confidence below `signal.confidence_min`.
        BlockedConfidence => "blocked_confidence",
        /// Entry signals vetoed by the OU mean-reversion layer.
        BlockedOu => "blocked_ou",
        /// Entry signals vetoed by the drift-predictor layer.
        BlockedDrift => "blocked_drift",
        /// Entry signals vetoed by the order-flow layer.
        BlockedFlow => "blocked_flow",
        /// Entry signals vetoed by the cross-asset layer.
        BlockedCross => "blocked_cross",
        /// Entry signals vetoed by the regime layer.
        BlockedRegime => "blocked_regime",
        /// Entry signals vetoed by the take-profit-first layer.
        BlockedTpFirst => "blocked_tp_first",
        /// Entry signals vetoed by the indicator composite.
        BlockedIndicators => "blocked_indicators",
        /// Per-symbol model resets after a gap longer than `model.reset_gap_s`.
        ModelResets => "model_resets",
        /// Frames rejected: a number that is NaN or infinite.
        RejectNonFinite => "reject_non_finite",
        /// Events rejected: venue timestamp too far ahead of the wall clock.
        RejectFutureTs => "reject_future_ts",
        /// Events rejected: older than the symbol's newest accepted event minus the tolerance.
        RejectOutOfOrder => "reject_out_of_order",
        /// Trades rejected: trade id already seen.
        RejectDuplicate => "reject_duplicate",
        /// Trades rejected: price outside the sigma band.
        RejectSpike => "reject_spike",
        /// Top-of-book quotes parsed and accepted.
        Quotes => "quotes",
        /// Application-level pongs received (Bybit).
        VenuePongs => "venue_pongs",
        /// Market-data WebSocket handshakes completed (first connect and reconnects).
        FeedConnects => "feed_connects",
        /// Open market-data connections lost (error, peer close, dead link).
        FeedDisconnects => "feed_disconnects",
        /// Market-data connection attempts started.
        FeedConnectAttempts => "feed_connect_attempts",
        /// Market-data connection attempts that failed before opening.
        FeedConnectFailures => "feed_connect_failures",
        /// Links declared dead: no frame (data or pong) for `feed.dead_after_ms`.
        FeedDeadLinks => "feed_dead_links",
        /// Client heartbeats sent (ping frames / `{"op":"ping"}`).
        FeedHeartbeats => "feed_heartbeats",
        /// Subscribe requests sent (initial and re-subscriptions).
        FeedSubscribes => "feed_subscribes",
        /// Unsubscribe requests sent (symbols removed at run time).
        FeedUnsubscribes => "feed_unsubscribes",
        /// Messages of a symbol not (or no longer) subscribed, dropped (in flight at an
        /// unsubscribe).
        FeedUnsubscribedDropped => "feed_unsubscribed_dropped",
        /// Symbols that went stale (no message for `feed.stale_after_ms` on a live link): paused.
        FeedStale => "feed_stale",
        /// Symbols back to live after stale / down / recovering.
        FeedRecovered => "feed_recovered",
        /// Symbols with no message within `feed.stale_after_ms` of subscribing (reported once).
        FeedSilent => "feed_silent",
        /// Symbols whose REST fallback was switched on.
        RestFallbackOn => "rest_fallback_on",
        /// Symbols whose REST fallback was switched off (WS data again).
        RestFallbackOff => "rest_fallback_off",
        /// REST fallback requests sent.
        RestPolls => "rest_polls",
        /// REST fallback requests failed.
        RestErrors => "rest_errors",
        /// Trades received over REST (before de-duplication).
        RestTrades => "rest_trades",
        /// Ticks delivered from the REST fallback (new after de-duplication).
        RestTicks => "rest_ticks",
        /// Trades dropped as already delivered (or older than the last delivered).
        DedupDropped => "dedup_dropped",
        /// Trades never received: gaps in sequential trade ids.
        FeedMissedTrades => "feed_missed_trades",
        /// Feed log lines dropped because the log ring was full.
        FeedLogsDropped => "feed_logs_dropped",
        /// Socket reads the feed loop issued (one `recv` system call each, data or `EAGAIN`).
        FeedSocketReads => "feed_socket_reads",
        /// Socket writes the feed loop issued (subscriptions, heartbeats, pongs, closes).
        FeedSocketWrites => "feed_socket_writes",
        /// `epoll_wait` calls of the feed loop (`mio::Poll::poll`).
        FeedEpollWaits => "feed_epoll_waits",
        /// Venue acks of orders not filled at once (then queried).
        ExecAcks => "exec_acks",
        /// Order-status queries (ack follow-ups, lost replies).
        ExecRequeries => "exec_requeries",
        /// Orders refused by the venue (any venue error code).
        RejectVenue => "reject_venue",
        /// Orders lost: no reply and unknown to the venue, or not sendable.
        RejectLost => "reject_lost",
        /// Order journal records appended.
        JournalRecords => "journal_records",
        /// Order journal write failures (trading halts).
        JournalErrors => "journal_errors",
        /// Shadow orders built and signed to keep the order path warm (never sent; not in
        /// `orders`), see `exec.warm_every_us`.
        WarmShadows => "exec_warm_shadows",
        /// Entry signals refused by compute: the symbol's feed is not live (stale, down,
        /// recovering, silent); exits still go out.
        BlockedStale => "blocked_stale",
        /// Entry signals refused by the learned filter (`P(win) < strategy.learned.threshold`).
        BlockedLearned => "blocked_learned",
        /// De-duplication restarts on a detected gap (id jump beyond plausibility, or ids that
        /// contradict trade times); none is counted as missed trades.
        DedupResets => "dedup_resets",
        /// Symbols paused because every trade was rejected for `feed.stale_after_ms`.
        FeedBlinded => "feed_blinded",
        /// Venue orders whose outcome became unknown (then queried by client id).
        OrdersUnknown => "orders_unknown",
        /// Symbols reconciled from the venue's position after an order stayed unknown.
        OrdersReconciled => "orders_reconciled",
        /// Partial fills booked (fill deltas that left the order not fully filled).
        PartialFills => "partial_fills",
        /// Venue requests held back by the rate limiter (entries refused, queries deferred).
        RateWaits => "rate_waits",
        /// Venue replies 429 / 418 / Bybit 10006 (every lane then waits the back-off).
        RateThrottled => "rate_throttled",
        /// Entries refused before sending for lack of room: no slot in the venue's order-rate
        /// window or a 429/418 back-off (and lanes or orders in flight full when a caller
        /// submits without asking `Executor::admits`; the execution stage holds instead).
        /// Exits never are.
        RejectBackpressure => "reject_backpressure",
        /// Entries refused while their symbol's venue position differed from the booked one
        /// with nothing to explain it yet (`Executor` position-unknown flag); exits still go.
        RejectPositionUnknown => "reject_position_unknown",
        /// Intents the execution stage held before taking them (orders in flight or the entry lane
        /// full, or an order-rate window used up): back-pressure up to compute and the feed,
        /// nothing refused.
        ExecHeld => "exec_held",
        /// Holds that gave up after the drain timeout with no room (an order in flight that
        /// nothing answered; the intent was refused and the operator told what is in flight).
        ExecHoldTimeouts => "exec_hold_timeouts",
        /// Private-stream order updates applied to this session's orders.
        StreamOrderUpdates => "stream_order_updates",
        /// Venue-side closes (TP/SL, liquidation, ADL) booked at the venue's execution price
        /// from the private stream.
        StreamVenueCloses => "stream_venue_closes",
        /// Private-stream executions seen twice (dropped).
        StreamDuplicates => "stream_duplicates",
        /// 1 while the private stream is up (authenticated, subscribed, re-synced), else 0.
        StreamUp => "stream_up",
        /// Entries refused: operator `Stop` in force.
        BlockedOperatorStop => "blocked_operator_stop",
        /// Entries refused: operator `Pause` in force.
        BlockedOperatorPause => "blocked_operator_pause",
        /// Entries refused: operator circuit breaker in force.
        BlockedCircuitBreaker => "blocked_circuit_breaker",
        /// Entries refused: the symbol was removed by an operator (`RemoveSymbol`).
        BlockedInactive => "blocked_inactive",
        /// Entries refused by risk: the book's post-trade VaR would exceed its budget.
        BlockedPortfolioVar => "blocked_portfolio_var",
        /// Operator commands applied by the compute thread.
        OperatorCommands => "operator_commands",
        /// Reduce-only closes sent for operator commands (emergency stop, close, remove).
        OperatorCloses => "operator_closes",
        /// Operator settings changes applied.
        OperatorSettings => "operator_settings",
        /// Operator commands ignored (unknown symbol id).
        OperatorIgnored => "operator_ignored",
        /// Order requests answered over the order WebSocket (`exec.order_transport`).
        WsOrders => "ws_orders",
        /// Order WebSocket links lost (their requests in flight were queried over REST).
        WsDrops => "ws_drops",
        /// Fills the venue executed before fills booked first (its time read from the venue
        /// late), booked before them: the strategy's position re-booked in the venue's order.
        FillsRebooked => "fills_rebooked",
        /// Of those, fills placed before the oldest of the strategy's last 16 of the symbol
        /// where the journal places them earlier still: its entry and realized PnL may differ
        /// from the journal's until the symbol is next flat.
        FillsBeyondLog => "fills_beyond_log",
    }
}

/// Running totals, one slot per [`Counter`], saturating. Plain integers: the owning thread writes them into
/// its snapshot; the monitor merges snapshots from all threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterSet([u64; Counter::COUNT]);

impl Default for CounterSet {
    fn default() -> Self {
        Self([0; Counter::COUNT])
    }
}

impl CounterSet {
    /// Sets the total of `c`.
    #[inline]
    pub fn set(&mut self, c: Counter, v: u64) {
        self.0[c as usize] = v;
    }

    /// Adds `n` to `c`, saturating at `u64::MAX` (a counter never wraps).
    #[inline]
    pub fn add(&mut self, c: Counter, n: u64) {
        let v = &mut self.0[c as usize];
        *v = v.saturating_add(n);
    }

    /// The total of `c`.
    #[inline]
    pub fn get(&self, c: Counter) -> u64 {
        self.0[c as usize]
    }

    /// Takes, per counter, the larger of the two totals (totals only grow, and each counter
    /// has one writer, so this merges the latest totals of several threads).
    pub fn merge_max(&mut self, other: &CounterSet) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = (*a).max(*b);
        }
    }

    /// Non-zero counters as `name=value` pairs.
    pub fn nonzero(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        Counter::ALL
            .iter()
            .map(|c| (c.name(), self.get(*c)))
            .filter(|(_, v)| *v > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_saturate_instead_of_wrapping() {
        let mut c = CounterSet::default();
        c.add(Counter::FeedMissedTrades, u64::MAX - 1);
        c.add(Counter::FeedMissedTrades, 5);
        assert_eq!(c.get(Counter::FeedMissedTrades), u64::MAX);
    }

    #[test]
    fn merge_keeps_each_threads_latest_total() {
        let mut net = CounterSet::default();
        net.set(Counter::Ticks, 10);
        let mut exec = CounterSet::default();
        exec.set(Counter::Orders, 3);
        let mut m = CounterSet::default();
        m.merge_max(&net);
        m.merge_max(&exec);
        assert_eq!(m.get(Counter::Ticks), 10);
        assert_eq!(m.get(Counter::Orders), 3);
        let names: Vec<_> = m.nonzero().map(|(n, _)| n).collect();
        assert_eq!(names, vec!["ticks", "orders"]);
    }
}
