//! Arbitrary text as a JSONL, CSV or query line: a parse error or an event, never a panic.
//! (Harness: `folio_fuzz::codec::ingest_line`.)
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| folio_fuzz::codec::ingest_line(data));
