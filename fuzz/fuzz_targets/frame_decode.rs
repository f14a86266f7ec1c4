//! Arbitrary bytes as a log frame and as a batch archive: an error or a value, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((header, payload)) = folio::codec::frame::decode_frame(data) {
        assert_eq!(payload.len(), header.len as usize);
        let _ = folio::codec::record::decode(payload);
    }
    let _ = folio::codec::record::decode(data);
    let _ = folio::wal::segment::SegmentHeader::decode(data);
});
