//! Start-up reconciliation of our books with the venue's positions (the original's "phantom
//! position" problem), per the `[risk.reconcile] policy`. Cold path: runs once, allocates.
//!
//! The venue is the truth about what exists. Differences and, per policy, what to do:
//!
//! | difference | `adopt` | `close` | `report` |
//! |---|---|---|---|
//! | venue only (venue ≠ 0, ours 0) | adopt venue's | reduce-only close of it | report |
//! | ours only (ours ≠ 0, venue 0) | book flat | book flat (nothing to close) | report |
//! | qty differs, same side | adopt venue's | close the venue's excess, or book the venue's smaller qty | report |
//! | qty differs, opposite sides | adopt venue's | close the venue's, book flat | report |
//! | entry differs beyond tolerance | adopt venue's | adopt venue's | report |
//!
//! A venue position in a symbol we do not trade cannot be adopted: under `adopt` it is reported.
//! Zero quantities count as no position on either side. `Report` actions should block entries on
//! the symbol ([`crate::risk::RiskGate::set_unreconciled`]) until an operator resolves them.

use rust_decimal::Decimal;

use super::config::ReconcilePolicy;
use crate::types::Side;

/// A position as one side books it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookPosition {
    /// Venue symbol, e.g. `BTCUSDT`.
    pub symbol: String,
    /// Signed quantity (long > 0), base units.
    pub qty: Decimal,
    /// Average entry price.
    pub entry: Decimal,
}

/// How the two books differ on a symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffKind {
    /// The venue holds a position we do not book (a phantom on the venue).
    VenueOnly,
    /// We book a position the venue does not hold (a phantom in our books).
    OursOnly,
    /// Both hold one, with different signed quantities.
    QtyMismatch,
    /// Same quantity, entry prices differ by more than the tolerance.
    EntryMismatch,
}

/// One symbol's difference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discrepancy {
    /// Symbol.
    pub symbol: String,
    /// Kind.
    pub kind: DiffKind,
    /// Our `(qty, entry)`.
    pub ours: (Decimal, Decimal),
    /// The venue's `(qty, entry)`.
    pub venue: (Decimal, Decimal),
}

/// What to do about a difference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReconcileAction {
    /// Set our book for `symbol` to `qty` at `entry` (`qty = 0`: flat).
    Adopt {
        /// Symbol.
        symbol: String,
        /// Signed quantity to book.
        qty: Decimal,
        /// Entry price to book.
        entry: Decimal,
    },
    /// Send a reduce-only market order on the venue.
    Close {
        /// Symbol.
        symbol: String,
        /// Opposite of the venue's position.
        side: Side,
        /// Quantity (on the step: a difference of venue quantities).
        qty: Decimal,
    },
    /// Leave it to an operator; block entries on the symbol.
    Report {
        /// Symbol.
        symbol: String,
    },
}

/// The differences found and the actions the policy gives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reconciliation {
    /// Every difference, ours first in our order, then venue-only ones in the venue's order.
    pub diffs: Vec<Discrepancy>,
    /// Actions, in the order of `diffs`.
    pub actions: Vec<ReconcileAction>,
}

fn find<'a>(book: &'a [BookPosition], symbol: &str) -> Option<&'a BookPosition> {
    book.iter()
        .find(|p| p.symbol.eq_ignore_ascii_case(symbol) && !p.qty.is_zero())
}

fn close_side(venue_qty: Decimal) -> Side {
    if venue_qty.is_sign_positive() {
        Side::Sell
    } else {
        Side::Buy
    }
}

/// Compares `ours` with `venue`; `known(symbol)` says whether we trade the symbol (only those
/// can be adopted). Entry prices match when `|e_ours − e_venue| ≤ entry_tolerance·e_venue`.
pub fn reconcile(
    ours: &[BookPosition],
    venue: &[BookPosition],
    policy: ReconcilePolicy,
    entry_tolerance: Decimal,
    known: impl Fn(&str) -> bool,
) -> Reconciliation {
    let mut out = Reconciliation::default();
    let flat = (Decimal::ZERO, Decimal::ZERO);
    for o in ours.iter().filter(|p| !p.qty.is_zero()) {
        let sym = o.symbol.clone();
        let v = find(venue, &o.symbol);
        let vq = v.map_or(flat, |v| (v.qty, v.entry));
        let kind = match v {
            None => DiffKind::OursOnly,
            Some(v) if v.qty != o.qty => DiffKind::QtyMismatch,
            Some(v) if (o.entry - v.entry).abs() > entry_tolerance * v.entry.abs() => {
                DiffKind::EntryMismatch
            }
            Some(_) => continue,
        };
        out.diffs.push(Discrepancy {
            symbol: sym.clone(),
            kind,
            ours: (o.qty, o.entry),
            venue: vq,
        });
        let adopt_venue = ReconcileAction::Adopt {
            symbol: sym.clone(),
            qty: vq.0,
            entry: vq.1,
        };
        match (policy, kind) {
            (ReconcilePolicy::Report, _) => {
                out.actions.push(ReconcileAction::Report { symbol: sym })
            }
            (ReconcilePolicy::Adopt, _)
            | (ReconcilePolicy::Close, DiffKind::OursOnly | DiffKind::EntryMismatch) => {
                out.actions.push(adopt_venue)
            }
            (ReconcilePolicy::Close, _) => {
                let (q_o, q_v) = (o.qty, vq.0);
                if q_o.is_sign_positive() != q_v.is_sign_positive() {
                    out.actions.push(ReconcileAction::Close {
                        symbol: sym.clone(),
                        side: close_side(q_v),
                        qty: q_v.abs(),
                    });
                    out.actions.push(ReconcileAction::Adopt {
                        symbol: sym,
                        qty: Decimal::ZERO,
                        entry: Decimal::ZERO,
                    });
                } else if q_v.abs() > q_o.abs() {
                    out.actions.push(ReconcileAction::Close {
                        symbol: sym,
                        side: close_side(q_v),
                        qty: q_v.abs() - q_o.abs(),
                    });
                } else {
                    out.actions.push(adopt_venue);
                }
            }
        }
    }
    for v in venue.iter().filter(|p| !p.qty.is_zero()) {
        if find(ours, &v.symbol).is_some() {
            continue;
        }
        let sym = v.symbol.clone();
        out.diffs.push(Discrepancy {
            symbol: sym.clone(),
            kind: DiffKind::VenueOnly,
            ours: flat,
            venue: (v.qty, v.entry),
        });
        out.actions.push(match policy {
            ReconcilePolicy::Adopt if known(&v.symbol) => ReconcileAction::Adopt {
                symbol: sym,
                qty: v.qty,
                entry: v.entry,
            },
            ReconcilePolicy::Close => ReconcileAction::Close {
                symbol: sym,
                side: close_side(v.qty),
                qty: v.qty.abs(),
            },
            _ => ReconcileAction::Report { symbol: sym },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn pos(symbol: &str, qty: &str, entry: &str) -> BookPosition {
        BookPosition {
            symbol: symbol.into(),
            qty: d(qty),
            entry: d(entry),
        }
    }

    fn adopt(symbol: &str, qty: &str, entry: &str) -> ReconcileAction {
        ReconcileAction::Adopt {
            symbol: symbol.into(),
            qty: d(qty),
            entry: d(entry),
        }
    }

    fn close(symbol: &str, side: Side, qty: &str) -> ReconcileAction {
        ReconcileAction::Close {
            symbol: symbol.into(),
            side,
            qty: d(qty),
        }
    }

    fn known(s: &str) -> bool {
        matches!(s, "BTCUSDT" | "ETHUSDT" | "SOLUSDT")
    }

    /// Ours: BTC long 0.010 (venue agrees), ETH long 0.5 (phantom in our books).
    /// Venue: BTC long 0.010, SOL short 3 (phantom on the venue), XRP long 100 (not ours),
    /// LTC 0 (a zero row).
    fn books() -> (Vec<BookPosition>, Vec<BookPosition>) {
        (
            vec![
                pos("BTCUSDT", "0.010", "61800.3"),
                pos("ETHUSDT", "0.5", "2500"),
            ],
            vec![
                pos("BTCUSDT", "0.010", "61800.3"),
                pos("SOLUSDT", "-3", "150.25"),
                pos("XRPUSDT", "100", "0.55"),
                pos("LTCUSDT", "0", "0"),
            ],
        )
    }

    #[test]
    fn phantoms_on_both_sides_are_found() {
        let (ours, venue) = books();
        let r = reconcile(&ours, &venue, ReconcilePolicy::Report, d("0.0001"), known);
        let kinds: Vec<_> = r
            .diffs
            .iter()
            .map(|x| (x.symbol.as_str(), x.kind))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("ETHUSDT", DiffKind::OursOnly),
                ("SOLUSDT", DiffKind::VenueOnly),
                ("XRPUSDT", DiffKind::VenueOnly),
            ]
        );
        assert!(r
            .actions
            .iter()
            .all(|a| matches!(a, ReconcileAction::Report { .. })));
        assert_eq!(r.actions.len(), 3);
    }

    #[test]
    fn adopt_books_the_venue_and_reports_foreign_symbols() {
        let (ours, venue) = books();
        let r = reconcile(&ours, &venue, ReconcilePolicy::Adopt, d("0.0001"), known);
        assert_eq!(
            r.actions,
            vec![
                adopt("ETHUSDT", "0", "0"),
                adopt("SOLUSDT", "-3", "150.25"),
                ReconcileAction::Report {
                    symbol: "XRPUSDT".into()
                },
            ]
        );
    }

    #[test]
    fn close_sends_reduce_only_closes_for_venue_phantoms() {
        let (ours, venue) = books();
        let r = reconcile(&ours, &venue, ReconcilePolicy::Close, d("0.0001"), known);
        assert_eq!(
            r.actions,
            vec![
                adopt("ETHUSDT", "0", "0"),
                close("SOLUSDT", Side::Buy, "3"),
                close("XRPUSDT", Side::Sell, "100"),
            ]
        );
    }

    #[test]
    fn quantity_and_entry_mismatches_under_close() {
        let ours = vec![
            pos("BTCUSDT", "0.010", "60000"),
            pos("ETHUSDT", "2", "2500"),
            pos("SOLUSDT", "5", "150"),
            pos("LTCUSDT", "1", "80"),
        ];
        let venue = vec![
            pos("BTCUSDT", "0.016", "60100"), // venue holds 0.006 more
            pos("ETHUSDT", "1.5", "2500"),    // venue holds 0.5 less
            pos("SOLUSDT", "-2", "151"),      // opposite side
            pos("LTCUSDT", "1", "80.5"),      // entry off by 0.62 %
        ];
        let r = reconcile(&ours, &venue, ReconcilePolicy::Close, d("0.0001"), known);
        let kinds: Vec<_> = r.diffs.iter().map(|x| x.kind).collect();
        assert_eq!(
            kinds,
            vec![
                DiffKind::QtyMismatch,
                DiffKind::QtyMismatch,
                DiffKind::QtyMismatch,
                DiffKind::EntryMismatch
            ]
        );
        assert_eq!(
            r.actions,
            vec![
                close("BTCUSDT", Side::Sell, "0.006"),
                adopt("ETHUSDT", "1.5", "2500"),
                close("SOLUSDT", Side::Buy, "2"),
                adopt("SOLUSDT", "0", "0"),
                adopt("LTCUSDT", "1", "80.5"),
            ]
        );
    }

    #[test]
    fn matching_books_need_nothing() {
        let ours = vec![pos("BTCUSDT", "0.010", "61800.30")];
        let venue = vec![pos("btcusdt", "0.010", "61800.3"), pos("ETHUSDT", "0", "0")];
        let r = reconcile(&ours, &venue, ReconcilePolicy::Close, d("0.0001"), known);
        assert_eq!(r, Reconciliation::default());
        // Within tolerance: 61 806 vs 61 800.3 is 0.0092 % < 0.01 %.
        let venue = vec![pos("BTCUSDT", "0.010", "61806")];
        assert!(
            reconcile(&ours, &venue, ReconcilePolicy::Close, d("0.0001"), known)
                .diffs
                .is_empty()
        );
    }
}
