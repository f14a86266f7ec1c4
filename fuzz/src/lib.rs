//! The fuzz harnesses: one function per fuzz target, taking the raw input bytes.
//!
//! The targets in `fuzz_targets/` are one-line wrappers around these functions, and
//! `tests/fuzz_regressions.rs` of the main crate includes this very file with `#[path]` to replay
//! every input of `fuzz/seeds/<target>/` through the same code without libFuzzer. Hence: sibling
//! modules are named through `super::`, never `crate::`, and nothing here may need more than the
//! main crate's own dependencies (folio, tempfile, chrono, chrono-tz, crc32fast, serde,
//! serde_json). The reference model of the `model` harness is the main crate's own
//! (`tests/reference/`, included with `#[path]`).
//!
//! A harness returns normally for every input; any panic (an assertion of a harness or a panic
//! inside folio) is a finding.

pub mod checkpoint;
pub mod codec;
pub mod frozen;
pub mod model;
/// The reference model of the ledger, shared with the main crate's tests.
#[path = "../../tests/reference/mod.rs"]
pub mod reference;
pub mod scratch;
pub mod wal;

/// Every fuzz target, in the order `scripts/fuzz.sh` runs them.
pub const TARGETS: [&str; 7] = [
    "frame_decode",
    "log_recovery",
    "ingest_line",
    "store_value",
    "checkpoint_decode",
    "model",
    "frozen_read",
];

/// Runs one input through the harness of `target`; `false` when there is no such target.
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "frame_decode" => codec::frame_decode(data),
        "log_recovery" => wal::log_recovery(data),
        "ingest_line" => codec::ingest_line(data),
        "store_value" => codec::store_value(data),
        "checkpoint_decode" => checkpoint::checkpoint_decode(data),
        "model" => model::model(data),
        "frozen_read" => frozen::frozen_read(data),
        _ => return false,
    }
    true
}
