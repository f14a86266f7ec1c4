//! Log records: what a committed batch looks like in the write-ahead log (rkyv-encoded).
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

/// Encodes a batch with rkyv.
pub fn encode(batch: &LogBatch) -> Result<rkyv::util::AlignedVec, String> {
    rkyv::to_bytes::<rkyv::rancor::Error>(batch).map_err(|e| e.to_string())
}

/// Validates and decodes a payload. The payload must be 8-byte aligned (frames guarantee it);
/// unaligned input is copied first.
pub fn decode(payload: &[u8]) -> Result<LogBatch, String> {
    if !(payload.as_ptr() as usize).is_multiple_of(8) {
        let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(payload.len());
        aligned.extend_from_slice(payload);
        return decode(&aligned);
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
        let bytes = encode(&batch).unwrap();
        assert_eq!(decode(&bytes).unwrap(), batch);
        assert!(decode(&bytes[..bytes.len() - 4]).is_err());
    }
}
