//! Property: an order written from a pre-rendered template (`set_symbols`) is byte for byte the
//! request the field-by-field writer produces (builder without templates, the reference), for
//! random keys, hosts, receive windows, symbols, sides, types, quantities, prices, TP/SL,
//! triggers, client ids, timestamps and reduce-only flags, on both venues; rejections are the
//! same rejections. The documented signing vectors through templates: tests/signing_vectors.rs.

use proptest::prelude::*;
use rust_decimal::Decimal;

use calculus_trader::exec::{
    BinanceOrderBuilder, BinanceVenue, BybitOrderBuilder, BybitVenue, EntryExits, NewOrder,
    OrderFields, OrderVenue, TimeInForce, TriggerBy,
};
use calculus_trader::types::{Instrument, Side};

mod common;
use common::values::d;

/// Real filter shapes: (tick, step, min qty, max market qty, min notional).
const SPECS: [(&str, &str, &str, &str, &str); 5] = [
    ("0.10", "0.001", "0.001", "150", "5"),
    ("0.01", "0.01", "0.01", "2000", "5"),
    ("0.0001", "1", "1", "1000000", "5"),
    ("0.001", "0.1", "0.1", "5000", "100"),
    ("0.00001", "10", "10", "50000000", "5"),
];

fn instrument(i: usize) -> Instrument {
    let (tick, step, min, max, notional) = SPECS[i];
    Instrument::new(d(tick), d(step), d(min), d(max), d(notional))
        .unwrap()
        .with_limits(d(max) * Decimal::TEN, None)
}

/// Keys and account: the same for the templated and the reference builder.
#[derive(Debug, Clone)]
struct Account {
    api_key: String,
    secret: Vec<u8>,
    host: String,
    recv_window_ms: u64,
    prefix: String,
}

#[derive(Debug, Clone)]
struct Order {
    symbol: String,
    others: Vec<String>,
    spec: usize,
    sell: bool,
    limit: bool,
    tif: usize,
    trigger: usize,
    reduce_only: bool,
    client_seq: Option<u64>,
    timestamp_ms: u64,
    qty: Decimal,
    price: Decimal,
    /// TP / SL as a multiple of the price (some on the wrong side: rejected alike).
    tp: Option<Decimal>,
    sl: Option<Decimal>,
}

fn account() -> impl Strategy<Value = Account> {
    (
        "[A-Za-z0-9]{1,64}",
        proptest::collection::vec(any::<u8>(), 1..80),
        "[a-z0-9.]{1,24}(:[0-9]{1,5})?",
        1u64..=60_000,
        "[A-Za-z0-9_-]{0,16}",
    )
        .prop_map(|(api_key, secret, host, recv_window_ms, prefix)| Account {
            api_key,
            secret,
            host,
            recv_window_ms,
            prefix,
        })
}

fn decimal(max_mantissa: i64, max_scale: u32) -> impl Strategy<Value = Decimal> {
    (1..=max_mantissa, 0..=max_scale).prop_map(|(m, s)| Decimal::new(m, s))
}

fn multiple() -> impl Strategy<Value = Option<Decimal>> {
    proptest::option::of((500i64..1500).prop_map(|m| Decimal::new(m, 3)))
}

fn order() -> impl Strategy<Value = Order> {
    (
        (
            "[A-Z0-9][A-Z0-9_-]{0,19}",
            proptest::collection::vec("[A-Z0-9]{1,12}", 0..4),
            0..SPECS.len(),
            any::<bool>(),
            any::<bool>(),
            0usize..4,
            0usize..3,
        ),
        (
            any::<bool>(),
            proptest::option::of(any::<u64>()),
            prop_oneof![1_500_000_000_000u64..2_000_000_000_000, any::<u64>()],
            decimal(10_000_000_000, 10),
            decimal(10_000_000_000, 8),
            multiple(),
            multiple(),
        ),
    )
        .prop_map(
            |(
                (symbol, others, spec, sell, limit, tif, trigger),
                (reduce_only, client_seq, timestamp_ms, qty, price, tp, sl),
            )| Order {
                symbol,
                others,
                spec,
                sell,
                limit,
                tif,
                trigger,
                reduce_only,
                client_seq,
                timestamp_ms,
                qty,
                price,
                tp: tp.map(|m| m * price),
                sl: sl.map(|m| m * price),
            },
        )
}

impl Order {
    fn side(&self) -> Side {
        if self.sell {
            Side::Sell
        } else {
            Side::Buy
        }
    }

    fn new_order(&self) -> NewOrder<'_> {
        let mut o = if self.limit {
            NewOrder::limit(&self.symbol, self.side(), self.qty, self.price)
        } else {
            NewOrder::market(&self.symbol, self.side(), self.qty, self.price)
        };
        o.time_in_force = [
            TimeInForce::Gtc,
            TimeInForce::Ioc,
            TimeInForce::Fok,
            TimeInForce::PostOnly,
        ][self.tif];
        o.trigger_by = [
            TriggerBy::LastPrice,
            TriggerBy::MarkPrice,
            TriggerBy::IndexPrice,
        ][self.trigger];
        o.reduce_only = self.reduce_only;
        o.client_seq = self.client_seq;
        o.take_profit = self.tp;
        o.stop_loss = self.sl;
        o.timestamp_ms = self.timestamp_ms;
        o
    }

    fn fields(&self) -> OrderFields<'_> {
        OrderFields {
            symbol: &self.symbol,
            side: self.side(),
            quantity: self.qty,
            reduce_only: self.reduce_only,
            client_seq: self.client_seq.unwrap_or(0),
            timestamp_ms: self.timestamp_ms,
        }
    }

    /// The order's symbol among the others, somewhere in the rendered list.
    fn rendered(&self) -> Vec<String> {
        let mut names = self.others.clone();
        let at = self.timestamp_ms as usize % (names.len() + 1);
        names.insert(at, self.symbol.clone());
        names
    }
}

fn binance(a: &Account) -> BinanceOrderBuilder {
    BinanceOrderBuilder::new(&a.api_key, &a.secret, &a.host, a.recv_window_ms, &a.prefix)
}

fn bybit(a: &Account) -> BybitOrderBuilder {
    BybitOrderBuilder::new(&a.api_key, &a.secret, &a.host, a.recv_window_ms, &a.prefix).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn binance_templates_write_the_reference_bytes(a in account(), o in order()) {
        let (mut tpl, mut reference) = (binance(&a), binance(&a));
        tpl.set_symbols(&o.rendered());
        // The executor's path: exact fields, decimals as given.
        let want = reference.build(&o.fields()).to_vec();
        prop_assert_eq!(tpl.build(&o.fields()), &want[..]);
        prop_assert!(tpl.last_templated());
        prop_assert_eq!(tpl.last_body(), reference.last_body());
        prop_assert_eq!(tpl.last_signature(), reference.last_signature());
        // Rounded market and limit orders, decimals trimmed.
        let inst = instrument(o.spec);
        let want = reference.build_order(&inst, &o.new_order()).map(|r| r.to_vec());
        let got = tpl.build_order(&inst, &o.new_order()).map(|r| r.to_vec());
        prop_assert_eq!(&got, &want);
        if got.is_ok() {
            prop_assert!(tpl.last_templated());
            prop_assert_eq!(tpl.last_body(), reference.last_body());
        }
    }

    #[test]
    fn bybit_templates_write_the_reference_bytes(a in account(), o in order()) {
        let (mut tpl, mut reference) = (bybit(&a), bybit(&a));
        tpl.set_symbols(&o.rendered());
        let inst = instrument(o.spec);
        let want = reference.build(&inst, &o.new_order()).map(|r| r.to_vec());
        let got = tpl.build(&inst, &o.new_order()).map(|r| r.to_vec());
        prop_assert_eq!(&got, &want);
        if got.is_ok() {
            prop_assert!(tpl.last_templated());
            prop_assert_eq!(tpl.last_body(), reference.last_body());
            prop_assert_eq!(tpl.last_signature(), reference.last_signature());
            prop_assert_eq!(tpl.last_exits(), reference.last_exits());
        }
    }

    /// The executor's entry point (`OrderVenue::build_order`): Bybit market orders with the
    /// entry's TP/SL (dropped when on the wrong side), Binance exits kept client-side.
    #[test]
    fn venue_orders_from_templates_equal_the_reference(a in account(), o in order()) {
        let inst = instrument(o.spec);
        let exits = EntryExits { take_profit: o.tp, stop_loss: o.sl };
        let venues = |a: &Account| {
            [
                OrderVenue::Binance(BinanceVenue::new(binance(a))),
                OrderVenue::Bybit(
                    BybitVenue::new(&a.api_key, &a.secret, &a.host, a.recv_window_ms, &a.prefix)
                        .unwrap(),
                ),
            ]
        };
        for (mut tpl, mut reference) in venues(&a).into_iter().zip(venues(&a)) {
            tpl.set_symbols(&o.rendered());
            let want = reference
                .build_order(&inst, &o.fields(), o.price, exits)
                .map(|r| r.to_vec());
            let got = tpl
                .build_order(&inst, &o.fields(), o.price, exits)
                .map(|r| r.to_vec());
            prop_assert_eq!(got, want);
            prop_assert_eq!(tpl.last_exits(), reference.last_exits());
        }
    }
}

/// A symbol without a template is written field by field, to the same bytes; rendering again
/// replaces the set.
#[test]
fn symbols_without_a_template_fall_back_to_the_field_writer() {
    let a = Account {
        api_key: "k".into(),
        secret: b"s".to_vec(),
        host: "h".into(),
        recv_window_ms: 5000,
        prefix: "ct1-".into(),
    };
    let mut o = NewOrder::market("ETHUSDT", Side::Buy, d("1.25"), d("3000"));
    o.client_seq = Some(7);
    o.take_profit = Some(d("3100"));
    let inst = instrument(1);
    let (mut tpl, mut reference) = (bybit(&a), bybit(&a));
    tpl.set_symbols(&["BTCUSDT"]);
    let want = reference.build(&inst, &o).unwrap().to_vec();
    assert_eq!(tpl.build(&inst, &o).unwrap(), &want[..]);
    assert!(!tpl.last_templated());
    tpl.set_symbols(&["ETHUSDT"]);
    assert_eq!(tpl.build(&inst, &o).unwrap(), &want[..]);
    assert!(tpl.last_templated());
    let (mut tpl, mut reference) = (binance(&a), binance(&a));
    tpl.set_symbols(&["BTCUSDT"]);
    let want = reference.build_order(&inst, &o).unwrap().to_vec();
    assert_eq!(tpl.build_order(&inst, &o).unwrap(), &want[..]);
    assert!(!tpl.last_templated());
    tpl.set_symbols(&["ETHUSDT", "BTCUSDT"]);
    assert_eq!(tpl.build_order(&inst, &o).unwrap(), &want[..]);
    assert!(tpl.last_templated());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Orders in a row through one templated builder (the head kept from order to order,
    /// rendered again when the timestamp's or the length's number of digits changes) equal the
    /// reference, order by order.
    #[test]
    fn bybit_orders_in_a_row_equal_the_reference(
        a in account(),
        os in proptest::collection::vec(order(), 1..12),
    ) {
        let (mut tpl, mut reference) = (bybit(&a), bybit(&a));
        let names: Vec<String> = os.iter().map(|o| o.symbol.clone()).collect();
        tpl.set_symbols(&names);
        for o in &os {
            let inst = instrument(o.spec);
            let want = reference.build(&inst, &o.new_order()).map(|r| r.to_vec());
            let got = tpl.build(&inst, &o.new_order()).map(|r| r.to_vec());
            prop_assert_eq!(&got, &want);
            if got.is_ok() {
                prop_assert!(tpl.last_templated());
                prop_assert_eq!(tpl.last_body(), reference.last_body());
            }
        }
    }
}
