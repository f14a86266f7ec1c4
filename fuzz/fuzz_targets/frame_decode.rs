//! Arbitrary bytes as a log frame and as a batch archive: an error or a value, never a panic.
//! (Harness: `folio_fuzz::codec::frame_decode`.)
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| folio_fuzz::codec::frame_decode(data));
