//! Queries answer from the state and change nothing: balances, positions with margin, open orders
//! (waiting conditionals included), order status, the pre-trade check, depth.

use ferrex_engine::{
    AssetId, Command, Engine, Event, InstrumentId, OrderRef, Place, Price, Qty, RejectCode, Side, Trigger,
    TriggerKind, TriggerSource, UserId,
};
use ferrex_tests::fixture::{self, BTC, OPERATOR, USDT};
use ferrex_tests::scenario::scenario_config;
use ferrex_tests::text::{OrderNames, default_spec, parse_command};

fn engine() -> Engine {
    let mut engine = Engine::new(scenario_config()).unwrap();
    let mut setup = fixture::assets();
    setup.extend(fixture::traders(1, 4));
    setup.extend(fixture::deposits(4, USDT, 100_000, 1));
    setup.extend(fixture::deposits(4, BTC, 1_000, 2));
    setup.push(Command::AddInstrument { actor: OPERATOR, spec: default_spec("BTC-USDT") });
    setup.push(parse_command("add BTC-PERP perp im=1000 mm=500 mark=1000", &OrderNames::default()).unwrap());
    fixture::apply_setup(&mut engine, &setup);
    engine
}

fn run(engine: &mut Engine, line: &str) -> Vec<Event> {
    let mut events = Vec::new();
    engine.apply(&parse_command(line, &OrderNames::default()).unwrap(), &mut events);
    assert!(!matches!(events[..], [Event::Rejected { .. }]), "{line}: {events:?}");
    events
}

fn accepted(events: &[Event]) -> ferrex_engine::OrderId {
    events.iter().find_map(|e| if let Event::Accepted(a) = e { Some(a.order) } else { None }).unwrap()
}

#[test]
fn balances_orders_and_status() {
    let mut engine = engine();
    let resting = accepted(&run(&mut engine, "place u1 i0 buy limit 100 x5 cid=a"));
    let stop = accepted(&run(&mut engine, "place u1 i0 sell limit 90 x2 stop=95"));
    let mut balances = Vec::new();
    engine.balances(UserId(1), &mut balances);
    let usdt = balances.iter().find(|(a, _)| *a == USDT).unwrap().1;
    let btc = balances.iter().find(|(a, _)| *a == BTC).unwrap().1;
    assert_eq!((usdt.available, usdt.held), (100_000 - 500, 500));
    assert_eq!((btc.available, btc.held), (1_000 - 20, 20), "the waiting stop holds its base");
    let mut open = Vec::new();
    engine.open_orders(UserId(1), None, &mut open);
    assert_eq!(open.iter().map(|o| o.order).collect::<Vec<_>>(), [resting, stop]);
    assert_eq!(open[0].held, 500);
    assert_eq!(open[1].trigger.map(|t| t.price), Some(Price(95)));
    let by_client =
        engine.order_status(UserId(1), &OrderRef::Client(ferrex_engine::ClientOrderId::new("a").unwrap()));
    assert_eq!(by_client.map(|o| o.qty), Some(Qty(5)));
    assert_eq!(engine.order_status(UserId(1), &OrderRef::Id(stop)).map(|o| o.order), Some(stop));
    assert_eq!(engine.order_status(UserId(2), &OrderRef::Id(resting)), None, "another user's order");
    let cancel =
        ferrex_engine::Cancel { user: UserId(1), instrument: InstrumentId(0), order: OrderRef::Id(resting) };
    let mut events = Vec::new();
    engine.apply(&Command::Cancel(cancel), &mut events);
    assert!(matches!(events[0], Event::Cancelled { .. }), "{events:?}");
    assert_eq!(engine.order_status(UserId(1), &OrderRef::Id(resting)), None);
    assert_eq!(engine.depth(InstrumentId(0), Side::Buy, 5), []);
    engine.open_orders(UserId(9), None, &mut open);
    assert!(open.is_empty());
}

#[test]
fn positions_and_margin() {
    let mut engine = engine();
    run(&mut engine, "place u1 i1 sell limit 1000 x4");
    run(&mut engine, "place u2 i1 buy limit 1000 x4");
    run(&mut engine, "mark i1 1100");
    let long = engine.position_view(UserId(2), InstrumentId(1)).unwrap();
    assert_eq!((long.qty, long.entry_notional, long.unrealized_pnl), (4, 4_000, 400));
    assert_eq!((long.initial_margin, long.maintenance_margin), (440, 220));
    let mut positions = Vec::new();
    engine.positions(UserId(1), &mut positions);
    assert_eq!(positions.len(), 1);
    assert_eq!((positions[0].qty, positions[0].unrealized_pnl), (-4, -400));
    let margin = engine.margin(UserId(2), USDT).unwrap();
    assert_eq!((margin.equity, margin.initial_margin, margin.available_margin), (100_400, 440, 99_960));
    assert_eq!(engine.position_view(UserId(3), InstrumentId(1)), None);
    assert_eq!(engine.margin(UserId(1), AssetId(9)), None);
}

#[test]
fn test_order_checks_everything_and_changes_nothing() {
    let mut engine = engine();
    let before = engine.state_hash();
    let place = Place {
        user: UserId(1),
        instrument: InstrumentId(0),
        side: Side::Buy,
        price: Some(Price(100)),
        qty: Qty(5),
        ..Place::default()
    };
    assert_eq!(engine.test_order(&place), Ok(()));
    assert_eq!(engine.test_order(&Place { qty: Qty(2_000), ..place }), Err(RejectCode::InsufficientBalance));
    let perp = Place { instrument: InstrumentId(1), price: Some(Price(1000)), qty: Qty(1_001), ..place };
    assert_eq!(engine.test_order(&perp), Err(RejectCode::InsufficientMargin));
    let stop = Place {
        trigger: Some(Trigger {
            price: Price(90),
            kind: TriggerKind::TakeProfit,
            source: TriggerSource::MarkPrice,
        }),
        ..place
    };
    assert_eq!(engine.test_order(&stop), Err(RejectCode::NotPerpetual));
    assert_eq!(engine.state_hash(), before, "checks change nothing");
    let mut events = Vec::new();
    engine.apply(&Command::Place(place), &mut events);
    assert!(matches!(events[0], Event::Accepted(_)), "what test_order accepted, apply accepts");
}
