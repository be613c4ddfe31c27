//! The order-transport dispatch: [`OrderVenue`] is the one enum through which the executor
//! and start-up recovery reach a venue's order codec (`venue::<name>::order` builds the signed
//! requests, `venue::<name>::reply` reads the replies). Order-path methods write into reused
//! buffers and parse replies without allocating; position and open-order parsing is cold.

use rust_decimal::Decimal;

use crate::types::{Instrument, RejectReason};
use crate::venue::binance::{self, BinanceVenue};
use crate::venue::bybit::{self, BybitVenue};
use crate::venue::error::ErrorKind;
use crate::venue::order::{OrderFields, OrderReject};
pub use crate::venue::reply::{EntryExits, OrderReply, VenueOpenOrder, VenuePosition, VenueTrade};

/// The exits an entry `o` decided at `ref_price` keeps: none for a reduce-only order; a level
/// on the wrong side of the entry (long: TP above, SL below; short: the reverse) is dropped.
fn entry_exits(
    o: &OrderFields<'_>,
    ref_price: Decimal,
    e: EntryExits,
) -> (Option<Decimal>, Option<Decimal>) {
    if o.reduce_only {
        return (None, None);
    }
    let long = o.side == crate::types::Side::Buy;
    let tp = e
        .take_profit
        .filter(|&t| if long { t > ref_price } else { t < ref_price });
    let sl = e
        .stop_loss
        .filter(|&s| if long { s < ref_price } else { s > ref_price });
    (tp, sl)
}

/// Rows of a full Binance `userTrades` page (the `limit=1000` asked for).
pub const BINANCE_TRADES_PAGE: usize = 1000;
/// Pages of one executions read at most (Bybit 100 rows each, Binance 1000): past them the
/// read counts as not answered, never as "no executions".
pub const MAX_TRADE_PAGES: u32 = 20;

/// Where the next page of an executions read starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum NextPage {
    /// No further page (before the first reply: the first page).
    #[default]
    None,
    /// Bybit: the previous page's `nextPageCursor` (older executions: the venue pages the
    /// newest first).
    Cursor(String),
    /// Binance: trade ids from this one on (newer executions: oldest first).
    FromId(u64),
}

/// What one more page makes of an executions read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageStep {
    /// The last page is in: [`TradePages::trades`] is the whole read.
    Done,
    /// Another page is to be read ([`TradePages::next`]).
    More,
    /// Past [`MAX_TRADE_PAGES`]: the read is not answered.
    TooMany,
}

/// An executions read over its pages (cold path): the executions so far, oldest first, and
/// where the next page starts.
#[derive(Clone, Debug, Default)]
pub struct TradePages {
    /// The executions of the pages read, oldest first, each once (by trade id).
    pub trades: Vec<VenueTrade>,
    /// Where the next page starts (`None`: the first page is next, or the read is done).
    pub next: NextPage,
    /// Pages read.
    pub pages: u32,
}

impl TradePages {
    /// Adds `page` (oldest first), the answer to the request built from [`Self::next`], and
    /// where the page after it starts: a page read after a cursor holds older executions
    /// (they go first), one read from a trade id newer ones (they go last).
    pub fn add(&mut self, page: Vec<VenueTrade>, next: NextPage) -> PageStep {
        self.pages += 1;
        let fresh: Vec<VenueTrade> = page
            .into_iter()
            .filter(|t| !self.trades.iter().any(|x| x.id == t.id))
            .collect();
        match self.next {
            NextPage::Cursor(_) => {
                self.trades.splice(0..0, fresh);
            }
            _ => self.trades.extend(fresh),
        }
        self.next = next;
        match (&self.next, self.pages >= MAX_TRADE_PAGES) {
            (NextPage::None, _) => PageStep::Done,
            (_, true) => PageStep::TooMany,
            (_, false) => PageStep::More,
        }
    }
}

/// Builds signed venue requests into reused buffers and parses replies.
// Built once and owned by the executor for the whole run, never moved on the hot path: the
// variants' size difference (their buffers and keys inline) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum OrderVenue {
    /// Binance USD-M futures.
    Binance(BinanceVenue),
    /// Bybit v5 linear perpetuals.
    Bybit(BybitVenue),
}

impl OrderVenue {
    /// The signed market order request bytes (Binance: exits stay client-side; Bybit: entries
    /// carry `exits` as position TP/SL, see [`BybitVenue::build_order`]). No allocation.
    #[inline]
    pub fn build_order(
        &mut self,
        inst: &Instrument,
        o: &OrderFields<'_>,
        ref_price: Decimal,
        exits: EntryExits,
    ) -> Result<&[u8], OrderReject> {
        match self {
            OrderVenue::Binance(v) => {
                v.set_exits(entry_exits(o, ref_price, exits));
                Ok(v.build_order(o))
            }
            OrderVenue::Bybit(v) => v.build_order(inst, o, ref_price, exits),
        }
    }

    /// Renders the order templates of `names` (cold; start-up and whenever the traded symbols
    /// change): their orders are then written from pre-rendered parts, to the same bytes.
    pub fn set_symbols<S: AsRef<str>>(&mut self, names: &[S]) {
        match self {
            OrderVenue::Binance(v) => v.set_symbols(names),
            OrderVenue::Bybit(v) => v.set_symbols(names),
        }
    }

    /// True when the last order built came from a template ([`Self::set_symbols`]).
    pub fn last_templated(&self) -> bool {
        match self {
            OrderVenue::Binance(v) => v.last_templated(),
            OrderVenue::Bybit(v) => v.last_templated(),
        }
    }

    /// The request bytes of the last order built ([`Self::build_order`]).
    #[inline]
    pub fn last_order(&self) -> &[u8] {
        match self {
            OrderVenue::Binance(v) => v.last_order(),
            OrderVenue::Bybit(v) => v.last_order(),
        }
    }

    /// The typed reason for a venue error code.
    #[inline]
    pub fn reject_reason(&self, code: i64) -> RejectReason {
        match self {
            OrderVenue::Binance(_) => binance::error::reject_reason(code),
            OrderVenue::Bybit(_) => bybit::error::reject_reason(code),
        }
    }

    /// The venue-neutral kind of error code `code`.
    #[inline]
    pub fn error_kind(&self, code: i64) -> ErrorKind {
        match self {
            OrderVenue::Binance(_) => binance::error::binance_kind(code),
            OrderVenue::Bybit(_) => bybit::error::bybit_kind(code),
        }
    }

    /// True when an error reply (HTTP `status`, venue `code`) says nothing about the order: a
    /// rate limit (429/418, Binance -1003, Bybit 10006), 5xx or an unknown-status code. A
    /// status query answered so is retried, never taken as the answer.
    #[inline]
    pub fn is_transient(&self, status: u16, code: i64) -> bool {
        status >= 500
            || matches!(status, 418 | 429)
            || matches!(
                self.error_kind(code),
                ErrorKind::RateLimited | ErrorKind::UnknownStatus | ErrorKind::Other
            )
    }

    /// True when a new order's ack comes before its fill (Bybit): its status is queried at once
    /// rather than after the working-order delay.
    #[inline]
    pub fn acks_before_fill(&self) -> bool {
        matches!(self, OrderVenue::Bybit(_))
    }

    /// The take-profit and stop-loss of the last built entry: sent with it (Bybit position
    /// TP/SL, on the tick) or placed as algo orders once it fills (Binance, see `exec::stops`).
    #[inline]
    pub fn last_exits(&self) -> (Option<Decimal>, Option<Decimal>) {
        match self {
            OrderVenue::Binance(v) => v.last_exits(),
            OrderVenue::Bybit(v) => v.last_exits(),
        }
    }

    /// A signed order-status query by client order id `<prefix><session>-<seq>`
    /// (`ct<session>-<seq>`, see [`super::journal::client_order_id`]). No allocation.
    pub fn build_query_order(&mut self, symbol: &str, session: u32, seq: u64, ts_ms: u64) -> &[u8] {
        match self {
            OrderVenue::Binance(v) => v.build_query_order(symbol, session, seq, ts_ms),
            OrderVenue::Bybit(v) => v.build_query_order(symbol, session, seq, ts_ms),
        }
    }

    /// A signed query of one symbol's position. No allocation.
    pub fn build_position(&mut self, symbol: &str, ts_ms: u64) -> &[u8] {
        match self {
            OrderVenue::Binance(v) => v.build_position(symbol, ts_ms),
            OrderVenue::Bybit(v) => v.build_position(symbol, ts_ms),
        }
    }

    /// Reads a one-symbol position reply ([`Self::build_position`]): the signed quantity (long
    /// > 0; no row = flat), `None` when the reply is an error or not understood. No allocation.
    pub fn parse_position(&self, status: u16, body: &[u8]) -> Option<Decimal> {
        if status != 200 {
            return None;
        }
        match self {
            OrderVenue::Binance(_) => binance::reply::parse_position(body),
            OrderVenue::Bybit(_) => bybit::reply::parse_position(body),
        }
    }

    /// A signed query of all positions.
    pub fn build_positions(&mut self, ts_ms: u64) -> &[u8] {
        match self {
            OrderVenue::Binance(v) => v.build_positions(ts_ms),
            OrderVenue::Bybit(v) => v.build_positions(ts_ms),
        }
    }

    /// A signed query of the account's executions of `symbol` since `start_ms` (Unix ms):
    /// Binance `userTrades`, Bybit `execution/list`. `Option` for a codec without one.
    pub fn build_user_trades(&mut self, symbol: &str, start_ms: u64, ts_ms: u64) -> Option<&[u8]> {
        self.build_user_trades_page(symbol, start_ms, &NextPage::None, ts_ms)
    }

    /// [`Self::build_user_trades`] for the page `next` (the previous page's answer; `None`:
    /// the first page).
    pub fn build_user_trades_page(
        &mut self,
        symbol: &str,
        start_ms: u64,
        next: &NextPage,
        ts_ms: u64,
    ) -> Option<&[u8]> {
        let (cursor, from_id) = match next {
            NextPage::None => ("", 0),
            NextPage::Cursor(c) => (c.as_str(), 0),
            NextPage::FromId(id) => ("", *id),
        };
        match self {
            OrderVenue::Binance(v) => Some(v.build_user_trades(symbol, start_ms, from_id, ts_ms)),
            OrderVenue::Bybit(v) => Some(v.build_executions(symbol, start_ms, cursor, ts_ms)),
        }
    }

    /// Whether [`Self::build_user_trades`] has a request for this venue.
    pub fn has_user_trades(&self) -> bool {
        match self {
            OrderVenue::Binance(_) | OrderVenue::Bybit(_) => true,
        }
    }

    /// Reads a [`Self::build_user_trades`] reply, oldest first (cold path).
    pub fn parse_user_trades(&self, body: &[u8]) -> Result<Vec<VenueTrade>, String> {
        match self {
            OrderVenue::Binance(_) => binance::reply::parse_user_trades(body),
            OrderVenue::Bybit(_) => bybit::reply::parse_executions(body),
        }
    }

    /// Reads one page of a [`Self::build_user_trades_page`] reply (oldest first) and where the
    /// next page starts: Bybit's `nextPageCursor` (empty on the last page); Binance a full
    /// page (`BINANCE_TRADES_PAGE` rows) is read on from its last trade id + 1.
    pub fn parse_user_trades_page(
        &self,
        body: &[u8],
    ) -> Result<(Vec<VenueTrade>, NextPage), String> {
        match self {
            OrderVenue::Binance(_) => {
                let t = binance::reply::parse_user_trades(body)?;
                let next = match (t.len() >= BINANCE_TRADES_PAGE, t.last()) {
                    (true, Some(last)) => NextPage::FromId(last.id + 1),
                    _ => NextPage::None,
                };
                Ok((t, next))
            }
            OrderVenue::Bybit(_) => {
                let (t, c) = bybit::reply::parse_executions_page(body)?;
                let next = match c.is_empty() {
                    true => NextPage::None,
                    false => NextPage::Cursor(c),
                };
                Ok((t, next))
            }
        }
    }

    /// A signed query of all open orders.
    pub fn build_open_orders(&mut self, ts_ms: u64) -> &[u8] {
        match self {
            OrderVenue::Binance(v) => v.build_open_orders(ts_ms),
            OrderVenue::Bybit(v) => v.build_open_orders(ts_ms),
        }
    }

    /// Reads an order reply (new order or status query). No allocation.
    pub fn parse_order_reply(&self, status: u16, body: &[u8]) -> OrderReply {
        match self {
            OrderVenue::Binance(_) => binance::reply::parse_order(status, body),
            OrderVenue::Bybit(_) => bybit::reply::parse_order(status, body),
        }
    }

    /// Reads a position query reply with the venue's one position parser (cold path).
    pub fn parse_positions(&self, body: &[u8]) -> Result<Vec<VenuePosition>, String> {
        match self {
            OrderVenue::Binance(_) => binance::api::parse_positions(200, body),
            OrderVenue::Bybit(_) => bybit::api::parse_positions(200, body),
        }
        .map_err(|e| e.to_string())
    }

    /// Reads an open-orders reply (cold path).
    pub fn parse_open_orders(&self, body: &[u8]) -> Result<Vec<VenueOpenOrder>, String> {
        match self {
            OrderVenue::Binance(_) => binance::reply::parse_open_orders(body),
            OrderVenue::Bybit(_) => bybit::reply::parse_open_orders(body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Side;
    use crate::venue::binance::BinanceOrderBuilder;
    use crate::venue::sign::Signer;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn trade(id: u64) -> VenueTrade {
        VenueTrade {
            id,
            order_id: id,
            client_id: String::new(),
            side: Side::Buy,
            price: d("100"),
            qty: d("0.001"),
            fee: d("0"),
            time_ms: id,
            listed: Default::default(),
        }
    }

    fn ids(r: &TradePages) -> Vec<u64> {
        r.trades.iter().map(|t| t.id).collect()
    }

    /// Bybit pages the newest first (a cursor's page is older: it goes first), Binance the
    /// oldest first (a page from a trade id is newer: it goes last); an execution listed on
    /// two pages is kept once; past [`MAX_TRADE_PAGES`] the read is not answered.
    #[test]
    fn executions_pages_are_put_together_oldest_first() {
        let mut r = TradePages::default();
        let c = NextPage::Cursor("3".into());
        assert_eq!(r.add(vec![trade(3), trade(4)], c.clone()), PageStep::More);
        assert_eq!(r.next, c);
        assert_eq!(
            r.add(vec![trade(1), trade(2), trade(3)], NextPage::None),
            PageStep::Done
        );
        assert_eq!(ids(&r), [1, 2, 3, 4]);
        let mut r = TradePages::default();
        let f = NextPage::FromId(3);
        assert_eq!(r.add(vec![trade(1), trade(2)], f), PageStep::More);
        assert_eq!(r.add(vec![trade(3)], NextPage::None), PageStep::Done);
        assert_eq!(ids(&r), [1, 2, 3]);
        let mut r = TradePages::default();
        for k in 1..MAX_TRADE_PAGES {
            assert_eq!(r.add(vec![trade(k as u64)], c.clone()), PageStep::More);
        }
        assert_eq!(r.add(vec![trade(99)], c), PageStep::TooMany);
    }

    /// A full Binance page (1000 rows) is read on from its last trade id + 1; a shorter one
    /// ends the read. Bybit's `nextPageCursor` is the next page's cursor, empty at the end.
    #[test]
    fn the_next_page_is_where_the_venue_says() {
        let row = |id: u64| {
            format!(
                r#"{{"symbol":"BTCUSDT","id":{id},"orderId":{id},"side":"BUY","price":"100","qty":"0.001","realizedPnl":"0","quoteQty":"0.1","commission":"0","commissionAsset":"USDT","time":{id},"positionSide":"BOTH","buyer":true,"maker":false}}"#
            )
        };
        let page = |n: u64| {
            let rows: Vec<String> = (1..=n).map(row).collect();
            format!("[{}]", rows.join(","))
        };
        let b = OrderVenue::Binance(binance::BinanceVenue::new(BinanceOrderBuilder::new(
            "k", b"s", "h", 5000, "ct1-",
        )));
        let (t, next) = b.parse_user_trades_page(page(1000).as_bytes()).unwrap();
        assert_eq!((t.len(), next), (1000, NextPage::FromId(1001)));
        let (_, next) = b.parse_user_trades_page(page(999).as_bytes()).unwrap();
        assert_eq!(next, NextPage::None);
        let y = OrderVenue::Bybit(BybitVenue::new("k", b"s", "h", 5000, "ct1-").unwrap());
        let body = |c: &str| {
            format!(
                r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"linear","nextPageCursor":"{c}","list":[]}}}}"#
            )
        };
        let (_, next) = y.parse_user_trades_page(body("57%3A0").as_bytes()).unwrap();
        assert_eq!(next, NextPage::Cursor("57%3A0".into()));
        let (_, next) = y.parse_user_trades_page(body("").as_bytes()).unwrap();
        assert_eq!(next, NextPage::None);
    }

    #[test]
    fn binance_replies_are_classified() {
        // The venue's documented ACK-style reply (exchange_messages/binance/rest_new_order_response_sdkdocs.json).
        let ack = br#"{"clientOrderId":"testOrder","cumQty":"0","executedQty":"0","orderId":22542179,"origQty":"10","price":"0","reduceOnly":false,"side":"SELL","positionSide":"SHORT","status":"NEW","stopPrice":"0","closePosition":false,"symbol":"BTCUSDT","timeInForce":"GTD","type":"LIMIT","origType":"LIMIT","updateTime":1566818724722,"workingType":"CONTRACT_PRICE","priceProtect":false,"priceMatch":"NONE","selfTradePreventionMode":"NONE","goodTillDate":1693207680000}"#;
        let v = OrderVenue::Binance(BinanceVenue::new(BinanceOrderBuilder::new(
            "k", b"s", "h", 5000, "ct1-",
        )));
        assert_eq!(
            v.parse_order_reply(200, ack),
            OrderReply::Accepted { order_id: 22542179 }
        );
        let filled =
            br#"{"orderId":5,"status":"FILLED","avgPrice":"61800.30","executedQty":"0.016"}"#;
        assert_eq!(
            v.parse_order_reply(200, filled),
            OrderReply::Filled {
                status: crate::venue::reply::VenueStatus::Filled,
                order_id: 5,
                price: d("61800.30"),
                qty: d("0.016")
            }
        );
        // Real venue error bodies (exchange_messages/binance/rest_error_*.json).
        assert_eq!(
            v.parse_order_reply(400, br#"{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}"#),
            OrderReply::Error { code: -1021 }
        );
        assert_eq!(
            v.parse_order_reply(400, br#"{"code":-2013,"msg":"Order does not exist."}"#),
            OrderReply::NotFound
        );
        assert_eq!(v.parse_order_reply(502, b"<html>"), OrderReply::Unknown);
    }

    #[test]
    fn status_query_is_signed_over_its_query_string() {
        let secret = b"s3cr3t";
        let mut v = OrderVenue::Binance(BinanceVenue::new(BinanceOrderBuilder::new(
            "key1",
            secret,
            "127.0.0.1:9",
            5000,
            "ct2-",
        )));
        let req = String::from_utf8(
            v.build_query_order("BTCUSDT", 2, 17, 1_700_000_000_000)
                .to_vec(),
        )
        .unwrap();
        let line = req.lines().next().unwrap();
        let q = line
            .strip_prefix("GET /fapi/v1/order?")
            .and_then(|l| l.strip_suffix(" HTTP/1.1"))
            .unwrap();
        let (params, sig) = q.rsplit_once("&signature=").unwrap();
        assert_eq!(
            params,
            "symbol=BTCUSDT&origClientOrderId=ct2-17&recvWindow=5000&timestamp=1700000000000"
        );
        assert!(Signer::new(secret).verify_hex(params.as_bytes(), sig.as_bytes()));
        assert!(req.contains("\r\nX-MBX-APIKEY: key1\r\n"));
    }

    fn bybit() -> OrderVenue {
        OrderVenue::Bybit(BybitVenue::new("key1", b"s3cr3t", "127.0.0.1:9", 5000, "ct2-").unwrap())
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn bybit_replies_are_classified() {
        let v = bybit();
        // The documented create reply: an ack, the fill comes from /v5/order/realtime.
        assert_eq!(
            v.parse_order_reply(200, &fixture("bybit_rest/rest_order_create.json")),
            OrderReply::Accepted {
                order_id: 1321003749386327552
            }
        );
        // Real error bodies.
        for (file, code, reason) in [
            (
                "bybit/rest_error_110007.json",
                110007,
                RejectReason::VenueMargin,
            ),
            (
                "bybit/rest_error_10001.json",
                10001,
                RejectReason::VenueFilter,
            ),
        ] {
            let r = v.parse_order_reply(200, &fixture(file));
            assert_eq!(r, OrderReply::Error { code }, "{file}");
            assert_eq!(v.reject_reason(code), reason);
        }
        let uuid = crate::venue::bybit::reply::order_id("fd4300ae-7847-404e-b947-b46980a4d140");
        let row = |status: &str, avg: &str, cum: &str| {
            format!(
                r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"linear","nextPageCursor":"","list":[{{"orderId":"fd4300ae-7847-404e-b947-b46980a4d140","orderLinkId":"ct2-17","symbol":"BTCUSDT","orderStatus":"{status}","avgPrice":"{avg}","cumExecQty":"{cum}","qty":"0.016"}},{{"orderId":"2","orderStatus":"New"}}]}},"retExtInfo":{{}},"time":1}}"#
            )
        };
        assert_eq!(
            v.parse_order_reply(200, row("Filled", "61800.3", "0.016").as_bytes()),
            OrderReply::Filled {
                status: crate::venue::reply::VenueStatus::Filled,
                order_id: uuid,
                price: d("61800.3"),
                qty: d("0.016")
            }
        );
        assert_eq!(
            v.parse_order_reply(200, row("New", "", "0").as_bytes()),
            OrderReply::Accepted { order_id: uuid }
        );
        assert_eq!(
            v.parse_order_reply(200, row("Cancelled", "", "0").as_bytes()),
            OrderReply::Closed
        );
        assert_eq!(
            v.parse_order_reply(
                200,
                br#"{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[]}}"#
            ),
            OrderReply::NotFound
        );
        assert_eq!(
            v.parse_order_reply(
                200,
                br#"{"retCode":10016,"retMsg":"Internal error","result":{}}"#
            ),
            OrderReply::Unknown
        );
        assert_eq!(v.parse_order_reply(502, b"<html>"), OrderReply::Unknown);
    }

    #[test]
    fn bybit_queries_are_signed_over_their_query_string() {
        let mut v = bybit();
        let check = |req: &[u8], path: &str, query: &str| {
            let req = String::from_utf8(req.to_vec()).unwrap();
            assert!(
                req.starts_with(&format!(
                    "GET {path}?{query} HTTP/1.1\r\nHost: 127.0.0.1:9\r\n"
                )),
                "{req}"
            );
            assert!(req.ends_with("\r\n\r\n"));
            let sig = req
                .split("\r\n")
                .find_map(|l| l.strip_prefix("X-BAPI-SIGN: "))
                .unwrap();
            let payload = format!("1700000000000key15000{query}");
            assert!(Signer::new(b"s3cr3t").verify_hex(payload.as_bytes(), sig.as_bytes()));
        };
        let ts = 1_700_000_000_000;
        let r = v.build_query_order("BTCUSDT", 2, 17, ts).to_vec();
        check(
            &r,
            "/v5/order/realtime",
            "category=linear&symbol=BTCUSDT&orderLinkId=ct2-17",
        );
        let r = v.build_positions(ts).to_vec();
        check(&r, "/v5/position/list", "category=linear&settleCoin=USDT");
        let r = v.build_position("ETHUSDT", ts).to_vec();
        check(&r, "/v5/position/list", "category=linear&symbol=ETHUSDT");
        let r = v.build_open_orders(ts).to_vec();
        check(
            &r,
            "/v5/order/realtime",
            "category=linear&settleCoin=USDT&openOnly=0",
        );
    }

    #[test]
    fn bybit_positions_are_signed_quantities() {
        let v = bybit();
        let doc = fixture("bybit_rest/rest_position_list_docs.json");
        assert_eq!(
            v.parse_positions(&doc).unwrap(),
            vec![VenuePosition {
                symbol: "BTCUSD".into(),
                qty: d("-300"),
                entry: d("27464.50441675"),
                mark_price: d("28224.50"),
                unrealized_pnl: d("-0.00029413"),
                leverage: Some(d("10")),
                exits: (None, None),
            }]
        );
        assert_eq!(v.parse_position(200, &doc), Some(d("-300")));
        let flat = br#"{"retCode":0,"result":{"list":[{"symbol":"BTCUSDT","side":"","size":"0.000","avgPrice":"0"}]}}"#;
        assert_eq!(v.parse_position(200, flat), Some(Decimal::ZERO));
        assert_eq!(
            v.parse_position(200, br#"{"retCode":0,"result":{"list":[]}}"#),
            Some(Decimal::ZERO)
        );
        assert_eq!(
            v.parse_position(
                200,
                br#"{"retCode":10004,"retMsg":"Error sign","result":{}}"#
            ),
            None
        );
        let open = br#"{"retCode":0,"retMsg":"OK","result":{"list":[{"symbol":"BTCUSDT","orderLinkId":"ct1-5-tp","orderId":"7","orderStatus":"Untriggered"},{"symbol":"BTCUSDT","orderLinkId":"ct1-5","orderId":"6","orderStatus":"Filled"}]}}"#;
        assert_eq!(
            v.parse_open_orders(open).unwrap(),
            vec![VenueOpenOrder {
                symbol: "BTCUSDT".into(),
                client_id: "ct1-5-tp".into(),
                order_id: 7
            }]
        );
    }

    #[test]
    fn bybit_entry_carries_tp_sl_and_exits_do_not() {
        let inst = Instrument::new(d("0.10"), d("0.001"), d("0.001"), d("150"), d("5")).unwrap();
        let mut v = bybit();
        let fields = |reduce_only| OrderFields {
            symbol: "BTCUSDT",
            side: Side::Buy,
            quantity: d("0.016"),
            reduce_only,
            client_seq: 9,
            timestamp_ms: 1,
        };
        let exits = EntryExits {
            take_profit: Some(d("62000.07")),
            stop_loss: Some(d("61000.01")),
        };
        let body = |req: &[u8]| {
            let t = String::from_utf8(req.to_vec()).unwrap();
            t.split_once("\r\n\r\n").unwrap().1.to_string()
        };
        let req = v
            .build_order(&inst, &fields(false), d("61800.3"), exits)
            .unwrap()
            .to_vec();
        assert_eq!(
            body(&req),
            r#"{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Market","qty":"0.016","orderLinkId":"ct2-9","takeProfit":"62000","stopLoss":"61000.1","tpslMode":"Full"}"#
        );
        assert_eq!(v.last_exits(), (Some(d("62000")), Some(d("61000.1"))));
        // A reduce-only exit never carries exits.
        let req = v
            .build_order(&inst, &fields(true), d("61800.3"), exits)
            .unwrap()
            .to_vec();
        assert_eq!(
            body(&req),
            r#"{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Market","qty":"0.016","reduceOnly":true,"orderLinkId":"ct2-9"}"#
        );
        // Exits on the wrong side of the entry are dropped, the entry is still sent.
        let wrong = EntryExits {
            take_profit: Some(d("61000")),
            stop_loss: None,
        };
        let req = v
            .build_order(&inst, &fields(false), d("61800.3"), wrong)
            .unwrap()
            .to_vec();
        assert!(!body(&req).contains("takeProfit"));
        assert_eq!(v.last_exits(), (None, None));
        // Below the minimum quantity: nothing is built.
        let mut tiny = fields(false);
        tiny.quantity = d("0.0004");
        assert_eq!(
            v.build_order(&inst, &tiny, d("61800.3"), EntryExits::default())
                .err(),
            Some(OrderReject::Filter(RejectReason::BelowMinQty))
        );
    }
}
