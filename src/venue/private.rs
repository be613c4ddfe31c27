//! What the private-stream parsers of both venues share: the outcome of one frame and a
//! fixed-capacity batch that deserializes a JSON array without allocating.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::types::{ClientOrderId, ParseError, Side};

/// Records kept per array of one frame; more are counted as overflow (a gap: re-sync over REST).
pub const BATCH_CAP: usize = 16;

/// What one private-stream frame was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrivateFrame {
    /// Account data: `events` handed on, `skipped` records of symbols not configured,
    /// `overflow` records beyond [`BATCH_CAP`] dropped (the caller re-syncs over REST).
    Events {
        /// Events handed to the callback.
        events: usize,
        /// Records of unconfigured symbols (or other categories / assets).
        skipped: usize,
        /// Records dropped for want of room.
        overflow: usize,
    },
    /// The authentication reply (Bybit `op = auth`): accepted or not.
    Auth(bool),
    /// A subscription reply (Bybit `op = subscribe`): accepted or not.
    Subscribed(bool),
    /// A heartbeat reply.
    Pong,
    /// A valid frame carrying nothing this program uses.
    Other,
}

/// Up to [`BATCH_CAP`] elements of a JSON array, inline; the rest counted in `overflow`.
pub(crate) struct Batch<T> {
    items: [Option<T>; BATCH_CAP],
    len: usize,
    pub(crate) overflow: usize,
}

impl<T> Batch<T> {
    /// The kept elements, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.items[..self.len].iter().flatten()
    }
}

impl<T> Default for Batch<T> {
    fn default() -> Self {
        Self {
            items: std::array::from_fn(|_| None),
            len: 0,
            overflow: 0,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Batch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Batch<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                let mut b = Batch::default();
                while b.len < BATCH_CAP {
                    match s.next_element::<T>()? {
                        Some(v) => {
                            b.items[b.len] = Some(v);
                            b.len += 1;
                        }
                        None => return Ok(b),
                    }
                }
                while s.next_element::<IgnoredAny>()?.is_some() {
                    b.overflow += 1;
                }
                Ok(b)
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

/// A JSON array skipped element by element. serde_json skips a nested value with a scratch
/// stack that allocates once nesting is two deep (an array of objects): naming such fields
/// with this type keeps the venues' documented messages allocation-free.
#[derive(Default)]
pub(crate) struct SkipSeq;

impl<'de> Deserialize<'de> for SkipSeq {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SkipSeq;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(SkipSeq)
            }
        }
        d.deserialize_seq(V)
    }
}

/// A decimal field; an empty string reads as 0 (both venues send `""` for "none").
pub(crate) fn dec(field: &'static str, v: &str) -> Result<Decimal, ParseError> {
    if v.is_empty() {
        return Ok(Decimal::ZERO);
    }
    Decimal::from_str(v).map_err(|_| ParseError::BadNumber(field))
}

/// `Buy`/`BUY` → buy, `Sell`/`SELL` → sell.
pub(crate) fn side(v: &str) -> Result<Side, ParseError> {
    match v {
        "Buy" | "BUY" => Ok(Side::Buy),
        "Sell" | "SELL" => Ok(Side::Sell),
        _ => Err(ParseError::MissingField("side")),
    }
}

/// The client id of an order; an id longer than any this program sends (a venue's own
/// liquidation id, say) reads as empty: it is not one of ours either way.
pub(crate) fn client_id(v: &str) -> ClientOrderId {
    ClientOrderId::new(v.as_bytes())
        .or_else(|| ClientOrderId::new(b""))
        .unwrap_or_else(|| unreachable!("the empty id fits"))
}
