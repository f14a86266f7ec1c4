//! A new version of a frozen month copies the blocks of the orgs nothing changed since the
//! version in force (issue 19): random histories of many orgs in time zones from UTC−12 to
//! UTC+14, frozen, then late postings (on both sides of month ends), reversals and payments of
//! frozen rows for a few orgs, an earlier month frozen again (new anchors), an index created;
//! every new version written with block copies is byte for byte the file written by building
//! every block from its rows, and copies happen exactly when nothing changed.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod common;

use folio::format::FROZEN_DIR;
use folio::frozen::from_state::{freeze_month_with, Reuse};
use folio::frozen::layout::FileId;
use folio::frozen::{Expected, FrozenFile};
use folio::io::StdFs;
use folio::state::frozen_install::FreezeBase;
use folio::state::frozen_set::FrozenMonth;
use folio::state::{replay, Applier, State};
use folio::store::meta::Meta;
use folio::wal::ShippedFrame;
use folio::{
    Batch, Category, Column, Currency, Db, Durability, Entry, EntryId, ExpenseStatus, IndexDef,
    Kind, Lsn, Money, Month, Org, OrgId, PayExpense, PaymentMethod, Reversal, SplitMix64,
};
use proptest::prelude::*;
use std::path::Path;
use std::sync::Arc;

const HOUR: i64 = 3_600;
const ORGS: u64 = 48;
const ZONES: [&str; 7] = [
    "Pacific/Kiritimati",
    "Etc/GMT+12",
    "UTC",
    "Asia/Tokyo",
    "America/New_York",
    "Europe/Paris",
    "Asia/Kolkata",
];

fn month(m: u32) -> Month {
    Month::new(2024, m).unwrap()
}

struct Gen {
    rng: SplitMix64,
    next_id: u64,
    /// (org, id, occurred_at, pending expense, reversed)
    posted: Vec<(OrgId, EntryId, i64, bool, bool)>,
}

impl Gen {
    /// A posting of `org` at `at`, either kind.
    fn posting(&mut self, org: OrgId, at: i64) -> Entry {
        self.next_id += 1 + self.rng.below(3);
        let id = EntryId(self.next_id);
        let amount = Money(1 + self.rng.below(90_000) as i64);
        let revenue = self.rng.below(2) == 0;
        let kind = if revenue {
            Kind::Revenue
        } else {
            Kind::Expense
        };
        let allowed: Vec<Category> = Category::ALL
            .iter()
            .copied()
            .filter(|c| c.allowed_for(kind))
            .collect();
        let category = allowed[self.rng.below(allowed.len() as u64) as usize];
        let (entry, pending) = if revenue {
            let e = Entry::revenue(org, id, at, amount, category, PaymentMethod::Card);
            (e, false)
        } else {
            let pending = self.rng.below(2) == 0;
            let status = match pending {
                true => ExpenseStatus::Pending,
                false => ExpenseStatus::Paid,
            };
            let e = Entry::expense(org, id, at, amount, category, PaymentMethod::Cash, status);
            (e, pending)
        };
        self.posted.push((org, id, at, pending, false));
        match self.rng.below(4) {
            0 => entry.with_reference(format!("ref {}", id.0)),
            _ => entry,
        }
    }

    /// An instant of month `m`: often within a day of its ends (rows and day rows of
    /// neighbouring files), else anywhere.
    fn instant(&mut self, m: Month) -> i64 {
        let (start, end) = (m.start_utc(), m.end_utc());
        match self.rng.below(4) {
            0 => start + self.rng.below(20 * HOUR as u64) as i64,
            1 => end - 1 - self.rng.below(20 * HOUR as u64) as i64,
            _ => start + self.rng.below((end - start) as u64) as i64,
        }
    }

    fn postings(&mut self, orgs: &[OrgId], months: &[Month], n: usize) -> Batch {
        let mut batch = Batch::new();
        for _ in 0..n {
            let org = orgs[self.rng.below(orgs.len() as u64) as usize];
            let m = months[self.rng.below(months.len() as u64) as usize];
            let at = self.instant(m);
            batch = batch.post(self.posting(org, at));
        }
        batch
    }

    /// Reversals and payments of rows of `orgs` posted in month `m`.
    fn marks(&mut self, orgs: &[OrgId], m: Month, reversals: usize, payments: usize) -> Batch {
        let mut batch = Batch::new();
        let mut candidates: Vec<usize> = (0..self.posted.len())
            .filter(|&i| {
                let (org, _, at, _, reversed) = self.posted[i];
                orgs.contains(&org) && !reversed && at >= m.start_utc() && at < m.end_utc()
            })
            .collect();
        for _ in 0..reversals.min(candidates.len()) {
            let i = candidates.swap_remove(self.rng.below(candidates.len() as u64) as usize);
            let (org, id, at, _, _) = self.posted[i];
            self.posted[i].4 = true;
            self.posted[i].3 = false;
            self.next_id += 1;
            batch = batch.reverse(Reversal {
                org,
                id: EntryId(self.next_id),
                reverses: id,
                occurred_at: at + HOUR,
                reference: "void".into(),
            });
        }
        let mut paid = 0;
        for i in candidates {
            let (org, id, at, pending, _) = self.posted[i];
            if paid == payments {
                break;
            }
            if pending {
                batch = batch.pay(PayExpense {
                    org,
                    entry: id,
                    paid_at: at + 2 * HOUR,
                });
                self.posted[i].3 = false;
                paid += 1;
            }
        }
        batch
    }
}

/// The phases of a recorded history: the LSN each ends at.
struct History {
    db_id: u64,
    shards: u32,
    frames: Vec<ShippedFrame>,
    /// Postings of January to April.
    first: Lsn,
    /// Late postings, reversals and payments of January and February for a few orgs.
    late: Lsn,
    /// More late postings of January (for orgs untouched in February), after an index.
    last: Lsn,
}

fn record(path: &Path, seed: u64) -> History {
    let db = Db::open_with(path, common::options(4, Durability::Buffered)).unwrap();
    let mut gen = Gen {
        rng: SplitMix64::new(seed),
        next_id: 0,
        posted: Vec::new(),
    };
    let mut batch = Batch::new();
    for id in 1..=ORGS {
        let zone = ZONES[gen.rng.below(ZONES.len() as u64) as usize];
        let currency = [Currency::EUR, Currency::USD][gen.rng.below(2) as usize];
        let org = Org::new(OrgId(id), format!("Hotel {id}"), currency)
            .with_time_zone(zone)
            .with_opening_balance(Money(gen.rng.below(100_000) as i64))
            .with_created_at(month(1).start_utc() - 86_400 * 60);
        batch = batch.register_org(org);
    }
    db.record(batch).unwrap();
    let all: Vec<OrgId> = (1..=ORGS).map(OrgId).collect();
    let quarter = [month(1), month(2), month(3), month(4)];
    // Every org has rows in every month of the quarter, and more at random.
    let mut batch = Batch::new();
    for org in &all {
        for m in quarter {
            let at = m.start_utc() + 14 * 86_400;
            batch = batch.post(gen.posting(*org, at));
        }
    }
    db.record(batch).unwrap();
    for _ in 0..8 {
        db.record(gen.postings(&all, &quarter, 60)).unwrap();
    }
    let first = db.visible_lsn();
    // A few orgs take late writes into January and February: postings (some in the first
    // hours of March, on February's last business day west of UTC), reversals, payments.
    let few: Vec<OrgId> = (0..1 + gen.rng.below(5))
        .map(|_| all[gen.rng.below(ORGS) as usize])
        .collect();
    let feb = gen.instant(month(2));
    let batch = gen
        .postings(&few, &[month(1), month(2), month(3)], 6)
        .post(gen.posting(few[0], feb));
    db.record(batch).unwrap();
    db.record(gen.marks(&few, month(2), 2, 2)).unwrap();
    let late = db.visible_lsn();
    if gen.rng.below(2) == 0 {
        let def = IndexDef::new(
            "revenues_by_category",
            Kind::Revenue,
            &[Column::Category],
            &[Column::Amount],
            None,
        );
        db.create_index(def, |_, _| {}).unwrap();
    }
    let others: Vec<OrgId> = (0..3).map(|_| all[gen.rng.below(ORGS) as usize]).collect();
    db.record(gen.postings(&others, &[month(1)], 4)).unwrap();
    let last = db.visible_lsn();
    db.close().unwrap();
    let meta = Meta::read(&StdFs, path).unwrap();
    let wal = path.join(folio::format::WAL_DIR);
    let segments = folio::wal::recovery::list_segments(&StdFs, &wal).unwrap();
    let paths: Vec<_> = segments.into_iter().map(|(_, p)| p).collect();
    let frames = folio::read_segments(&paths, meta.db_id).unwrap();
    History {
        db_id: meta.db_id,
        shards: meta.shards,
        frames,
        first,
        late,
        last,
    }
}

fn replay_to(h: &History, state: &mut State, applier: &mut Applier, to: Lsn) {
    for f in &h.frames {
        if f.lsn > state.lsn && f.lsn <= to {
            replay::apply_frame(state, applier, &f.frame()).unwrap();
        }
    }
    state.finish_index_build();
    assert_eq!(state.lsn, to);
}

/// Writes the next version of month `m` twice — copying unchanged blocks, and building every
/// block — asserts the two files are the same bytes, and puts the first in force. Returns the
/// blocks copied.
fn refreeze(h: &History, dir: &Path, state: &mut State, applier: &mut Applier, m: Month) -> u64 {
    let version = state.frozen.get(m).map_or(1, |f| f.entry.version + 1);
    let id = FileId {
        db_id: h.db_id,
        month: m,
        version,
    };
    let built_dir = dir.join("built");
    let (built, none) = freeze_month_with(state, &StdFs, &built_dir, id, Reuse::Nothing).unwrap();
    assert_eq!(none, 0);
    let frozen = dir.join(FROZEN_DIR);
    let (entry, copied) = freeze_month_with(state, &StdFs, &frozen, id, Reuse::Blocks).unwrap();
    assert_eq!(entry, built, "manifest entries of {m} v{version}");
    let copy_bytes = std::fs::read(frozen.join(entry.file_name())).unwrap();
    let built_bytes = std::fs::read(built_dir.join(built.file_name())).unwrap();
    assert!(
        copy_bytes == built_bytes,
        "{m} v{version}: the file with {copied} copied blocks differs from the one built"
    );
    let file = FrozenFile::open(
        &StdFs,
        &frozen.join(entry.file_name()),
        &Expected::of(h.db_id, &entry),
    )
    .unwrap();
    file.verify().unwrap();
    let base = FreezeBase::of(state, m);
    state
        .install_frozen(
            applier,
            FrozenMonth {
                entry,
                file: Arc::new(file),
            },
            base,
        )
        .unwrap();
    copied
}

/// Orgs of month `m` that a re-freeze may copy now: unchanged since the file in force, under
/// the same catalog, with the same anchor.
fn copyable(state: &State, m: Month) -> u64 {
    let Some(f) = state.frozen.get(m) else {
        return 0;
    };
    if f.file.index_fingerprint() != state.catalog.fingerprint() {
        return 0;
    }
    let mut n = 0;
    for org in f.file.orgs() {
        let org = org.unwrap();
        let block = f.file.org(org).unwrap().unwrap();
        let anchor = state.file_net_before(org, m).unwrap().0;
        if state.unchanged_since_file(m, org) && block.anchor() == anchor {
            n += 1;
        }
    }
    n
}

fn run(seed: u64) {
    let tmp = tempfile::tempdir().unwrap();
    let h = record(&tmp.path().join("db"), seed);
    let dir = tmp.path().join("copy");
    let mut state = State::new(h.shards);
    let mut applier = Applier::default();
    replay_to(&h, &mut state, &mut applier, h.first);
    for m in [month(1), month(2)] {
        assert_eq!(refreeze(&h, &dir, &mut state, &mut applier, m), 0);
    }
    // Nothing changed: every block of February is copied.
    let orgs = state.frozen.get(month(2)).unwrap().entry.orgs;
    assert_eq!(copyable(&state, month(2)), orgs);
    assert_eq!(refreeze(&h, &dir, &mut state, &mut applier, month(2)), orgs);

    // Late writes for a few orgs: their blocks are built, the others' copied.
    replay_to(&h, &mut state, &mut applier, h.late);
    let expected = copyable(&state, month(2));
    assert!(
        expected < orgs,
        "the late writes changed some of February's orgs"
    );
    assert!(expected > 0, "most of February's orgs are untouched");
    assert_eq!(
        refreeze(&h, &dir, &mut state, &mut applier, month(2)),
        expected
    );
    // January frozen again with its late rows: February's anchors of their orgs change.
    refreeze(&h, &dir, &mut state, &mut applier, month(1));

    // An index may have been created; more late postings into January.
    replay_to(&h, &mut state, &mut applier, h.last);
    let expected = copyable(&state, month(2));
    assert_eq!(
        refreeze(&h, &dir, &mut state, &mut applier, month(2)),
        expected
    );
    let expected = copyable(&state, month(1));
    assert_eq!(
        refreeze(&h, &dir, &mut state, &mut applier, month(1)),
        expected
    );
    let expected = copyable(&state, month(2));
    assert_eq!(
        refreeze(&h, &dir, &mut state, &mut applier, month(2)),
        expected
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_new_version_copies_exactly_the_unchanged_blocks(seed in any::<u64>()) {
        run(seed);
    }
}
