//! Arbitrary bytes as checkpoint and catalog data: packed store values, index catalogs and
//! definitions, the identity file `FOLIO`, and `BASE` / `MANIFEST.json` / store values of real
//! checkpoint and database directories opened with `Db::open`. An error or a value, never a
//! panic. (Harness and input layout: `folio_fuzz::checkpoint`.)
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| folio_fuzz::checkpoint::checkpoint_decode(data));
