//! Order matching of the embedded exchange: market orders fill at the last replayed trade price
//! (with the shared [`FillModel`] fee and slippage), stop-market and take-profit-market orders
//! wait for a replayed trade through their stop price, positions and the USDT balance are kept
//! exactly (`Decimal`, same average-cost accounting as the client's [`Position`]).
//!
//! Venue rules enforced (Binance USD-M semantics): quantity on the step and ≥ min qty
//! (`LOT_SIZE`), ≤ max market qty (`MARKET_LOT_SIZE`), stop price on the tick (`PRICE_FILTER`),
//! notional ≥ min notional unless reduce-only (-4164), reduce-only never increases a position
//! (-2022), client order ids unique (-4116).

use std::collections::HashMap;
use std::sync::Mutex;

use rust_decimal::Decimal;

use super::leverage::AccountBook;
use super::market::TradeListener;
pub use super::private_stream::Change;
use crate::types::fill_model::FillModel;
use crate::types::{Instrument, Position, Side};

/// Order types the embedded exchange accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderKind {
    /// Fills at once at the last trade price (± slippage).
    Market,
    /// Stop loss: BUY triggers when a trade is ≥ stop, SELL when ≤ stop; then fills as market.
    StopMarket,
    /// Take profit: BUY triggers when a trade is ≤ stop, SELL when ≥ stop; then fills as market.
    TakeProfitMarket,
}

impl OrderKind {
    /// Whether a trade at `price` triggers a held order of this kind on `side` at `stop`.
    pub fn triggers(self, side: Side, stop: Decimal, price: Decimal) -> bool {
        match (self, side) {
            (OrderKind::Market, _) => true,
            (OrderKind::StopMarket, Side::Buy) | (OrderKind::TakeProfitMarket, Side::Sell) => {
                price >= stop
            }
            (OrderKind::StopMarket, Side::Sell) | (OrderKind::TakeProfitMarket, Side::Buy) => {
                price <= stop
            }
        }
    }
}

/// Order lifecycle states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderStatus {
    /// Held (stop orders waiting for their trigger).
    New,
    /// Filled in full.
    Filled,
    /// Cancelled by the client.
    Canceled,
    /// Triggered with nothing left to reduce.
    Expired,
}

/// A new order as the request parameters give it.
#[derive(Clone, Debug)]
pub struct OrderRequest<'a> {
    /// Symbol, upper case.
    pub symbol: &'a str,
    /// Side.
    pub side: Side,
    /// Type.
    pub kind: OrderKind,
    /// Quantity (absent only with `close_position`).
    pub qty: Option<Decimal>,
    /// Trigger price of stop / take-profit orders.
    pub stop_price: Option<Decimal>,
    /// Reduce-only flag.
    pub reduce_only: bool,
    /// Close the whole position when triggered (stop orders only).
    pub close_position: bool,
    /// Client order id (`newClientOrderId`); empty = generated.
    pub client_id: &'a str,
}

impl<'a> OrderRequest<'a> {
    /// A market order of `qty` on `side` (no trigger, not `closePosition`).
    pub fn market(
        symbol: &'a str,
        side: Side,
        qty: Decimal,
        reduce_only: bool,
        client_id: &'a str,
    ) -> Self {
        Self {
            symbol,
            side,
            kind: OrderKind::Market,
            qty: Some(qty),
            stop_price: None,
            reduce_only,
            close_position: false,
            client_id,
        }
    }
}

/// Why an order was refused; each maps to the venue's error code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderError {
    /// -1121 Invalid symbol.
    UnknownSymbol,
    /// -1013 Filter failure: `LOT_SIZE`, `MARKET_LOT_SIZE` or `PRICE_FILTER`.
    Filter(&'static str),
    /// -4164 notional below the minimum (value given).
    MinNotional(Decimal),
    /// -2022 reduce-only order would not reduce.
    ReduceOnly,
    /// -4116 client order id already used.
    Duplicate,
    /// -2013 no such order.
    NotFound,
    /// -1102 / -1106 a parameter missing or not allowed.
    Param(String),
    /// -1001 no trade replayed yet for the symbol: no price to fill at.
    NoPrice,
    /// -4140 the symbol is not trading (a spec change set it so): only reduce-only orders.
    NotTrading,
    /// -2019 margin insufficient (Bybit 110007): `notional / leverage` above the available
    /// balance ([`crate::exchange::leverage::AccountBook::enforce_margin`]).
    InsufficientMargin,
}

/// One order as the exchange keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimOrder {
    /// Exchange order id (1, 2, …).
    pub id: u64,
    /// Client order id.
    pub client_id: String,
    /// Symbol.
    pub symbol: String,
    /// Side.
    pub side: Side,
    /// Type.
    pub kind: OrderKind,
    /// Requested quantity (0 with close-position).
    pub qty: Decimal,
    /// Stop price (0 for market orders).
    pub stop_price: Decimal,
    /// Reduce-only flag.
    pub reduce_only: bool,
    /// Close-position flag.
    pub close_position: bool,
    /// State.
    pub status: OrderStatus,
    /// Average fill price (0 until filled).
    pub avg_price: Decimal,
    /// Filled quantity.
    pub executed_qty: Decimal,
    /// Filled quote amount `avg_price · executed_qty`.
    pub cum_quote: Decimal,
    /// Commission paid, USDT.
    pub fee: Decimal,
    /// Last change, Unix ms.
    pub update_ms: u64,
}

/// One fill (Binance `userTrades` row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimTrade {
    /// Trade id (1, 2, …).
    pub id: u64,
    /// Order filled.
    pub order_id: u64,
    /// Symbol.
    pub symbol: String,
    /// Side.
    pub side: Side,
    /// Price.
    pub price: Decimal,
    /// Quantity.
    pub qty: Decimal,
    /// Commission, USDT.
    pub commission: Decimal,
    /// PnL realised by this fill, USDT (before commission).
    pub realized_pnl: Decimal,
    /// Fill time, Unix ms.
    pub time_ms: u64,
}

/// The matching engine's state. Single-threaded; [`SimVenue`] wraps it in a mutex.
#[derive(Debug)]
pub struct Matching {
    instruments: HashMap<String, Instrument>,
    /// Listing order (ranks the 24 h tickers' volumes).
    rank: Vec<String>,
    /// Symbols set not trading ([`Matching::set_trading`]).
    halted: std::collections::HashSet<String>,
    fill: FillModel,
    initial_balance: Decimal,
    last: HashMap<String, (Decimal, u64)>,
    positions: HashMap<String, Position>,
    orders: Vec<SimOrder>,
    by_client: HashMap<String, usize>,
    received: HashMap<String, u32>,
    trades: Vec<SimTrade>,
    /// Position TP/SL (Bybit `tpslMode=Full`): indices of held orders attached to their
    /// symbol's position.
    attached: Vec<usize>,
    /// Fault injection: the next market order fills this fraction of its quantity (rounded
    /// down to the step), the rest expires (IOC).
    partial_next: Option<f64>,
    /// Leverage, margin mode, deposits, the margin check.
    book: AccountBook,
    /// Every account change in order, what the private streams send ([`Change`]).
    changes: Vec<Change>,
}

impl Matching {
    /// An exchange listing `instruments`, filling with `fill`, account starting at `balance` USDT.
    pub fn new(instruments: Vec<(String, Instrument)>, fill: FillModel, balance: Decimal) -> Self {
        Self {
            rank: instruments.iter().map(|(s, _)| s.clone()).collect(),
            instruments: instruments.into_iter().collect(),
            halted: Default::default(),
            fill,
            initial_balance: balance,
            last: HashMap::new(),
            positions: HashMap::new(),
            orders: Vec::new(),
            by_client: HashMap::new(),
            received: HashMap::new(),
            trades: Vec::new(),
            attached: Vec::new(),
            partial_next: None,
            book: AccountBook::default(),
            changes: Vec::new(),
        }
    }

    /// Leverage, margin mode and deposits as set so far.
    pub fn book(&self) -> &AccountBook {
        &self.book
    }

    /// See [`Matching::book`].
    pub fn book_mut(&mut self) -> &mut AccountBook {
        &mut self.book
    }

    /// Available balance: wallet + unrealised PnL − the open positions' initial margin
    /// (`|qty| · entry / leverage`), USDT.
    pub fn available(&self) -> Decimal {
        let im: Decimal = self
            .positions
            .iter()
            .map(|(s, p)| self.book.initial_margin(s, p.qty * p.entry))
            .sum();
        self.balance() + self.unrealized() - im
    }

    /// The next market order fills only `fraction` of its quantity, rounded down to the step
    /// (at least one step when the quantity allows, else nothing); the rest expires.
    /// `None` clears it.
    pub fn partial_fill_next(&mut self, fraction: Option<f64>) {
        self.partial_next = fraction;
    }

    /// Makes the held orders `ids` the position TP/SL of `symbol` (Bybit `tpslMode=Full`): the
    /// symbol's previously attached orders are cancelled (a new entry's TP/SL replaces the
    /// position's), and attached orders expire when the position closes or flips.
    pub fn attach_position_exits(&mut self, symbol: &str, ids: &[u64], now_ms: u64) {
        let (orders, changes) = (&mut self.orders, &mut self.changes);
        self.attached.retain(|&i| {
            let o = &mut orders[i];
            if o.symbol != symbol {
                return true;
            }
            if o.status == OrderStatus::New {
                o.status = OrderStatus::Canceled;
                o.update_ms = now_ms;
                changes.push(Change::Order(o.clone()));
            }
            false
        });
        for &id in ids {
            if let Some(i) = (id as usize).checked_sub(1).filter(|&i| i < orders.len()) {
                self.attached.push(i);
            }
        }
    }

    /// `symbol`'s position TP/SL still open at the venue: `(take-profit, stop-loss)` triggers.
    pub fn position_exits(&self, symbol: &str) -> (Option<Decimal>, Option<Decimal>) {
        let mut out = (None, None);
        for o in self.attached.iter().map(|&i| &self.orders[i]) {
            if o.symbol != symbol || o.status != OrderStatus::New {
                continue;
            }
            match o.kind {
                OrderKind::TakeProfitMarket => out.0 = Some(o.stop_price),
                OrderKind::StopMarket => out.1 = Some(o.stop_price),
                OrderKind::Market => {}
            }
        }
        out
    }

    /// Expires `symbol`'s attached position TP/SL (its position closed or flipped).
    fn expire_attached(&mut self, symbol: &str, now_ms: u64) {
        let (orders, changes) = (&mut self.orders, &mut self.changes);
        self.attached.retain(|&i| {
            let o = &mut orders[i];
            if o.symbol != symbol {
                return true;
            }
            if o.status == OrderStatus::New {
                o.status = OrderStatus::Expired;
                o.update_ms = now_ms;
                changes.push(Change::Order(o.clone()));
            }
            false
        });
    }

    /// Places an order at exchange time `now_ms`; market orders fill at once.
    pub fn place(&mut self, o: &OrderRequest<'_>, now_ms: u64) -> Result<SimOrder, OrderError> {
        if !o.client_id.is_empty() {
            *self.received.entry(o.client_id.to_string()).or_insert(0) += 1;
            if self.by_client.contains_key(o.client_id) {
                return Err(OrderError::Duplicate);
            }
        }
        let inst = *self
            .instruments
            .get(o.symbol)
            .ok_or(OrderError::UnknownSymbol)?;
        if self.halted.contains(o.symbol) && !(o.reduce_only || o.close_position) {
            return Err(OrderError::NotTrading);
        }
        let held = o.kind != OrderKind::Market;
        let stop =
            match (held, o.stop_price) {
                (true, Some(s)) if s > Decimal::ZERO => {
                    if !(s % inst.tick_size).is_zero() {
                        return Err(OrderError::Filter("PRICE_FILTER"));
                    }
                    s
                }
                (true, _) => return Err(OrderError::Param(
                    "Mandatory parameter 'stopPrice' was not sent, was empty/null, or malformed."
                        .into(),
                )),
                (false, _) => Decimal::ZERO,
            };
        if o.close_position && !held {
            return Err(OrderError::Param(
                "closePosition is only for STOP_MARKET and TAKE_PROFIT_MARKET orders.".into(),
            ));
        }
        let qty =
            match (o.qty, o.close_position) {
                (Some(_), true) => {
                    return Err(OrderError::Param(
                        "Parameter 'quantity' sent when not required.".into(),
                    ))
                }
                (None, true) => Decimal::ZERO,
                (None, false) => return Err(OrderError::Param(
                    "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed."
                        .into(),
                )),
                (Some(q), false) => {
                    if q <= Decimal::ZERO || !(q % inst.qty_step).is_zero() || q < inst.min_qty {
                        return Err(OrderError::Filter("LOT_SIZE"));
                    }
                    if q > inst.max_market_qty {
                        return Err(OrderError::Filter("MARKET_LOT_SIZE"));
                    }
                    q
                }
            };
        let reduces = o.reduce_only || o.close_position;
        let last = self.last.get(o.symbol).map(|l| l.0);
        if !reduces {
            let px = if held { Some(stop) } else { last };
            let px = px.ok_or(OrderError::NoPrice)?;
            if px * qty < inst.min_notional {
                return Err(OrderError::MinNotional(inst.min_notional));
            }
            if self.book.enforce_margin
                && self.book.initial_margin(o.symbol, px * qty) > self.available()
            {
                return Err(OrderError::InsufficientMargin);
            }
        }
        let mut order = SimOrder {
            id: self.orders.len() as u64 + 1,
            client_id: if o.client_id.is_empty() {
                format!("sim-{}", self.orders.len() + 1)
            } else {
                o.client_id.to_string()
            },
            symbol: o.symbol.to_string(),
            side: o.side,
            kind: o.kind,
            qty,
            stop_price: stop,
            reduce_only: o.reduce_only,
            close_position: o.close_position,
            status: OrderStatus::New,
            avg_price: Decimal::ZERO,
            executed_qty: Decimal::ZERO,
            cum_quote: Decimal::ZERO,
            fee: Decimal::ZERO,
            update_ms: now_ms,
        };
        if !held {
            let last = last.ok_or(OrderError::NoPrice)?;
            let mut fill_qty = self.fill_qty(&order)?;
            let mut expire = false;
            if let Some(f) = self.partial_next.take() {
                let steps = (fill_qty / inst.qty_step).floor();
                let part = Decimal::try_from(f).unwrap_or_default() * steps;
                let part = part.floor().max(Decimal::ONE).min(steps - Decimal::ONE);
                fill_qty = (part.max(Decimal::ZERO)) * inst.qty_step;
                expire = true;
            }
            if fill_qty > Decimal::ZERO {
                self.execute(&mut order, &inst, last, fill_qty, now_ms);
            }
            if expire {
                order.status = OrderStatus::Expired;
                self.changes.push(Change::Order(order.clone()));
            }
        } else {
            self.changes.push(Change::Order(order.clone()));
        }
        self.by_client
            .insert(order.client_id.clone(), self.orders.len());
        self.orders.push(order.clone());
        Ok(order)
    }

    /// The quantity an order fills now, or -2022 when reduce-only has nothing to reduce.
    fn fill_qty(&self, o: &SimOrder) -> Result<Decimal, OrderError> {
        if !(o.reduce_only || o.close_position) {
            return Ok(o.qty);
        }
        let pos = self.position(&o.symbol).qty;
        let reducing = match o.side {
            Side::Buy => pos < Decimal::ZERO,
            Side::Sell => pos > Decimal::ZERO,
        };
        if !reducing {
            return Err(OrderError::ReduceOnly);
        }
        Ok(if o.close_position {
            pos.abs()
        } else {
            o.qty.min(pos.abs())
        })
    }

    fn execute(
        &mut self,
        o: &mut SimOrder,
        inst: &Instrument,
        last: Decimal,
        qty: Decimal,
        ts: u64,
    ) {
        let (price, fee) = self.fill.fill(inst.tick_size, o.side, last, qty);
        let pos = self.positions.entry(o.symbol.clone()).or_default();
        let realized_before = pos.realized;
        let sign = |q: Decimal| (q > Decimal::ZERO) as i8 - (q < Decimal::ZERO) as i8;
        let before = sign(pos.qty);
        pos.apply_fill(o.side, price, qty, fee);
        let realized = pos.realized - realized_before;
        if before != sign(pos.qty) && before != 0 {
            self.expire_attached(&o.symbol, ts);
        }
        o.status = OrderStatus::Filled;
        o.avg_price = price;
        o.executed_qty = qty;
        o.cum_quote = price * qty;
        o.fee = fee;
        o.update_ms = ts;
        let trade = SimTrade {
            id: self.trades.len() as u64 + 1,
            order_id: o.id,
            symbol: o.symbol.clone(),
            side: o.side,
            price,
            qty,
            commission: fee,
            realized_pnl: realized,
            time_ms: ts,
        };
        self.trades.push(trade.clone());
        self.changes.push(Change::Fill {
            order: o.clone(),
            trade,
        });
        let p = self.position(&o.symbol);
        self.changes.push(Change::Position {
            symbol: o.symbol.clone(),
            qty: p.qty,
            entry: p.entry,
            ts_ms: ts,
        });
        self.changes.push(Change::Balance {
            wallet: self.balance(),
            available: self.available(),
            ts_ms: ts,
        });
    }

    /// A replayed trade: updates the last price and fills every held order it triggers
    /// (in placement order), at this trade's price with the fill model.
    pub fn on_trade(&mut self, symbol: &str, price: Decimal, ts_ms: u64) {
        self.on_trade_at(symbol, price, ts_ms, ts_ms);
    }

    /// [`Matching::on_trade`] with the venue's own clock `now_ms` stamping what the trade
    /// triggers (a replayed trade keeps its recorded time `ts_ms` as the last trade's, while
    /// the executions it causes happen now, as on a live venue).
    pub fn on_trade_at(&mut self, symbol: &str, price: Decimal, ts_ms: u64, now_ms: u64) {
        match self.last.get_mut(symbol) {
            Some(l) => *l = (price, ts_ms),
            None => {
                self.last.insert(symbol.to_string(), (price, ts_ms));
            }
        }
        let Some(inst) = self.instruments.get(symbol).copied() else {
            return;
        };
        for i in 0..self.orders.len() {
            let o = &self.orders[i];
            if o.status != OrderStatus::New
                || o.symbol != symbol
                || !o.kind.triggers(o.side, o.stop_price, price)
            {
                continue;
            }
            let mut o = o.clone();
            // A triggered position TP/SL leaves the position's exits: only its sibling
            // expires with the close (the leg itself fills, it is not deactivated first).
            self.attached.retain(|&a| a != i);
            match self.fill_qty(&o) {
                Ok(q) => self.execute(&mut o, &inst, price, q, now_ms),
                Err(_) => {
                    o.status = OrderStatus::Expired;
                    o.update_ms = now_ms;
                    self.changes.push(Change::Order(o.clone()));
                }
            }
            self.orders[i] = o;
        }
    }

    /// The last replayed trade price of `symbol` (the trigger price source of conditional
    /// orders: mark = last trade in the embedded exchange).
    pub fn last_price(&self, symbol: &str) -> Option<Decimal> {
        self.last.get(symbol).map(|l| l.0)
    }

    /// Cancels a held order by client id.
    pub fn cancel(
        &mut self,
        symbol: &str,
        client_id: &str,
        now_ms: u64,
    ) -> Result<SimOrder, OrderError> {
        let i = *self.by_client.get(client_id).ok_or(OrderError::NotFound)?;
        let o = &mut self.orders[i];
        if o.symbol != symbol || o.status != OrderStatus::New {
            return Err(OrderError::NotFound);
        }
        o.status = OrderStatus::Canceled;
        o.update_ms = now_ms;
        let o = o.clone();
        self.changes.push(Change::Order(o.clone()));
        Ok(o)
    }

    /// The account changes from the `from`-th on (a private-stream session's cursor).
    pub fn changes_since(&self, from: usize) -> &[Change] {
        &self.changes[from.min(self.changes.len())..]
    }

    /// Account changes so far (a new private-stream session starts here: no history).
    pub fn change_count(&self) -> usize {
        self.changes.len()
    }

    /// The order with client id `client_id` on `symbol`.
    pub fn order_by_client(&self, symbol: &str, client_id: &str) -> Option<&SimOrder> {
        self.by_client
            .get(client_id)
            .map(|&i| &self.orders[i])
            .filter(|o| o.symbol == symbol)
    }

    /// The order with exchange id `id` on `symbol`.
    pub fn order_by_id(&self, symbol: &str, id: u64) -> Option<&SimOrder> {
        (id as usize)
            .checked_sub(1)
            .and_then(|i| self.orders.get(i))
            .filter(|o| o.symbol == symbol)
    }

    /// Orders still held (optionally of one symbol).
    pub fn open_orders<'a>(
        &'a self,
        symbol: Option<&'a str>,
    ) -> impl Iterator<Item = &'a SimOrder> + 'a {
        self.orders
            .iter()
            .filter(move |o| o.status == OrderStatus::New && symbol.map_or(true, |s| o.symbol == s))
    }

    /// Every order placed, in placement order.
    pub fn orders(&self) -> &[SimOrder] {
        &self.orders
    }

    /// Fills, in time order.
    pub fn trades(&self) -> &[SimTrade] {
        &self.trades
    }

    /// Position of `symbol` (flat if never traded).
    pub fn position(&self, symbol: &str) -> Position {
        self.positions.get(symbol).copied().unwrap_or_default()
    }

    /// Listed symbols with their position and last price (0 before any trade), sorted by name.
    pub fn positions(&self) -> Vec<(String, Position, Decimal)> {
        let mut v: Vec<_> = self
            .instruments
            .keys()
            .map(|s| {
                (
                    s.clone(),
                    self.position(s),
                    self.last.get(s).map_or(Decimal::ZERO, |l| l.0),
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Wallet balance: initial + realised PnL − commissions, USDT.
    pub fn balance(&self) -> Decimal {
        self.positions
            .values()
            .fold(self.initial_balance + self.book.deposits(), |b, p| {
                b + p.realized - p.fees
            })
    }

    /// Unrealised PnL of all positions at the last trade prices, USDT.
    pub fn unrealized(&self) -> Decimal {
        self.positions
            .iter()
            .map(|(s, p)| {
                self.last
                    .get(s)
                    .map_or(Decimal::ZERO, |l| p.unrealized(l.0))
            })
            .sum()
    }

    /// Order requests received per client order id (duplicates included): the kill -9 test's
    /// proof that no order was sent twice.
    pub fn received_client_ids(&self) -> &HashMap<String, u32> {
        &self.received
    }

    /// The listed instrument `symbol`.
    pub fn instrument(&self, symbol: &str) -> Option<&Instrument> {
        self.instruments.get(symbol)
    }

    /// Changes `symbol`'s filters from now on (a venue spec change mid-run); orders placed
    /// after it must obey them. `false` when `symbol` is not listed.
    pub fn set_instrument(&mut self, symbol: &str, inst: Instrument) -> bool {
        match self.instruments.get_mut(symbol) {
            Some(i) => {
                *i = inst;
                true
            }
            None => false,
        }
    }

    /// Sets `symbol` trading or not (Binance `status` `TRADING`/`SETTLING`, Bybit
    /// `Trading`/`Delivering`); while not trading only reduce-only orders are accepted.
    pub fn set_trading(&mut self, symbol: &str, trading: bool) {
        if trading {
            self.halted.remove(symbol);
        } else {
            self.halted.insert(symbol.to_string());
        }
    }

    /// Whether `symbol` is trading (listed and not halted).
    pub fn is_trading(&self, symbol: &str) -> bool {
        self.instruments.contains_key(symbol) && !self.halted.contains(symbol)
    }

    /// The 24 h tickers: `(symbol, last price, quote volume)` in listing order. The volume is
    /// deterministic: `10^9 / (r + 1)` USDT for the `r`-th listed symbol (0-based), so the
    /// listing order is the liquidity order.
    pub fn tickers(&self) -> Vec<(String, String, f64)> {
        self.rank
            .iter()
            .enumerate()
            .map(|(r, s)| {
                let last = self.last.get(s).map_or(Decimal::ZERO, |l| l.0);
                (s.clone(), last.to_string(), 1e9 / (r as f64 + 1.0))
            })
            .collect()
    }

    /// Every listed instrument, by symbol name (the spec endpoints' rows).
    pub fn listed(&self) -> Vec<(String, Instrument)> {
        let mut v: Vec<(String, Instrument)> = self
            .instruments
            .iter()
            .map(|(s, i)| (s.clone(), *i))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// The matching engine shared between the REST threads and the replay (as a trade listener).
#[derive(Debug)]
pub struct SimVenue(Mutex<Matching>);

impl SimVenue {
    /// Wraps a matching engine.
    pub fn new(m: Matching) -> Self {
        Self(Mutex::new(m))
    }

    /// Runs `f` with the engine locked.
    pub fn with<R>(&self, f: impl FnOnce(&mut Matching) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl TradeListener for SimVenue {
    fn on_trade(&self, symbol: &str, price: Decimal, ts_ms: u64) {
        let now = crate::exchange::rest_orders::now_ms();
        self.with(|m| m.on_trade_at(symbol, price, ts_ms, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SELL close-position conditional order of `kind` triggering at `px`.
    fn sell_close_leg(kind: OrderKind, px: &str, id: &'static str) -> OrderRequest<'static> {
        OrderRequest {
            symbol: "BTCUSDT",
            side: Side::Sell,
            kind,
            qty: None,
            stop_price: Some(d(px)),
            reduce_only: false,
            close_position: true,
            client_id: id,
        }
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn m(slip: &str) -> Matching {
        let btc = Instrument::new(d("0.10"), d("0.001"), d("0.001"), d("120"), d("100")).unwrap();
        Matching::new(
            vec![("BTCUSDT".into(), btc)],
            FillModel {
                taker_fee: d("0.0004"),
                slippage_bps: d(slip),
            },
            d("10000"),
        )
    }

    fn mkt<'a>(side: Side, qty: &str, id: &'a str) -> OrderRequest<'a> {
        OrderRequest::market("BTCUSDT", side, d(qty), false, id)
    }

    #[test]
    fn market_round_trip_books_pnl_and_fees_exactly() {
        let mut x = m("0");
        assert_eq!(
            x.place(&mkt(Side::Buy, "0.010", "a"), 1),
            Err(OrderError::NoPrice)
        );
        x.on_trade("BTCUSDT", d("60000.0"), 1);
        let o = x.place(&mkt(Side::Buy, "0.010", "b"), 2).unwrap();
        assert_eq!(o.status, OrderStatus::Filled);
        assert_eq!(o.avg_price, d("60000.0"));
        assert_eq!(o.fee, d("0.24")); // 600 · 0.0004
        x.on_trade("BTCUSDT", d("60100.0"), 3);
        let mut close = mkt(Side::Sell, "0.010", "c");
        close.reduce_only = true;
        x.place(&close, 4).unwrap();
        assert_eq!(x.position("BTCUSDT").qty, Decimal::ZERO);
        // 10000 + 1.0 realised − 0.24 − 0.2404
        assert_eq!(x.balance(), d("10000.5196"));
        assert_eq!(x.trades()[1].realized_pnl, d("1.0"));
    }

    #[test]
    fn spec_changes_and_a_halt_apply_to_later_orders() {
        let mut x = m("0");
        x.on_trade("BTCUSDT", d("60000.0"), 1);
        assert!(x.place(&mkt(Side::Buy, "0.002", "a"), 2).is_ok());
        let new = Instrument::new(d("1"), d("0.01"), d("0.01"), d("120"), d("1000")).unwrap();
        assert!(x.set_instrument("BTCUSDT", new));
        assert!(!x.set_instrument("NOPE", new));
        // 0.002 fitted the old step, not the new one; 0.01 · 60000 = 600 < 1000.
        assert_eq!(
            x.place(&mkt(Side::Buy, "0.002", "b"), 3),
            Err(OrderError::Filter("LOT_SIZE"))
        );
        assert_eq!(
            x.place(&mkt(Side::Buy, "0.01", "c"), 3),
            Err(OrderError::MinNotional(d("1000")))
        );
        let mut stop = mkt(Side::Sell, "0.002", "d");
        stop.kind = OrderKind::StopMarket;
        stop.stop_price = Some(d("59000.5"));
        stop.reduce_only = true;
        assert_eq!(x.place(&stop, 3), Err(OrderError::Filter("PRICE_FILTER")));
        assert_eq!(
            crate::venue::binance::exchange::error_code(&OrderError::Filter("PRICE_FILTER")).0,
            -4014
        );
        x.set_trading("BTCUSDT", false);
        assert!(!x.is_trading("BTCUSDT"));
        assert_eq!(
            x.place(&mkt(Side::Buy, "0.02", "e"), 4),
            Err(OrderError::NotTrading)
        );
        // Exits are not refused for the status while it is not trading.
        let mut exit = mkt(Side::Sell, "0.01", "f");
        exit.reduce_only = true;
        assert_ne!(x.place(&exit, 4), Err(OrderError::NotTrading));
        assert_eq!(x.tickers()[0].2, 1e9);
    }

    #[test]
    fn venue_rules_are_enforced() {
        let mut x = m("0");
        x.on_trade("BTCUSDT", d("60000.0"), 1);
        assert_eq!(
            x.place(&mkt(Side::Buy, "0.0015", "a"), 2),
            Err(OrderError::Filter("LOT_SIZE"))
        );
        assert_eq!(
            x.place(&mkt(Side::Buy, "121", "b"), 2),
            Err(OrderError::Filter("MARKET_LOT_SIZE"))
        );
        // 0.001 · 60000 = 60 < 100
        assert_eq!(
            x.place(&mkt(Side::Buy, "0.001", "c"), 2),
            Err(OrderError::MinNotional(d("100")))
        );
        let mut ro = mkt(Side::Sell, "0.002", "d");
        ro.reduce_only = true;
        assert_eq!(x.place(&ro, 2), Err(OrderError::ReduceOnly));
        x.place(&mkt(Side::Buy, "0.002", "e"), 2).unwrap();
        assert_eq!(
            x.place(&mkt(Side::Buy, "0.002", "e"), 2),
            Err(OrderError::Duplicate)
        );
        assert_eq!(x.received_client_ids()["e"], 2);
        let mut unk = mkt(Side::Buy, "1", "f");
        unk.symbol = "NOPE";
        assert_eq!(x.place(&unk, 2), Err(OrderError::UnknownSymbol));
    }

    #[test]
    fn stop_loss_and_take_profit_trigger_on_trades_through_their_price() {
        let mut x = m("0");
        x.on_trade("BTCUSDT", d("60000.0"), 1);
        x.place(&mkt(Side::Buy, "0.010", "entry"), 1).unwrap();
        let stop = sell_close_leg;
        x.place(&stop(OrderKind::StopMarket, "59900.0", "sl"), 1)
            .unwrap();
        x.place(&stop(OrderKind::TakeProfitMarket, "60200.0", "tp"), 1)
            .unwrap();
        x.on_trade("BTCUSDT", d("60199.9"), 2);
        x.on_trade("BTCUSDT", d("59900.1"), 3);
        assert_eq!(x.open_orders(None).count(), 2, "nothing crossed yet");
        x.on_trade("BTCUSDT", d("60200.5"), 4);
        let tp = x.order_by_client("BTCUSDT", "tp").unwrap();
        assert_eq!(tp.status, OrderStatus::Filled);
        assert_eq!(tp.avg_price, d("60200.5"));
        assert_eq!(tp.executed_qty, d("0.010"));
        assert_eq!(x.position("BTCUSDT").qty, Decimal::ZERO);
        x.on_trade("BTCUSDT", d("59000.0"), 5);
        assert_eq!(
            x.order_by_client("BTCUSDT", "sl").unwrap().status,
            OrderStatus::Expired,
            "nothing left to close"
        );
    }

    #[test]
    fn attached_position_exits_are_replaced_and_leave_with_the_position() {
        let mut x = m("0");
        x.on_trade("BTCUSDT", d("60000.0"), 1);
        let leg = |px: &str, id: &'static str| OrderRequest {
            symbol: "BTCUSDT",
            side: Side::Sell,
            kind: OrderKind::TakeProfitMarket,
            qty: None,
            stop_price: Some(d(px)),
            reduce_only: false,
            close_position: true,
            client_id: id,
        };
        x.place(&mkt(Side::Buy, "0.010", "e1"), 1).unwrap();
        let a = x.place(&leg("60500.0", "e1-tp"), 1).unwrap();
        x.attach_position_exits("BTCUSDT", &[a.id], 1);
        // A second entry's TP replaces the first (position TP/SL, tpslMode Full).
        x.place(&mkt(Side::Buy, "0.010", "e2"), 2).unwrap();
        let b = x.place(&leg("60800.0", "e2-tp"), 2).unwrap();
        x.attach_position_exits("BTCUSDT", &[b.id], 2);
        let status = |x: &Matching, id| x.order_by_client("BTCUSDT", id).unwrap().status;
        assert_eq!(status(&x, "e1-tp"), OrderStatus::Canceled);
        assert_eq!(status(&x, "e2-tp"), OrderStatus::New);
        // Closed by a client order: the attached TP expires at once, so it can never close a
        // later position of the same side.
        let mut close = mkt(Side::Sell, "0.020", "x");
        close.reduce_only = true;
        x.place(&close, 3).unwrap();
        assert_eq!(status(&x, "e2-tp"), OrderStatus::Expired);
        x.place(&mkt(Side::Buy, "0.010", "e3"), 4).unwrap();
        x.on_trade("BTCUSDT", d("61000.0"), 5);
        assert_eq!(x.position("BTCUSDT").qty, d("0.010"), "e3 stays open");
    }

    #[test]
    fn a_triggered_position_exit_fills_and_only_its_sibling_expires() {
        let mut x = m("0");
        x.on_trade("BTCUSDT", d("60000.0"), 1);
        x.place(&mkt(Side::Buy, "0.010", "e"), 1).unwrap();
        let leg = sell_close_leg;
        let tp = x.place(&leg(OrderKind::TakeProfitMarket, "60500.0", "e-tp"), 1);
        let sl = x.place(&leg(OrderKind::StopMarket, "59500.0", "e-sl"), 1);
        x.attach_position_exits("BTCUSDT", &[tp.unwrap().id, sl.unwrap().id], 1);
        let from = x.change_count();
        x.on_trade("BTCUSDT", d("59400.0"), 2);
        // The stop-loss's account changes: its fill only (Bybit reports a triggered TP/SL
        // order filled, never deactivated); the take-profit is deactivated with the position.
        let orders: Vec<(String, OrderStatus)> = x
            .changes_since(from)
            .iter()
            .filter_map(|c| match c {
                Change::Order(o) | Change::Fill { order: o, .. } => {
                    Some((o.client_id.clone(), o.status))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            orders,
            vec![
                ("e-tp".to_string(), OrderStatus::Expired),
                ("e-sl".to_string(), OrderStatus::Filled)
            ]
        );
    }
}
