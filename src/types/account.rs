//! Account events from the venues' private streams (Bybit `order` / `execution` / `position` /
//! `wallet`, Binance `ORDER_TRADE_UPDATE` / `ACCOUNT_UPDATE` / `listenKeyExpired`), parsed in
//! `venue::<name>::private` into these heap-free values: they travel through SPSC rings from
//! the network thread to execution (orders, fills) and compute (positions, balance).

use rust_decimal::Decimal;

use super::tick::{Side, SymbolId};

/// Order status as the venue reports it (Binance `status` / `X`, Bybit `orderStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VenueStatus {
    /// `NEW` / `New`, `Untriggered`.
    New,
    /// `PARTIALLY_FILLED` / `PartiallyFilled`.
    PartiallyFilled,
    /// `FILLED` / `Filled`.
    Filled,
    /// `CANCELED` / `Cancelled`, `PartiallyFilledCanceled`.
    Cancelled,
    /// `REJECTED` / `Rejected`.
    Rejected,
    /// `EXPIRED`, `EXPIRED_IN_MATCH` / `Deactivated`.
    Expired,
}

/// Longest client order id either venue accepts (Binance `newClientOrderId`, Bybit
/// `orderLinkId`: 36 characters).
pub const CLIENT_ID_MAX: usize = 36;

/// A client order id as the venue echoes it, stored inline (`len ≤ 36`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ClientOrderId {
    len: u8,
    bytes: [u8; CLIENT_ID_MAX],
}

impl ClientOrderId {
    /// The id of `b`; `None` when longer than [`CLIENT_ID_MAX`].
    pub fn new(b: &[u8]) -> Option<Self> {
        if b.len() > CLIENT_ID_MAX {
            return None;
        }
        let mut bytes = [0u8; CLIENT_ID_MAX];
        bytes[..b.len()].copy_from_slice(b);
        Some(Self {
            len: b.len() as u8,
            bytes,
        })
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// The client sequence of an id `prefix` + decimal digits (this session's orders); `None`
    /// for any other id (another session, the venue's own orders, the web UI).
    pub fn seq_after(&self, prefix: &[u8]) -> Option<u64> {
        let digits = self.as_bytes().strip_prefix(prefix)?;
        if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            digits
                .iter()
                .fold(0u64, |v, d| v * 10 + u64::from(d - b'0')),
        )
    }
}

impl std::fmt::Debug for ClientOrderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// Who made an order the stream reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderOrigin {
    /// An order sent by a client (this program or another).
    Client,
    /// A venue-side take-profit / stop-loss that triggered (Bybit `createType`
    /// `CreateByTakeProfit`/`CreateByStopLoss`…, Binance `STOP_MARKET`/`TAKE_PROFIT_MARKET`).
    VenueStop,
    /// A liquidation (Binance `autoclose-…` / `LIQUIDATION`, Bybit `BustTrade`/`CreateByLiq`).
    Liquidation,
    /// Auto-deleveraging (Binance `adl_autoclose`, Bybit `AdlTrade`/`CreateByAdl…`).
    Adl,
}

/// An order's cumulative state: any later view supersedes an earlier one, so applying it twice,
/// or after the REST reply that said the same, books nothing new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderUpdate {
    /// Symbol.
    pub symbol: SymbolId,
    /// The client id the order was sent with (empty for the venue's own orders).
    pub client_id: ClientOrderId,
    /// Side.
    pub side: Side,
    /// Status.
    pub status: VenueStatus,
    /// Cumulative executed quantity.
    pub cum_qty: Decimal,
    /// Average price of `cum_qty` (0 when nothing executed).
    pub avg_price: Decimal,
    /// Who made the order.
    pub origin: OrderOrigin,
    /// Venue time of the update, ms.
    pub ts_ms: u64,
}

/// One execution (a trade of one order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamFill {
    /// Symbol.
    pub symbol: SymbolId,
    /// The order's client id (empty for the venue's own orders).
    pub client_id: ClientOrderId,
    /// Side of the order.
    pub side: Side,
    /// Execution price.
    pub price: Decimal,
    /// Executed quantity (> 0).
    pub qty: Decimal,
    /// Fee paid, quote currency (negative = rebate).
    pub fee: Decimal,
    /// The venue's trade id (Binance `t`; Bybit `execId` hashed, as public trade ids are).
    pub trade_id: u64,
    /// Who made the order.
    pub origin: OrderOrigin,
    /// Venue time of the execution, ms.
    pub ts_ms: u64,
}

/// One event of a private stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountEvent {
    /// An order's cumulative state (Binance `ORDER_TRADE_UPDATE`, Bybit `order`).
    Order(OrderUpdate),
    /// An execution (Binance `ORDER_TRADE_UPDATE` with `x = TRADE | CALCULATED`, Bybit
    /// `execution`).
    Fill(StreamFill),
    /// The venue's one-way position of a symbol (Binance `ACCOUNT_UPDATE.a.P`, Bybit
    /// `position`): signed quantity (> 0 long) and entry price.
    Position {
        /// Symbol.
        symbol: SymbolId,
        /// Signed quantity, base units.
        qty: Decimal,
        /// Entry price (0 when flat).
        entry: Decimal,
    },
    /// The USDT wallet (Binance `ACCOUNT_UPDATE.a.B`, Bybit `wallet`).
    Balance {
        /// Wallet balance, USDT.
        wallet: Decimal,
        /// Available for new margin, USDT, when the venue says (Bybit).
        available: Option<Decimal>,
    },
    /// The stream's credentials expired (Binance `listenKeyExpired`): reconnect with a new
    /// key and re-sync over REST.
    Expired,
    /// The venue's position of a symbol read over REST after a gap in the stream (connect,
    /// reconnect): signed quantity and the venue's mark price (the price a difference is
    /// booked at).
    Resync {
        /// Symbol.
        symbol: SymbolId,
        /// Signed quantity, base units.
        qty: Decimal,
        /// Mark price.
        mark: Decimal,
    },
    /// The stream is up (authenticated, subscribed, re-synced) or down: while down, venue-side
    /// closes are booked by the REST fallback alone.
    Link(bool),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_map_to_this_sessions_sequences_only() {
        let id = ClientOrderId::new(b"ct7-12345").unwrap();
        assert_eq!(id.seq_after(b"ct7-"), Some(12345));
        assert_eq!(id.seq_after(b"ct8-"), None);
        assert_eq!(
            ClientOrderId::new(b"ct7-").unwrap().seq_after(b"ct7-"),
            None
        );
        assert_eq!(
            ClientOrderId::new(b"ct7-1x").unwrap().seq_after(b"ct7-"),
            None
        );
        assert_eq!(ClientOrderId::new(&[b'a'; 37]), None);
        assert_eq!(
            ClientOrderId::new(&[b'a'; 36]).unwrap().as_bytes().len(),
            36
        );
    }
}
