//! Arbitrary command sequences (decoded from the fuzzer's bytes by the differential generator) go
//! to the engine and to the reference; any difference in events or books, or a broken invariant,
//! aborts with the command history. libFuzzer prints its seed at start and saves the failing input.

#![no_main]

use ferrex_tests::differential;
use ferrex_tests::generate::ByteSource;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(report) = differential::run(&mut ByteSource(data), 10_000) {
        panic!("engine and reference disagree: {report}");
    }
});
