//! Zero heap allocation per command after warm-up, across every command kind (rejects included).
//!
//! The engine is warmed up with 50,000 generated commands (every instrument listed, books at their
//! deepest), then 50,000 more are measured with a counting allocator around `apply`.

use ferrex_engine::{Command, Engine, EngineConfig, Event};
use ferrex_tests::fixture;
use ferrex_tests::generate::{CommandGen, SplitMix64, differential_config, market_spec};

const COMMANDS: usize = 50_000;

struct Workload {
    engine: Engine,
    generator: CommandGen,
    rng: SplitMix64,
    events: Vec<Event>,
}

impl Workload {
    /// Applies `COMMANDS` generated commands; returns which command kinds occurred.
    fn run(&mut self) -> [bool; 5] {
        let mut kinds = [false; 5];
        for _ in 0..COMMANDS {
            let command = self.generator.next(&mut self.rng).expect("seeded source never ends");
            kinds[match command {
                Command::Place(_) => 1,
                Command::Cancel(_) => 2,
                Command::Amend(_) => 3,
                Command::MassCancel(_) => 4,
                _ => 0,
            }] = true;
            self.events.clear();
            self.engine.apply(&command, &mut self.events);
            self.generator.observe(&self.events);
        }
        kinds
    }
}

#[test]
fn no_allocation_per_command_after_warm_up() {
    // Prices span 17 ticks, so a side holds at most 17 live levels plus (book.rs) at most
    // max(32, live) tombstones before compaction: 64 reserved entries mean a side never grows, and
    // growth beyond the deepest book so far (the documented exception) cannot blur this test.
    let config = EngineConfig {
        orders_max: 4096,
        levels_max: 1024,
        side_levels_reserved: 64,
        ..differential_config()
    };
    let mut workload = Workload {
        engine: fixture::engine_with(config, &[market_spec("BTC-USDT")]),
        generator: CommandGen::new(1),
        rng: SplitMix64(42),
        events: Vec::with_capacity(1 << 16),
    };
    workload.run();
    assert_eq!(workload.engine.instruments_len(), config.instruments_max as usize, "warm-up lists all");
    assert!(workload.engine.resting_orders_len() > 0, "warm-up leaves orders resting");
    let mut kinds = [false; 5];
    let info = allocation_counter::measure(|| kinds = workload.run());
    assert_eq!(kinds, [true; 5], "every command kind was measured");
    assert_eq!(info.count_total, 0, "{} allocations in {COMMANDS} commands", info.count_total);
    workload.engine.check_invariants().unwrap();
}
