//! What the venue codecs read out of replies, venue-neutral: an order's outcome, positions,
//! open orders, and the exits an entry asks for.

use std::fmt;
use std::marker::PhantomData;

use rust_decimal::Decimal;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

/// The outcome a venue reply says an order has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderReply {
    /// Filled (in full or in part): average price and cumulative executed quantity.
    Filled {
        /// The venue's status: `Filled`, `PartiallyFilled` (rest working), or `Expired` /
        /// `Cancelled` (rest ended).
        status: VenueStatus,
        /// Venue order id.
        order_id: u64,
        /// Average fill price.
        price: Decimal,
        /// Executed quantity.
        qty: Decimal,
    },
    /// Accepted and working (not filled yet): query again later.
    Accepted {
        /// Venue order id.
        order_id: u64,
    },
    /// Finished without a fill (cancelled, expired, rejected by matching).
    Closed,
    /// The venue does not know the order (Binance -2013).
    NotFound,
    /// The venue refused the request with this error code.
    Error {
        /// Venue error code (Binance `code`).
        code: i64,
    },
    /// Not understood (5xx, malformed body): the outcome is unknown, query again.
    Unknown,
}

/// One position as the venue reports it (one-way mode): the one position type of every
/// venue's position-list parser (`venue::<name>::api::parse_positions`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenuePosition {
    /// Venue symbol.
    pub symbol: String,
    /// Signed size: > 0 long, < 0 short, 0 flat.
    pub qty: Decimal,
    /// Average entry price.
    pub entry: Decimal,
    /// Mark price.
    pub mark_price: Decimal,
    /// Unrealised PnL, quote currency.
    pub unrealized_pnl: Decimal,
    /// Leverage setting, when reported.
    pub leverage: Option<Decimal>,
    /// The position's own take-profit / stop-loss triggers (Bybit `takeProfit` / `stopLoss`,
    /// `"0.00"` or `""` = none); always none on Binance, whose stops are algo orders.
    pub exits: (Option<Decimal>, Option<Decimal>),
}

/// An open (working) order at the venue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenueOpenOrder {
    /// Venue symbol.
    pub symbol: String,
    /// Client order id.
    pub client_id: String,
    /// Venue order id.
    pub order_id: u64,
}

/// One execution of the account as the venue lists it (Binance `GET /fapi/v1/userTrades`,
/// Bybit `GET /v5/execution/list` row):
/// ours or the venue's own (a triggered stop, a liquidation). Cold path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenueTrade {
    /// Venue trade id.
    pub id: u64,
    /// Venue order id of the execution's order (a Bybit UUID as its hash,
    /// [`crate::venue::bybit::reply::order_id`]; 0: none listed).
    pub order_id: u64,
    /// The order's client id where the venue lists it (Bybit `orderLinkId`: empty for its own
    /// TP/SL and liquidation orders); empty where it does not (Binance `userTrades`).
    pub client_id: String,
    /// Side of that order.
    pub side: crate::types::Side,
    /// Execution price.
    pub price: Decimal,
    /// Executed quantity (> 0).
    pub qty: Decimal,
    /// Fee paid, quote currency (negative: a rebate).
    pub fee: Decimal,
    /// Venue time of the execution, Unix ms.
    pub time_ms: u64,
    /// The execution's and its order's ids as the venue lists them where they are not
    /// numbers (Bybit `execId`, `orderId`: UUIDs), for the operator's logs; empty otherwise.
    pub listed: (String, String),
}

impl VenueTrade {
    /// The execution's id and its order's as an operator finds them at the venue:
    /// `<execution> (order <order>)`, the venue's own strings where it lists UUIDs.
    pub fn ids(&self) -> String {
        match &self.listed {
            (e, o) if !e.is_empty() || !o.is_empty() => format!("{e} (order {o})"),
            _ => format!("{} (order {})", self.id, self.order_id),
        }
    }
}

/// Exit triggers an entry asks for (decided prices; rounded to the tick toward the entry when
/// built: long TP floor / SL ceil, short the reverse). Sent with the entry where the venue
/// supports it (Bybit position TP/SL, `tpslMode=Full`); Binance keeps them client-side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EntryExits {
    /// Take-profit trigger price.
    pub take_profit: Option<Decimal>,
    /// Stop-loss trigger price.
    pub stop_loss: Option<Decimal>,
}

/// The first element of a JSON array, the rest skipped without allocating.
pub(crate) struct FirstOf<T>(pub(crate) Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for FirstOf<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = FirstOf<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                let first = s.next_element::<T>()?;
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstOf(first))
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

pub use crate::types::VenueStatus;
