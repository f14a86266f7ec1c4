//! Arbitrary bytes as packed store values: an error or a value, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = folio::store::pack::unpack_ledgers(data);
    let _ = folio::store::pack::unpack_balances(data);
    let _ = folio::store::pack::unpack_orgs(data);
});
