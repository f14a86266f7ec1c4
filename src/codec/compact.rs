//! The compact batch encoding of log frames (docs/format.md, "Compact batch"): varints, and
//! each entry's id and time as differences from the entry before it in the batch, so an entry
//! of a bulk batch takes ~15 bytes instead of the 64 of its rkyv archive. A frame says which
//! encoding its payload has (bit 31 of its operation-count field, [`super::record`]).
//!
//! ```text
//! batch  := u(op count) op*
//! op     := tag:u8 body          tag = kind << 4 | flags (flags 0 but for entries)
//! Org    (kind 1) := u(org) bytes(name) currency:[u8; 3] bytes(time_zone) i(opening) i(created_at)
//! Entry  (kind 2) := u(org) i(entry_id − id − 1) i(occurred_at − time) i(amount)
//!                    [u(reverses)]                    flags & 1
//!                    i(day − ⌊occurred_at / 86400⌋)
//!                    codes                            flags & 4: kind | status << 4,
//!                                                     category | payment_method << 4; else the
//!                                                     four codes, one byte each
//!                    [bytes(reference)]               flags & 2
//! Pay    (kind 3) := u(org) i(entry_id − id) i(paid_at − time)
//! Index  (kind 4) := create:u8 (0|1) bytes(name) table:u8 bytes(key) bytes(include)
//!                    predicate:u8 i(predicate_value)
//! ```
//!
//! `id` and `time` are the entry id and `occurred_at` of the batch's last entry before the op
//! (0 before the first); differences wrap (two's complement), so every value encodes. Decoding
//! rejects unknown kinds and flags, text that is not UTF-8, a count the bytes cannot hold and
//! trailing bytes.

use super::record::{EntryRecord, IndexRecord, LogBatch, LogOp, OrgRecord, PayRecord};
use super::varint::{put_bytes, put_i, put_u, Input};
use crate::model::SECS_PER_DAY;

const ORG: u8 = 1;
const ENTRY: u8 = 2;
const PAY: u8 = 3;
const INDEX: u8 = 4;

const REVERSES: u8 = 1;
const REFERENCE: u8 = 2;
const PACKED_CODES: u8 = 4;

/// The last entry's id and time: what the next entry's are written relative to.
#[derive(Default)]
struct Previous {
    id: u64,
    time: i64,
}

fn utc_day(occurred_at: i64) -> i64 {
    occurred_at.div_euclid(SECS_PER_DAY)
}

/// Encodes `batch`.
pub fn encode(batch: &LogBatch) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + batch.ops.len() * 16);
    put_u(&mut out, batch.ops.len() as u64);
    let mut prev = Previous::default();
    for op in &batch.ops {
        match op {
            LogOp::Org(o) => {
                out.push(ORG << 4);
                put_u(&mut out, o.org);
                put_bytes(&mut out, o.name.as_bytes());
                out.extend_from_slice(&o.currency);
                put_bytes(&mut out, o.time_zone.as_bytes());
                put_i(&mut out, o.opening);
                put_i(&mut out, o.created_at);
            }
            LogOp::Entry(e) => {
                let packed = [e.kind, e.status, e.category, e.payment_method]
                    .iter()
                    .all(|c| *c < 16);
                let mut flags = 0;
                if e.reverses != 0 {
                    flags |= REVERSES;
                }
                if !e.reference.is_empty() {
                    flags |= REFERENCE;
                }
                if packed {
                    flags |= PACKED_CODES;
                }
                out.push((ENTRY << 4) | flags);
                put_u(&mut out, e.org);
                put_i(&mut out, e.entry_id.wrapping_sub(prev.id).wrapping_sub(1) as i64);
                put_i(&mut out, e.occurred_at.wrapping_sub(prev.time));
                put_i(&mut out, e.amount);
                if e.reverses != 0 {
                    put_u(&mut out, e.reverses);
                }
                put_i(&mut out, i64::from(e.day).wrapping_sub(utc_day(e.occurred_at)));
                if packed {
                    out.push(e.kind | (e.status << 4));
                    out.push(e.category | (e.payment_method << 4));
                } else {
                    out.extend_from_slice(&[e.kind, e.category, e.payment_method, e.status]);
                }
                if !e.reference.is_empty() {
                    put_bytes(&mut out, e.reference.as_bytes());
                }
                prev = Previous {
                    id: e.entry_id,
                    time: e.occurred_at,
                };
            }
            LogOp::Pay(p) => {
                out.push(PAY << 4);
                put_u(&mut out, p.org);
                put_i(&mut out, p.entry_id.wrapping_sub(prev.id) as i64);
                put_i(&mut out, p.paid_at.wrapping_sub(prev.time));
            }
            LogOp::Index(x) => {
                out.push(INDEX << 4);
                out.push(u8::from(x.create));
                put_index(&mut out, x);
            }
        }
    }
    out
}

/// An index record's fields after its create flag: what the log's index op holds, and each
/// definition of the store's index catalog (`store::pack`).
pub fn put_index(out: &mut Vec<u8>, x: &IndexRecord) {
    put_bytes(out, x.name.as_bytes());
    out.push(x.table);
    put_bytes(out, &x.key);
    put_bytes(out, &x.include);
    out.push(x.predicate);
    put_i(out, x.predicate_value);
}

/// Reads what [`put_index`] wrote.
///
/// # Errors
/// Why the bytes are not an index record.
pub fn read_index(r: &mut Input<'_>, create: bool) -> Result<IndexRecord, String> {
    Ok(IndexRecord {
        create,
        name: r.string()?,
        table: r.byte()?,
        key: r.bytes()?.to_vec(),
        include: r.bytes()?.to_vec(),
        predicate: r.byte()?,
        predicate_value: r.i()?,
    })
}

/// Decodes a compact batch.
///
/// # Errors
/// Why the bytes are not a compact batch.
pub fn decode(payload: &[u8]) -> Result<LogBatch, String> {
    let mut r = Input::new(payload, 0);
    let count = r.u()?;
    // Every op takes at least two bytes: a count the bytes cannot hold is damage, not a reason
    // to allocate.
    if count > (r.remaining() / 2) as u64 {
        return Err(format!("{count} operations in {} bytes", payload.len()));
    }
    let mut ops = Vec::with_capacity(count as usize);
    let mut prev = Previous::default();
    for _ in 0..count {
        let tag = r.byte()?;
        let (kind, flags) = (tag >> 4, tag & 0x0f);
        if (kind != ENTRY && flags != 0) || (flags & !(REVERSES | REFERENCE | PACKED_CODES)) != 0 {
            return Err(format!("operation tag {tag:#04x}"));
        }
        let op = match kind {
            ORG => LogOp::Org(OrgRecord {
                org: r.u()?,
                name: r.string()?,
                currency: r
                    .raw(3)?
                    .try_into()
                    .map_err(|_| "currency is not 3 bytes")?,
                time_zone: r.string()?,
                opening: r.i()?,
                created_at: r.i()?,
            }),
            ENTRY => {
                let org = r.u()?;
                let entry_id = prev.id.wrapping_add(1).wrapping_add(r.i()? as u64);
                let occurred_at = prev.time.wrapping_add(r.i()?);
                let amount = r.i()?;
                let reverses = match flags & REVERSES {
                    0 => 0,
                    _ => r.u()?,
                };
                let day = i32::try_from(utc_day(occurred_at).wrapping_add(r.i()?))
                    .map_err(|_| "business day out of range")?;
                let [kind, category, payment_method, status] = match flags & PACKED_CODES {
                    0 => {
                        let raw = r.raw(4)?;
                        [raw[0], raw[1], raw[2], raw[3]]
                    }
                    _ => {
                        let (a, b) = (r.byte()?, r.byte()?);
                        [a & 0x0f, b & 0x0f, b >> 4, a >> 4]
                    }
                };
                let reference = match flags & REFERENCE {
                    0 => String::new(),
                    _ => r.string()?,
                };
                prev = Previous {
                    id: entry_id,
                    time: occurred_at,
                };
                LogOp::Entry(EntryRecord {
                    org,
                    entry_id,
                    occurred_at,
                    amount,
                    reverses,
                    day,
                    kind,
                    category,
                    payment_method,
                    status,
                    reference,
                })
            }
            PAY => LogOp::Pay(PayRecord {
                org: r.u()?,
                entry_id: prev.id.wrapping_add(r.i()? as u64),
                paid_at: prev.time.wrapping_add(r.i()?),
            }),
            INDEX => {
                let create = match r.byte()? {
                    0 => false,
                    1 => true,
                    other => return Err(format!("index create flag {other}")),
                };
                LogOp::Index(read_index(&mut r, create)?)
            }
            _ => return Err(format!("operation tag {tag:#04x}")),
        };
        ops.push(op);
    }
    r.end()?;
    Ok(LogBatch { ops })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[a-zA-Z0-9/_ é-]{1,12}"]
    }

    fn op() -> impl Strategy<Value = LogOp> {
        let entry = (
            (any::<u64>(), any::<u64>(), any::<i64>(), any::<i64>()),
            (prop_oneof![Just(0u64), any::<u64>()], any::<i32>()),
            (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>()),
            text(),
        )
            .prop_map(|((org, entry_id, occurred_at, amount), (reverses, day), codes, reference)| {
                LogOp::Entry(EntryRecord {
                    org,
                    entry_id,
                    occurred_at,
                    amount,
                    reverses,
                    day,
                    kind: codes.0,
                    category: codes.1,
                    payment_method: codes.2,
                    status: codes.3,
                    reference,
                })
            });
        // Entries as the engine writes them: small codes, ids and times close together.
        let usual = (1u64..2_000_000, 0u64..5, 1_704_067_200i64..1_800_000_000, 1i64..500_001, 1u8..3, 1u8..11, 1u8..4, 0u8..3)
            .prop_map(|(org, id, at, amount, kind, category, pm, status)| {
                LogOp::Entry(EntryRecord {
                    org,
                    entry_id: 1_000 + id,
                    occurred_at: at,
                    amount,
                    reverses: 0,
                    day: i32::try_from(at.div_euclid(SECS_PER_DAY)).unwrap_or(0),
                    kind,
                    category,
                    payment_method: pm,
                    status,
                    reference: String::new(),
                })
            });
        prop_oneof![
            entry,
            usual,
            (any::<u64>(), text(), any::<[u8; 3]>(), text(), any::<i64>(), any::<i64>()).prop_map(
                |(org, name, currency, time_zone, opening, created_at)| {
                    LogOp::Org(OrgRecord { org, name, currency, time_zone, opening, created_at })
                }
            ),
            (any::<u64>(), any::<u64>(), any::<i64>())
                .prop_map(|(org, entry_id, paid_at)| LogOp::Pay(PayRecord { org, entry_id, paid_at })),
            (any::<bool>(), text(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..4), any::<i64>())
                .prop_map(|(create, name, table, key, predicate_value)| {
                    LogOp::Index(IndexRecord {
                        create,
                        name,
                        table,
                        include: key.iter().rev().copied().collect(),
                        key,
                        predicate: table / 2,
                        predicate_value,
                    })
                }),
        ]
    }

    proptest! {
        /// Every batch decodes to itself, whatever its values; every cut of it is an error.
        #[test]
        fn round_trip(ops in proptest::collection::vec(op(), 0..20)) {
            let batch = LogBatch { ops };
            let bytes = encode(&batch);
            let decoded = decode(&bytes);
            prop_assert_eq!(decoded.as_ref(), Ok(&batch));
            for cut in 0..bytes.len() {
                prop_assert!(decode(&bytes[..cut]).is_err(), "cut at {}", cut);
            }
            let mut longer = bytes.clone();
            longer.push(0);
            prop_assert!(decode(&longer).is_err());
        }
    }

    /// What an entry of a bulk load costs: the workload's entries take 10 to 16 bytes each (64 as rkyv).
    #[test]
    fn a_bulk_entry_takes_a_few_bytes() {
        let ops: Vec<LogOp> = (0..1_000u64)
            .map(|i| {
                let at = 1_704_067_200 + (i as i64) * 31;
                LogOp::Entry(EntryRecord {
                    org: 1 + (i * 7_919) % 1_000_000,
                    entry_id: 5_000_000 + i,
                    occurred_at: at,
                    amount: 9_600 + (i as i64 % 50) * 1_000,
                    reverses: 0,
                    day: i32::try_from(at / SECS_PER_DAY).unwrap(),
                    kind: 1 + (i % 2) as u8,
                    category: 1 + (i % 10) as u8,
                    payment_method: 1 + (i % 3) as u8,
                    status: (i % 3) as u8,
                    reference: String::new(),
                })
            })
            .collect();
        let batch = LogBatch { ops };
        let bytes = encode(&batch);
        assert!((10_000..=16_000).contains(&bytes.len()), "{} bytes", bytes.len());
        assert_eq!(decode(&bytes).unwrap(), batch);
    }

    /// The frame limit holds the largest batch: no op encodes to more than the
    /// `MAX_REFERENCE_BYTES + 128` bytes per op that `limits` budgets.
    #[test]
    fn the_largest_ops_fit_the_per_op_budget() {
        use crate::limits::{MAX_ORG_NAME_BYTES, MAX_REFERENCE_BYTES, MAX_TIME_ZONE_BYTES};
        let entry = LogOp::Entry(EntryRecord {
            org: u64::MAX,
            entry_id: u64::MAX,
            occurred_at: i64::MIN,
            amount: i64::MIN,
            reverses: u64::MAX,
            day: i32::MIN,
            kind: 255,
            category: 255,
            payment_method: 255,
            status: 255,
            reference: "r".repeat(MAX_REFERENCE_BYTES),
        });
        let org = LogOp::Org(OrgRecord {
            org: u64::MAX,
            name: "n".repeat(MAX_ORG_NAME_BYTES),
            currency: *b"EUR",
            time_zone: "t".repeat(MAX_TIME_ZONE_BYTES),
            opening: i64::MIN,
            created_at: i64::MIN,
        });
        let index = LogOp::Index(IndexRecord {
            create: true,
            name: "i".repeat(64),
            table: 2,
            key: vec![7; 8],
            include: vec![7; 8],
            predicate: 4,
            predicate_value: i64::MIN,
        });
        for op in [entry, org, index] {
            let one = encode(&LogBatch { ops: vec![op] });
            assert!(one.len() - 1 <= MAX_REFERENCE_BYTES + 128, "{} bytes", one.len());
        }
    }

    #[test]
    fn unknown_tags_flags_and_impossible_counts_are_refused() {
        for payload in [
            &[1u8, 0x50, 0, 0][..],       // kind 5
            &[1, 0x12, 0, 0, 0, 0, 0][..], // flags on an org
            &[1, 0x28, 0, 0, 0, 0][..],    // unknown entry flag
            &[200, 1, 0x30, 1][..],        // 200 ops in 3 bytes
            &[1, 0x40, 2, 0, 0, 0, 0, 0, 0][..], // index create flag 2
        ] {
            assert!(decode(payload).is_err(), "{payload:?}");
        }
        assert_eq!(decode(&[0]).unwrap(), LogBatch { ops: Vec::new() });
    }
}
