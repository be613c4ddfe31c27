//! Binance USD-M user data stream (`wss://fstream.binance.com/ws/<listenKey>`): the listenKey
//! requests (`POST` to open, `PUT` every 30 min to keep alive, 60 min expiry), and the
//! `ORDER_TRADE_UPDATE`, `ACCOUNT_UPDATE` and `listenKeyExpired` events parsed into
//! [`AccountEvent`]s without allocating.

use serde::Deserialize;

use crate::types::{
    AccountEvent, OrderOrigin, OrderUpdate, ParseError, StreamFill, SymbolId, SymbolTable,
    VenueStatus,
};
use crate::venue::api::{ApiRequest, Method};
use crate::venue::private::{client_id, dec, side, Batch, PrivateFrame};

/// Path of the listenKey endpoint (`POST` create, `PUT` keepalive, `DELETE` close).
pub const LISTEN_KEY_PATH: &str = "/fapi/v1/listenKey";

/// Keepalive period the venue asks for, ms (a key expires 60 min after its last keepalive).
pub const KEEPALIVE_MS: u64 = 30 * 60 * 1000;

/// `POST` (open or extend: returns the active key) or `PUT` (keepalive) of the listenKey; the
/// API key header only, no signature.
pub fn listen_key_request(method: Method, api_key: &str) -> ApiRequest {
    ApiRequest {
        method,
        path_and_query: LISTEN_KEY_PATH.to_string(),
        headers: vec![("X-MBX-APIKEY", api_key.to_string())],
        body: Vec::new(),
    }
}

#[derive(Deserialize)]
struct ListenKeyJson<'a> {
    #[serde(rename = "listenKey", borrow)]
    listen_key: &'a str,
}

/// The key of a listenKey reply (`{"listenKey":"…"}`).
pub fn parse_listen_key(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<ListenKeyJson<'_>>(body)
        .ok()
        .map(|k| k.listen_key.to_string())
}

#[derive(Deserialize)]
struct EventJson<'a> {
    #[serde(borrow)]
    e: &'a str,
    #[serde(default, rename = "E")]
    event_ms: u64,
    #[serde(default, borrow)]
    o: Option<OrderJson<'a>>,
    #[serde(default, borrow)]
    a: Option<AccountJson<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OrderJson<'a> {
    #[serde(borrow)]
    s: &'a str,
    #[serde(borrow)]
    c: &'a str,
    #[serde(rename = "S", borrow)]
    side: &'a str,
    /// Order type.
    #[serde(borrow)]
    o: &'a str,
    /// Original order type.
    #[serde(borrow)]
    ot: &'a str,
    /// Execution type.
    #[serde(borrow)]
    x: &'a str,
    /// Order status.
    #[serde(rename = "X", borrow)]
    status: &'a str,
    /// Cumulative filled quantity.
    #[serde(borrow)]
    z: &'a str,
    /// Average price.
    #[serde(borrow)]
    ap: &'a str,
    /// Last filled quantity.
    #[serde(borrow)]
    l: &'a str,
    /// Last filled price.
    #[serde(rename = "L", borrow)]
    last_price: &'a str,
    /// Commission of the trade.
    #[serde(borrow)]
    n: &'a str,
    /// Trade id.
    t: u64,
    /// Trade time, ms.
    #[serde(rename = "T")]
    trade_ms: u64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AccountJson<'a> {
    #[serde(rename = "B", borrow)]
    balances: Batch<BalanceJson<'a>>,
    #[serde(rename = "P", borrow)]
    positions: Batch<PositionJson<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BalanceJson<'a> {
    #[serde(borrow)]
    a: &'a str,
    #[serde(borrow)]
    wb: &'a str,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PositionJson<'a> {
    #[serde(borrow)]
    s: &'a str,
    #[serde(borrow)]
    pa: &'a str,
    #[serde(borrow)]
    ep: &'a str,
    #[serde(borrow)]
    ps: &'a str,
}

/// Parses one user-data frame; every account event goes to `on`.
pub fn parse(
    frame: &[u8],
    symbols: &SymbolTable,
    on: &mut impl FnMut(AccountEvent),
) -> Result<PrivateFrame, ParseError> {
    let ev: EventJson<'_> = serde_json::from_slice(frame).map_err(|_| ParseError::Json)?;
    match ev.e {
        "ORDER_TRADE_UPDATE" => {
            let o = ev.o.ok_or(ParseError::MissingField("o"))?;
            match symbols.lookup(o.s) {
                Some(symbol) => order_trade(&o, symbol, ev.event_ms, on),
                None => Ok(PrivateFrame::Events {
                    events: 0,
                    skipped: 1,
                    overflow: 0,
                }),
            }
        }
        "ACCOUNT_UPDATE" => account(&ev.a.ok_or(ParseError::MissingField("a"))?, symbols, on),
        "listenKeyExpired" => {
            on(AccountEvent::Expired);
            Ok(PrivateFrame::Events {
                events: 1,
                skipped: 0,
                overflow: 0,
            })
        }
        _ => Ok(PrivateFrame::Other),
    }
}

fn status(v: &str) -> Result<VenueStatus, ParseError> {
    Ok(match v {
        "NEW" => VenueStatus::New,
        "PARTIALLY_FILLED" => VenueStatus::PartiallyFilled,
        "FILLED" => VenueStatus::Filled,
        "CANCELED" => VenueStatus::Cancelled,
        "REJECTED" => VenueStatus::Rejected,
        "EXPIRED" | "EXPIRED_IN_MATCH" => VenueStatus::Expired,
        _ => return Err(ParseError::MissingField("X")),
    })
}

/// Liquidation and ADL orders by their client id (`autoclose-…`, `adl_autoclose`) or type;
/// triggered conditional orders by their (original) type.
fn origin(o: &OrderJson<'_>) -> OrderOrigin {
    if o.c == "adl_autoclose" {
        OrderOrigin::Adl
    } else if o.c.starts_with("autoclose-") || o.o == "LIQUIDATION" || o.x == "CALCULATED" {
        OrderOrigin::Liquidation
    } else if [o.o, o.ot].iter().any(|t| {
        matches!(
            *t,
            "STOP_MARKET" | "TAKE_PROFIT_MARKET" | "STOP" | "TAKE_PROFIT" | "TRAILING_STOP_MARKET"
        )
    }) {
        OrderOrigin::VenueStop
    } else {
        OrderOrigin::Client
    }
}

/// The order's cumulative state, then the execution when `x` is `TRADE` or `CALCULATED`.
fn order_trade(
    o: &OrderJson<'_>,
    symbol: SymbolId,
    event_ms: u64,
    on: &mut impl FnMut(AccountEvent),
) -> Result<PrivateFrame, ParseError> {
    let (side, origin, id) = (side(o.side)?, origin(o), client_id(o.c));
    let ts_ms = if o.trade_ms > 0 { o.trade_ms } else { event_ms };
    let fill = if matches!(o.x, "TRADE" | "CALCULATED") {
        let (qty, price) = (dec("l", o.l)?, dec("L", o.last_price)?);
        if qty <= rust_decimal::Decimal::ZERO || price <= rust_decimal::Decimal::ZERO {
            return Err(ParseError::NonPositive);
        }
        Some(StreamFill {
            symbol,
            client_id: id,
            side,
            price,
            qty,
            fee: dec("n", o.n)?,
            trade_id: o.t,
            origin,
            ts_ms,
        })
    } else {
        None
    };
    on(AccountEvent::Order(OrderUpdate {
        symbol,
        client_id: id,
        side,
        status: status(o.status)?,
        cum_qty: dec("z", o.z)?,
        avg_price: dec("ap", o.ap)?,
        origin,
        ts_ms,
    }));
    if let Some(f) = fill {
        on(AccountEvent::Fill(f));
    }
    Ok(PrivateFrame::Events {
        events: 1 + usize::from(fill.is_some()),
        skipped: 0,
        overflow: 0,
    })
}

/// The USDT balance and the one-way (`ps = BOTH`) positions of configured symbols.
fn account(
    a: &AccountJson<'_>,
    symbols: &SymbolTable,
    on: &mut impl FnMut(AccountEvent),
) -> Result<PrivateFrame, ParseError> {
    let (mut events, mut skipped) = (0, 0);
    for b in a.balances.iter() {
        if b.a != "USDT" {
            skipped += 1;
            continue;
        }
        on(AccountEvent::Balance {
            wallet: dec("wb", b.wb)?,
            available: None,
        });
        events += 1;
    }
    for p in a.positions.iter() {
        let symbol = match symbols.lookup(p.s) {
            Some(s) if matches!(p.ps, "BOTH" | "") => s,
            _ => {
                skipped += 1;
                continue;
            }
        };
        on(AccountEvent::Position {
            symbol,
            qty: dec("pa", p.pa)?,
            entry: dec("ep", p.ep)?,
        });
        events += 1;
    }
    Ok(PrivateFrame::Events {
        events,
        skipped,
        overflow: a.balances.overflow + a.positions.overflow,
    })
}
