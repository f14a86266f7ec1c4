//! The bridge between the state and frozen month files (issue 19): random histories (orgs in
//! time zones from UTC−12 to UTC+14, postings on both sides of month ends, back-dated ones,
//! reversals, expense payments, idempotent re-sends, an index created half-way, one busy org
//! whose ledgers get index parts) recorded through `Db::record`; the log replayed into a
//! `State`; every month frozen from it; and every read of each month answered from its file
//! alone (given the org's balance anchor) equal to the database's answer at the same LSN.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod common;
mod frozen_history;

use folio::frozen::layout::FileId;
use folio::frozen::{freeze_month, Expected, FrozenFile};
use folio::io::StdFs;
use folio::query::frozen::FrozenMonthReads;
use folio::state::apply::Side;
use folio::state::ledger::PartitionId;
use folio::state::{replay, Applier, State};
use folio::store::meta::Meta;
use folio::{
    Batch, Category, Column, Currency, Db, Durability, Entry, EntryId, ExpenseStatus, IndexDef,
    Kind, Money, Month, Org, OrgId, PaymentMethod, QueryOutput, Snapshot, SplitMix64,
};
use frozen_history::{days_of, month, months, pick, random_query, Gen, DAY, HOUR, ORGS};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Records a random history into a new database at `path`.
fn record_history(path: &Path, seed: u64, batches: usize) -> Db {
    let db = Db::open_with(path, common::options(4, Durability::Buffered)).unwrap();
    let orgs = ORGS.iter().map(|&(id, tz, currency)| {
        let opening = Money(SplitMix64::hash(seed ^ id) as i64 % 1_000_000);
        Org::new(OrgId(id), format!("Hotel {id}"), currency)
            .with_time_zone(tz)
            .with_opening_balance(opening)
            .with_created_at(month(2023, 6).start_utc())
    });
    db.record(orgs.fold(Batch::new(), Batch::register_org))
        .unwrap();
    let mut gen = Gen {
        rng: SplitMix64::new(seed),
        next_id: 0,
        posted: Vec::new(),
    };
    let busy_at = gen.rng.below(batches as u64 + 1) as usize;
    for b in 0..batches {
        if b == busy_at {
            db.record(gen.busy()).unwrap();
        }
        if b == batches / 2 {
            let def = IndexDef::new(
                "revenues_by_day",
                Kind::Revenue,
                &[Column::Day],
                &[Column::Amount],
                None,
            );
            db.create_index(def, |_, _| {}).unwrap();
        }
        db.record(gen.batch()).unwrap();
    }
    db.sync().unwrap();
    db
}

/// The state the database's log replays to (with the entry-id map beside it).
fn replayed(path: &Path) -> (State, Applier, u64) {
    let meta = Meta::read(&StdFs, path).unwrap();
    let segments = folio::wal::recovery::list_segments(&StdFs, &path.join(folio::WAL_DIR)).unwrap();
    let paths: Vec<_> = segments.into_iter().map(|(_, p)| p).collect();
    let frames = folio::read_segments(&paths, meta.db_id).unwrap();
    let decoded = replay::decode_frames(&frames).unwrap();
    let mut state = State::new(meta.shards);
    let mut applier = Applier::default();
    replay::apply_decoded(&mut state, Side::Full(&mut applier), &decoded, &frames[0]).unwrap();
    state.finish_index_build();
    (state, applier, meta.db_id)
}

/// The org's balance anchor of month `m`: its closing at the end of the month before.
fn anchor_of(snap: &Snapshot, org: OrgId, m: Month) -> Money {
    snap.balance(org, m.first_day().prev().unwrap())
        .unwrap()
        .closing
}

/// Typed queries over month `m` answered from `file` equal the snapshot's, page by page
/// through their cursors; refused queries are refused by both.
fn check_queries(rng: &mut SplitMix64, file: &FrozenFile, state: &State, snap: &Snapshot) {
    let m = file.id().month;
    let reads = FrozenMonthReads::new(file, &state.catalog);
    let currency_of = |org: OrgId| snap.org(org).unwrap().map(|o| o.currency);
    for _ in 0..24 {
        let mut q = random_query(rng, m);
        for _page in 0..4 {
            let want = snap.query(&q);
            let got = reads.query(&q, &state.catalog, currency_of);
            let (want, got) = match (want, got) {
                (Ok(want), Ok(got)) => (want, got),
                (Err(w), Err(g)) => {
                    assert_eq!(g.to_string(), w.to_string(), "refusal of {q:?}");
                    break;
                }
                (want, got) => panic!("query {q:?} of {m}: file {got:?}, state {want:?}"),
            };
            assert_eq!(got, want, "query {q:?} of {m}");
            // The file is read as the state is: the same index, or the rows.
            let plan = snap.explain(&q).unwrap();
            assert_eq!(
                reads.access(&q, &state.catalog),
                plan.access,
                "plan of {q:?}"
            );
            let next = match &want {
                QueryOutput::Rows { next, .. } | QueryOutput::Projected { next, .. } => *next,
                QueryOutput::Groups(_) => None,
            };
            match next {
                Some(cursor) => q = q.after(cursor),
                None => break,
            }
        }
    }
}

/// Every read of month `m` from `file` equals the snapshot's (and the state's where only the
/// state has it); returns each org's month net from the file.
#[allow(clippy::too_many_lines)]
fn check_month(
    rng: &mut SplitMix64,
    file: &FrozenFile,
    state: &State,
    applier: &Applier,
    snap: &Snapshot,
) -> BTreeMap<OrgId, i64> {
    let m = file.id().month;
    let reads = FrozenMonthReads::new(file, &state.catalog);
    let (start, end) = (m.start_utc(), m.end_utc());
    let mut nets = BTreeMap::new();
    for &(id, _, _) in &ORGS {
        let org = OrgId(id);
        let anchor = anchor_of(snap, org, m);
        // Closing and balance of every day, and balances over ranges.
        for day in days_of(m) {
            assert_eq!(
                reads.balance(org, day, anchor).unwrap(),
                snap.balance(org, day).unwrap(),
                "balance of org {id} on {day}"
            );
        }
        let days = days_of(m);
        let a = pick(rng, &days);
        let b = pick(rng, &days);
        let (a, b) = (a.min(b), a.max(b));
        assert_eq!(
            reads.balances(org, a, b, anchor).unwrap(),
            snap.balances(org, a, b).unwrap()
        );
        assert_eq!(
            reads.monthly_report(org, anchor).unwrap(),
            snap.monthly_report(org, m).unwrap(),
            "Q2 of org {id} in {m}"
        );
        assert_eq!(
            reads.month_totals(org).unwrap(),
            snap.month_totals(org, m).unwrap()
        );
        // Day rows with running nets, as the state holds them.
        let view = file.org(org).unwrap();
        let want_days = state
            .shard(org)
            .orgs
            .get(&org)
            .and_then(|b| b.months.get(&m).map(|v| v.days.clone()))
            .unwrap_or_default();
        let got_days: Vec<_> = view.map(|v| v.days().collect()).unwrap_or_default();
        assert_eq!(got_days, want_days, "day rows of org {id} in {m}");
        nets.insert(org, view.map_or(0, |v| v.month_net()));
        // Entries: the month, windows inside it, windows across its ends (the month's part).
        let mut windows = vec![
            (start, end),
            (start - DAY, start + DAY),
            (end - DAY, end + DAY),
        ];
        for _ in 0..4 {
            let x = start + rng.below((end - start) as u64) as i64;
            let y = start + rng.below((end - start) as u64) as i64;
            windows.push((x.min(y), x.max(y) + 1));
        }
        for (from, to) in windows {
            let inside = (from.max(start), to.min(end));
            assert_eq!(
                reads.entries(org, from, to).unwrap(),
                snap.entries(org, inside.0, inside.1).unwrap(),
                "entries of org {id} in {from}..{to}"
            );
            for limit in [1, 3, 50] {
                assert_eq!(
                    reads.ledger_page(org, from, to, limit).unwrap(),
                    snap.ledger_page(org, inside.0, inside.1, limit).unwrap(),
                    "Q3 of org {id} in {from}..{to}, limit {limit}"
                );
            }
        }
        // Q4 at the frozen LSN: the state's pending expenses of this month, oldest first.
        let all = snap
            .pending_expenses(org, folio::limits::MAX_REPORT_ROWS)
            .unwrap();
        assert!(all.len() < folio::limits::MAX_REPORT_ROWS);
        for limit in [1, 2, 50] {
            let want: Vec<_> = all
                .iter()
                .filter(|p| (start..end).contains(&p.occurred_at))
                .take(limit)
                .cloned()
                .collect();
            assert_eq!(
                reads.pending_expenses(org, limit).unwrap(),
                want,
                "Q4 of org {id}"
            );
        }
        assert_eq!(
            reads.revenue(org).unwrap(),
            snap.chain_revenue(&[org], m).unwrap().0[0].total
        );
        // Index parts of the catalog's ready indexes, exactly where the state has them.
        for kind in [Kind::Revenue, Kind::Expense] {
            let ledger = state
                .ledgers
                .get(&PartitionId { kind, month: m })
                .and_then(|b| b.orgs.get(&org));
            for (slot, def) in state.catalog.ready(kind) {
                let want: Option<Vec<_>> = ledger.filter(|l| l.has_indexes()).map(|l| {
                    l.indexes[slot]
                        .entries()
                        .map(|e| (e.key, e.occurred_at, e.entry_id))
                        .collect()
                });
                let got: Option<Vec<_>> = view.and_then(|v| {
                    let part = v.index(kind, slot as u32)?;
                    Some(
                        part.entries()
                            .map(|(k, r)| (k, r.occurred_at(), r.entry_id()))
                            .collect(),
                    )
                });
                assert_eq!(got, want, "index {} of org {id} in {m}", def.name);
                if let Some((key, _, _)) = want.as_ref().and_then(|w| w.first()) {
                    let part = view.unwrap().index(kind, slot as u32).unwrap();
                    let prefix: Vec<u64> = part
                        .with_prefix(&key[..1])
                        .map(|(_, r)| r.entry_id())
                        .collect();
                    let state_prefix: Vec<u64> = ledger.unwrap().indexes[slot]
                        .runs_with_prefix(&key[..1])
                        .flat_map(|(_, run)| run.iter().map(|i| i.entry_id))
                        .collect();
                    assert_eq!(prefix, state_prefix);
                }
            }
        }
    }
    // Q5 per currency (orgs in two currencies), from the top list alone: no directory page
    // or block is read.
    let before = file.stats();
    for limit in [1, 2, 3, 10] {
        assert_eq!(
            reads.top_revenue(limit).unwrap(),
            snap.top_revenue(m, limit).unwrap(),
            "Q5 of {m}, limit {limit}"
        );
    }
    let after = file.stats();
    assert_eq!(
        (after.blocks_checked, after.pages_checked),
        (before.blocks_checked, before.pages_checked),
        "Q5 of {m} read blocks or pages"
    );
    // Idempotency: every id of the month found where it is, no other.
    let mut ids = 0;
    for ((org, id), loc) in applier.entries.iter() {
        let here = Month::of_utc(loc.occurred_at).unwrap() == m;
        let got = reads.entry(org, id).unwrap();
        assert_eq!(got, here.then_some(loc), "entry {id} of org {org}");
        if here {
            let at = loc.occurred_at;
            let want = snap.entries(org, at, at + 1).unwrap();
            let want = want.into_iter().find(|e| e.id == EntryId(id));
            assert_eq!(reads.entry_row(org, id).unwrap(), want);
        }
        ids += usize::from(here);
    }
    for _ in 0..200 {
        let org = OrgId(pick(rng, &ORGS).0);
        let id = rng.next_u64() | 1 << 63;
        assert_eq!(reads.entry(org, id).unwrap(), None);
    }
    assert_eq!(file.row_count(), ids as u64);
    nets
}

/// The night audit of every day of every inner month (both neighbours frozen) from the files
/// equals the snapshot's: the day's month file and, on its edge days, the neighbouring month's.
fn check_night_audits(files: &[FrozenFile], state: &State, snap: &Snapshot) {
    let reads: Vec<FrozenMonthReads> = files
        .iter()
        .map(|f| FrozenMonthReads::new(f, &state.catalog))
        .collect();
    for i in 1..reads.len() - 1 {
        let m = reads[i].month();
        let neighbours = [&reads[i - 1], &reads[i + 1]];
        for &(id, _, _) in &ORGS {
            let org = OrgId(id);
            let anchor = anchor_of(snap, org, m);
            for day in days_of(m) {
                assert_eq!(
                    reads[i]
                        .daily_report(org, day, anchor, &neighbours)
                        .unwrap(),
                    snap.daily_report(org, day).unwrap(),
                    "night audit of org {id} on {day}"
                );
            }
            // Without the neighbouring files an edge day is refused, never answered short.
            assert!(reads[i]
                .daily_report(org, m.first_day(), anchor, &[])
                .is_err());
        }
    }
}

fn run(seed: u64, batches: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = record_history(&path, seed, batches);
    let snap = db.snapshot();
    let (state, applier, db_id) = replayed(&path);
    assert_eq!(state.lsn, snap.lsn());
    let frozen = dir.path().join("frozen");
    let mut rng = SplitMix64::new(seed ^ 0xF2EE);
    let mut anchors: Option<BTreeMap<OrgId, Money>> = None;
    let mut files = Vec::new();
    for m in months() {
        let id = FileId {
            db_id,
            month: m,
            version: 1,
        };
        let entry = freeze_month(&state, &StdFs, &frozen, id).unwrap();
        let file_path = frozen.join(entry.file_name());
        let file = FrozenFile::open(&StdFs, &file_path, &Expected::of(db_id, &entry)).unwrap();
        assert_eq!(file.lsn_range(), (1, snap.lsn().0));
        assert_eq!(file.index_fingerprint(), state.catalog.fingerprint());
        let verified = file.verify().unwrap();
        assert_eq!(verified.rows, entry.rows);
        let nets = check_month(&mut rng, &file, &state, &applier, &snap);
        check_queries(&mut rng, &file, &state, &snap);
        // Anchors compose across files: the next month's is this one's plus its month net.
        let here: BTreeMap<OrgId, Money> = ORGS
            .iter()
            .map(|&(id, _, _)| {
                let org = OrgId(id);
                (org, anchor_of(&snap, org, m))
            })
            .collect();
        if let Some(before) = anchors.take() {
            assert_eq!(before, here, "anchors of {m}");
        }
        anchors = Some(
            here.iter()
                .map(|(org, a)| (*org, Money(a.0 + nets[org])))
                .collect(),
        );
        files.push(file);
    }
    check_night_audits(&files, &state, &snap);
    drop(db);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_read_of_a_frozen_month_equals_the_state(seed in any::<u64>(), batches in 8usize..40) {
        run(seed, batches);
    }
}

/// A busy history with many batches, once.
#[test]
fn a_long_history_freezes_exactly() {
    run(0x5EED_0019, 120);
}

/// Which file holds what at a month end: an org at UTC+14 posting in the last hours of UTC
/// January has its row in January's file and its day row (1 February) in February's; an org
/// at UTC−12 posting in the first hours of UTC March has its row in March's file and its day
/// row (29 February) in February's. A posting recorded after February is frozen, in UTC March
/// but on February's last business day, changes February's answers: the file is exact at its
/// LSN, and such a posting is February's overlay's as well as March's.
#[test]
fn day_rows_follow_the_business_month_and_rows_the_utc_month() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Db::open_with(&path, common::options(4, Durability::Buffered)).unwrap();
    let (east, west) = (OrgId(2), OrgId(5));
    let register = |org, tz| Org::new(org, "Hotel", Currency::EUR).with_time_zone(tz);
    db.record(
        Batch::new()
            .register_org(register(east, "Pacific/Kiritimati"))
            .register_org(register(west, "Etc/GMT+12")),
    )
    .unwrap();
    let (feb, mar) = (month(2024, 2), month(2024, 3));
    let late_january = feb.start_utc() - 12 * HOUR; // 1 February, 02:00 at UTC+14
    let early_march = mar.start_utc() + 5 * HOUR; // 29 February, 17:00 at UTC−12
    let (rooms, card) = (Category::Rooms, PaymentMethod::Card);
    let expense = |id, at, amount| {
        let (supplies, status) = (Category::Supplies, ExpenseStatus::Paid);
        Entry::expense(west, EntryId(id), at, Money(amount), supplies, card, status)
    };
    db.record(
        Batch::new()
            .post(Entry::revenue(
                east,
                EntryId(1),
                late_january,
                Money(100),
                rooms,
                card,
            ))
            .post(expense(2, early_march, 40)),
    )
    .unwrap();
    db.sync().unwrap();
    let (state, _, db_id) = replayed(&path);
    let frozen = dir.path().join("frozen");
    let open = |state: &State, m: Month, version| {
        let id = FileId {
            db_id,
            month: m,
            version,
        };
        let entry = freeze_month(state, &StdFs, &frozen, id).unwrap();
        let path = frozen.join(entry.file_name());
        FrozenFile::open(&StdFs, &path, &Expected::of(db_id, &entry)).unwrap()
    };
    let (jan_file, feb_file, mar_file) = (
        open(&state, month(2024, 1), 1),
        open(&state, feb, 1),
        open(&state, mar, 1),
    );
    let first = feb.first_day();
    let last = feb.last_day();
    let jan_east = jan_file.org(east).unwrap().unwrap();
    assert_eq!(jan_east.row_count(Kind::Revenue), 1);
    assert_eq!(jan_east.days().count(), 0);
    let feb_east = feb_file.org(east).unwrap().unwrap();
    assert_eq!(feb_east.row_count(Kind::Revenue), 0);
    assert_eq!(feb_east.day(first).unwrap().revenue, 100);
    let feb_west = feb_file.org(west).unwrap().unwrap();
    assert_eq!(feb_west.row_count(Kind::Expense), 0);
    assert_eq!(feb_west.day(last).unwrap().expense, 40);
    let mar_west = mar_file.org(west).unwrap().unwrap();
    assert_eq!(mar_west.row_count(Kind::Expense), 1);
    assert_eq!(mar_west.days().count(), 0);
    assert!(jan_file.org(west).unwrap().is_none());
    for file in [&jan_file, &feb_file, &mar_file] {
        file.verify().unwrap();
    }
    let reads = FrozenMonthReads::new(&feb_file, &state.catalog);
    assert_eq!(reads.closing(east, first, Money(0)).unwrap(), Money(100));
    assert_eq!(reads.closing(west, last, Money(0)).unwrap(), Money(-40));
    assert!(reads.closing(west, mar.first_day(), Money(0)).is_err());
    // Recorded after February was frozen: UTC March, business day 29 February.
    db.record(Batch::new().post(expense(3, early_march + HOUR, 7)))
        .unwrap();
    db.sync().unwrap();
    let now = db.snapshot().balance(west, last).unwrap();
    assert_eq!(now.closing, Money(-47));
    assert_eq!(
        reads.balance(west, last, Money(0)).unwrap().closing,
        Money(-40)
    );
    let (state, _, _) = replayed(&path);
    let refrozen = open(&state, feb, 2);
    let reads = FrozenMonthReads::new(&refrozen, &state.catalog);
    assert_eq!(reads.balance(west, last, Money(0)).unwrap(), now);
    assert_eq!(refrozen.row_count(), 0);
}
