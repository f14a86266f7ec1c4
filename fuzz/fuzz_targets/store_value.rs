//! Arbitrary bytes as packed store values: an error or a value, never a panic.
//! (Harness: `folio_fuzz::codec::store_value`.)
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| folio_fuzz::codec::store_value(data));
