//! Arbitrary bytes as a frozen month file: open, every lookup, verify: an error or valid
//! answers, never a panic. (Harness: `folio_fuzz::frozen::frozen_read`.)
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| folio_fuzz::frozen::frozen_read(data));
