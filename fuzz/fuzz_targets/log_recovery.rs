//! A database whose only log segment holds a valid prefix followed by arbitrary bytes: opening it
//! either succeeds (torn tail cut off) or fails with a typed error. Never a panic.
//! (Harness: `folio_fuzz::wal::log_recovery`.)
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| folio_fuzz::wal::log_recovery(data));
