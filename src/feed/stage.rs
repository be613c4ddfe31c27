//! The feed stage that both topologies run: sockets → frames → validated, de-duplicated ticks,
//! with per-symbol liveness, REST fallback and counters. Records `parse` and `feed_delay`.

use std::sync::Arc;
use std::time::Duration;

use super::conn::{ConnEvent, ConnSettings, Connections};
use super::control::{FeedCommand, FeedControl};
use super::guard::FeedGuard;
use super::liveness::{Liveness, SymbolHealth, SymbolState, Transition};
use super::protocol::{plan_links_for, symbol_topics, LinkPlan, Venue};
use super::rest::{FeedCold, RestPlan, RestStats};
use super::settings::FeedConfig;
use super::ws::{WsError, WsStatus, WsTarget};
use super::{Control, MarketEvent, ParseError, Reject, SymbolTable, ValidationConfig, VenueParser};
use crate::ring::{channel, Consumer};
use crate::telemetry::{Clock, Counter, CounterSet, Stage, StageHistograms, WallClock};
use crate::types::{SymbolId, Tick};

/// Everything the feed needs to start, resolved from the config by the runtime.
#[derive(Debug, Clone)]
pub struct FeedPlan {
    /// The venue.
    pub venue: Venue,
    /// WebSocket URL (`wss://…`, or the embedded exchange's loopback `ws://…`).
    pub ws_url: String,
    /// REST base URL of the fallback.
    pub rest_url: String,
    /// `[feed]` settings.
    pub feed: FeedConfig,
    /// TLS client config, required for `wss://`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// TLS settings of the REST fallback's `https://` client (`venue.ca_file`).
    pub rest_tls: ureq::tls::TlsConfig,
    /// Close code that ends a link for good (the embedded exchange's end of replay).
    pub end_close_code: Option<u16>,
    /// Record `feed_delay` (wall clock at receive − exchange time). Off for replays, whose
    /// exchange timestamps are historical.
    pub record_feed_delay: bool,
    /// `[validation]` thresholds of the stateful market-data checks.
    pub validation: ValidationConfig,
}

/// The per-venue breakdowns of `parse` and `feed_delay` ([`Stage::venue_total`]) for `venue`:
/// each value recorded into `parse` / `feed_delay` is also recorded into these.
pub fn venue_stages(venue: Venue) -> (Stage, Stage) {
    match venue {
        Venue::Binance => (Stage::ParseBinance, Stage::FeedDelayBinance),
        Venue::Bybit => (Stage::ParseBybit, Stage::FeedDelayBybit),
    }
}

/// How often per-symbol staleness is checked, as a fraction of `stale_after` (≥ 1 ms).
const STALE_CHECKS_PER_PERIOD: u64 = 10;

/// Slots of the feed command ring (subscription changes waiting for the network thread).
const FEED_COMMANDS: usize = 64;

/// Network stage: drives every market-data connection (one mio loop), parses frames, drops
/// repeats, tracks per-symbol liveness, merges the REST fallback and hands ticks on.
///
/// The symbol table may hold more symbols (the universe) than are subscribed; subscriptions
/// change at run time through [`FeedCommand`]s ([`FeedStage::control`]), applied between reads.
#[derive(Debug)]
pub struct FeedStage {
    conns: Connections,
    venue: Venue,
    /// Topic kinds subscribed per symbol, and the most topics one connection carries.
    kinds: Vec<String>,
    per_conn: usize,
    commands: Consumer<FeedCommand>,
    control: Option<FeedControl>,
    parser: VenueParser,
    guard: FeedGuard,
    symbols: SymbolTable,
    link_symbols: Vec<Vec<SymbolId>>,
    live: Liveness,
    rest_rx: Consumer<Tick>,
    rest_stats: Arc<RestStats>,
    rest_enabled: bool,
    cold: FeedCold,
    clock: Clock,
    wall: WallClock,
    record_feed_delay: bool,
    counts: CounterSet,
    transitions: Vec<Transition>,
    next_check_ns: u64,
    check_every_ns: u64,
    stale_after_ns: u64,
    /// `parse.<venue>`, `feed_delay.<venue>`.
    venue_stages: (Stage, Stage),
}

impl FeedStage {
    /// [`FeedStage::start_active`] with every symbol of `symbols` subscribed.
    pub fn start(plan: FeedPlan, symbols: SymbolTable, clock: Clock) -> Result<Self, String> {
        let all: Vec<SymbolId> = (0..symbols.len()).map(|i| SymbolId(i as u16)).collect();
        Self::start_active(plan, symbols, &all, clock)
    }

    /// Resolves the endpoint (DNS: blocking, start-up only), plans the connections of the
    /// `active` symbols (topic limit per connection; the others of `symbols` start
    /// unsubscribed), starts the cold thread (REST fallback + logs). Connections open on the
    /// first [`FeedStage::poll`].
    pub fn start_active(
        plan: FeedPlan,
        symbols: SymbolTable,
        active: &[SymbolId],
        clock: Clock,
    ) -> Result<Self, String> {
        let f = &plan.feed;
        let venue = plan.venue;
        let target = WsTarget::new(&plan.ws_url, plan.tls.clone()).map_err(|e| e.to_string())?;
        let kinds = f.topic_kinds(venue);
        let per_conn = f.topics_per_connection(venue);
        let links = plan_links_for(venue, &symbols, active, &kinds, per_conn);
        let link_symbols: Vec<Vec<SymbolId>> = links.iter().map(|l| l.symbols.clone()).collect();
        let (log_tx, log_rx) = channel::<String>(1024).map_err(|e| e.to_string())?;
        let settings = ConnSettings {
            venue,
            heartbeat_ns: f.heartbeat_ms(venue) * 1_000_000,
            dead_after_ns: f.dead_after_ms * 1_000_000,
            connect_timeout_ns: f.connect_timeout_ms * 1_000_000,
            backoff_base_ms: f.reconnect_base_ms,
            backoff_cap_ms: f.reconnect_max_ms,
            backoff_jitter: f.reconnect_jitter,
            end_close_code: plan.end_close_code,
        };
        let conns = Connections::new(target, links, settings, clock.clone(), log_tx)
            .map_err(|e| e.to_string())?;
        let now = clock.now_ns();
        let stale_after_ns = f.stale_after_ms * 1_000_000;
        let live = Liveness::with_active(symbols.len(), active, stale_after_ns, now);
        let trade_topic = venue.trade_topic(&kinds);
        let rest_enabled = f.rest_fallback && trade_topic.is_some();
        let (rest_tx, rest_rx) =
            channel::<Tick>((f.rest_limit as usize * 4).next_power_of_two().max(1024))
                .map_err(|e| e.to_string())?;
        let cold = FeedCold::spawn(
            RestPlan {
                venue,
                base: plan.rest_url.clone(),
                interval: Duration::from_millis(f.rest_poll_ms),
                limit: f.rest_limit,
                trade_topic: trade_topic.clone().unwrap_or_default(),
                symbols: symbols.clone(),
                enabled: rest_enabled,
                timeout: Duration::from_millis(f.rest_timeout_ms),
                tls: plan.rest_tls.clone(),
            },
            live.health(),
            rest_tx,
            log_rx,
            conns.waker(),
            clock.clone(),
        )
        .map_err(|e| format!("cannot start the feed's cold thread: {e}"))?;
        eprintln!(
            "feed[{}]: {} of {} known symbol(s) subscribed, {} topic kind(s) {:?}, over {} connection(s) (≤ {per_conn} topics each) to {}; heartbeat {} ms, dead after {} ms, stale after {} ms, reconnect {}..{} ms; REST fallback {}",
            venue.name(),
            active.len(),
            symbols.len(),
            kinds.len(),
            kinds,
            link_symbols.len(),
            plan.ws_url,
            f.heartbeat_ms(venue),
            f.dead_after_ms,
            f.stale_after_ms,
            f.reconnect_base_ms,
            f.reconnect_max_ms,
            if rest_enabled {
                format!("{} every {} ms", plan.rest_url, f.rest_poll_ms)
            } else {
                "off".to_string()
            }
        );
        let rest_stats = cold.stats();
        let (cmd_tx, commands) =
            channel::<FeedCommand>(FEED_COMMANDS).map_err(|e| e.to_string())?;
        let control = Some(FeedControl::new(cmd_tx, conns.waker()));
        Ok(Self {
            conns,
            venue,
            kinds,
            per_conn,
            commands,
            control,
            parser: VenueParser::for_venue(venue.name(), &symbols)?,
            guard: FeedGuard::new(venue.dedup_mode(), plan.validation.clone(), symbols.len()),
            transitions: Vec::with_capacity(2 * symbols.len() + 16),
            symbols,
            link_symbols,
            live,
            rest_rx,
            rest_stats,
            rest_enabled,
            cold,
            wall: WallClock::new(&clock),
            clock,
            record_feed_delay: plan.record_feed_delay,
            counts: CounterSet::default(),
            next_check_ns: now,
            check_every_ns: (stale_after_ns / STALE_CHECKS_PER_PERIOD).max(1_000_000),
            stale_after_ns,
            venue_stages: venue_stages(venue),
        })
    }

    /// The sending side of this stage's command ring (subscribe / unsubscribe at run time);
    /// `None` once taken.
    pub fn control(&mut self) -> Option<FeedControl> {
        self.control.take()
    }

    /// The per-symbol health that compute reads to pause trading (see
    /// [`crate::feed::liveness`] for the ordering guarantee).
    pub fn health(&self) -> Arc<SymbolHealth> {
        self.live.health()
    }

    /// Runs the connections' timers, reads what the sockets have (waiting up to `timeout`;
    /// `None` = do not wait), parses every frame and calls `on_tick` for each new trade (WS or
    /// REST fallback, de-duplicated, in trade order per symbol). Records `parse` (frame complete
    /// → tick built) and, for live venues, `feed_delay`, each also as `parse.<venue>` /
    /// `feed_delay.<venue>`. Returns the ticks handed on and whether the feed is still running.
    #[inline]
    pub fn poll<F: FnMut(&Tick, &mut StageHistograms)>(
        &mut self,
        timeout: Option<Duration>,
        hists: &mut StageHistograms,
        mut on_tick: F,
    ) -> Result<(u64, WsStatus), WsError> {
        // Subscription changes: one atomic load when none waits.
        while let Some(c) = self.commands.pop() {
            self.apply(c);
        }
        let Self {
            conns,
            parser,
            guard,
            symbols,
            link_symbols,
            live,
            clock,
            wall,
            record_feed_delay,
            counts,
            transitions,
            venue_stages,
            ..
        } = self;
        let (parse_venue, delay_venue) = *venue_stages;
        let mut ticks = 0;
        let mut links_changed = false;
        conns.poll(timeout, |ev| match ev {
            ConnEvent::Frame { data, recv_ns, .. } => {
                let mut mark = clock.now_ns();
                counts.add(Counter::Frames, 1);
                let wall_ms = wall.unix_ms(recv_ns);
                let parsed = parser.parse(data, symbols, |ev| {
                    // In flight when its symbol was unsubscribed: dropped.
                    if !live.subscribed(ev.symbol()) {
                        counts.add(Counter::FeedUnsubscribedDropped, 1);
                        return;
                    }
                    // De-duplication, validation, liveness: see `feed::guard`.
                    if !guard.admit_ws(&ev, recv_ns, wall_ms, live, counts, transitions) {
                        return;
                    }
                    match ev {
                        MarketEvent::Trade(mut t) => {
                            let t1 = clock.now_ns();
                            t.recv_ns = recv_ns;
                            t.parsed_ns = t1;
                            let parse_ns = t1.saturating_sub(mark);
                            hists.record(Stage::Parse, parse_ns);
                            hists.record(parse_venue, parse_ns);
                            if *record_feed_delay {
                                let exch_ns = t.exch_ts_ms.saturating_mul(1_000_000);
                                let delay = wall.unix_ns(recv_ns).saturating_sub(exch_ns);
                                hists.record(Stage::FeedDelay, delay);
                                hists.record(delay_venue, delay);
                            }
                            counts.add(Counter::Ticks, 1);
                            ticks += 1;
                            on_tick(&t, hists);
                            mark = clock.now_ns();
                        }
                        MarketEvent::Quote(_) => counts.add(Counter::Quotes, 1),
                    }
                });
                match parsed {
                    Ok(Control::Ack { .. }) => counts.add(Counter::VenueAcks, 1),
                    Ok(Control::Error { .. }) => counts.add(Counter::VenueErrors, 1),
                    Ok(Control::Pong) => counts.add(Counter::VenuePongs, 1),
                    Ok(Control::Data { .. } | Control::Other) => {}
                    Err(e) => counts.add(parse_counter(e), 1),
                }
            }
            ConnEvent::Up { link } => {
                links_changed = true;
                guard.on_link_up(&link_symbols[link]);
                live.on_link_up(&link_symbols[link], clock.now_ns(), transitions);
            }
            // A link that ended for good (end of replay, shutdown) is not a failure.
            ConnEvent::Down { ended: true, .. } => {}
            ConnEvent::Down { link, .. } => {
                links_changed = true;
                live.on_link_down(&link_symbols[link], clock.now_ns(), transitions);
            }
        })?;
        ticks += self.drain_rest(hists, &mut on_tick);
        Ok((ticks, self.check_liveness(links_changed)))
    }

    /// Hands on the REST fallback ticks (parsed on the cold thread): same de-duplication, never
    /// make a symbol live (only its own stream does). Returns the ticks handed on.
    #[inline]
    fn drain_rest<F: FnMut(&Tick, &mut StageHistograms)>(
        &mut self,
        hists: &mut StageHistograms,
        on_tick: &mut F,
    ) -> u64 {
        let mut ticks = 0;
        while let Some(t) = self.rest_rx.pop() {
            self.counts.add(Counter::RestTrades, 1);
            if !self.live.subscribed(t.symbol) {
                self.counts.add(Counter::FeedUnsubscribedDropped, 1);
                continue;
            }
            let wall_ms = self.wall.unix_ms(self.clock.now_ns());
            if self.guard.admit_rest(&t, wall_ms, &mut self.counts) {
                self.counts.add(Counter::RestTicks, 1);
                self.counts.add(Counter::Ticks, 1);
                ticks += 1;
                on_tick(&t, hists);
            }
        }
        ticks
    }

    /// Applies a subscription change (cold: only when an operator adds or removes a symbol).
    #[cold]
    #[inline(never)]
    fn apply(&mut self, c: FeedCommand) {
        let (FeedCommand::Subscribe(s) | FeedCommand::Unsubscribe(s)) = c;
        let venue = self.venue.name();
        if s.index() >= self.symbols.len() {
            self.conns
                .log(format!("feed[{venue}] {c:?}: no such symbol id; ignored"));
            return;
        }
        let name = self.symbols.name(s).to_string();
        let topics = symbol_topics(self.venue, &name, &self.kinds);
        let now = self.clock.now_ns();
        match c {
            FeedCommand::Subscribe(_) if self.live.subscribed(s) => {}
            FeedCommand::Subscribe(_) => {
                if self.conns.all_ended() {
                    self.conns.log(format!(
                        "feed[{venue}] {name}: every connection ended; not subscribed"
                    ));
                    return;
                }
                let link = self.link_for(topics.len());
                let open = self.conns.is_open(link);
                self.conns.add_symbol(link, s, topics);
                self.link_symbols[link].push(s);
                self.guard.reset_symbol(s);
                self.live.subscribe(s, open, now, &mut self.transitions);
                self.conns.log(format!(
                    "feed[{venue}] {name}: subscribed on link {link}{}",
                    if open {
                        ""
                    } else {
                        " (subscribes when it connects)"
                    }
                ));
            }
            FeedCommand::Unsubscribe(_) if !self.live.subscribed(s) => {}
            FeedCommand::Unsubscribe(_) => {
                if let Some(link) = self.link_symbols.iter().position(|l| l.contains(&s)) {
                    self.conns.remove_symbol(link, s, &topics);
                    self.link_symbols[link].retain(|&x| x != s);
                }
                self.live.unsubscribe(s, now, &mut self.transitions);
            }
        }
    }

    /// The link that takes `n` more topics: the open-or-reconnecting one with the fewest
    /// topics that stays within the per-connection limit, else a new one.
    fn link_for(&mut self, n: usize) -> usize {
        let best = (0..self.conns.len())
            .filter(|&i| !self.conns.is_ended(i))
            .map(|i| (self.conns.plan(i).topics.len(), i))
            .filter(|&(t, _)| t + n <= self.per_conn.max(n))
            .min();
        match best {
            Some((_, i)) => i,
            None => {
                self.link_symbols.push(Vec::new());
                self.conns.add_link(LinkPlan {
                    symbols: Vec::new(),
                    topics: Vec::new(),
                })
            }
        }
    }

    /// Subscribes `s` now (start-up, before the stage runs; at run time use the command ring).
    pub fn subscribe(&mut self, s: SymbolId) {
        self.apply(FeedCommand::Subscribe(s));
    }

    /// Whether `s` is subscribed now (its messages are handed on).
    pub fn subscribed(&self, s: SymbolId) -> bool {
        self.live.subscribed(s)
    }

    /// The periodic liveness check and the report of symbol transitions; whether the feed is
    /// still running.
    #[inline]
    fn check_liveness(&mut self, links_changed: bool) -> WsStatus {
        let now = self.clock.now_ns();
        if now >= self.next_check_ns {
            self.next_check_ns = now + self.check_every_ns;
            self.live.check(now, &mut self.transitions);
        }
        if !self.transitions.is_empty() || links_changed {
            self.report_transitions();
        }
        if self.conns.all_ended() && self.rest_rx.is_empty() {
            WsStatus::Closed
        } else {
            WsStatus::Open
        }
    }

    /// Counts and logs (once each) the symbol transitions collected by the last poll.
    #[cold]
    fn report_transitions(&mut self) {
        let venue = self.venue.name();
        let mut down: Vec<&str> = Vec::new();
        for tr in std::mem::take(&mut self.transitions) {
            let name = self.symbols.name(tr.symbol);
            let quiet = tr.quiet_ns as f64 / 1e9;
            let rest_on = self.rest_enabled && !tr.from.wants_rest() && tr.to.wants_rest();
            let rest_off = self.rest_enabled && tr.from.wants_rest() && !tr.to.wants_rest();
            if rest_on {
                self.counts.add(Counter::RestFallbackOn, 1);
            }
            if rest_off {
                self.counts.add(Counter::RestFallbackOff, 1);
            }
            let fallback = if rest_on {
                ", REST fallback on"
            } else if rest_off {
                ", REST fallback off"
            } else {
                ""
            };
            let line = match (tr.from, tr.to) {
                (_, SymbolState::Unsubscribed) => {
                    format!("feed[{venue}] {name}: unsubscribed → no data, not tradable")
                }
                (SymbolState::Unsubscribed, to) => {
                    format!("feed[{venue}] {name}: subscribed → {}", to.name())
                }
                (_, SymbolState::Down) => {
                    down.push(name);
                    continue;
                }
                (_, SymbolState::Recovering) | (SymbolState::Down, SymbolState::Waiting) => {
                    continue
                }
                (_, SymbolState::Stale) if tr.rejected => {
                    self.counts.add(Counter::FeedStale, 1);
                    self.counts.add(Counter::FeedBlinded, 1);
                    format!(
                        "feed[{venue}] WARNING {name}: every trade rejected for {:.1} s (see reject_* counters) → stale, trading paused{fallback}",
                        self.stale_after_ns as f64 / 1e9
                    )
                }
                (from, SymbolState::Stale) => {
                    self.counts.add(Counter::FeedStale, 1);
                    format!(
                        "feed[{venue}] {name}: stale ({} for {:.1} s while {}) → trading paused{fallback}",
                        if from == SymbolState::Recovering {
                            "no message since reconnect"
                        } else {
                            "no message"
                        },
                        self.stale_after_ns as f64 / 1e9,
                        from.name()
                    )
                }
                (SymbolState::Waiting | SymbolState::Silent, SymbolState::Live) => {
                    format!("feed[{venue}] {name}: first message → live")
                }
                (from, SymbolState::Live) => {
                    self.counts.add(Counter::FeedRecovered, 1);
                    format!(
                        "feed[{venue}] {name}: live again after {quiet:.1} s ({}) → trading resumed{fallback}",
                        from.name()
                    )
                }
                (_, SymbolState::Silent) => {
                    self.counts.add(Counter::FeedSilent, 1);
                    format!(
                        "feed[{venue}] {name}: no message within {:.1} s of subscribing (no data for this symbol?) → not tradable until one arrives",
                        self.stale_after_ns as f64 / 1e9
                    )
                }
                (from, to) => format!("feed[{venue}] {name}: {} → {}", from.name(), to.name()),
            };
            self.conns.log(line);
        }
        if !down.is_empty() {
            let line = format!(
                "feed[{venue}] {} symbol(s) paused, connection down: {}{}",
                down.len(),
                down.join(","),
                if self.rest_enabled {
                    " → REST fallback on"
                } else {
                    ""
                }
            );
            self.conns.log(line);
        }
    }

    /// Starts a clean close of every connection; the feed then reports `Closed`.
    pub fn close(&mut self) {
        self.conns.close_all();
    }

    /// Drops connection `link` as if the network failed (tests, operator action).
    pub fn kill_link(&mut self, link: usize, reason: &str) {
        self.conns.kill(link, reason);
    }

    /// The subscribe requests link `link` sends when it (re)connects: its current set.
    pub fn subscriptions(&self, link: usize) -> &[String] {
        self.conns.subscriptions(link)
    }

    /// Number of connections.
    pub fn links(&self) -> usize {
        self.conns.len()
    }

    /// Connections open now.
    pub fn open_links(&self) -> usize {
        self.conns.open_links()
    }

    /// Writes this stage's counter totals (feed, connections, REST fallback) into `c`.
    pub fn fill_counters(&self, c: &mut CounterSet) {
        c.merge_max(&self.counts);
        let s = self.conns.stats();
        let r = &self.rest_stats;
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        for (k, v) in [
            (Counter::FeedConnects, s.connects),
            (Counter::FeedDisconnects, s.disconnects),
            (Counter::FeedConnectAttempts, s.attempts),
            (Counter::FeedConnectFailures, s.connect_failures),
            (Counter::FeedDeadLinks, s.dead),
            (Counter::FeedHeartbeats, s.heartbeats),
            (Counter::FeedSubscribes, s.subscribes),
            (Counter::FeedUnsubscribes, s.unsubscribes),
            (
                Counter::FeedLogsDropped,
                s.logs_dropped.saturating_add(r.logs_dropped.load(relaxed)),
            ),
            (Counter::FeedSocketReads, s.socket_reads),
            (Counter::FeedSocketWrites, s.socket_writes),
            (Counter::FeedEpollWaits, s.epoll_waits),
            (Counter::RestPolls, r.polls.load(relaxed)),
            (Counter::RestErrors, r.errors.load(relaxed)),
        ] {
            c.set(k, v);
        }
    }

    /// This stage's counter totals.
    pub fn counters(&self) -> CounterSet {
        let mut c = CounterSet::default();
        self.fill_counters(&mut c);
        c
    }

    /// Stops the cold thread (REST fallback, log printing); also done on drop.
    pub fn stop_cold(&mut self) {
        self.cold.stop();
    }
}

/// The counter of a parse rejection.
pub fn parse_counter(e: ParseError) -> Counter {
    match e {
        ParseError::Json => Counter::RejectJson,
        ParseError::MissingField(_) => Counter::RejectMissingField,
        ParseError::BadNumber(_) => Counter::RejectBadNumber,
        ParseError::NonFinite(_) => Counter::RejectNonFinite,
        ParseError::NonPositive => Counter::RejectNonPositive,
        ParseError::UnknownSymbol => Counter::RejectUnknownSymbol,
    }
}

/// The counter of a validation rejection.
pub fn reject_counter(r: Reject) -> Counter {
    crate::feed::guard::reject_counter(r)
}
