//! Runs every case of tests/scenarios/*.txt on the engine and on the reference.

use ferrex_tests::scenario::{parse_cases, run_case};

#[test]
fn matching_rules_scenarios() {
    let source = include_str!("../scenarios/matching.txt");
    let cases = parse_cases(source).expect("scenario file parses");
    assert!(cases.len() >= 25, "only {} cases", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| run_case(case).err().map(|e| format!("case `{}`: {e}", case.name)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
