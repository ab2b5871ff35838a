//! Arbitrary mixes of every command, money and admin included (decoded from the fuzzer's bytes by
//! the money generator); a broken invariant (money created or lost, a negative balance, a hold that
//! does not match the orders) aborts with the command history. libFuzzer prints its seed at start.

#![no_main]

use ferrex_tests::generate::ByteSource;
use ferrex_tests::money_gen;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(report) = money_gen::run(&mut ByteSource(data), 10_000) {
        panic!("money invariant broken: {report}");
    }
});
