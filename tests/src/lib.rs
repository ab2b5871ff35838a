//! ferrex-tests: the test kit shared by the cross-crate tests, the fuzz targets and benches.
//!
//! - [`reference`]: the naive reference engine, the oracle of the differential tests;
//! - [`generate`]: random command sequences of every kind from a seed or from fuzzer bytes;
//! - [`text`]: a compact text form of commands and events;
//! - [`scenario`]: the runner of the data-driven scenario files in tests/scenarios/;
//! - [`differential`]: one run of engine against reference, shared by tests and fuzz targets;
//! - [`journal_fixture`]: journals on disk for the CLI's tests.
//!
//! Test code: it allocates freely and panics with a message on any disagreement.

pub mod differential;
pub mod fixture;
pub mod generate;
pub mod journal_fixture;
pub mod money_gen;
pub mod reference;
pub mod scenario;
pub mod text;
