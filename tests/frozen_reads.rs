//! Reads over frozen months (issue 19): a random history applied to two states, one that never
//! freezes (the twin) and one whose months are frozen into files as it goes (their rows leave
//! memory; later rows of those months go to an overlay, late reversals and payments of their
//! rows to patches; a month with an overlay is frozen again as a new version). After every step
//! every read that touches ledger rows answers the same on both: balances, entries, ledger
//! pages, monthly and daily reports, top revenue, chain totals, pending expenses, typed queries
//! page by page with their plans, partition listings, entry counts, and `verify`. A damaged
//! frozen file makes reads fail with `Error::Corruption`, never panic or answer wrong.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod frozen_history;

use folio::codec::record::LogOp;
use folio::frozen::layout::FileId;
use folio::frozen::{freeze_month, Expected, FrozenFile};
use folio::io::StdFs;
use folio::query::BalanceQuery;
use folio::state::frozen_install::{FreezeBase, Prepared};
use folio::state::frozen_set::FrozenMonth;
use folio::state::validate::Validator;
use folio::state::OrgNotes;
use folio::state::{Applier, State};
use folio::{
    Batch, Column, Error, IndexDef, Kind, Lsn, Money, Month, Org, OrgId, Query, QueryOutput,
    SplitMix64, MAX_TIMESTAMP, MIN_TIMESTAMP,
};
use frozen_history::{days_of, month, months, pick, random_query, Gen, DAY, ORGS};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const DB_ID: u64 = 0xF0_1100;

/// The twin that never freezes and the state that does, at the same LSN.
struct Twins {
    open: State,
    open_side: Applier,
    frozen: State,
    frozen_side: Applier,
    lsn: u64,
    dir: PathBuf,
    versions: BTreeMap<Month, u32>,
    /// Installs so far with the balance shards prepared (every other one).
    freezes_during: u64,
}

impl Twins {
    fn new(dir: &Path) -> Twins {
        Twins {
            open: State::new(4),
            open_side: Applier::default(),
            frozen: State::new(4),
            frozen_side: Applier::default(),
            lsn: 0,
            dir: dir.to_path_buf(),
            versions: BTreeMap::new(),
            freezes_during: 0,
        }
    }

    /// Validates `batch` against both states (the frozen one looks entries up in its files)
    /// and applies the same records to both.
    fn record(&mut self, batch: &Batch) {
        let want = Validator::new(&self.open, &self.open_side.entries).batch(batch);
        let got = Validator::new(&self.frozen, &self.frozen_side.entries).batch(batch);
        let ops = match (want, got) {
            (Ok(want), Ok(got)) => {
                assert_eq!(got, want, "records of {batch:?}");
                want.ops
            }
            (Err(want), Err(got)) => {
                assert_eq!(got.to_string(), want.to_string(), "refusal of {batch:?}");
                return;
            }
            (want, got) => panic!("batch {batch:?}: open {want:?}, frozen {got:?}"),
        };
        if ops.is_empty() {
            return;
        }
        self.apply(&ops);
    }

    fn apply(&mut self, ops: &[LogOp]) {
        self.lsn += 1;
        let lsn = Lsn(self.lsn);
        self.open.apply(lsn, ops, &mut self.open_side).unwrap();
        self.frozen.apply(lsn, ops, &mut self.frozen_side).unwrap();
        if ops.iter().any(|op| matches!(op, LogOp::Index(_))) {
            self.open.finish_index_build();
            self.frozen.finish_index_build();
        }
    }

    /// Freezes month `m` of the frozen state (again, as a new version, when it is frozen).
    fn freeze(&mut self, m: Month) {
        self.freeze_during(m, |_| {});
    }

    /// Freezes month `m` as the freezer does while writes go on: the file is written from a
    /// snapshot, then `meanwhile` records batches (into `m` and elsewhere), the install is
    /// prepared against the state then, `meanwhile` records again, and the file is put in
    /// force; what they added stays in memory (the second round's orgs are redone under the
    /// lock, the others taken from the preparation). Then `meanwhile` records while the moved
    /// rows' entry ids leave the map in two steps.
    fn freeze_during(&mut self, m: Month, mut meanwhile: impl FnMut(&mut Twins)) {
        let version = self.versions.get(&m).map_or(1, |v| v + 1);
        let id = FileId {
            db_id: DB_ID,
            month: m,
            version,
        };
        let before = self.frozen.clone();
        let entry = freeze_month(&before, &StdFs, &self.dir, id).unwrap();
        let path = self.dir.join(entry.file_name());
        let file = FrozenFile::open(&StdFs, &path, &Expected::of(DB_ID, &entry)).unwrap();
        file.verify().unwrap();
        let base = FreezeBase::of(&before, m);
        drop(before);
        meanwhile(self);
        let prepared = self.frozen.prepare_install(&base, Prepared::default());
        meanwhile(self);
        // A second preparation reuses the first where nothing changed since; every other time
        // it also builds the balance shards as the install leaves them, and the applier notes
        // the orgs written after it, which the install redoes.
        let mut prepared = self.frozen.prepare_install(&base, prepared);
        self.freezes_during += 1;
        if self.freezes_during.is_multiple_of(2) {
            self.frozen_side.notes = Some(OrgNotes {
                since: self.frozen.lsn,
                ..OrgNotes::default()
            });
            self.frozen.prepare_shards(&base, &mut prepared);
        }
        meanwhile(self);
        let frozen = FrozenMonth {
            entry,
            file: Arc::new(file),
        };
        let rows_before = self.frozen.memory_rows(m);
        let installed = self
            .frozen
            .install_prepared(&mut self.frozen_side, frozen, base, prepared)
            .unwrap()
            .0;
        assert_eq!(installed.rows + installed.rows_kept, rows_before);
        assert_eq!(self.frozen.memory_rows(m), installed.rows_kept);
        assert_eq!(
            installed.shards_prepared,
            self.freezes_during.is_multiple_of(2)
        );
        // The moved rows' ids leave the entry map after the install, a chunk at a time: writes
        // meanwhile (re-sends, reversals and payments of those rows) are checked and applied as
        // on the twin.
        meanwhile(self);
        let chunk = 1 + installed.rows as usize / 2;
        if self.frozen_side.entries.settle(chunk) {
            meanwhile(self);
        }
        assert!(!self.frozen_side.entries.settle(usize::MAX));
        self.versions.insert(m, version);
        assert!(self.frozen.is_frozen(m));
    }
}

/// Every read touching ledger rows answers the same on both states.
#[allow(clippy::too_many_lines)]
fn check(t: &Twins, rng: &mut SplitMix64) {
    let (a, b) = (&t.open, &t.frozen);
    // Verification counts every row, files included; the entry maps hold the rows in memory.
    let want = a.verify(Some(&t.open_side.entries));
    let got = b.verify(Some(&t.frozen_side.entries));
    assert!(want.problems.is_empty(), "twin: {:?}", want.problems);
    assert!(got.problems.is_empty(), "frozen: {:?}", got.problems);
    assert_eq!(
        (got.entries, got.balance_rows, got.orgs),
        (want.entries, want.balance_rows, want.orgs)
    );
    assert_eq!(b.entry_count(), a.entry_count());
    assert_eq!(
        b.partitions_with_rows().unwrap(),
        a.partitions_with_rows().unwrap()
    );
    assert_eq!(
        a.partitions_with_rows().unwrap(),
        a.ledgers.keys().copied().collect::<Vec<_>>()
    );
    let all_months = months();
    let (first, last) = (all_months[0], *all_months.last().unwrap());
    let orgs: Vec<OrgId> = ORGS.iter().map(|o| OrgId(o.0)).collect();
    for &org in &orgs {
        let (from, to) = (first.first_day(), last.last_day());
        assert_eq!(
            b.balances(org, from, to).unwrap(),
            a.balances(org, from, to).unwrap()
        );
        assert_eq!(
            b.entries(org, MIN_TIMESTAMP, MAX_TIMESTAMP + 1).unwrap(),
            a.entries(org, MIN_TIMESTAMP, MAX_TIMESTAMP + 1).unwrap(),
            "entries of org {org}"
        );
        for limit in [1, 3, 40, folio::limits::MAX_REPORT_ROWS] {
            assert_eq!(
                b.pending_expenses(org, limit).unwrap(),
                a.pending_expenses(org, limit).unwrap(),
                "Q4 of org {org}, limit {limit}"
            );
        }
        for &m in &all_months {
            let (start, end) = (m.start_utc(), m.end_utc());
            assert_eq!(
                b.monthly_report(org, m).unwrap(),
                a.monthly_report(org, m).unwrap(),
                "Q2 of org {org} in {m}"
            );
            assert_eq!(
                b.month_totals(org, m).unwrap(),
                a.month_totals(org, m).unwrap()
            );
            let x = start - DAY + rng.below((end - start + 2 * DAY) as u64) as i64;
            let y = start - DAY + rng.below((end - start + 2 * DAY) as u64) as i64;
            for (from, to) in [
                (start, end),
                (start - DAY, start + DAY),
                (x.min(y), x.max(y) + 1),
            ] {
                assert_eq!(
                    b.entries(org, from, to).unwrap(),
                    a.entries(org, from, to).unwrap(),
                    "entries of org {org} in {from}..{to}"
                );
                for limit in [1, 4, 60] {
                    assert_eq!(
                        b.ledger_page(org, from, to, limit).unwrap(),
                        a.ledger_page(org, from, to, limit).unwrap(),
                        "Q3 of org {org} in {from}..{to}, limit {limit}"
                    );
                }
            }
            let days = days_of(m);
            for day in [days[0], *days.last().unwrap(), pick(rng, &days)] {
                assert_eq!(
                    b.daily_report(org, day).unwrap(),
                    a.daily_report(org, day).unwrap(),
                    "night audit of org {org} on {day}"
                );
            }
        }
    }
    let q = BalanceQuery::new(first.first_day(), last.last_day());
    assert_eq!(b.query_balances(&q).unwrap(), a.query_balances(&q).unwrap());
    for &m in &all_months {
        for limit in [1, 2, 3, 10] {
            assert_eq!(
                b.top_revenue(m, limit).unwrap(),
                a.top_revenue(m, limit).unwrap(),
                "Q5 of {m}, limit {limit}"
            );
        }
        assert_eq!(
            b.chain_revenue(&orgs, m).unwrap(),
            a.chain_revenue(&orgs, m).unwrap()
        );
    }
    // Typed queries: one month, or every month; page by page through their cursors.
    for i in 0..30 {
        let m = pick(rng, &all_months);
        let mut q = random_query(rng, m);
        if i % 3 == 0 {
            // Across every month (and both ledgers' partitions of each).
            q.time = None;
            q.days = None;
        }
        for _page in 0..5 {
            let want = a.query(&q);
            let got = b.query(&q);
            let (want, got) = match (want, got) {
                (Ok(want), Ok(got)) => (want, got),
                (Err(w), Err(g)) => {
                    assert_eq!(g.to_string(), w.to_string(), "refusal of {q:?}");
                    break;
                }
                (want, got) => panic!("query {q:?}: frozen {got:?}, twin {want:?}"),
            };
            assert_eq!(got.0, want.0, "query {q:?}");
            let (want_plan, got_plan) = (want.1, got.1);
            assert_eq!(got_plan.partitions, want_plan.partitions, "plan of {q:?}");
            assert_eq!(got_plan.partitions_total, want_plan.partitions_total);
            assert_eq!(got_plan.access, want_plan.access);
            assert_eq!(got_plan.estimated_rows, want_plan.estimated_rows);
            assert!(want_plan.frozen.is_empty());
            let text = got_plan.to_string();
            for pid in &got_plan.partitions {
                match b.frozen_version(pid.month) {
                    Some(v) => {
                        assert_eq!(got_plan.frozen_version(*pid), Some(v));
                        assert!(text.contains(&format!("{} frozen v{v}", pid.tree_name())));
                    }
                    None => {
                        assert_eq!(got_plan.frozen_version(*pid), None);
                        assert!(text.contains(&format!("{} open", pid.tree_name())));
                    }
                }
            }
            let next = match &want.0 {
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

fn register(seed: u64) -> Batch {
    let orgs = ORGS.iter().map(|&(id, tz, currency)| {
        let opening = Money(SplitMix64::hash(seed ^ id) as i64 % 1_000_000);
        Org::new(OrgId(id), format!("Hotel {id}"), currency)
            .with_time_zone(tz)
            .with_opening_balance(opening)
            .with_created_at(month(2023, 6).start_utc())
    });
    orgs.fold(Batch::new(), Batch::register_org)
}

fn run(seed: u64, batches: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Twins::new(dir.path());
    let mut rng = SplitMix64::new(seed ^ 0x0F_2EAD);
    let mut gen = Gen {
        rng: SplitMix64::new(seed),
        next_id: 0,
        posted: Vec::new(),
    };
    t.record(&register(seed));
    // A history with a busy org-month (index parts), then the first months frozen.
    let busy_at = gen.rng.below(batches as u64) as usize;
    for b in 0..batches {
        if b == busy_at {
            t.record(&gen.busy());
        }
        t.record(&gen.batch());
    }
    let all = months();
    let mut order: Vec<Month> = all.clone();
    // Freeze a few months in a random order; each step adds late rows, reversals and payments
    // of frozen rows, and new postings (the generator draws them over every month).
    for _ in 0..order.len() {
        let i = rng.below(order.len() as u64) as usize;
        order.swap(0, i);
    }
    for (step, m) in order.iter().take(4).enumerate() {
        match rng.below(2) {
            0 => t.freeze(*m),
            // Writes land while the file is written (rows of the month, reversals and payments
            // of its rows, day rows): they stay in memory beside the new file.
            _ => {
                let n = 1 + rng.below(6);
                t.freeze_during(*m, |t| {
                    for _ in 0..n {
                        t.record(&gen.batch());
                    }
                });
            }
        }
        check(&t, &mut rng);
        if step == 1 {
            // An index declared while months are frozen: the merged ledgers get its parts.
            let def = IndexDef::new(
                "revenues_by_day",
                Kind::Revenue,
                &[Column::Day],
                &[Column::Amount],
                None,
            );
            t.apply(&[LogOp::Index(def.record(true))]);
        }
        for _ in 0..3 + rng.below(10) {
            t.record(&gen.batch());
        }
        if rng.below(3) == 0 {
            t.record(&gen.busy());
        }
        check(&t, &mut rng);
        // Sometimes a frozen month with an overlay and patches is frozen again.
        let frozen: Vec<Month> = t.versions.keys().copied().collect();
        if rng.below(2) == 0 {
            let m = pick(&mut rng, &frozen);
            match rng.below(2) {
                0 => t.freeze(m),
                _ => t.freeze_during(m, |t| {
                    t.record(&gen.busy());
                    t.record(&gen.batch());
                }),
            }
            check(&t, &mut rng);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn every_read_of_frozen_months_equals_the_twin(seed in any::<u64>(), batches in 8usize..30) {
        run(seed, batches);
    }
}

/// A damaged frozen file: reads that need its damaged part fail with `Error::Corruption`, and
/// `verify` reports it; nothing panics.
#[test]
fn a_damaged_frozen_file_is_an_error_not_a_wrong_answer() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Twins::new(dir.path());
    let mut gen = Gen {
        rng: SplitMix64::new(19),
        next_id: 0,
        posted: Vec::new(),
    };
    t.record(&register(19));
    t.record(&gen.busy());
    for _ in 0..30 {
        t.record(&gen.batch());
    }
    let m = month(2024, 2);
    t.freeze(m);
    let name = t.frozen.frozen.get(m).unwrap().entry.file_name();
    let path = dir.path().join(name);
    // Damage every block (and the directory and top list) but the header and footer, which
    // the reader checked when it opened the file: a copy of the file, opened the same way.
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    for at in (256..len - 256).step_by(61) {
        bytes[at] ^= 0x5A;
    }
    let damaged_path = dir.path().join("damaged");
    std::fs::create_dir_all(&damaged_path).unwrap();
    let entry = t.frozen.frozen.get(m).unwrap().entry;
    let copy = damaged_path.join(entry.file_name());
    std::fs::write(&copy, &bytes).unwrap();
    let file = FrozenFile::open(&StdFs, &copy, &Expected::of(DB_ID, &entry)).unwrap();
    let mut state = t.frozen.clone();
    let mut set = (*state.frozen).clone();
    set.insert(
        m,
        FrozenMonth {
            entry,
            file: Arc::new(file),
        },
    );
    state.frozen = Arc::new(set);
    let corrupt = |r: &Error| matches!(r, Error::Corruption { .. });
    let mut errors = 0;
    for &(id, _, _) in &ORGS {
        let org = OrgId(id);
        let reads = [
            state.entries(org, m.start_utc(), m.end_utc()).err(),
            state.ledger_page(org, m.start_utc(), m.end_utc(), 5).err(),
            state.pending_expenses(org, 100).err(),
            state.monthly_report(org, m).err(),
            state.query(&Query::ledger().org(org)).err(),
        ];
        for e in reads.into_iter().flatten() {
            assert!(corrupt(&e), "{e}");
            errors += 1;
        }
    }
    for e in [
        state.top_revenue(m, 3).err(),
        state.query(&Query::revenues()).err(),
        state.partitions_with_rows().err(),
    ]
    .into_iter()
    .flatten()
    {
        assert!(corrupt(&e), "{e}");
        errors += 1;
    }
    assert!(errors > 0);
    assert!(!state.verify(None).problems.is_empty());
}
