//! The documentation tables stay identical to the code.

use ferrex_engine::{CancelReason, RejectCode};

fn rows(doc: &str) -> Vec<Vec<String>> {
    doc.lines()
        .filter(|l| l.starts_with("| ") && l.chars().nth(2).is_some_and(|c| c.is_ascii_digit()))
        .map(|l| l.trim_matches('|').split('|').map(|c| c.trim().to_string()).collect())
        .collect()
}

#[test]
fn reject_code_table_matches_the_code() {
    let doc = include_str!("../../docs/REJECT_CODES.md");
    let table: Vec<Vec<String>> = rows(doc).into_iter().filter(|r| r.len() == 4).collect();
    assert_eq!(table.len(), RejectCode::ALL.len(), "one row per code");
    for (row, code) in table.iter().zip(RejectCode::ALL) {
        assert_eq!(row[0], code.code().to_string());
        assert_eq!(row[1], format!("{code:?}"));
        assert_eq!(row[2], code.message(), "message of {code:?}");
    }
}

#[test]
fn cancel_reason_table_matches_the_code() {
    let doc = include_str!("../../docs/REJECT_CODES.md");
    let table: Vec<Vec<String>> = rows(doc).into_iter().filter(|r| r.len() == 3).collect();
    assert_eq!(table.len(), CancelReason::ALL.len(), "one row per reason");
    for (row, reason) in table.iter().zip(CancelReason::ALL) {
        assert_eq!(row[0], (reason as u8).to_string());
        assert_eq!(row[1], format!("{reason:?}"));
    }
}
