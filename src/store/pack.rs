//! Packed values of the materialized store: one value per (partition, org) or (org, month), with
//! varints, the checkpoint LSN it reflects and a CRC32 trailer (see docs/format.md).
//!
//! ```text
//! value := stamp:u64 LE, body, crc32(stamp ++ body):u32 LE
//! ```

use crate::codec::record::OrgRecord;
use crate::codec::varint;
use crate::model::{BusinessDay, Category, Lsn, Month, OrgId, PaymentMethod};
use crate::state::balance::{DayRow, MonthBalances};
use crate::frozen::manifest::{ManifestEntry, MANIFEST_ENTRY_BYTES};
use crate::state::frozen_set::{Patch, PatchSet};
use crate::state::ledger::{OrgMonthLedger, Row};

struct Writer(Vec<u8>);

impl Writer {
    fn new(stamp: Lsn) -> Writer {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&stamp.0.to_le_bytes());
        Writer(out)
    }

    fn u(&mut self, v: u64) {
        varint::put_u(&mut self.0, v);
    }

    fn i(&mut self, v: i64) {
        varint::put_i(&mut self.0, v);
    }

    fn byte(&mut self, b: u8) {
        self.0.push(b);
    }

    fn bytes(&mut self, b: &[u8]) {
        varint::put_bytes(&mut self.0, b);
    }

    fn finish(mut self) -> Vec<u8> {
        let crc = crc32fast::hash(&self.0);
        self.0.extend_from_slice(&crc.to_le_bytes());
        // What `open` checks: long enough for the stamp and the trailer, and the trailer is the
        // CRC32 of everything before it.
        debug_assert!(
            self.0.len() >= 12 && open(&self.0).is_ok(),
            "a packed value opens"
        );
        self.0
    }
}

/// Reads a packed value's body; every accessor fails instead of reading past the end.
type Reader<'a> = varint::Input<'a>;

/// Checks a packed value's CRC and returns the stamp and a reader over the body.
fn open(value: &[u8]) -> Result<(Lsn, Reader<'_>), String> {
    if value.len() < 12 {
        return Err(format!("value of {} bytes is too short", value.len()));
    }
    let (body, trailer) = value.split_at(value.len() - 4);
    let stored = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let actual = crc32fast::hash(body);
    if stored != actual {
        return Err(format!(
            "checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
        ));
    }
    debug_assert!(body.len() >= 8, "the stamp is inside the checked body");
    let mut stamp = [0u8; 8];
    stamp.copy_from_slice(&body[..8]);
    Ok((Lsn(u64::from_le_bytes(stamp)), Reader::new(body, 8)))
}

/// A business day: a day number in range.
fn read_day(r: &mut Reader<'_>) -> Result<BusinessDay, String> {
    BusinessDay::from_days(r.i32()?).map_err(|e| e.to_string())
}

fn write_org(w: &mut Writer, r: &OrgRecord) {
    w.u(r.org);
    w.bytes(r.name.as_bytes());
    w.bytes(&r.currency);
    w.bytes(r.time_zone.as_bytes());
    w.i(r.opening);
    w.i(r.created_at);
}

fn read_org(r: &mut Reader<'_>) -> Result<OrgRecord, String> {
    let org = r.u()?;
    let name = r.string()?;
    let currency: [u8; 3] = r
        .bytes()?
        .try_into()
        .map_err(|_| "currency is not 3 bytes")?;
    let time_zone = r.string()?;
    Ok(OrgRecord {
        org,
        name,
        currency,
        time_zone,
        opening: r.i()?,
        created_at: r.i()?,
    })
}

fn write_ledger(w: &mut Writer, ledger: &OrgMonthLedger) {
    w.u(ledger.rows.len() as u64);
    let mut prev_ts = 0i64;
    for ((ts, id), row) in &ledger.rows {
        w.i(ts.wrapping_sub(prev_ts));
        prev_ts = *ts;
        w.u(*id);
        w.u(row.amount as u64);
        w.i(i64::from(row.day.days()));
        w.byte(row.category.code());
        w.byte(row.payment_method.code());
        w.byte(row.posted_status);
        w.u(row.reverses);
        w.u(row.reversed_by);
        match row.paid_at {
            Some(at) => {
                w.byte(1);
                w.i(at);
            }
            None => w.byte(0),
        }
        w.bytes(row.reference.as_bytes());
    }
}

fn read_ledger(r: &mut Reader<'_>, stamp: Lsn) -> Result<OrgMonthLedger, String> {
    let count = r.u()?;
    let mut ledger = OrgMonthLedger::default();
    ledger.persisted = stamp;
    let mut ts = 0i64;
    for _ in 0..count {
        ts = ts.wrapping_add(r.i()?);
        let id = r.u()?;
        let amount = i64::try_from(r.u()?).map_err(|_| "amount out of range")?;
        let day = read_day(r)?;
        let category = Category::from_code(r.byte()?).ok_or("bad category code")?;
        let payment_method =
            PaymentMethod::from_code(r.byte()?).ok_or("bad payment method code")?;
        let posted_status = r.byte()?;
        let reverses = r.u()?;
        let reversed_by = r.u()?;
        let paid_at = match r.byte()? {
            0 => None,
            1 => Some(r.i()?),
            other => return Err(format!("bad paid flag {other}")),
        };
        let reference = std::str::from_utf8(r.bytes()?)
            .map_err(|_| "reference is not UTF-8")?
            .into();
        let row = Row {
            amount,
            day,
            category,
            payment_method,
            posted_status,
            paid_at,
            reverses,
            reversed_by,
            reference,
        };
        if ledger.rows.insert((ts, id), row).is_some() {
            return Err(format!("entry {id} appears twice"));
        }
    }
    Ok(ledger)
}

fn write_balances(w: &mut Writer, month: &MonthBalances) {
    w.u(month.days.len() as u64);
    for d in &month.days {
        w.i(i64::from(d.day.days()));
        w.i(d.revenue);
        w.i(d.expense);
        w.u(d.revenue_count);
        w.u(d.expense_count);
    }
}

fn read_balances(r: &mut Reader<'_>, stamp: Lsn) -> Result<MonthBalances, String> {
    let count = r.u()?;
    let mut month = MonthBalances {
        persisted: stamp,
        ..MonthBalances::default()
    };
    for _ in 0..count {
        let row = DayRow {
            day: read_day(r)?,
            revenue: r.i()?,
            expense: r.i()?,
            revenue_count: r.u()?,
            expense_count: r.u()?,
            through: 0,
        };
        if month.days.last().is_some_and(|last| last.day >= row.day) {
            return Err("day rows out of order".into());
        }
        month.net = month
            .net
            .checked_add(row.net().ok_or("net overflow")?)
            .ok_or("net overflow")?;
        month.days.push(DayRow {
            through: month.net,
            ..row
        });
    }
    month.days.shrink_to_fit();
    Ok(month)
}

/// Packs the values of several orgs (one chunk of org ids) into one value.
fn pack_chunk<T>(stamp: Lsn, items: &[(OrgId, &T)], write: fn(&mut Writer, &T)) -> Vec<u8> {
    // `unpack_chunk` refuses orgs out of order.
    debug_assert!(
        items.windows(2).all(|w| w[0].0 < w[1].0),
        "the orgs of a chunk are packed in order"
    );
    let mut w = Writer::new(stamp);
    w.u(items.len() as u64);
    for (org, item) in items {
        w.u(org.0);
        write(&mut w, item);
    }
    w.finish()
}

type ReadFn<T> = fn(&mut Reader<'_>, Lsn) -> Result<T, String>;

fn unpack_chunk<T>(value: &[u8], read: ReadFn<T>) -> Result<(Lsn, Vec<(OrgId, T)>), String> {
    let (stamp, mut r) = open(value)?;
    let count = r.u()?;
    let mut out = Vec::new();
    let mut prev: Option<u64> = None;
    for _ in 0..count {
        let org = r.u()?;
        if prev.is_some_and(|p| p >= org) {
            return Err("orgs out of order".into());
        }
        prev = Some(org);
        out.push((OrgId(org), read(&mut r, stamp)?));
    }
    r.end()?;
    Ok((stamp, out))
}

pub fn pack_orgs(stamp: Lsn, orgs: &[(OrgId, &OrgRecord)]) -> Vec<u8> {
    pack_chunk(stamp, orgs, write_org)
}

pub fn unpack_orgs(value: &[u8]) -> Result<(Lsn, Vec<(OrgId, OrgRecord)>), String> {
    unpack_chunk(value, |r, _| read_org(r))
}

pub fn pack_ledgers(stamp: Lsn, ledgers: &[(OrgId, &OrgMonthLedger)]) -> Vec<u8> {
    pack_chunk(stamp, ledgers, write_ledger)
}

pub fn unpack_ledgers(value: &[u8]) -> Result<(Lsn, Vec<(OrgId, OrgMonthLedger)>), String> {
    unpack_chunk(value, read_ledger)
}

pub fn pack_balances(stamp: Lsn, months: &[(OrgId, &MonthBalances)]) -> Vec<u8> {
    pack_chunk(stamp, months, write_balances)
}

pub fn unpack_balances(value: &[u8]) -> Result<(Lsn, Vec<(OrgId, MonthBalances)>), String> {
    unpack_chunk(value, read_balances)
}

/// The index catalog: every definition as (name, table, key codes, include codes, predicate).
pub fn pack_catalog(stamp: Lsn, records: &[crate::codec::record::IndexRecord]) -> Vec<u8> {
    let mut w = Writer::new(stamp);
    w.u(records.len() as u64);
    for r in records {
        crate::codec::compact::put_index(&mut w.0, r);
    }
    w.finish()
}

pub fn unpack_catalog(
    value: &[u8],
) -> Result<(Lsn, Vec<crate::codec::record::IndexRecord>), String> {
    let (stamp, mut r) = open(value)?;
    let count = r.u()?;
    let mut out = Vec::new();
    for _ in 0..count {
        out.push(crate::codec::compact::read_index(&mut r, true)?);
    }
    r.end()?;
    Ok((stamp, out))
}

/// One org's patches of one frozen month: per entry id, the reversal and payment marks made
/// after the month was frozen.
fn write_patches(w: &mut Writer, set: &PatchSet) {
    w.u(set.rows.len() as u64);
    let mut prev = 0u64;
    for (id, patch) in &set.rows {
        // Ids increase strictly: stored as the delta from the previous one (≥ 1).
        w.u(id.wrapping_sub(prev));
        prev = *id;
        match patch.reversed_by {
            Some(by) => {
                w.byte(1);
                w.u(by);
            }
            None => w.byte(0),
        }
        match patch.paid_at {
            Some(at) => {
                w.byte(1);
                w.i(at);
            }
            None => w.byte(0),
        }
    }
}

fn read_patches(r: &mut Reader<'_>, stamp: Lsn) -> Result<PatchSet, String> {
    let count = r.u()?;
    let mut set = PatchSet {
        persisted: stamp,
        ..PatchSet::default()
    };
    let mut id = 0u64;
    for _ in 0..count {
        let delta = r.u()?;
        if delta == 0 && !set.rows.is_empty() {
            return Err("patched entry ids out of order".into());
        }
        id = id.checked_add(delta).ok_or("patched entry id overflows")?;
        if id == 0 {
            return Err("patch of entry id 0".into());
        }
        let reversed_by = match r.byte()? {
            0 => None,
            1 => match r.u()? {
                0 => return Err("patch reversed by entry id 0".into()),
                by => Some(by),
            },
            other => return Err(format!("bad reversal flag {other}")),
        };
        let paid_at = match r.byte()? {
            0 => None,
            1 => Some(r.i()?),
            other => return Err(format!("bad paid flag {other}")),
        };
        if reversed_by.is_none() && paid_at.is_none() {
            return Err(format!("empty patch of entry {id}"));
        }
        set.rows.insert(id, Patch {
            reversed_by,
            paid_at,
        });
    }
    Ok(set)
}

pub fn pack_patches(stamp: Lsn, sets: &[(OrgId, &PatchSet)]) -> Vec<u8> {
    pack_chunk(stamp, sets, write_patches)
}

pub fn unpack_patches(value: &[u8]) -> Result<(Lsn, Vec<(OrgId, PatchSet)>), String> {
    unpack_chunk(value, read_patches)
}

/// (Σ inflow, Σ outflow) of an org's rows in frozen files.
pub type Flows = (i64, i64);

/// Frozen flows of the orgs of a chunk: (Σ inflow, Σ outflow) of their rows in frozen files.
fn write_flows(w: &mut Writer, flows: &(i64, i64)) {
    w.i(flows.0);
    w.i(flows.1);
}

fn read_flows(r: &mut Reader<'_>, _: Lsn) -> Result<(i64, i64), String> {
    let flows = (r.i()?, r.i()?);
    if flows.0 < 0 || flows.1 < 0 || flows == (0, 0) {
        return Err(format!("impossible frozen flows {flows:?}"));
    }
    Ok(flows)
}

pub fn pack_frozen_flows(stamp: Lsn, flows: &[(OrgId, &Flows)]) -> Vec<u8> {
    pack_chunk(stamp, flows, write_flows)
}

pub fn unpack_frozen_flows(value: &[u8]) -> Result<(Lsn, Vec<(OrgId, Flows)>), String> {
    unpack_chunk(value, read_flows)
}

/// What a load needs of an org's frozen day rows: Σ of its month nets in the files, and the
/// first month whose file's anchor may be stale for it.
pub type FrozenNet = (i64, Option<Month>);

fn write_net(w: &mut Writer, net: &FrozenNet) {
    w.i(net.0);
    w.i(net.1.map_or(i64::MIN, |m| i64::from(m.index())));
}

fn read_net(r: &mut Reader<'_>, _: Lsn) -> Result<FrozenNet, String> {
    let net = r.i()?;
    let stale = match r.i()? {
        i64::MIN => None,
        m => Some(
            i32::try_from(m)
                .ok()
                .and_then(|m| Month::from_index(m).ok())
                .ok_or_else(|| format!("stale month {m} out of range"))?,
        ),
    };
    if net == 0 && stale.is_none() {
        return Err("an empty frozen net".into());
    }
    Ok((net, stale))
}

/// Frozen nets of the orgs of a chunk (see [`FrozenNet`]).
pub fn pack_frozen_nets(stamp: Lsn, nets: &[(OrgId, &FrozenNet)]) -> Vec<u8> {
    pack_chunk(stamp, nets, write_net)
}

pub fn unpack_frozen_nets(value: &[u8]) -> Result<(Lsn, Vec<(OrgId, FrozenNet)>), String> {
    unpack_chunk(value, read_net)
}

/// The frozen set in force: the manifest entries (80 bytes each, as in `frozen/MANIFEST`), in
/// month order.
pub fn pack_frozen_set(stamp: Lsn, entries: &[ManifestEntry]) -> Vec<u8> {
    let mut w = Writer::new(stamp);
    w.u(entries.len() as u64);
    for e in entries {
        w.0.extend_from_slice(&e.to_bytes());
    }
    w.finish()
}

/// Reads a frozen set: each entry as `frozen/MANIFEST` checks it (name, fields), months strictly
/// increasing. `path` names the value in errors.
pub fn unpack_frozen_set(
    path: &std::path::Path,
    value: &[u8],
) -> Result<(Lsn, Vec<ManifestEntry>), String> {
    let (stamp, mut r) = open(value)?;
    let count = usize::try_from(r.u()?).map_err(|_| "length overflow")?;
    if count > crate::limits::MAX_FROZEN_FILES {
        return Err(format!("{count} frozen months"));
    }
    let mut out: Vec<ManifestEntry> = Vec::with_capacity(count);
    for _ in 0..count {
        let at = r.position();
        let entry = ManifestEntry::from_bytes(path, at as u64, r.raw(MANIFEST_ENTRY_BYTES)?)
            .map_err(|e| e.to_string())?;
        if out.last().is_some_and(|l| l.month >= entry.month) {
            return Err(format!("frozen month {} out of order", entry.month));
        }
        out.push(entry);
    }
    r.end()?;
    Ok((stamp, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> OrgMonthLedger {
        let mut l = OrgMonthLedger::default();
        for i in 0..50u64 {
            l.rows.insert(
                (1_704_067_200 + (i as i64) * 977, 1000 + i),
                Row {
                    amount: 100 + i as i64 * 31,
                    day: BusinessDay::from_days(19723 + (i / 10) as i32).unwrap(),
                    category: Category::Rooms,
                    payment_method: PaymentMethod::Card,
                    posted_status: (i % 3) as u8,
                    paid_at: (i % 5 == 0).then_some(-7),
                    reverses: i % 7,
                    reversed_by: i % 11,
                    reference: format!("ref-{i}").into(),
                },
            );
        }
        l
    }

    #[test]
    fn ledger_round_trip_and_damage() {
        let (a, b) = (ledger(), OrgMonthLedger::default());
        let packed = pack_ledgers(Lsn(77), &[(OrgId(3), &a), (OrgId(9), &b)]);
        let (stamp, back) = unpack_ledgers(&packed).unwrap();
        assert_eq!(stamp, Lsn(77));
        assert_eq!(back.len(), 2);
        assert_eq!((back[0].0, &back[0].1.rows), (OrgId(3), &a.rows));
        assert_eq!(back[1].1.persisted, Lsn(77));
        for at in 0..packed.len() {
            let mut damaged = packed.clone();
            damaged[at] ^= 0x10;
            assert!(unpack_ledgers(&damaged).is_err(), "byte {at}");
        }
        for cut in 0..packed.len() {
            assert!(unpack_ledgers(&packed[..cut]).is_err());
        }
    }

    #[test]
    fn balances_and_org_round_trip() {
        let mut m = MonthBalances::default();
        let day = |d| BusinessDay::from_days(d).unwrap();
        m.add(day(5), 1000, 300, (2, 1)).unwrap();
        m.add(day(3), -50, i64::MAX / 2, (1, 1)).unwrap();
        let (stamp, back) = unpack_balances(&pack_balances(Lsn(9), &[(OrgId(1), &m)])).unwrap();
        assert_eq!(stamp, Lsn(9));
        assert_eq!((&back[0].1.days, back[0].1.net), (&m.days, m.net));
        let org = OrgRecord {
            org: u64::MAX,
            name: "Hôtel".into(),
            currency: *b"EUR",
            time_zone: "Europe/Paris".into(),
            opening: i64::MIN,
            created_at: -3,
        };
        let (_, orgs) = unpack_orgs(&pack_orgs(Lsn(1), &[(OrgId(u64::MAX), &org)])).unwrap();
        assert_eq!(orgs, vec![(OrgId(u64::MAX), org)]);
    }

    #[test]
    fn patches_and_frozen_flows_round_trip_and_damage() {
        let mut set = PatchSet::default();
        set.rows.insert(
            7,
            Patch {
                reversed_by: Some(9),
                paid_at: None,
            },
        );
        set.rows.insert(
            u64::MAX,
            Patch {
                reversed_by: None,
                paid_at: Some(-5),
            },
        );
        let packed = pack_patches(Lsn(4), &[(OrgId(2), &set), (OrgId(3), &PatchSet::default())]);
        let (stamp, back) = unpack_patches(&packed).unwrap();
        assert_eq!(stamp, Lsn(4));
        assert_eq!(back[0].1.rows, set.rows);
        assert_eq!(back[0].1.persisted, Lsn(4));
        assert!(back[1].1.rows.is_empty());
        let flows = pack_frozen_flows(Lsn(4), &[(OrgId(1), &(5, 0)), (OrgId(2), &(0, i64::MAX))]);
        assert_eq!(
            unpack_frozen_flows(&flows).unwrap().1,
            vec![(OrgId(1), (5, 0)), (OrgId(2), (0, i64::MAX))]
        );
        for value in [&packed, &flows] {
            for at in 0..value.len() {
                let mut damaged = value.clone();
                damaged[at] ^= 0x10;
                assert!(unpack_patches(&damaged).is_err() && unpack_frozen_flows(&damaged).is_err());
            }
            for cut in 0..value.len() {
                assert!(unpack_patches(&value[..cut]).is_err());
            }
        }
        // Packed by hand: an empty patch, a zero org flow.
        let mut w = Writer::new(Lsn(1));
        w.u(1);
        w.u(1);
        w.u(1);
        w.u(3);
        w.byte(0);
        w.byte(0);
        assert!(unpack_patches(&w.finish()).is_err());
        assert!(unpack_frozen_flows(&pack_frozen_flows(Lsn(1), &[(OrgId(1), &(0, 0))])).is_err());
    }

    #[test]
    fn out_of_order_orgs_are_rejected() {
        // Packed by hand: `pack_chunk` never writes orgs out of order.
        let l = OrgMonthLedger::default();
        let mut w = Writer::new(Lsn(1));
        w.u(2);
        for org in [5, 5] {
            w.u(org);
            write_ledger(&mut w, &l);
        }
        assert!(unpack_ledgers(&w.finish()).is_err());
    }
}
