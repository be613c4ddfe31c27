//! Private-stream order updates into the executor. An update is the venue's cumulative view of
//! an order, applied to the [`OrderTable`](crate::exec::order_state::OrderTable) exactly as the
//! answer to a status query: the table books only what the view adds over what it already
//! booked (by cumulative quantity and quote), so a fill learnt from the stream and again from
//! the REST reply (in either order), or from a repeated event, is booked once.

use super::{ExecEvent, Executor};
use crate::exec::order_state::{FillPrice, QueryReply, VenueOrder};
use crate::types::OrderUpdate;

/// Longest client id prefix: `ct` + a `u32` session + `-`.
const PREFIX_MAX: usize = 2 + 10 + 1;

impl Executor {
    /// Applies one private-stream order update at `now_ns`, reporting what it books to
    /// `on_event`. Returns false for an order that is not this session's (`ct<session>-<seq>`):
    /// another session's, the venue's own (liquidation, ADL) or one already finished.
    /// No allocation.
    pub fn on_stream_order<F: FnMut(ExecEvent)>(
        &mut self,
        u: &OrderUpdate,
        now_ns: u64,
        on_event: &mut F,
    ) -> bool {
        let mut buf = [0u8; PREFIX_MAX];
        let Some(seq) = u
            .client_id
            .seq_after(session_prefix(self.session, &mut buf))
        else {
            return false;
        };
        let view = VenueOrder {
            status: u.status,
            executed_qty: u.cum_qty,
            price: FillPrice::Avg(u.avg_price),
        };
        match self.table.query_reply(seq, QueryReply::Order(view), now_ns) {
            Some(step) => {
                self.stats.stream_updates += 1;
                self.on_step(step, 0, on_event);
                true
            }
            None => false,
        }
    }
}

/// `ct<session>-` written into `buf` (the journal's client id prefix, without allocating).
fn session_prefix(session: u32, buf: &mut [u8; PREFIX_MAX]) -> &[u8] {
    let mut digits = itoa::Buffer::new();
    let d = digits.format(session).as_bytes();
    buf[..2].copy_from_slice(b"ct");
    buf[2..2 + d.len()].copy_from_slice(d);
    buf[2 + d.len()] = b'-';
    &buf[..3 + d.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_matches_the_journals() {
        for s in [0, 1, 42, u32::MAX] {
            let mut buf = [0u8; PREFIX_MAX];
            let p = session_prefix(s, &mut buf);
            assert_eq!(p, crate::exec::journal::client_prefix(s).as_bytes());
        }
    }
}
