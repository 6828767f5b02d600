//! The tools' tests: the `rivet` command run as a user would, the checker
//! and the benchmark's wrappers. One binary, one module per area; the
//! library's test helpers are shared with its own integration tests.

#[allow(dead_code)]
#[path = "../../../tests/integration/common.rs"]
mod common;

mod bench_smoke;
mod check;
mod cli;
mod runs;

/// The repository's root, where `fixtures/` and `asm-tests/` live.
pub const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
