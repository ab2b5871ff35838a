//! One differential run: the same commands through the engine and the reference, compared after
//! every command (events, every book, invariants), with a readable history on disagreement.

use ferrex_engine::{Command, Engine, Event, InstrumentId};

use crate::fixture;
use crate::generate::{CommandGen, Source, differential_config, market_spec};
use crate::reference::RefEngine;
use crate::text::format_event;

/// What a run saw, for coverage assertions.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Every event, in order.
    pub events: Vec<Event>,
    /// Commands applied.
    pub commands: usize,
}

fn history(log: &[String]) -> String {
    let start = log.len().saturating_sub(30);
    log[start..].join("\n")
}

/// Runs up to `commands_max` generated commands; `Err` describes the first disagreement.
pub fn run(source: &mut dyn Source, commands_max: usize) -> Result<Seen, String> {
    let config = differential_config();
    let mut engine = Engine::new(config).map_err(|e| e.to_string())?;
    let mut reference = RefEngine::new(config);
    let mut generator = CommandGen::new(0);
    let mut seen = Seen::default();
    let mut log = Vec::new();
    let (mut got, mut want) = (Vec::new(), Vec::new());
    // Assets and funded users first: the reference models matching, not money, so the setup is
    // applied to both but only the engine's verdicts on it are checked.
    let setup = fixture::funded(config.users_max);
    fixture::apply_setup(&mut engine, &setup);
    let mut ignored = Vec::new();
    for command in &setup {
        reference.apply(command, &mut ignored);
    }
    let mut next = Some(Command::AddInstrument { actor: fixture::OPERATOR, spec: market_spec("BTC-USDT") });
    while let Some(command) = next {
        got.clear();
        want.clear();
        engine.apply(&command, &mut got);
        reference.apply(&command, &mut want);
        // Balances are checked by the invariants (conservation, exact holds), not by the oracle.
        got.retain(|e| !fixture::is_money_event(e));
        log.push(format!("> {command:?}"));
        log.extend(got.iter().map(|e| format!("  {}", format_event(e))));
        if got != want {
            let want: Vec<String> = want.iter().map(|e| format!("  {}", format_event(e))).collect();
            return Err(format!("events differ\n{}\nreference:\n{}", history(&log), want.join("\n")));
        }
        engine.check_invariants().map_err(|e| format!("{e}\n{}", history(&log)))?;
        for i in 0..engine.instruments_len() {
            let instrument = InstrumentId(u32::try_from(i).expect("small"));
            if engine.book_orders(instrument) != reference.book_orders(instrument) {
                return Err(format!("book {i} differs\n{}", history(&log)));
            }
        }
        generator.observe(&got);
        seen.events.extend_from_slice(&got);
        seen.commands += 1;
        next = if seen.commands >= commands_max { None } else { generator.next(source) };
    }
    Ok(seen)
}
