//! Pure decoders: log frames and batch archives, packed store values, workload lines.

/// `frame_decode`: arbitrary bytes as a log frame, a batch (compact, and rkyv archive) and a
/// segment header: an error or a value, never a panic. A compact batch that decodes encodes
/// back to a batch that decodes to the same.
pub fn frame_decode(data: &[u8]) {
    use folio::codec::record::{decode, encode, COMPACT_BATCH};
    if let Ok((header, payload)) = folio::codec::frame::decode_frame(data) {
        assert_eq!(payload.len(), header.len as usize);
        let _ = decode(payload, header.op_count);
    }
    let _ = decode(data, 0);
    if let Ok(batch) = decode(data, COMPACT_BATCH) {
        let again = encode(&batch).expect("a decoded batch encodes");
        let decoded = decode(&again.payload, again.op_field);
        assert_eq!(decoded.as_ref(), Ok(&batch));
    }
    let _ = folio::wal::segment::SegmentHeader::decode(data);
}

/// `store_value`: arbitrary bytes as packed store values: an error or a value, never a panic.
pub fn store_value(data: &[u8]) {
    let _ = folio::store::pack::unpack_ledgers(data);
    let _ = folio::store::pack::unpack_balances(data);
    let _ = folio::store::pack::unpack_orgs(data);
}

/// `ingest_line`: arbitrary text as a JSONL, CSV or query line: a parse error or an event, never
/// a panic.
pub fn ingest_line(data: &[u8]) {
    if let Ok(line) = std::str::from_utf8(data) {
        let _ = folio_workload::parse_jsonl_line(line);
        let _ = folio_workload::parse_csv_line(line);
        let _ = folio_workload::QueryInstance::parse_json_line(line);
    }
}
