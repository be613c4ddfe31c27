//! The Bybit v5 `POST /v5/order/create` body around its per-symbol part, written by one set of
//! functions for both the field-by-field writer (into a `Vec`) and the templates (into a
//! [`Cursor`](crate::venue::cursor::Cursor)), so the two cannot drift apart:
//! `{` [`limit_price`] `"category":"linear","symbol":"…","side":"…","orderType":"…","qty":"`
//! [`rest`].
//!
//! Exit triggers: `tpTriggerBy` / `slTriggerBy` are left out when they are `LastPrice`, the
//! default Bybit documents for both ("The price type to trigger take profit. `MarkPrice`,
//! `IndexPrice`, default: `LastPrice`", v5 Place Order), so the venue reads the same order from
//! fewer bytes (the TP/SL entry's signed prehash fits four SHA-256 blocks instead of five).
//! `tpslMode` has no fixed default (the account's per-symbol setting applies) and is always
//! sent.

use crate::types::Side;
use crate::venue::cursor::{Padded, Sink};
use crate::venue::order::{NewOrder, OrderType, Prepared, TimeInForce, TriggerBy};

use super::order::side_str;

/// Room for `,"orderLinkId":"<prefix>` (a prefix is at most 16 bytes).
pub(super) type Link = Padded<48>;

/// `,"orderLinkId":"<prefix>`: the client id's constant start.
pub(super) fn link(client_prefix: &str) -> Link {
    let text = format!(",\"orderLinkId\":\"{client_prefix}");
    Padded::new(text.as_bytes()).expect("a client prefix is at most 16 bytes")
}

/// `"category":"linear","symbol":"<symbol>","side":"<side>","orderType":"<type>","qty":"`: the
/// part a template renders once per symbol, side and type.
#[inline]
pub(super) fn segment(b: &mut Vec<u8>, symbol: &str, side: Side, t: OrderType) {
    b.extend_from_slice(b"\"category\":\"linear\",\"symbol\":\"");
    b.extend_from_slice(symbol.as_bytes());
    b.extend_from_slice(b"\",\"side\":\"");
    b.extend_from_slice(side_str(side).as_bytes());
    b.extend_from_slice(match t {
        OrderType::Market => &b"\",\"orderType\":\"Market\",\"qty\":\""[..],
        OrderType::Limit => &b"\",\"orderType\":\"Limit\",\"qty\":\""[..],
    });
}

/// A limit order's `"price":"<p>","timeInForce":"<tif>",` (nothing for a market order).
#[inline]
pub(super) fn limit_price<S: Sink>(s: &mut S, o: &NewOrder<'_>, p: &Prepared) {
    let (OrderType::Limit, Some(price)) = (o.order_type, p.price) else {
        return;
    };
    s.lit(b"\"price\":\"");
    s.decimal(price);
    match o.time_in_force {
        TimeInForce::Gtc => s.lit(b"\",\"timeInForce\":\"GTC\","),
        TimeInForce::Ioc => s.lit(b"\",\"timeInForce\":\"IOC\","),
        TimeInForce::Fok => s.lit(b"\",\"timeInForce\":\"FOK\","),
        TimeInForce::PostOnly => s.lit(b"\",\"timeInForce\":\"PostOnly\","),
    }
}

/// The body from the quantity on: `<qty>"`, `,"reduceOnly":true` when set, the client id
/// (`link` + seq) when set, the exits ([`exits`]) and `}`.
#[inline]
pub(super) fn rest<S: Sink>(s: &mut S, o: &NewOrder<'_>, p: &Prepared, link: &Link) {
    s.decimal(p.qty);
    s.lit(b"\"");
    if o.reduce_only {
        s.lit(b",\"reduceOnly\":true");
    }
    if let Some(seq) = o.client_seq {
        s.padded(link);
        s.uint(seq);
        s.lit(b"\"");
    }
    exits(s, o, p);
    s.lit(b"}");
}

/// `,"takeProfit":"…","stopLoss":"…","tpslMode":"Full"` and, unless `LastPrice`,
/// `,"tpTriggerBy":"…","slTriggerBy":"…"`, each part only when its level is set. `Full`: the
/// exits close the whole position at market when triggered.
#[inline]
fn exits<S: Sink>(s: &mut S, o: &NewOrder<'_>, p: &Prepared) {
    if let Some(tp) = p.take_profit {
        s.lit(b",\"takeProfit\":\"");
        s.decimal(tp);
        s.lit(b"\"");
    }
    if let Some(sl) = p.stop_loss {
        s.lit(b",\"stopLoss\":\"");
        s.decimal(sl);
        s.lit(b"\"");
    }
    let (tp, sl) = (p.take_profit.is_some(), p.stop_loss.is_some());
    if !tp && !sl {
        return;
    }
    s.lit(b",\"tpslMode\":\"Full\"");
    match o.trigger_by {
        TriggerBy::LastPrice => {}
        TriggerBy::MarkPrice => {
            if tp {
                s.lit(b",\"tpTriggerBy\":\"MarkPrice\"");
            }
            if sl {
                s.lit(b",\"slTriggerBy\":\"MarkPrice\"");
            }
        }
        TriggerBy::IndexPrice => {
            if tp {
                s.lit(b",\"tpTriggerBy\":\"IndexPrice\"");
            }
            if sl {
                s.lit(b",\"slTriggerBy\":\"IndexPrice\"");
            }
        }
    }
}
