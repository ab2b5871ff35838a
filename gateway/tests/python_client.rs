//! The standard-library Python client of the binary protocol runs its example against the real
//! server: a trade between two users, a cancel, and a replay after reconnecting (the example
//! asserts every report it expects and exits non-zero otherwise), alone and beside `ferrex demo`'s
//! live market.

mod common;

use std::process::Command;

use common::Server;
use ferrex_tests::journal_fixture::TempDir;

/// Runs the example against `server`; its standard output.
fn run_example(server: &Server) -> String {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../clients/python/example.py");
    let output = Command::new("python3").arg(example).arg(&server.binary).output().expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "example failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn the_python_example_trades_cancels_and_replays() {
    let dir = TempDir::new("python-client");
    let server = Server::start(&dir);
    let stdout = run_example(&server);
    assert!(stdout.contains("bob: new, then fill 5 lots at 650000 ticks, 0 left"), "{stdout}");
    assert!(stdout.contains("alice: cancelled 15 lots"), "{stdout}");
    assert!(stdout.contains("replayed 1 report, identical"), "{stdout}");
    assert!(server.stop());
}

#[test]
fn the_python_example_runs_beside_the_demo_market() {
    let dir = TempDir::new("python-client-demo");
    let server = Server::start_demo(&dir);
    let stdout = run_example(&server);
    assert!(stdout.contains("bob: new, then fill 5 lots at 650000 ticks, 0 left"), "{stdout}");
    assert!(stdout.contains("replayed 1 report, identical"), "{stdout}");
    assert!(server.stop());
}
