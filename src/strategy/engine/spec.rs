//! A symbol's venue spec changed at run time ([`crate::types::control::Command::Spec`]):
//! sizing, rounding and the filter checks of later decisions use the new filters.

use rust_decimal::prelude::ToPrimitive;

use super::Engine;
use crate::types::{Instrument, SymbolId};

impl Engine {
    /// Replaces symbol `id`'s instrument (and the venue's maximum leverage from it); `trading`
    /// false blocks its entries (exits keep running). An unknown id is ignored.
    pub fn set_instrument(&mut self, id: SymbolId, inst: Instrument, trading: bool) {
        self.book_pending();
        let Some(slot) = self.slots.get_mut(id.index()) else {
            return;
        };
        slot.instrument = inst;
        slot.venue_max_leverage = inst
            .max_leverage
            .and_then(|l| l.to_f64())
            .unwrap_or(f64::NAN);
        if !trading {
            self.set_active(id, false);
        }
    }

    /// Symbol `id`'s instrument in force.
    pub fn instrument(&self, id: SymbolId) -> Option<&Instrument> {
        self.slots.get(id.index()).map(|s| &s.instrument)
    }
}
