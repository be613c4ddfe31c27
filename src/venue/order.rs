//! Venue-neutral order request: what to send (side, type, quantity, price, exits) and its
//! exact preparation against the instrument's filters (round, then check), shared by the
//! Bybit and Binance builders. Each venue spells the enums its own way (`venue::<name>::order`).

use rust_decimal::Decimal;

use crate::types::Side;
use crate::types::{Instrument, RejectReason};

/// Order type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderType {
    /// Market order (fills at the book; `ref_price` is used for the notional check only).
    Market,
    /// Limit order at `price` (rounded to the tick away from crossing: buys down, sells up).
    Limit,
}

/// Time in force of a limit order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeInForce {
    /// Good till cancelled.
    Gtc,
    /// Immediate or cancel.
    Ioc,
    /// Fill or kill.
    Fok,
    /// Post-only (Bybit `PostOnly`, Binance `GTX`).
    PostOnly,
}

/// Which price triggers a take-profit / stop-loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TriggerBy {
    /// Last traded price (Bybit `LastPrice`, Binance `CONTRACT_PRICE`).
    LastPrice,
    /// Mark price (Bybit `MarkPrice`, Binance `MARK_PRICE`): the default, immune to wicks on
    /// thin trade prints.
    #[default]
    MarkPrice,
    /// Index price (Bybit `IndexPrice`; Binance has no index trigger and uses `MARK_PRICE`).
    IndexPrice,
}

/// The fields of one market order whose quantity is already on the step (what the executor
/// sends: the venue codec adds only its own encoding).
#[derive(Clone, Copy, Debug)]
pub struct OrderFields<'a> {
    /// Venue symbol, e.g. `BTCUSDT`.
    pub symbol: &'a str,
    /// Side.
    pub side: Side,
    /// Quantity, already on the step.
    pub quantity: Decimal,
    /// Reduce-only flag.
    pub reduce_only: bool,
    /// Client sequence number (client order id suffix).
    pub client_seq: u64,
    /// Request timestamp, Unix ms (venue clock).
    pub timestamp_ms: u64,
}

/// One new order, before rounding. Prices and quantities are exact decimals.
#[derive(Clone, Copy, Debug)]
pub struct NewOrder<'a> {
    /// Venue symbol, e.g. `BTCUSDT` (ASCII letters and digits only).
    pub symbol: &'a str,
    /// Side of the order.
    pub side: Side,
    /// Market or limit.
    pub order_type: OrderType,
    /// Wanted quantity; floored to the step.
    pub qty: Decimal,
    /// Limit price (ignored for market orders).
    pub price: Decimal,
    /// Reference price for the market order notional check (e.g. last trade or mark price).
    pub ref_price: Decimal,
    /// Time in force of a limit order.
    pub time_in_force: TimeInForce,
    /// Reduce-only (exempt from min notional).
    pub reduce_only: bool,
    /// Client order id suffix (`prefix + seq`), the idempotency key of retries; `None` omits it.
    pub client_seq: Option<u64>,
    /// Take-profit trigger price of the position this order opens.
    pub take_profit: Option<Decimal>,
    /// Stop-loss trigger price of the position this order opens.
    pub stop_loss: Option<Decimal>,
    /// Which price triggers the exits.
    pub trigger_by: TriggerBy,
    /// Request timestamp, Unix ms on the venue clock.
    pub timestamp_ms: u64,
}

impl<'a> NewOrder<'a> {
    /// A market order with no exits, no client id, mark-price triggers.
    pub fn market(symbol: &'a str, side: Side, qty: Decimal, ref_price: Decimal) -> Self {
        Self {
            symbol,
            side,
            order_type: OrderType::Market,
            qty,
            price: Decimal::ZERO,
            ref_price,
            time_in_force: TimeInForce::Ioc,
            reduce_only: false,
            client_seq: None,
            take_profit: None,
            stop_loss: None,
            trigger_by: TriggerBy::MarkPrice,
            timestamp_ms: 0,
        }
    }

    /// A GTC limit order with no exits and no client id.
    pub fn limit(symbol: &'a str, side: Side, qty: Decimal, price: Decimal) -> Self {
        Self {
            order_type: OrderType::Limit,
            price,
            ref_price: price,
            time_in_force: TimeInForce::Gtc,
            ..Self::market(symbol, side, qty, price)
        }
    }
}

/// Why an order request was not built (nothing is sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderReject {
    /// A filter failure also counted by the execution stage.
    Filter(RejectReason),
    /// Limit or reference price not positive.
    InvalidPrice,
    /// A take-profit or stop-loss on the wrong side of the entry, or not positive.
    InvalidTrigger,
    /// Symbol is empty, too long or not ASCII alphanumeric.
    InvalidSymbol,
}

impl std::fmt::Display for OrderReject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OrderReject::Filter(RejectReason::BelowMinQty) => {
                f.write_str("quantity floored to the step is below the minimum order quantity")
            }
            OrderReject::Filter(RejectReason::BelowMinNotional) => {
                f.write_str("price × quantity is below the minimum notional")
            }
            OrderReject::Filter(RejectReason::AboveMaxQty) => {
                f.write_str("quantity is above the maximum order quantity")
            }
            OrderReject::Filter(r) => write!(f, "refused: {}", r.name()),
            OrderReject::InvalidPrice => f.write_str("price must be positive"),
            OrderReject::InvalidTrigger => f.write_str(
                "take-profit must be beyond and stop-loss before the entry price, both positive",
            ),
            OrderReject::InvalidSymbol => f.write_str(
                "symbol must be 1-32 ASCII letters/digits (and `-` or `_` after the first)",
            ),
        }
    }
}

impl std::error::Error for OrderReject {}

/// An order after rounding to the instrument: every value is what goes on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prepared {
    /// `floor(qty / step) · step`.
    pub qty: Decimal,
    /// Limit price on the tick (buys floored, sells ceiled: never crosses the intended price).
    pub price: Option<Decimal>,
    /// Take-profit on the tick, rounded toward the entry (fires no later than intended).
    pub take_profit: Option<Decimal>,
    /// Stop-loss on the tick, rounded toward the entry (never risks more than intended).
    pub stop_loss: Option<Decimal>,
}

/// `true` when `s` is a plausible venue symbol (1–32 ASCII letters and digits, `-` or `_`
/// after the first: dated contracts such as `BTCUSDT-14AUG26`, `BTCUSDT_251226`): safe to put
/// in a query string or a JSON string without escaping.
#[inline]
pub fn valid_symbol(s: &str) -> bool {
    s.len() <= 32 && crate::types::symbols::valid_name(s)
}

/// `true` when `p` is a usable client order id prefix: ≤ 16 of `[A-Za-z0-9_-]`, so that
/// `prefix + u64` fits both venues' 36-character id and needs no escaping.
pub fn valid_client_prefix(p: &str) -> bool {
    p.len() <= 16
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Rounds `o` to `inst` and checks the filters: qty ≥ min qty, qty ≤ max (market: max market
/// qty), and unless reduce-only `price · qty ≥ min notional` (market orders use `ref_price`).
#[inline]
pub fn prepare(inst: &Instrument, o: &NewOrder<'_>) -> Result<Prepared, OrderReject> {
    if !valid_symbol(o.symbol) {
        return Err(OrderReject::InvalidSymbol);
    }
    let qty = inst.floor_qty_dec(o.qty);
    if qty <= Decimal::ZERO || qty < inst.min_qty {
        return Err(OrderReject::Filter(RejectReason::BelowMinQty));
    }
    let (price, notional_price, max) = match o.order_type {
        OrderType::Market => (None, o.ref_price, inst.max_market_qty),
        OrderType::Limit => {
            let p = match o.side {
                Side::Buy => inst.floor_price(o.price),
                Side::Sell => inst.ceil_price(o.price),
            };
            (Some(p), p, inst.max_qty)
        }
    };
    if notional_price <= Decimal::ZERO {
        return Err(OrderReject::InvalidPrice);
    }
    if qty > max {
        return Err(OrderReject::Filter(RejectReason::AboveMaxQty));
    }
    if !o.reduce_only && notional_price * qty < inst.min_notional {
        return Err(OrderReject::Filter(RejectReason::BelowMinNotional));
    }
    // A long's take-profit is above the entry and its stop below; a short's the reverse.
    // Triggers are rounded toward the entry.
    let up = o.side == Side::Buy;
    let take_profit = match o.take_profit {
        None => None,
        Some(tp) => {
            let r = if up {
                inst.floor_price(tp)
            } else {
                inst.ceil_price(tp)
            };
            if r <= Decimal::ZERO || (up && r <= notional_price) || (!up && r >= notional_price) {
                return Err(OrderReject::InvalidTrigger);
            }
            Some(r)
        }
    };
    let stop_loss = match o.stop_loss {
        None => None,
        Some(sl) => {
            let r = if up {
                inst.ceil_price(sl)
            } else {
                inst.floor_price(sl)
            };
            if r <= Decimal::ZERO || (up && r >= notional_price) || (!up && r <= notional_price) {
                return Err(OrderReject::InvalidTrigger);
            }
            Some(r)
        }
    };
    Ok(Prepared {
        qty,
        price,
        take_profit,
        stop_loss,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn btc() -> Instrument {
        Instrument::new(d("0.10"), d("0.001"), d("0.001"), d("150"), d("5"))
            .unwrap()
            .with_limits(d("1500"), Some(d("100")))
    }

    #[test]
    fn limit_prices_never_cross_the_intended_price() {
        let i = btc();
        let buy = prepare(
            &i,
            &NewOrder::limit("BTCUSDT", Side::Buy, d("0.0159"), d("61800.37")),
        )
        .unwrap();
        assert_eq!(buy.qty, d("0.015"));
        assert_eq!(buy.price, Some(d("61800.30")));
        let sell = prepare(
            &i,
            &NewOrder::limit("BTCUSDT", Side::Sell, d("0.0159"), d("61800.31")),
        )
        .unwrap();
        assert_eq!(sell.price, Some(d("61800.40")));
    }

    #[test]
    fn filters_are_checked_after_rounding() {
        let i = btc();
        let m = |q: &str, p: &str| NewOrder::market("BTCUSDT", Side::Buy, d(q), d(p));
        assert_eq!(
            prepare(&i, &m("0.0009", "60000")),
            Err(OrderReject::Filter(RejectReason::BelowMinQty))
        );
        // 0.0019 floors to 0.001; 0.001 × 4000 = 4 < 5.
        assert_eq!(
            prepare(&i, &m("0.0019", "4000")),
            Err(OrderReject::Filter(RejectReason::BelowMinNotional))
        );
        let mut ro = m("0.0019", "4000");
        ro.reduce_only = true;
        assert_eq!(prepare(&i, &ro).unwrap().qty, d("0.001"));
        assert_eq!(
            prepare(&i, &m("150.001", "60000")),
            Err(OrderReject::Filter(RejectReason::AboveMaxQty))
        );
        // A limit order may be larger than the market maximum, up to max_qty.
        assert!(prepare(
            &i,
            &NewOrder::limit("BTCUSDT", Side::Buy, d("200"), d("60000"))
        )
        .is_ok());
        assert_eq!(prepare(&i, &m("1", "0")), Err(OrderReject::InvalidPrice));
        assert_eq!(
            prepare(
                &i,
                &NewOrder::market("BTC\"USDT", Side::Buy, d("1"), d("1"))
            ),
            Err(OrderReject::InvalidSymbol)
        );
    }

    #[test]
    fn exits_round_toward_the_entry_and_must_be_on_the_right_side() {
        let i = btc();
        let mut o = NewOrder::market("BTCUSDT", Side::Buy, d("0.01"), d("60000"));
        o.take_profit = Some(d("61200.07"));
        o.stop_loss = Some(d("59400.01"));
        let p = prepare(&i, &o).unwrap();
        assert_eq!(p.take_profit, Some(d("61200.00")));
        assert_eq!(p.stop_loss, Some(d("59400.10")));
        let mut s = NewOrder::market("BTCUSDT", Side::Sell, d("0.01"), d("60000"));
        s.take_profit = Some(d("58800.01"));
        s.stop_loss = Some(d("60600.09"));
        let p = prepare(&i, &s).unwrap();
        assert_eq!(p.take_profit, Some(d("58800.10")));
        assert_eq!(p.stop_loss, Some(d("60600.00")));
        o.stop_loss = Some(d("60000.05"));
        assert_eq!(prepare(&i, &o), Err(OrderReject::InvalidTrigger));
        s.take_profit = Some(d("61000"));
        assert_eq!(prepare(&i, &s), Err(OrderReject::InvalidTrigger));
    }

    #[test]
    fn client_prefix_rule() {
        assert!(valid_client_prefix("ct1-"));
        assert!(valid_client_prefix(""));
        assert!(!valid_client_prefix("has space"));
        assert!(!valid_client_prefix("a\"b"));
        assert!(!valid_client_prefix("seventeen-chars-x"));
    }
}
