//! Runs every case of tests/scenarios/*.txt: matching rules on the engine and the reference, money
//! rules on the engine with every event and balance checked.

use ferrex_tests::scenario::{Mode, parse_cases, run_case};

fn run_file(source: &str, mode: Mode, cases_min: usize) {
    let cases = parse_cases(source).expect("scenario file parses");
    assert!(cases.len() >= cases_min, "only {} cases", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| run_case(case, mode).err().map(|e| format!("case `{}`: {e}", case.name)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn matching_rules_scenarios() {
    run_file(include_str!("../scenarios/matching.txt"), Mode::Matching, 25);
}

#[test]
fn money_rules_scenarios() {
    run_file(include_str!("../scenarios/money.txt"), Mode::Money, 10);
}
