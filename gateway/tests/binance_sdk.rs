//! The official Binance Python SDK (`binance-connector`, pinned) places, queries and cancels an
//! order against the real `ferrex serve`, with no change to the SDK. The SDK is installed by this
//! test into a virtualenv under target/ (once; it needs only `python3` and the package index).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Server;
use ferrex_tests::journal_fixture::TempDir;
const SDK: &str = "binance-connector==3.13.0";

/// The virtualenv's python, with the SDK installed.
fn python_with_sdk() -> PathBuf {
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/py-binance-connector");
    let python = target.join("bin/python");
    let installed = target.join(".installed");
    if !installed.exists() {
        let venv = Command::new("python3").arg("-m").arg("venv").arg(&target).status().expect("python3 runs");
        assert!(venv.success(), "python3 -m venv {}", target.display());
        let pip =
            Command::new(&python).args(["-m", "pip", "install", "--quiet", SDK]).output().expect("pip runs");
        assert!(pip.status.success(), "pip install {SDK}: {}", String::from_utf8_lossy(&pip.stderr));
        std::fs::write(&installed, SDK).expect("marker");
    }
    python
}

#[test]
fn the_official_binance_sdk_places_queries_and_cancels_unchanged() {
    let python = python_with_sdk();
    let dir = TempDir::new("serve-binance-sdk");
    let server = Server::start(&dir);
    let address = format!("ws://{}", server.address);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/binance_sdk.py");
    let run = Command::new(&python).arg(&script).arg(&address).output().expect("the SDK script runs");
    drop(server);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && stdout.lines().any(|l| l == "ok"),
        "the SDK script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
}
