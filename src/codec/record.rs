//! Log records: what a committed batch looks like in the write-ahead log, and its two
//! encodings: compact ([`super::compact`], written) and rkyv (logs written before; read).
//!
//! Records carry resolved facts (e.g. the business day computed with the org's time zone at
//! commit time) so that replay never depends on anything but the log itself.

use rkyv::{Archive, Deserialize, Serialize};

/// Status code of an entry record: 0 = none (revenues, reversals).
pub const STATUS_NONE: u8 = 0;

#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct OrgRecord {
    pub org: u64,
    pub name: String,
    pub currency: [u8; 3],
    pub time_zone: String,
    pub opening: i64,
    pub created_at: i64,
}

/// A posting or a reversal (when `reverses != 0`). `amount` is always positive; a reversal's
/// effect is its negation.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct EntryRecord {
    pub org: u64,
    pub entry_id: u64,
    pub occurred_at: i64,
    pub amount: i64,
    pub reverses: u64,
    pub day: i32,
    pub kind: u8,
    pub category: u8,
    pub payment_method: u8,
    pub status: u8,
    pub reference: String,
}

#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayRecord {
    pub org: u64,
    pub entry_id: u64,
    pub paid_at: i64,
}

/// Creation or removal of a declared secondary index. Column and predicate codes are those of
/// `state::index::def`.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct IndexRecord {
    pub create: bool,
    pub name: String,
    pub table: u8,
    pub key: Vec<u8>,
    pub include: Vec<u8>,
    /// 0 none, 1 status =, 2 payment_method =, 3 category =, 4 amount >=.
    pub predicate: u8,
    pub predicate_value: i64,
}

#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum LogOp {
    Org(OrgRecord),
    Entry(EntryRecord),
    Pay(PayRecord),
    Index(IndexRecord),
}

/// The payload of one frame: one committed batch.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct LogBatch {
    pub ops: Vec<LogOp>,
}

/// Bit 31 of a frame's operation-count field: the payload is a compact batch
/// ([`super::compact`]); without it, an rkyv archive of [`LogBatch`] (what logs written before
/// the compact encoding hold, and still read).
pub const COMPACT_BATCH: u32 = 1 << 31;

/// A batch ready for a log frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedBatch {
    pub payload: Vec<u8>,
    /// The frame header's operation-count field: the count, and [`COMPACT_BATCH`].
    pub op_field: u32,
}

/// Encodes a batch for a log frame (compact; see [`super::compact`]).
///
/// # Errors
/// When the batch has 2^31 operations or more (batches hold at most
/// [`crate::limits::MAX_BATCH_OPS`]).
pub fn encode(batch: &LogBatch) -> Result<EncodedBatch, String> {
    let count = u32::try_from(batch.ops.len())
        .ok()
        .filter(|c| c & COMPACT_BATCH == 0)
        .ok_or_else(|| format!("{} operations in one batch", batch.ops.len()))?;
    Ok(EncodedBatch {
        payload: super::compact::encode(batch),
        op_field: count | COMPACT_BATCH,
    })
}

/// The operation count a frame header's operation-count field holds.
pub fn op_count(op_field: u32) -> u32 {
    op_field & !COMPACT_BATCH
}

/// Encodes a batch as an rkyv archive: the payload of a frame whose operation-count field is
/// the plain count (how logs were written before the compact encoding; this build reads them).
///
/// # Errors
/// What rkyv reports.
#[cfg(any(test, feature = "internals"))]
pub fn encode_rkyv(batch: &LogBatch) -> Result<rkyv::util::AlignedVec, String> {
    rkyv::to_bytes::<rkyv::rancor::Error>(batch).map_err(|e| e.to_string())
}

/// Validates and decodes a frame's payload in the encoding its operation-count field names
/// (`op_field`); the count itself is the caller's to check.
///
/// # Errors
/// Why the payload is not a batch of that encoding.
pub fn decode(payload: &[u8], op_field: u32) -> Result<LogBatch, String> {
    if op_field & COMPACT_BATCH != 0 {
        return super::compact::decode(payload);
    }
    decode_rkyv(payload)
}

/// Validates and decodes an rkyv payload. The payload must be 8-byte aligned (frames guarantee
/// it); unaligned input is copied first.
fn decode_rkyv(payload: &[u8]) -> Result<LogBatch, String> {
    if !(payload.as_ptr() as usize).is_multiple_of(8) {
        let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(payload.len());
        aligned.extend_from_slice(payload);
        return decode_rkyv(&aligned);
    }
    rkyv::from_bytes::<LogBatch, rkyv::rancor::Error>(payload).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let batch = LogBatch {
            ops: vec![
                LogOp::Org(OrgRecord {
                    org: 7,
                    name: "Grand".into(),
                    currency: *b"EUR",
                    time_zone: "Europe/Paris".into(),
                    opening: -5,
                    created_at: 1,
                }),
                LogOp::Entry(EntryRecord {
                    org: 7,
                    entry_id: 9,
                    occurred_at: 1_704_067_200,
                    amount: 12_345,
                    reverses: 0,
                    day: 19723,
                    kind: 1,
                    category: 1,
                    payment_method: 2,
                    status: STATUS_NONE,
                    reference: "INV-1".into(),
                }),
                LogOp::Pay(PayRecord {
                    org: 7,
                    entry_id: 9,
                    paid_at: 3,
                }),
            ],
        };
        let rkyv = encode_rkyv(&batch).unwrap();
        assert_eq!(decode(&rkyv, 3).unwrap(), batch);
        assert!(decode(&rkyv[..rkyv.len() - 4], 3).is_err());
        let compact = encode(&batch).unwrap();
        assert_eq!(compact.op_field, 3 | COMPACT_BATCH);
        assert_eq!(op_count(compact.op_field), 3);
        assert_eq!(decode(&compact.payload, compact.op_field).unwrap(), batch);
        assert!(compact.payload.len() * 2 < rkyv.len(), "{} vs {}", compact.payload.len(), rkyv.len());
        for cut in 0..compact.payload.len() {
            assert!(decode(&compact.payload[..cut], compact.op_field).is_err(), "cut at {cut}");
        }
        // Each encoding is read only as what the frame says it is.
        assert!(decode(&compact.payload, 3).is_err());
        assert!(decode(&rkyv, 3 | COMPACT_BATCH).is_err());
    }
}
