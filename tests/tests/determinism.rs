//! Determinism: the same commands give the same events and the same state hash; the hash sees
//! every change of state.

use ferrex_engine::{Amend, Command, Engine, Event, InstrumentId, OrderRef, Price, Qty, UserId};
use ferrex_tests::fixture;
use ferrex_tests::generate::{CommandGen, SplitMix64, differential_config, market_spec};

/// Runs `count` generated commands from `seed`; returns the events and the hash after each.
fn run(engine: &mut Engine, seed: u64, count: usize) -> (Vec<Event>, Vec<u64>) {
    let mut generator = CommandGen::new(u32::try_from(engine.instruments_len()).unwrap());
    let mut rng = SplitMix64(seed);
    let (mut all, mut hashes, mut events) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..count {
        let command = generator.next(&mut rng).unwrap();
        events.clear();
        engine.apply(&command, &mut events);
        generator.observe(&events);
        all.extend_from_slice(&events);
        hashes.push(engine.state_hash());
    }
    (all, hashes)
}

fn fresh() -> Engine {
    fixture::engine_with(differential_config(), &[market_spec("BTC-USDT")])
}

#[test]
fn same_commands_same_events_and_hashes() {
    for seed in 1..=20 {
        let (events_a, hashes_a) = run(&mut fresh(), seed, 1_000);
        let (events_b, hashes_b) = run(&mut fresh(), seed, 1_000);
        assert_eq!(events_a, events_b, "seed {seed}: events differ between identical runs");
        assert_eq!(hashes_a, hashes_b, "seed {seed}: hashes differ between identical runs");
    }
}

#[test]
fn a_clone_continues_identically() {
    let mut original = fresh();
    run(&mut original, 5, 500);
    let mut copy = original.clone();
    assert_eq!(copy.state_hash(), original.state_hash());
    assert_eq!(run(&mut original, 6, 500), run(&mut copy, 6, 500));
}

#[test]
fn hash_changes_with_state_and_only_with_state() {
    let mut engine = fresh();
    let mut generator = CommandGen::new(1);
    let mut rng = SplitMix64(9);
    let mut events = Vec::new();
    let (mut changed, mut kept) = (0, 0);
    for _ in 0..2_000 {
        let command = generator.next(&mut rng).unwrap();
        let before = engine.state_hash();
        events.clear();
        engine.apply(&command, &mut events);
        generator.observe(&events);
        let after = engine.state_hash();
        // A refused command changes nothing; anything that accepts, trades, cancels or lists does.
        let rejected = matches!(events[..], [Event::Rejected { .. }]);
        let changes_state = events.iter().any(|e| {
            matches!(
                e,
                Event::Accepted(_)
                    | Event::Fill(_)
                    | Event::Cancelled { .. }
                    | Event::Amended { .. }
                    | Event::InstrumentAdded { .. }
            )
        });
        if rejected {
            assert_eq!(before, after, "{command:?} was refused but moved the hash");
            kept += 1;
        } else if changes_state {
            assert_ne!(before, after, "{command:?} changed state ({events:?}) but not the hash");
            changed += 1;
        }
    }
    assert!(changed > 300 && kept > 100, "both kinds occur: {changed} changed, {kept} refused");
    // A rejected command leaves the hash alone.
    let before = engine.state_hash();
    let bad = Command::Amend(Amend {
        user: UserId(99),
        instrument: InstrumentId(0),
        order: OrderRef::Id(ferrex_engine::OrderId(1)),
        price: Price(1000),
        qty: Qty(1),
        trigger_price: None,
    });
    let mut events = Vec::new();
    engine.apply(&bad, &mut events);
    assert!(matches!(events[..], [Event::Rejected { .. }]));
    assert_eq!(engine.state_hash(), before);
    // A quantity change of one resting order changes it.
    let resting = (0..engine.instruments_len())
        .flat_map(|i| {
            engine.book_orders(InstrumentId(u32::try_from(i).unwrap())).into_iter().map(move |o| (i, o))
        })
        .find(|(_, o)| o.qty.0 > 2)
        .expect("some order rests with quantity above 2");
    let (instrument, order) = resting;
    let amend = Command::Amend(Amend {
        user: order.user,
        instrument: InstrumentId(u32::try_from(instrument).unwrap()),
        order: OrderRef::Id(order.order),
        price: order.price,
        qty: Qty(order.qty.0 - 1),
        trigger_price: None,
    });
    events.clear();
    engine.apply(&amend, &mut events);
    assert!(matches!(events[0], Event::Amended { priority_kept: true, .. }), "{events:?}");
    assert_ne!(engine.state_hash(), before);
}
