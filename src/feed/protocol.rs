//! What each venue expects on the wire besides its data messages: topic names, subscribe
//! requests, heartbeats, per-connection topic limits, REST trade endpoints, and how trades are
//! told apart for de-duplication. Parsing the data itself is the parsers' job.

use crate::types::symbols::SymbolTable;
use crate::types::SymbolId;
pub use crate::venue::{DedupMode, Heartbeat, Venue};

/// Bybit trade ids are UUID strings; ticks carry `u64` ids. The mapping is the parser's, so
/// the WS parser and the REST fallback give the same trade the same id.
pub use crate::venue::bybit::trade_id_hash as bybit_trade_id;

/// The topics and symbols of one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkPlan {
    /// Symbols whose topics this connection carries (each symbol on exactly one connection,
    /// so a symbol's liveness follows one link).
    pub symbols: Vec<SymbolId>,
    /// Venue topic names.
    pub topics: Vec<String>,
}

/// Splits `symbols` × `kinds` over connections of at most `per_connection` topics, keeping all
/// topics of a symbol on one connection (a symbol with more kinds than the limit gets its own).
pub fn plan_links(
    venue: Venue,
    symbols: &SymbolTable,
    kinds: &[String],
    per_connection: usize,
) -> Vec<LinkPlan> {
    let ids: Vec<SymbolId> = (0..symbols.len()).map(|i| SymbolId(i as u16)).collect();
    plan_links_for(venue, symbols, &ids, kinds, per_connection)
}

/// [`plan_links`] for the symbols `ids` of `symbols` only (the subscribed ones).
pub fn plan_links_for(
    venue: Venue,
    symbols: &SymbolTable,
    ids: &[SymbolId],
    kinds: &[String],
    per_connection: usize,
) -> Vec<LinkPlan> {
    let per_symbol = kinds.len().max(1);
    let symbols_per_link = (per_connection / per_symbol).max(1);
    ids.chunks(symbols_per_link)
        .map(|chunk| LinkPlan {
            symbols: chunk.to_vec(),
            topics: chunk
                .iter()
                .flat_map(|&s| symbol_topics(venue, symbols.name(s), kinds))
                .collect(),
        })
        .collect()
}

/// The topics of one symbol: each of `kinds` for `name`.
pub fn symbol_topics(venue: Venue, name: &str, kinds: &[String]) -> Vec<String> {
    kinds.iter().map(|k| venue.topic(k, name)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_requests_match_the_venue_shapes() {
        let mut id = 1;
        let b = Venue::Binance.subscribe_requests(&["btcusdt@trade".into()], &mut id);
        assert_eq!(
            b,
            vec![r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#]
        );
        // Same shape as the real request in exchange_messages/bybit/ws_op_subscribe_request.json.
        let topics: Vec<String> = (0..12).map(|i| format!("publicTrade.S{i}")).collect();
        let y = Venue::Bybit.subscribe_requests(&topics, &mut id);
        assert_eq!(y.len(), 2, "10 args per request");
        assert!(y[0].starts_with(r#"{"req_id":"2","op":"subscribe","args":["publicTrade.S0","#));
        assert!(y[1].ends_with(r#""args":["publicTrade.S10","publicTrade.S11"]}"#));
        let v: serde_json::Value = serde_json::from_str(&y[1]).unwrap();
        assert_eq!(v["op"], "subscribe");
        assert_eq!(id, 4);
    }

    #[test]
    fn unsubscribe_requests_match_the_documented_shapes() {
        // Binance: {"method":"UNSUBSCRIBE","params":[..],"id":N}, answered {"result":null,"id":N}.
        let mut id = 7;
        let b = Venue::Binance.unsubscribe_requests(&["ethusdt@trade".into()], &mut id);
        assert_eq!(
            b,
            vec![r#"{"method":"UNSUBSCRIBE","params":["ethusdt@trade"],"id":7}"#]
        );
        // Bybit: {"req_id":"N","op":"unsubscribe","args":[..]}, at most 10 args each.
        let topics: Vec<String> = (0..11).map(|i| format!("publicTrade.S{i}")).collect();
        let y = Venue::Bybit.unsubscribe_requests(&topics, &mut id);
        assert_eq!(y.len(), 2);
        let v: serde_json::Value = serde_json::from_str(&y[0]).unwrap();
        assert_eq!(v["op"], "unsubscribe");
        assert_eq!(v["req_id"], "8");
        assert_eq!(v["args"].as_array().unwrap().len(), 10);
        assert_eq!(
            y[1],
            r#"{"req_id":"9","op":"unsubscribe","args":["publicTrade.S10"]}"#
        );
        assert_eq!(id, 10);
        // The embedded exchange reads them as unsubscribes and acknowledges like the venue.
        use crate::exchange::server::WsRequest;
        match crate::venue::binance::exchange::ws_request(&b[0]) {
            WsRequest::Unsubscribe { topics, reply } => {
                assert_eq!(topics, vec!["ethusdt@trade"]);
                assert_eq!(reply, r#"{"result":null,"id":7}"#);
            }
            other => panic!("{other:?}"),
        }
        match crate::venue::bybit::exchange::ws_request(&y[1], "c1") {
            WsRequest::Unsubscribe { topics, reply } => {
                assert_eq!(topics, vec!["publicTrade.S10"]);
                let v: serde_json::Value = serde_json::from_str(&reply).unwrap();
                assert_eq!(
                    (v["success"].as_bool(), v["op"].as_str()),
                    (Some(true), Some("unsubscribe"))
                );
                assert_eq!(v["req_id"], "9");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn links_of_a_subset_carry_only_its_topics() {
        let t = SymbolTable::new(&["BTCUSDT", "ETHUSDT", "SOLUSDT"]).unwrap();
        let links = plan_links_for(
            Venue::Binance,
            &t,
            &[SymbolId(0), SymbolId(2)],
            &["trade".into()],
            200,
        );
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].symbols, vec![SymbolId(0), SymbolId(2)]);
        assert_eq!(links[0].topics, vec!["btcusdt@trade", "solusdt@trade"]);
    }

    #[test]
    fn links_respect_the_topic_limit_and_keep_a_symbol_together() {
        let names: Vec<String> = (0..120).map(|i| format!("S{i}USDT")).collect();
        let t = SymbolTable::new(&names).unwrap();
        let kinds: Vec<String> = ["publicTrade", "tickers", "orderbook.1"]
            .map(String::from)
            .to_vec();
        let links = plan_links(Venue::Bybit, &t, &kinds, 100);
        // 33 symbols (99 topics) per link: 33 + 33 + 33 + 21.
        assert_eq!(
            links.iter().map(|l| l.symbols.len()).collect::<Vec<_>>(),
            vec![33, 33, 33, 21]
        );
        assert!(links.iter().all(|l| l.topics.len() <= 100));
        assert_eq!(links[0].topics[0], "publicTrade.S0USDT");
        assert_eq!(links[0].topics[2], "orderbook.1.S0USDT");
        let all: usize = links.iter().map(|l| l.symbols.len()).sum();
        assert_eq!(all, 120);
        let one = plan_links(Venue::Binance, &t, &["trade".into()], 1);
        assert_eq!(one.len(), 120);
        assert_eq!(one[5].topics, vec!["s5usdt@trade"]);
    }

    #[test]
    fn bybit_ids_hash_stably() {
        let id = "20f43950-d8dd-5b31-9112-a178eb6023af";
        assert_eq!(
            bybit_trade_id(id),
            crate::venue::bybit::market::trade_id_hash(id)
        );
        assert_ne!(
            bybit_trade_id("20f43950-d8dd-5b31-9112-a178eb6023af"),
            bybit_trade_id("20f43950-d8dd-5b31-9112-a178eb6023ae")
        );
    }
}
