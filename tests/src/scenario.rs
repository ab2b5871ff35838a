//! Data-driven scenarios: commands with their exact expected events, run on the engine and on the
//! reference, both of which must print exactly the expected lines.
//!
//! Two modes:
//! - matching (tests/scenarios/matching.txt): engine and reference; users 1..N exist and are funded
//!   far beyond need; money events (`balance`, `transferred`) are left out of the comparison;
//! - money (tests/scenarios/money.txt): engine only; users 1..N exist with no money; every event
//!   is compared, and `= balance` / `= system` checks read balances.
//!
//! File format:
//! ```text
//! case NAME               starts a case; each case starts on a fresh engine holding BTC-USDT as i0
//! config orders=N levels=N users=N instruments=N   (optional, first line of a case)
//! > COMMAND               a command in the text form of `text.rs`
//! > @T COMMAND            the same, stamped with sequencer time T (ns): GTD orders due expire first
//! EVENT LINE              each expected event, in order (a command with no lines expects none)
//! = book iI buy|sell P xQ P xQ ... | -     the side's depth, best first
//! = queue iI buy|sell P #N #N ...          the queue at one level, front first
//! = balance uU aA AVAILABLE/HELD           a user's balance (money mode)
//! = system fee|insurance|funding aA AMOUNT a system account (money mode)
//! = position uU iI QTY/ENTRY/PNL | flat   a perpetual position (money mode)
//! = margin uU aA EQUITY/INITIAL/MAINTENANCE  a user's margin in a settlement asset (money mode)
//! # comment
//! ```

use ferrex_engine::{
    AssetId, Command, Engine, EngineConfig, Event, InstrumentId, Side, SystemAccount, UserId,
};

use crate::fixture;
use crate::reference::RefEngine;
use crate::text::{OrderNames, format_event, parse_command};

/// One line of a case with its position.
#[derive(Debug, Clone)]
enum Step {
    Command { line: usize, text: String, expected: Vec<String> },
    Check { line: usize, text: String },
}

/// A named case.
#[derive(Debug, Clone)]
pub struct Case {
    /// Its name.
    pub name: String,
    config: EngineConfig,
    steps: Vec<Step>,
}

/// The engine configuration scenarios start from.
pub fn scenario_config() -> EngineConfig {
    EngineConfig {
        orders_max: 64,
        levels_max: 64,
        instruments_max: 4,
        users_max: 8,
        ..EngineConfig::default()
    }
}

fn parse_config(text: &str, config: &mut EngineConfig) -> Result<(), String> {
    for pair in text.split_whitespace() {
        let (key, value) = pair.split_once('=').ok_or_else(|| format!("bad config {pair:?}"))?;
        let value: u32 = value.parse().map_err(|_| format!("bad config value {pair:?}"))?;
        match key {
            "orders" => config.orders_max = value,
            "levels" => config.levels_max = value,
            "users" => config.users_max = value,
            "instruments" => config.instruments_max = value,
            _ => return Err(format!("unknown config key {key:?}")),
        }
    }
    Ok(())
}

/// Parses a scenario file.
pub fn parse_cases(source: &str) -> Result<Vec<Case>, String> {
    let mut cases: Vec<Case> = Vec::new();
    for (index, raw) in source.lines().enumerate() {
        let line = index + 1;
        let text = raw.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        if let Some(name) = text.strip_prefix("case ") {
            cases.push(Case { name: name.to_string(), config: scenario_config(), steps: Vec::new() });
            continue;
        }
        let case = cases.last_mut().ok_or_else(|| format!("line {line}: text before the first case"))?;
        if let Some(config) = text.strip_prefix("config ") {
            parse_config(config, &mut case.config).map_err(|e| format!("line {line}: {e}"))?;
        } else if let Some(command) = text.strip_prefix("> ") {
            case.steps.push(Step::Command { line, text: command.to_string(), expected: Vec::new() });
        } else if let Some(check) = text.strip_prefix("= ") {
            case.steps.push(Step::Check { line, text: check.to_string() });
        } else if let Some(Step::Command { expected, .. }) = case.steps.last_mut() {
            expected.push(text.to_string());
        } else {
            return Err(format!("line {line}: an event line must follow a command"));
        }
    }
    Ok(cases)
}

/// How a file's cases run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Engine and reference, funded users, money events not compared.
    Matching,
    /// Engine only, unfunded users, every event compared.
    Money,
}

/// Either implementation, seen the same way by the runner.
trait Subject {
    fn run(&mut self, command: &Command) -> Vec<Event> {
        self.run_at(None, command)
    }
    fn run_at(&mut self, time_ns: Option<u64>, command: &Command) -> Vec<Event>;
    fn check(&self, text: &str) -> Result<Vec<String>, String>;
}

fn depth_words(orders: &[ferrex_engine::RestingOrder], side: Side) -> Vec<String> {
    let mut levels: Vec<(i64, i64)> = Vec::new();
    for o in orders.iter().filter(|o| o.side == side) {
        match levels.last_mut() {
            Some((price, qty)) if *price == o.price.0 => *qty += o.qty.0,
            _ => levels.push((o.price.0, o.qty.0)),
        }
    }
    levels.iter().flat_map(|(p, q)| [p.to_string(), format!("x{q}")]).collect()
}

fn check_words(orders: &[ferrex_engine::RestingOrder], words: &[&str]) -> Result<Vec<String>, String> {
    let side = match words.get(2) {
        Some(&"buy") => Side::Buy,
        Some(&"sell") => Side::Sell,
        _ => return Err("check needs a side".into()),
    };
    match words[0] {
        "book" => Ok(depth_words(orders, side)),
        "queue" => {
            let price: i64 = words.get(3).and_then(|p| p.parse().ok()).ok_or("queue needs a price")?;
            Ok(orders
                .iter()
                .filter(|o| o.side == side && o.price.0 == price)
                .map(|o| format!("#{}", o.order.sequence()))
                .collect())
        }
        other => Err(format!("unknown check {other:?}")),
    }
}

fn instrument_of(words: &[&str]) -> Result<InstrumentId, String> {
    words
        .get(1)
        .and_then(|w| w.strip_prefix('i'))
        .and_then(|n| n.parse().ok())
        .map(InstrumentId)
        .ok_or_else(|| "check needs iN".to_string())
}

impl Subject for Engine {
    fn run_at(&mut self, time_ns: Option<u64>, command: &Command) -> Vec<Event> {
        let mut out = Vec::new();
        match time_ns {
            Some(time) => self.apply_at(time, command, &mut out),
            None => self.apply(command, &mut out),
        }
        if let Err(e) = self.check_invariants() {
            panic!("{e}");
        }
        out
    }
    fn check(&self, text: &str) -> Result<Vec<String>, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            ["balance", user, asset, ..] => {
                let user = UserId(user.strip_prefix('u').and_then(|u| u.parse().ok()).ok_or("bad user")?);
                let b = self.balance(user, asset_of(asset)?).ok_or("unknown user or asset")?;
                Ok(vec![format!("{}/{}", b.available, b.held)])
            }
            ["system", account, asset, ..] => {
                let account = match *account {
                    "fee" => SystemAccount::Fee,
                    "insurance" => SystemAccount::Insurance,
                    "funding" => SystemAccount::Funding,
                    other => return Err(format!("bad system account {other:?}")),
                };
                let amount = self.system_balance(asset_of(asset)?, account).ok_or("unknown asset")?;
                Ok(vec![amount.to_string()])
            }
            ["position", user, instrument, ..] => {
                let user = UserId(user.strip_prefix('u').and_then(|u| u.parse().ok()).ok_or("bad user")?);
                let instrument = instrument_of(&["", instrument])?;
                Ok(vec![match self.position_view(user, instrument) {
                    Some(p) => format!("{:+}/{}/{}", p.qty, p.entry_notional, p.realized_pnl),
                    None => "flat".to_string(),
                }])
            }
            ["margin", user, asset, ..] => {
                let user = UserId(user.strip_prefix('u').and_then(|u| u.parse().ok()).ok_or("bad user")?);
                let m = self.margin(user, asset_of(asset)?).ok_or("unknown user or asset")?;
                Ok(vec![format!("{}/{}/{}", m.equity, m.initial_margin, m.maintenance_margin)])
            }
            _ => check_words(&self.book_orders(instrument_of(&words)?), &words),
        }
    }
}

fn asset_of(word: &str) -> Result<AssetId, String> {
    word.strip_prefix('a')
        .and_then(|a| a.parse().ok())
        .map(AssetId)
        .ok_or_else(|| format!("bad asset {word:?}"))
}

impl Subject for RefEngine {
    fn run_at(&mut self, _time_ns: Option<u64>, command: &Command) -> Vec<Event> {
        let mut out = Vec::new();
        self.apply(command, &mut out);
        out
    }
    fn check(&self, text: &str) -> Result<Vec<String>, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        check_words(&self.book_orders(instrument_of(&words)?), &words)
    }
}

fn expected_check(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    // `queue iI SIDE PRICE`, `book iI SIDE`, `balance uU aA`, `system NAME aA`: then the values.
    let skip = if words.first() == Some(&"queue") { 4 } else { 3 };
    words.iter().skip(skip).filter(|w| **w != "-").map(|w| (*w).to_string()).collect()
}

/// The commands every case of a mode starts with (their events are not compared).
fn setup(case: &Case, mode: Mode) -> Result<Vec<Command>, String> {
    let mut commands = match mode {
        Mode::Matching => fixture::funded(case.config.users_max),
        Mode::Money => {
            let mut commands = fixture::assets();
            // u1..u7: higher ids stay free for cases that create users of their own.
            commands.extend(fixture::traders(1, case.config.users_max.min(8)));
            commands
        }
    };
    commands.push(parse_command("add BTC-USDT", &OrderNames::default())?);
    Ok(commands)
}

fn run_on(case: &Case, subject: &mut dyn Subject, who: &str, mode: Mode) -> Result<(), String> {
    let mut names = OrderNames::default();
    for command in setup(case, mode)? {
        let events = subject.run(&command);
        if let Some(reject) = events.iter().find(|e| matches!(e, Event::Rejected { .. })) {
            return Err(format!("{who}: setup command {command:?} refused: {reject:?}"));
        }
    }
    for step in &case.steps {
        match step {
            Step::Command { line, text, expected } => {
                // `@T COMMAND`: the command carries sequencer time T (ns).
                let (time, text) = match text.strip_prefix('@').and_then(|t| t.split_once(' ')) {
                    Some((time, rest)) => {
                        (Some(time.parse::<u64>().map_err(|_| format!("line {line}: bad time"))?), rest)
                    }
                    None => (None, text.as_str()),
                };
                let command = parse_command(text, &names).map_err(|e| format!("line {line}: {e}"))?;
                let mut events = subject.run_at(time, &command);
                names.observe(&events);
                if mode == Mode::Matching {
                    events.retain(|e| !fixture::is_money_event(e));
                }
                let got: Vec<String> = events.iter().map(format_event).collect();
                if &got != expected {
                    return Err(format!(
                        "{who}, line {line} `{text}`:\n  expected:\n    {}\n  got:\n    {}",
                        expected.join("\n    "),
                        got.join("\n    ")
                    ));
                }
            }
            Step::Check { line, text } => {
                let got = subject.check(text).map_err(|e| format!("line {line}: {e}"))?;
                let expected = expected_check(text);
                if got != expected {
                    return Err(format!("{who}, line {line} `= {text}`: got {}", got.join(" ")));
                }
            }
        }
    }
    Ok(())
}

/// Runs one case: on the engine, and in matching mode on the reference too.
pub fn run_case(case: &Case, mode: Mode) -> Result<(), String> {
    let mut engine = Engine::new(case.config).map_err(|e| e.to_string())?;
    run_on(case, &mut engine, "engine", mode)?;
    match mode {
        Mode::Matching => run_on(case, &mut RefEngine::new(case.config), "reference", mode),
        Mode::Money => Ok(()),
    }
}
