//! `frozen_read`: arbitrary bytes as a frozen month file. Opened (expecting the database, month
//! and version its own header names, so the fuzzer is not stopped there), then every lookup on
//! every org its directory lists and on a few it does not, then `verify`: an error or answers
//! that hold together, never a panic.

use folio::frozen::{Expected, FrozenFile, OrgMonth};
use folio::io::Mapped;
use folio::{BusinessDay, Kind, Month, OrgId};
use std::path::Path;

/// Orgs looked up per input (the directory can list many more).
const MAX_ORGS: usize = 256;

fn le_u64(data: &[u8], at: usize) -> u64 {
    let mut raw = [0u8; 8];
    if let Some(src) = data.get(at..at + 8) {
        raw.copy_from_slice(src);
    }
    u64::from_le_bytes(raw)
}

fn le_u32(data: &[u8], at: usize) -> u32 {
    let mut raw = [0u8; 4];
    if let Some(src) = data.get(at..at + 4) {
        raw.copy_from_slice(src);
    }
    u32::from_le_bytes(raw)
}

/// What the header at the start of `data` names (a default month when it names none).
fn expected_of(data: &[u8]) -> Expected {
    let raw = le_u64(data, 24);
    let month = Month::from_index(raw as u32 as i32)
        .unwrap_or_else(|_| Month::new(2024, 3).expect("a month"));
    Expected {
        db_id: le_u64(data, 16),
        month,
        version: (raw >> 32) as u32,
        size: None,
        header_crc: None,
        footer_crc: None,
    }
}

/// Every lookup of one org's month. With `strict` (the file verified), the answers must hold
/// together: each row found by its id and by `contains`, totals equal to the rows', running nets
/// as the day rows say. Without it, only no panic.
fn exercise(file: &FrozenFile, view: OrgMonth<'_>, strict: bool) {
    let check = |ok: bool, what: &str| assert!(ok || !strict, "{what}");
    let month = file.id().month;
    for kind in [Kind::Revenue, Kind::Expense] {
        let mut total = 0i128;
        for row in view.rows(kind) {
            let copy = row.to_row();
            total += i128::from(row.signed_amount());
            let found = view.entry(row.entry_id()).map(|r| r.to_row());
            check(found.as_ref() == Some(&copy), "a row is found by its id");
            let loc = file.contains(view.org(), row.entry_id());
            let loc = loc.ok().flatten().map(|l| (l.kind, l.occurred_at));
            check(
                loc == Some((kind, row.occurred_at())),
                "contains finds the row",
            );
        }
        check(
            total == i128::from(view.total(kind)),
            "a total is the sum of its rows",
        );
        let _ = view.by_category(kind);
        let (from, to) = (month.start_utc() + 86_400, month.start_utc() + 5 * 86_400);
        let inside = view
            .rows_between(kind, from, to)
            .all(|r| (from..to).contains(&r.occurred_at()));
        check(inside, "a time range holds only rows inside it");
        for slot in 0..3 {
            if let Some(index) = view.index(kind, slot) {
                let entries: Vec<_> = index.entries().map(|(k, r)| (k, r.entry_id())).collect();
                check(
                    entries.len() == index.len(),
                    "an index part's entries name rows",
                );
                if let Some((key, _)) = entries.first() {
                    let same = index.with_prefix(&key[..1]).all(|(k, _)| k[0] == key[0]);
                    check(same, "a prefix lookup stays in its prefix");
                }
            }
        }
    }
    let mut through = 0i64;
    for day in view.days() {
        through = day.through;
        check(
            view.day(day.day) == Some(day),
            "a day row is found by its day",
        );
        check(
            view.net_through(day.day) == day.through,
            "the running net through a day",
        );
    }
    check(
        view.month_net() == through,
        "the month net is the last running net",
    );
    check(
        view.net_through(BusinessDay::MIN) == 0,
        "nothing before the month",
    );
    check(view.entry(0).is_none(), "entry id 0 is never held");
}

/// `frozen_read`: the input as it is, then resealed (every checksum recomputed, so that the
/// fuzzer's changes reach the archives and the checks behind the checksums).
pub fn frozen_read(data: &[u8]) {
    read(data);
    if let Some(resealed) = reseal(data) {
        read(&resealed);
    }
}

fn put(bytes: &mut [u8], at: usize, value: &[u8]) {
    bytes[at..at + value.len()].copy_from_slice(value);
}

/// The input with every CRC32 recomputed over what it covers, as the writer would (`None` when
/// its footer's offsets do not lie inside it). The layout is docs/format.md's.
fn reseal(data: &[u8]) -> Option<Vec<u8>> {
    let mut b = data.to_vec();
    let f = b.len().checked_sub(160).filter(|f| *f >= 32)?;
    let crc = folio::format::header_crc(&b[..32]);
    put(&mut b, 12, &crc.to_le_bytes());
    let at = |b: &[u8], off: usize| usize::try_from(le_u64(b, f + off)).ok();
    let (orgs, dir, fence, top) = (at(&b, 48)?, at(&b, 64)?, at(&b, 72)?, at(&b, 88)?);
    let filter = at(&b, 104)?;
    let in_file = |start: usize, len: usize| start.checked_add(len).is_some_and(|end| end <= f);
    // Directory entries: 48 bytes in format 2 (length at 16, CRC32 at 40), 40 in format 3
    // (length at 32 as a u32, CRC32 at 36); the footer's format field says which.
    let v2 = le_u32(&b, f + 8) == 2;
    let size = if v2 { 48 } else { 40 };
    let dir_len = orgs.checked_mul(size)?;
    if !in_file(dir, dir_len) || fence > f || top > f || filter > f {
        return None;
    }
    for i in 0..orgs {
        let e = dir + i * size;
        let offset = usize::try_from(le_u64(&b, e + 8)).ok()?;
        let len = match v2 {
            true => usize::try_from(le_u64(&b, e + 16)).ok()?,
            false => le_u32(&b, e + 32) as usize,
        };
        let end = offset.checked_add(len)?.checked_add(15)? & !15;
        if end <= f && offset <= end {
            let crc = crc32fast::hash(&b[offset..end]);
            put(&mut b, e + if v2 { 40 } else { 36 }, &crc.to_le_bytes());
        }
    }
    let pages = orgs.div_ceil(256);
    if !in_file(fence, pages.checked_mul(16)?) {
        return None;
    }
    for p in 0..pages {
        let start = dir + p * 256 * size;
        let end = (start + 256 * size).min(dir + dir_len);
        let crc = crc32fast::hash(&b[start..end]);
        let first = le_u64(&b, start);
        put(&mut b, fence + p * 16, &first.to_le_bytes());
        put(&mut b, fence + p * 16 + 8, &crc.to_le_bytes());
    }
    let span_crc = |b: &[u8], start: usize, end: usize| {
        (start <= end).then(|| crc32fast::hash(&b[start..end]))
    };
    let fence_crc = span_crc(&b, fence, top)?;
    let top_crc = span_crc(&b, top, filter)?;
    let filter_crc = span_crc(&b, filter, f)?;
    put(&mut b, f + 80, &fence_crc.to_le_bytes());
    put(&mut b, f + 84, &top_crc.to_le_bytes());
    put(&mut b, f + 116, &filter_crc.to_le_bytes());
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&b[f..f + 12]);
    hasher.update(&b[f + 16..]);
    put(&mut b, f + 12, &hasher.finalize().to_le_bytes());
    Some(b)
}

fn read(data: &[u8]) {
    let path = Path::new("fuzz.frz");
    let Ok(file) = FrozenFile::from_mapped(path, Mapped::Owned(data.to_vec()), &expected_of(data))
    else {
        return;
    };
    let _ = (
        file.lsn_range(),
        file.org_count(),
        file.row_count(),
        file.stats(),
    );
    let mut orgs: Vec<OrgId> = file.orgs().take(MAX_ORGS).filter_map(Result::ok).collect();
    let top = file.top_revenue(MAX_ORGS).unwrap_or_default();
    orgs.extend(top.iter().map(|(_, org, _)| *org));
    orgs.extend([OrgId(0), OrgId(1), OrgId(u64::MAX)]);
    for org in &orgs {
        if let Ok(Some(view)) = file.org(*org) {
            exercise(&file, view, false);
        }
        let _ = file.contains(*org, 1);
        let _ = file.contains(*org, u64::MAX);
        let _ = file.may_have_pending(*org);
    }
    if file.verify().is_ok() {
        // A file that verifies answers every lookup, and its answers hold together.
        // By currency, then total descending, then org ascending.
        let ranked = top
            .windows(2)
            .all(|w| (w[0].0, w[1].2, w[0].1) < (w[1].0, w[0].2, w[1].1));
        assert!(ranked, "the top list is in rank order within each currency");
        for org in file.orgs().take(MAX_ORGS) {
            let org = org.expect("a verified directory reads");
            let view = file.org(org).expect("a verified block reads");
            let view = view.expect("a listed org is found");
            assert_eq!(view.org(), org);
            if view.has_pending() {
                let maybe = file.may_have_pending(org).expect("a verified filter reads");
                assert!(maybe, "a verified file's filter holds its pending orgs");
            }
            exercise(&file, view, true);
        }
    }
    assert!(file.resident_bytes() > 0);
}
