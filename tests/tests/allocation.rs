//! Zero heap allocation per command after warm-up, across every command kind (rejects included).
//!
//! The engine is warmed up with 50,000 generated commands (every instrument listed, books at their
//! deepest), then 50,000 more are measured with a counting allocator around `apply`.

use ferrex_engine::{Command, Engine, EngineConfig, Event};
use ferrex_tests::generate::{CommandGen, SplitMix64, differential_config, market_spec};

const COMMANDS: usize = 50_000;

fn run(
    engine: &mut Engine,
    generator: &mut CommandGen,
    rng: &mut SplitMix64,
    events: &mut Vec<Event>,
    kinds: &mut [bool; 5],
) {
    for _ in 0..COMMANDS {
        let command = generator.next(rng).expect("seeded source never ends");
        kinds[match command {
            Command::AddInstrument(_) => 0,
            Command::Place(_) => 1,
            Command::Cancel(_) => 2,
            Command::Amend(_) => 3,
            Command::MassCancel(_) => 4,
        }] = true;
        events.clear();
        engine.apply(&command, events);
        generator.observe(events);
    }
}

#[test]
fn no_allocation_per_command_after_warm_up() {
    let config = EngineConfig {
        orders_max: 4096,
        levels_max: 1024,
        ..differential_config()
    };
    let mut engine = Engine::new(config).unwrap();
    let mut events = Vec::with_capacity(4096);
    let mut generator = CommandGen::new(0);
    let mut rng = SplitMix64(42);
    engine.apply(
        &Command::AddInstrument(market_spec("BTC-USDT")),
        &mut events,
    );
    generator.observe(&events);
    let mut kinds = [false; 5];
    run(
        &mut engine,
        &mut generator,
        &mut rng,
        &mut events,
        &mut kinds,
    );
    assert_eq!(
        engine.instruments_len(),
        config.instruments_max as usize,
        "warm-up lists every instrument"
    );
    assert!(
        engine.resting_orders_len() > 0,
        "warm-up leaves orders resting"
    );
    let mut kinds = [false; 5];
    let info = allocation_counter::measure(|| {
        run(
            &mut engine,
            &mut generator,
            &mut rng,
            &mut events,
            &mut kinds,
        );
    });
    assert_eq!(kinds, [true; 5], "every command kind was measured");
    assert_eq!(
        info.count_total, 0,
        "{} allocations in {COMMANDS} commands",
        info.count_total
    );
    engine.check_invariants().unwrap();
}
