//! Arbitrary text as a JSONL, CSV or query line: a parse error or an event, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(line) = std::str::from_utf8(data) {
        let _ = folio::workload::parse_jsonl_line(line);
        let _ = folio::workload::parse_csv_line(line);
        let _ = folio::workload::QueryInstance::parse_json_line(line);
    }
});
