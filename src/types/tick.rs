//! Market-data messages handed from the network stage to the compute stage: trades and quotes.

/// Index of a symbol interned at start-up (`0..symbols.len()`); per-symbol state lives in arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SymbolId(pub u16);

impl SymbolId {
    /// The index into per-symbol arrays.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Aggressor (taker) side of a trade, or the side of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Side {
    /// Taker bought (lifted the ask) / a buy order.
    #[default]
    Buy,
    /// Taker sold (hit the bid) / a sell order.
    Sell,
}

impl Side {
    /// +1 for buy, -1 for sell.
    #[inline]
    pub fn sign(self) -> f64 {
        match self {
            Side::Buy => 1.0,
            Side::Sell => -1.0,
        }
    }

    /// The other side.
    #[inline]
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// `qty` signed by the side: `+qty` for buy, `-qty` for sell (exact).
    #[inline]
    pub fn signed(self, qty: rust_decimal::Decimal) -> rust_decimal::Decimal {
        match self {
            Side::Buy => qty,
            Side::Sell => -qty,
        }
    }
}

/// One public trade. Plain `Copy` data, 56 bytes: with the ring's 8-byte stamp a ring slot
/// carrying it is exactly one cache line (`ring::channel` aligns slots, not items).
///
/// Clocks: `recv_ns` is the monotonic time the bytes came off the socket and `parsed_ns` the
/// time the tick was built (both from `telemetry::Clock`, nanoseconds);
/// `exch_ts_ms` is the venue's trade time in Unix milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
#[repr(C)]
pub struct Tick {
    /// Interned symbol.
    pub symbol: SymbolId,
    /// Taker side.
    pub side: Side,
    /// Trade price (model input; orders re-derive exact decimals from the instrument tick).
    pub price: f64,
    /// Trade quantity in base units.
    pub qty: f64,
    /// Venue trade time, Unix ms.
    pub exch_ts_ms: u64,
    /// Venue trade id.
    pub trade_id: u64,
    /// Monotonic ns when the frame's bytes were read from the socket.
    pub recv_ns: u64,
    /// Monotonic ns when parsing finished (and the tick was handed on).
    pub parsed_ns: u64,
}

/// Best bid and offer of one symbol after an update. Plain `Copy` data.
///
/// Invariant: every price and size is finite and > 0 (parsers reject anything else).
/// `exch_ts_ms` is the venue's time of the update (Unix ms); `recv_ns` the monotonic ns the
/// frame came off the socket (left 0 by parsers, stamped by the feed stage).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
#[repr(C)]
pub struct Quote {
    /// Interned symbol.
    pub symbol: SymbolId,
    /// Best bid price.
    pub bid: f64,
    /// Size at the best bid, base units.
    pub bid_qty: f64,
    /// Best ask price.
    pub ask: f64,
    /// Size at the best ask, base units.
    pub ask_qty: f64,
    /// Venue time of the update, Unix ms.
    pub exch_ts_ms: u64,
    /// Monotonic ns when the frame's bytes were read from the socket.
    pub recv_ns: u64,
}
