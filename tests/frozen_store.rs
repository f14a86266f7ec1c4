//! Frozen months in the store: a checkpoint names the frozen files in force (with the flows of
//! their rows), writes a frozen month's overlay and patches to its version's trees, and a load
//! gives back the same state; a crash between the values and the checkpoint's meta batch leaves
//! the previous frozen set in force and replay is exact; a set naming a missing file is a typed
//! error; a writable open brings `frozen/` in line with the store (orphans removed), a
//! read-only one changes nothing; checkpoint directories carry the frozen files.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod common;

use folio::format::{FROZEN_DIR, MANIFEST_FILE, STORE_DIR};
use folio::frozen::layout::FileId;
use folio::frozen::manifest::decode_manifest;
use folio::frozen::{freeze_month, Expected, FrozenDir, FrozenFile, ManifestEntry};
use folio::io::StdFs;
use folio::state::frozen_install::FreezeBase;
use folio::state::frozen_set::FrozenMonth;
use folio::state::{replay, Applier, EntryIndex, State};
use folio::store::meta::Meta;
use folio::store::Store;
use folio::wal::ShippedFrame;
use folio::{
    Batch, Category, CorruptionKind, Currency, Db, Durability, Entry, EntryId, Error,
    ExpenseStatus, Lsn, Money, Month, Options, Org, OrgId, PayExpense, PaymentMethod, Reversal,
    SplitMix64,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const HOUR: i64 = 3_600;
const ORGS: [u64; 4] = [1, 5, 64, 70];

fn month(m: u32) -> Month {
    Month::new(2024, m).unwrap()
}

fn feb() -> Month {
    month(2)
}

/// What the history recorded: the LSNs where its phases end.
struct History {
    dir: PathBuf,
    db_id: u64,
    shards: u32,
    /// Postings of January to March.
    first: Lsn,
    /// More postings of January to March.
    second: Lsn,
    /// Late postings into February, reversals and payments of February's rows, other months.
    late: Lsn,
    /// After a second freeze of February: more late postings, reversals, payments.
    end: Lsn,
    frames: Vec<ShippedFrame>,
}

struct Gen {
    rng: SplitMix64,
    next_id: u64,
    /// (org, id, occurred_at, is a pending expense, reversed)
    posted: Vec<(OrgId, EntryId, i64, bool, bool)>,
}

impl Gen {
    fn posting(&mut self, m: Month) -> Entry {
        let org = OrgId(ORGS[self.rng.below(ORGS.len() as u64) as usize]);
        self.next_id += 1 + self.rng.below(5);
        let id = EntryId(self.next_id);
        let at = m.start_utc() + self.rng.below((m.end_utc() - m.start_utc()) as u64) as i64;
        let amount = Money(1 + self.rng.below(50_000) as i64);
        let pending = self.rng.below(2) == 0;
        let entry = if self.rng.below(2) == 0 {
            Entry::revenue(org, id, at, amount, Category::Rooms, PaymentMethod::Card)
        } else {
            let status = if pending {
                ExpenseStatus::Pending
            } else {
                ExpenseStatus::Paid
            };
            Entry::expense(
                org,
                id,
                at,
                amount,
                Category::Supplies,
                PaymentMethod::Cash,
                status,
            )
        };
        let pending = pending && entry.status == Some(ExpenseStatus::Pending);
        self.posted.push((org, id, at, pending, false));
        entry.with_reference(format!("r{}", id.0))
    }

    fn postings(&mut self, months: &[Month], n: usize) -> Batch {
        let mut batch = Batch::new();
        for i in 0..n {
            batch = batch.post(self.posting(months[i % months.len()]));
        }
        batch
    }

    /// Reversals and payments of rows posted in `m` before `upto` (a count of postings).
    fn marks(&mut self, m: Month, upto: usize, reversals: usize, payments: usize) -> Batch {
        let mut batch = Batch::new();
        let in_month: Vec<usize> = (0..upto)
            .filter(|i| {
                let (_, _, at, _, reversed) = self.posted[*i];
                !reversed && at >= m.start_utc() && at < m.end_utc()
            })
            .collect();
        let mut used = std::collections::BTreeSet::new();
        for (done, &i) in in_month.iter().take(reversals).enumerate() {
            let (org, id, _, _, _) = self.posted[i];
            self.posted[i].4 = true;
            self.next_id += 1;
            batch = batch.reverse(Reversal {
                org,
                id: EntryId(self.next_id),
                reverses: id,
                occurred_at: month(4).start_utc() + HOUR * done as i64,
                reference: "void".into(),
            });
            used.insert(i);
        }
        let mut paid = 0;
        for &i in in_month.iter().rev() {
            let (org, id, at, pending, _) = self.posted[i];
            if paid == payments || used.contains(&i) || !pending {
                continue;
            }
            batch = batch.pay(PayExpense {
                org,
                entry: id,
                paid_at: at + HOUR,
            });
            self.posted[i].3 = false;
            paid += 1;
        }
        batch
    }
}

/// Records the history into a new database at `dir` (closed afterwards).
fn record(dir: &Path) -> History {
    let db = Db::open_with(dir, common::options(4, Durability::Buffered)).unwrap();
    let orgs = ORGS.iter().map(|&id| {
        Org::new(OrgId(id), format!("Hotel {id}"), Currency::EUR)
            .with_opening_balance(Money(1_000))
            .with_created_at(month(1).start_utc() - 86_400 * 40)
    });
    db.record(orgs.fold(Batch::new(), Batch::register_org))
        .unwrap();
    let mut gen = Gen {
        rng: SplitMix64::new(7),
        next_id: 0,
        posted: Vec::new(),
    };
    let quarter = [month(1), feb(), month(3)];
    let mut first = Lsn(0);
    for _ in 0..6 {
        first = db.record(gen.postings(&quarter, 12)).unwrap();
    }
    let mut second = first;
    for _ in 0..3 {
        second = db.record(gen.postings(&quarter, 8)).unwrap();
    }
    let frozen_rows = gen.posted.len();
    for _ in 0..3 {
        db.record(gen.postings(&[feb(), month(3), month(4)], 6))
            .unwrap();
    }
    db.record(gen.marks(feb(), frozen_rows, 4, 3)).unwrap();
    // Late postings, payments of late (overlay) rows or of frozen ones.
    db.record(gen.postings(&[feb()], 4)).unwrap();
    let batch = gen
        .marks(feb(), gen.posted.len(), 0, 2)
        .post(gen.posting(feb()));
    let late = db.record(batch).unwrap();
    let refrozen_rows = gen.posted.len();
    for _ in 0..2 {
        db.record(gen.postings(&[feb(), month(3)], 5)).unwrap();
    }
    let end = db.record(gen.marks(feb(), refrozen_rows, 2, 2)).unwrap();
    db.close().unwrap();
    let meta = Meta::read(&StdFs, dir).unwrap();
    let segments =
        folio::wal::recovery::list_segments(&StdFs, &dir.join(folio::format::WAL_DIR)).unwrap();
    let paths: Vec<_> = segments.into_iter().map(|(_, p)| p).collect();
    let frames = folio::read_segments(&paths, meta.db_id).unwrap();
    assert_eq!(frames.last().unwrap().lsn, end);
    History {
        dir: dir.to_path_buf(),
        db_id: meta.db_id,
        shards: meta.shards,
        first,
        second,
        late,
        end,
        frames,
    }
}

/// Applies the frames after the state's LSN up to `to`.
fn replay_to(h: &History, state: &mut State, applier: &mut Applier, to: Lsn) {
    for f in &h.frames {
        if f.lsn > state.lsn && f.lsn <= to {
            replay::apply_frame(state, applier, &f.frame()).unwrap();
        }
    }
    assert_eq!(state.lsn, to);
}

/// Freezes month `m` of the state as version `version` into `<db>/frozen/` and puts it in force.
fn freeze(
    h: &History,
    db: &Path,
    state: &mut State,
    applier: &mut Applier,
    m: Month,
    version: u32,
) -> ManifestEntry {
    let dir = db.join(FROZEN_DIR);
    let id = FileId {
        db_id: h.db_id,
        month: m,
        version,
    };
    let entry = freeze_month(state, &StdFs, &dir, id).unwrap();
    let file = FrozenFile::open(
        &StdFs,
        &dir.join(entry.file_name()),
        &Expected::of(h.db_id, &entry),
    )
    .unwrap();
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
    entry
}

/// A full checkpoint of what changed since the last one (the checkpointer's steps).
fn checkpoint(store: &Store, state: &State, applier: &mut Applier) {
    let keys = std::mem::take(&mut applier.dirty);
    store.write(&state.pack(&keys)).unwrap();
}

fn load(h: &History, db: &Path, store: &Store) -> (State, Applier) {
    let (mut state, entries) = store.load(&StdFs, db, h.db_id, h.shards).unwrap();
    state.lsn = store.checkpoint_lsn().unwrap();
    (
        state,
        Applier {
            entries,
            ..Applier::default()
        },
    )
}

fn entries_of(e: &EntryIndex) -> Vec<((OrgId, u64), (folio::Kind, i64))> {
    let mut all: Vec<_> = e
        .iter()
        .map(|(k, loc)| (k, (loc.kind, loc.occurred_at)))
        .collect();
    all.sort();
    all
}

/// Every read a state answers from its ledgers, patches and frozen files, and its entry map.
fn assert_reads_equal(a: &State, ea: &EntryIndex, b: &State, eb: &EntryIndex) {
    assert_eq!(a.lsn, b.lsn);
    assert_eq!(a.partition_ids(), b.partition_ids());
    for pid in a.partition_ids() {
        assert_eq!(
            a.partition_orgs(pid).unwrap(),
            b.partition_orgs(pid).unwrap()
        );
        for &org in &ORGS {
            let view = |s: &State| {
                s.org_ledger(pid, OrgId(org))
                    .unwrap()
                    .map(|l| (l.rows.clone(), l.total, l.by_category(), l.indexes.clone()))
            };
            assert_eq!(view(a), view(b), "org_ledger of {org} in {pid:?}");
        }
    }
    for &org in &ORGS {
        assert_eq!(
            ea.flows(OrgId(org)),
            eb.flows(OrgId(org)),
            "flows of org {org}"
        );
    }
}

/// The loaded state holds what the original held: overlay ledgers, patches, frozen set and
/// flows, entry map; and answers every read alike.
fn assert_loaded(original: &State, oa: &Applier, loaded: &State, la: &Applier) {
    let ledgers = |s: &State| -> Vec<_> {
        s.ledgers
            .iter()
            .map(|(pid, b)| {
                let mut orgs: Vec<_> = b
                    .orgs
                    .iter()
                    .filter(|(_, l)| !l.rows.is_empty())
                    .map(|(o, l)| (*o, l.rows.clone(), l.total))
                    .collect();
                orgs.sort_by_key(|o| o.0);
                (*pid, orgs)
            })
            .filter(|(_, orgs)| !orgs.is_empty())
            .collect()
    };
    assert_eq!(ledgers(original), ledgers(loaded), "ledgers");
    let patches = |s: &State| -> Vec<_> {
        s.patches
            .iter()
            .map(|(k, p)| (*k, p.rows.clone()))
            .collect()
    };
    assert_eq!(patches(original), patches(loaded), "patches");
    type Set = (Vec<ManifestEntry>, Vec<(OrgId, (i64, i64))>);
    let set = |s: &State| -> Set {
        let mut flows: Vec<_> = s.frozen.flows.iter().map(|(o, f)| (*o, *f)).collect();
        flows.sort();
        (s.frozen.months().values().map(|f| f.entry).collect(), flows)
    };
    assert_eq!(set(original), set(loaded), "frozen set");
    assert_eq!(
        entries_of(&oa.entries),
        entries_of(&la.entries),
        "entry map"
    );
    assert_eq!(oa.entries, la.entries, "entry map");
    assert_reads_equal(original, &oa.entries, loaded, &la.entries);
}

/// The state at `to` with nothing frozen: the reference every frozen variant must answer as.
fn reference(h: &History, to: Lsn) -> (State, Applier) {
    let mut state = State::new(h.shards);
    let mut applier = Applier::default();
    replay_to(h, &mut state, &mut applier, to);
    (state, applier)
}

fn tree_names(store_dir: &Path) -> Vec<String> {
    let store = Store::open(store_dir).unwrap();
    store.tree_names()
}

#[test]
fn frozen_months_checkpoint_and_load_back() {
    let tmp = tempfile::tempdir().unwrap();
    let h = record(&tmp.path().join("db"));
    let db = tmp.path().join("copy");
    let store = Store::open(&db.join(STORE_DIR)).unwrap();
    let mut state = State::new(h.shards);
    let mut applier = Applier::default();
    replay_to(&h, &mut state, &mut applier, h.first);
    checkpoint(&store, &state, &mut applier);
    replay_to(&h, &mut state, &mut applier, h.second);
    let v1 = freeze(&h, &db, &mut state, &mut applier, feb(), 1);
    assert!(state.ledgers.keys().all(|p| p.month != feb()));
    replay_to(&h, &mut state, &mut applier, h.late);
    assert!(
        !state.patches.is_empty(),
        "late marks of frozen rows are patches"
    );
    assert!(
        state.ledgers.keys().any(|p| p.month == feb()),
        "late postings are an overlay"
    );
    checkpoint(&store, &state, &mut applier);
    let (loaded, la) = load(&h, &db, &store);
    assert_loaded(&state, &applier, &loaded, &la);
    let (reference_state, reference_applier) = reference(&h, h.late);
    assert_reads_equal(
        &reference_state,
        &reference_applier.entries,
        &loaded,
        &la.entries,
    );
    // The normal trees of February are gone once the checkpoint naming its file landed.
    let names = store.tree_names();
    assert!(
        names.contains(&"revenues/2024-02@v1".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"patches/2024-02@v1".to_string()),
        "{names:?}"
    );
    assert!(
        !names.contains(&"revenues/2024-02".to_string()),
        "{names:?}"
    );
    assert!(
        !names.contains(&"expenses/2024-02".to_string()),
        "{names:?}"
    );

    // The loaded state goes on: replay, a second freeze of February (file, overlay and patches
    // merged), more marks, a checkpoint, a load.
    let (mut state, mut applier) = (loaded, la);
    let v2 = freeze(&h, &db, &mut state, &mut applier, feb(), 2);
    assert!(state.patches.is_empty());
    assert_eq!(v2.rows, v1.rows + 11, "rows of version 1 and the overlay");
    replay_to(&h, &mut state, &mut applier, h.end);
    checkpoint(&store, &state, &mut applier);
    let (loaded, la) = load(&h, &db, &store);
    assert_loaded(&state, &applier, &loaded, &la);
    let (reference_state, reference_applier) = reference(&h, h.end);
    assert_reads_equal(
        &reference_state,
        &reference_applier.entries,
        &loaded,
        &la.entries,
    );
    let names = store.tree_names();
    assert!(
        names.iter().all(|n| !n.contains("2024-02@v1")),
        "trees of version 1 dropped: {names:?}"
    );
    assert!(
        names.contains(&"patches/2024-02@v2".to_string()),
        "{names:?}"
    );
}

#[test]
fn a_crash_before_the_meta_batch_keeps_the_old_frozen_set_and_replay_is_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let h = record(&tmp.path().join("db"));
    let db = tmp.path().join("copy");
    let store_dir = db.join(STORE_DIR);
    {
        let store = Store::open(&store_dir).unwrap();
        let mut state = State::new(h.shards);
        let mut applier = Applier::default();
        replay_to(&h, &mut state, &mut applier, h.first);
        checkpoint(&store, &state, &mut applier);
        replay_to(&h, &mut state, &mut applier, h.second);
        freeze(&h, &db, &mut state, &mut applier, feb(), 1);
        replay_to(&h, &mut state, &mut applier, h.late);
        // The values of the checkpoint land, its meta batch does not.
        let keys = std::mem::take(&mut applier.dirty);
        store.write_values(&state.pack(&keys)).unwrap();
    }
    let store = Store::open(&store_dir).unwrap();
    assert_eq!(store.checkpoint_lsn().unwrap(), h.first);
    let (mut loaded, mut la) = load(&h, &db, &store);
    assert!(
        loaded.frozen.months().is_empty(),
        "the old frozen set (none) is in force"
    );
    // What a writable open does before anything else: the file and the trees of the version
    // whose checkpoint never landed go (a later freeze may take its version number again).
    let (_, cleanup) = FrozenDir::align(&StdFs, &db, h.db_id, &[]).unwrap();
    assert_eq!(
        cleanup.removed,
        vec![db.join(FROZEN_DIR).join("2024-02.v1.frz")]
    );
    let mut dropped = store.drop_stale_trees(&BTreeMap::new(), None).unwrap();
    dropped.sort();
    assert_eq!(
        dropped,
        [
            "days/2024-02@v1",
            "expenses/2024-02@v1",
            "patches/2024-02@v1",
            "revenues/2024-02@v1"
        ]
    );
    replay_to(&h, &mut loaded, &mut la, h.late);
    let (reference_state, reference_applier) = reference(&h, h.late);
    assert_reads_equal(
        &reference_state,
        &reference_applier.entries,
        &loaded,
        &la.entries,
    );
    assert_eq!(reference_applier.entries, la.entries);

    // Now with a frozen set in force (version 1) and a crash in the checkpoint that would have
    // put version 2 in force.
    checkpoint(&store, &loaded, &mut la);
    let v1 = freeze(&h, &db, &mut loaded, &mut la, feb(), 1);
    checkpoint(&store, &loaded, &mut la);
    let first_set = store.frozen_set().unwrap();
    assert_eq!(first_set, vec![v1]);
    let (mut state, mut applier) = (loaded, la);
    replay_to(&h, &mut state, &mut applier, h.late);
    freeze(&h, &db, &mut state, &mut applier, feb(), 2);
    replay_to(&h, &mut state, &mut applier, h.end);
    let keys = std::mem::take(&mut applier.dirty);
    store.write_values(&state.pack(&keys)).unwrap();
    let (mut loaded, mut la) = load(&h, &db, &store);
    assert_eq!(
        loaded
            .frozen
            .months()
            .values()
            .map(|f| f.entry)
            .collect::<Vec<_>>(),
        vec![v1]
    );
    replay_to(&h, &mut loaded, &mut la, h.end);
    let (reference_state, reference_applier) = reference(&h, h.end);
    assert_reads_equal(
        &reference_state,
        &reference_applier.entries,
        &loaded,
        &la.entries,
    );
}

#[test]
fn a_frozen_set_naming_a_missing_or_other_file_is_a_typed_error() {
    let tmp = tempfile::tempdir().unwrap();
    let h = record(&tmp.path().join("db"));
    let db = tmp.path().join("copy");
    let store = Store::open(&db.join(STORE_DIR)).unwrap();
    let mut state = State::new(h.shards);
    let mut applier = Applier::default();
    replay_to(&h, &mut state, &mut applier, h.second);
    let entry = freeze(&h, &db, &mut state, &mut applier, feb(), 1);
    checkpoint(&store, &state, &mut applier);
    let path = db.join(FROZEN_DIR).join(entry.file_name());
    let bytes = std::fs::read(&path).unwrap();
    // Another file of the same size: its header or footer checksum differs.
    let mut other = bytes.clone();
    let last = other.len() - 1;
    other[last - 10] ^= 1;
    std::fs::write(&path, &other).unwrap();
    match store.load(&StdFs, &db, h.db_id, h.shards) {
        Err(Error::Corruption { file, .. }) => assert_eq!(file, path),
        other => panic!("{:?}", other.map(|_| ())),
    }
    std::fs::write(&path, &bytes[..bytes.len() - 16]).unwrap();
    match store.load(&StdFs, &db, h.db_id, h.shards) {
        Err(Error::Corruption {
            file,
            kind: CorruptionKind::BadLength(_),
            ..
        }) => assert_eq!(file, path),
        other => panic!("{:?}", other.map(|_| ())),
    }
    std::fs::remove_file(&path).unwrap();
    match store.load(&StdFs, &db, h.db_id, h.shards) {
        Err(Error::Corruption {
            file,
            kind: CorruptionKind::MissingFile,
            ..
        }) => assert_eq!(file, path),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

/// The recorded database with February frozen in its own store (as a freeze and its checkpoint
/// leave it); returns the file's entry.
fn freeze_in_place(h: &History) -> ManifestEntry {
    let store = Store::open(&h.dir.join(STORE_DIR)).unwrap();
    let (mut state, mut applier) = load(h, &h.dir, &store);
    replay_to(h, &mut state, &mut applier, h.end);
    let entry = freeze(h, &h.dir, &mut state, &mut applier, feb(), 1);
    checkpoint(&store, &state, &mut applier);
    entry
}

fn manifest_of(h: &History, dir: &Path) -> Vec<ManifestEntry> {
    let path = dir.join(FROZEN_DIR).join("MANIFEST");
    decode_manifest(&path, h.db_id, &std::fs::read(&path).unwrap()).unwrap()
}

#[test]
fn opening_aligns_the_frozen_directory_with_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let h = record(&tmp.path().join("db"));
    let before = {
        let db = Db::open_with(&h.dir, Options::read_only()).unwrap();
        common::snapshot(
            &db,
            &ORGS.map(OrgId),
            month(1).first_day(),
            month(4).first_day(),
        )
    };
    let entry = freeze_in_place(&h);
    let frozen = h.dir.join(FROZEN_DIR);
    // Orphans: a version no checkpoint named, a temporary.
    let orphan = frozen.join("2024-02.v2.frz");
    let temporary = frozen.join("2024-03.v1.frz.tmp");
    std::fs::write(&orphan, b"left by a freeze whose checkpoint never landed").unwrap();
    std::fs::write(&temporary, b"half written").unwrap();

    // Read-only: nothing on disk changes.
    {
        let db = Db::open_with(&h.dir, Options::read_only()).unwrap();
        assert_eq!(db.visible_lsn(), h.end);
        assert!(orphan.exists() && temporary.exists());
        assert!(!frozen.join("MANIFEST").exists());
    }
    let names = tree_names(&h.dir.join(STORE_DIR));
    assert!(names.iter().all(|n| !n.ends_with("2024-02")), "{names:?}");

    let db = Db::open_with(&h.dir, common::options(4, Durability::Sync)).unwrap();
    assert!(!orphan.exists() && !temporary.exists());
    assert!(frozen.join(entry.file_name()).exists());
    assert_eq!(manifest_of(&h, &h.dir), vec![entry]);
    let after = common::snapshot(
        &db,
        &ORGS.map(OrgId),
        month(1).first_day(),
        month(4).first_day(),
    );
    assert_eq!(after.lsn, before.lsn);
    assert_eq!(after.balances, before.balances);
    assert_eq!(after.orgs, before.orgs);

    // A checkpoint directory carries the frozen file, lists it, and opens.
    let out = tmp.path().join("edge");
    let info = db.checkpoint_to(&out).unwrap();
    assert_eq!(folio::verify_checkpoint(&out).unwrap(), info.lsn);
    let copied = out.join(FROZEN_DIR).join(entry.file_name());
    assert_eq!(
        std::fs::read(&copied).unwrap(),
        std::fs::read(frozen.join(entry.file_name())).unwrap()
    );
    assert_eq!(manifest_of(&h, &out), vec![entry]);
    let manifest = std::fs::read_to_string(out.join(MANIFEST_FILE)).unwrap();
    assert!(
        manifest.contains(&format!("frozen/{}", entry.file_name())),
        "{manifest}"
    );
    db.close().unwrap();
    for dir in [out.clone(), tmp.path().join("seeded")] {
        if !dir.exists() {
            folio::seed_from_checkpoint(&out, &dir).unwrap();
        }
        let edge = Db::open_with(&dir, Options::read_only()).unwrap();
        let seen = common::snapshot(
            &edge,
            &ORGS.map(OrgId),
            month(1).first_day(),
            month(4).first_day(),
        );
        assert_eq!(seen.lsn, before.lsn);
        assert_eq!(seen.balances, before.balances);
    }

    // A store naming a file that is gone: a typed error naming it, never a rebuild.
    std::fs::remove_file(frozen.join(entry.file_name())).unwrap();
    match Db::open_with(&h.dir, common::options(4, Durability::Sync)) {
        Err(Error::Corruption {
            file,
            kind: CorruptionKind::MissingFile,
            ..
        }) => assert_eq!(file, frozen.join(entry.file_name())),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn the_balance_values_of_a_frozen_month_leave_the_shard_trees_without_a_scan_of_them() {
    let tmp = tempfile::tempdir().unwrap();
    let h = record(&tmp.path().join("db"));
    let db = tmp.path().join("copy");
    let store_dir = db.join(STORE_DIR);
    let feb_values = |store: &Store| {
        store
            .balance_value_months()
            .unwrap()
            .get(&feb())
            .copied()
            .unwrap_or(0)
    };
    {
        let store = Store::open(&store_dir).unwrap();
        let mut state = State::new(h.shards);
        let mut applier = Applier::default();
        replay_to(&h, &mut state, &mut applier, h.second);
        checkpoint(&store, &state, &mut applier);
        let before = feb_values(&store);
        assert!(before > 0, "February's day rows are in the shard trees");
        freeze(&h, &db, &mut state, &mut applier, feb(), 1);
        // The checkpoint's values and meta batch land; the crash comes before the trees and
        // values the new frozen set no longer reads are dropped.
        let keys = std::mem::take(&mut applier.dirty);
        let snapshot = state.pack(&keys);
        store.write_values(&snapshot).unwrap();
        store.write_meta(&snapshot).unwrap();
        assert_eq!(feb_values(&store), before, "left behind by the crash");
    }
    let store = Store::open(&store_dir).unwrap();
    let (mut loaded, mut la) = load(&h, &db, &store);
    assert!(loaded.is_frozen(feb()));
    // What a writable open does: the values the load skipped go, found by the load.
    let in_force: BTreeMap<Month, u32> = [(feb(), 1)].into();
    store.drop_stale_trees(&in_force, Some(&loaded)).unwrap();
    assert_eq!(feb_values(&store), 0);

    // A month frozen later: its values go with the checkpoint that puts its file in force,
    // found through the file's orgs.
    let march_values = |store: &Store| {
        store
            .balance_value_months()
            .unwrap()
            .get(&month(3))
            .copied()
    };
    assert!(march_values(&store).is_some_and(|n| n > 0));
    freeze(&h, &db, &mut loaded, &mut la, month(3), 1);
    let keys = std::mem::take(&mut la.dirty);
    store.write_state(&loaded, &keys).unwrap();
    assert_eq!(march_values(&store), None);
    let months = store.balance_value_months().unwrap();
    assert!(
        months.keys().all(|m| !loaded.is_frozen(*m)),
        "only open months' values remain: {months:?}"
    );
    drop(store);
    let store = Store::open(&store_dir).unwrap();
    let (reloaded, ra) = load(&h, &db, &store);
    assert_reads_equal(&loaded, &la.entries, &reloaded, &ra.entries);
}

/// The flows of the frozen files per org, as a load gives them.
fn frozen_flows(state: &State) -> Vec<(OrgId, (i64, i64))> {
    ORGS.iter()
        .map(|&id| {
            let org = OrgId(id);
            (org, state.frozen.flows.get(&org).copied().unwrap_or((0, 0)))
        })
        .collect()
}

#[test]
fn frozen_sums_keep_one_version_per_chunk_and_a_stopped_checkpoints_are_never_read() {
    let tmp = tempfile::tempdir().unwrap();
    let h = record(&tmp.path().join("db"));
    let db = tmp.path().join("copy");
    let store_dir = db.join(STORE_DIR);
    let chunks: Vec<u64> = {
        let mut c: Vec<u64> = ORGS.iter().map(|&id| id >> 6).collect();
        c.dedup();
        c
    };
    assert_eq!(chunks.len(), 2, "the test's orgs are in two chunks");
    let one_each = |store: &Store, gen: u64| {
        let (in_force, versions) = store.frozen_sums_versions().unwrap();
        assert_eq!(in_force, gen);
        for v in versions {
            let held: Vec<u64> = v.iter().map(|(c, _)| *c).collect();
            assert_eq!(held, chunks, "one version per chunk: {v:?}");
            assert!(v.iter().all(|(_, g)| *g <= gen), "{v:?}");
        }
    };
    let february_flows = {
        let store = Store::open(&store_dir).unwrap();
        let mut state = State::new(h.shards);
        let mut applier = Applier::default();
        replay_to(&h, &mut state, &mut applier, h.second);
        freeze(&h, &db, &mut state, &mut applier, feb(), 1);
        checkpoint(&store, &state, &mut applier);
        one_each(&store, 1);
        let february_flows = frozen_flows(&state);
        assert!(february_flows.iter().any(|(_, f)| *f != (0, 0)));
        // A later freeze changes both chunks' sums; its checkpoint writes them and stops
        // before its meta batch.
        freeze(&h, &db, &mut state, &mut applier, month(3), 1);
        assert_ne!(frozen_flows(&state), february_flows);
        let keys = std::mem::take(&mut applier.dirty);
        store.write_values(&state.pack(&keys)).unwrap();
        let (in_force, versions) = store.frozen_sums_versions().unwrap();
        assert_eq!(in_force, 1);
        assert!(versions[0].contains(&(chunks[1], 2)), "{versions:?}");
        february_flows
    };
    let store = Store::open(&store_dir).unwrap();
    let (loaded, mut la) = load(&h, &db, &store);
    assert_eq!(
        frozen_flows(&loaded),
        february_flows,
        "generation 2 is not read"
    );
    // The next checkpoint writing sums takes generation 2 again, for the first chunk only: the
    // second chunk's version 2 of the stopped checkpoint must not come back with it.
    let keys: rustc_hash::FxHashSet<_> = [folio::state::DirtyKey::FrozenFlows(chunks[0])]
        .into_iter()
        .collect();
    la.dirty.clear();
    store.write_state(&loaded, &keys).unwrap();
    assert_eq!(
        store.frozen_sums_versions().unwrap().1[0],
        vec![(chunks[0], 2), (chunks[1], 1)]
    );
    one_each(&store, 2);
    drop(store);
    let store = Store::open(&store_dir).unwrap();
    let (reloaded, ra) = load(&h, &db, &store);
    assert_eq!(frozen_flows(&reloaded), february_flows);
    assert_reads_equal(&loaded, &la.entries, &reloaded, &ra.entries);

    // A store that kept its sums without generations (as earlier versions wrote them) reads
    // them the same, and its next checkpoint writing sums supersedes them.
    store.rewrite_sums_unversioned().unwrap();
    let (in_force, versions) = store.frozen_sums_versions().unwrap();
    assert_eq!(in_force, 0);
    assert!(versions.iter().all(|v| v.iter().all(|(_, g)| *g == 0)));
    let (mut old, mut oa) = load(&h, &db, &store);
    assert_eq!(frozen_flows(&old), february_flows);
    replay_to(&h, &mut old, &mut oa, h.late);
    freeze(&h, &db, &mut old, &mut oa, month(3), 2);
    let march_flows = frozen_flows(&old);
    checkpoint(&store, &old, &mut oa);
    one_each(&store, 1);
    let (again, _) = load(&h, &db, &store);
    assert_eq!(frozen_flows(&again), march_flows);
}
