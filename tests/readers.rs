//! Read-only opens beside a writer (`LOCK.read`, the read gate): a reader opens while another
//! handle writes — checkpoints, freezes and re-freezes that remove replaced files, store
//! compactions — and answers exactly as the writer did at the LSN it opened at; a writer opens
//! while readers are open; a directory without a gate file keeps the old rule (readers exclude a
//! writer).
#![allow(clippy::unwrap_used)]

use folio::{
    Batch, BusinessDay, Category, Currency, Db, Entry, EntryId, Error, Lsn, Money, Options, Org,
    OrgId, PaymentMethod, SplitMix64,
};
use std::path::Path;

const ORGS: u64 = 5;
/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200;
const DAY: i64 = 86_400;

fn register(db: &Db) {
    let mut b = Batch::new();
    for o in 1..=ORGS {
        b = b.register_org(
            Org::new(OrgId(o), format!("h{o}"), Currency::EUR)
                .with_opening_balance(Money(100 * o as i64)),
        );
    }
    db.record(b).unwrap();
}

fn revenue(rng: &mut SplitMix64, id: u64, at: i64) -> Entry {
    Entry::revenue(
        OrgId(1 + rng.below(ORGS)),
        EntryId(id),
        at,
        Money(1 + rng.below(10_000) as i64),
        Category::Rooms,
        PaymentMethod::Card,
    )
}

/// What a reader is checked on: every org's balances over the whole history and its rows.
fn answers(db: &Db) -> Vec<String> {
    let (first, last) = (
        BusinessDay::from_ymd(2023, 12, 31).unwrap(),
        BusinessDay::from_ymd(2025, 1, 1).unwrap(),
    );
    let mut out = Vec::new();
    for o in 1..=ORGS {
        let org = OrgId(o);
        out.push(format!("{:?}", db.balances(org, first, last).unwrap()));
        out.push(format!(
            "{:?}",
            db.entries(org, T0 - DAY, T0 + 400 * DAY).unwrap()
        ));
    }
    out
}

/// Options of a writer that checkpoints, freezes and compacts its store often.
fn busy_writer() -> Options {
    Options::default()
        .shards(4)
        .checkpoint_every_ops(40)
        .checkpoint_interval(std::time::Duration::from_millis(20))
        .auto_freeze(true)
        .memory_budget(1 << 20)
        .store_compaction_floor(1)
        .store_compaction_dead_percent(0)
}

/// The batches a writer records: months of postings in order, with late postings into months
/// the freezer has frozen, and an explicit freeze now and then (which settles: replaced files go).
fn write(db: &Db, batches: usize, seed: u64) -> Vec<(Lsn, Batch)> {
    let mut rng = SplitMix64::new(seed);
    let mut done = Vec::new();
    for step in 0..batches {
        // Three batches a day.
        let day = step / 3;
        let mut batch = Batch::new();
        for k in 0..4 {
            let id = (step * 4 + k) as u64 + 1;
            let at = match rng.below(4) {
                // A late posting anywhere in the history so far.
                0 => T0 + rng.below(day as u64 + 1) as i64 * DAY,
                _ => T0 + day as i64 * DAY + rng.below(DAY as u64) as i64,
            };
            batch = batch.post(revenue(&mut rng, id, at));
        }
        let lsn = db.record(batch.clone()).unwrap();
        done.push((lsn, batch));
        if step % 270 == 269 {
            db.freeze(None).unwrap();
        }
    }
    done
}

/// A reader's view: the LSN it opened at and its answers there.
struct Seen {
    lsn: Lsn,
    answers: Vec<String>,
}

#[test]
fn readers_open_beside_a_busy_writer_and_answer_as_it_did_at_their_lsn() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("db");
    let db = Db::open_with(&path, busy_writer()).unwrap();
    register(&db);
    let registered = db.visible_lsn();
    let mut seen: Vec<Seen> = Vec::new();
    let written = std::thread::scope(|s| {
        let writer = s.spawn(|| write(&db, 1_200, 11));
        let mut opens = 0;
        while !writer.is_finished() || opens < 3 {
            let reader = Db::open_with(&path, Options::read_only()).unwrap();
            let report = reader.recovery().clone();
            assert!(report.read_only && report.beside_writer, "{report:?}");
            assert!(report.torn.is_empty(), "{report:?}");
            assert!(reader.visible_lsn() >= registered);
            if opens % 8 == 0 {
                let verified = reader.verify();
                assert!(verified.problems.is_empty(), "{:?}", verified.problems);
            }
            let refused = reader.record(Batch::new()).unwrap_err();
            assert!(matches!(refused, Error::ReadOnly { .. }), "{refused}");
            seen.push(Seen {
                lsn: reader.visible_lsn(),
                answers: answers(&reader),
            });
            opens += 1;
        }
        writer.join().unwrap()
    });
    let frozen = db
        .months()
        .unwrap()
        .iter()
        .filter(|m| m.file.is_some())
        .count();
    assert!(frozen >= 6, "the writer froze {frozen} months");
    db.close().unwrap();
    eprintln!(
        "readers: {}, distinct LSNs: {}, frozen months: {frozen}",
        seen.len(),
        seen.iter()
            .map(|v| v.lsn)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );
    assert!(seen.len() >= 3);
    assert!(
        seen.iter().any(|v| v.lsn > registered),
        "no reader saw a batch"
    );

    // The reference: a twin given the same batches, compared at each reader's LSN.
    seen.sort_by_key(|v| v.lsn);
    let twin = Db::open_with(tmp.path().join("twin"), Options::default().shards(4)).unwrap();
    register(&twin);
    let mut next = written.iter().peekable();
    for view in &seen {
        while let Some((_, batch)) = next.next_if(|(lsn, _)| *lsn <= view.lsn) {
            twin.record(batch.clone()).unwrap();
        }
        assert_eq!(
            answers(&twin),
            view.answers,
            "a reader at LSN {} answered otherwise",
            view.lsn
        );
    }
}

#[test]
fn a_writer_opens_while_a_reader_is_open_and_the_reader_keeps_its_view() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("db");
    let db = Db::open_with(&path, busy_writer()).unwrap();
    register(&db);
    write(&db, 360, 3);
    db.close().unwrap();
    let reader = Db::open_with(&path, Options::read_only()).unwrap();
    assert!(!reader.recovery().beside_writer);
    let before = answers(&reader);
    // The writer opens (recovery, compaction at open, `frozen/` aligned) and writes on: late
    // postings into frozen January re-freeze it, and the settle removes the version the reader
    // maps.
    let db = Db::open_with(&path, busy_writer()).unwrap();
    let january = |db: &Db| {
        db.months()
            .unwrap()
            .iter()
            .find(|m| m.month == folio::Month::new(2024, 1).unwrap())
            .and_then(|m| m.file)
            .map(|(version, _, _)| version)
    };
    let before_version = january(&db).expect("January frozen");
    let mut rng = SplitMix64::new(5);
    for step in 0..40u64 {
        let at = match step % 2 {
            0 => T0 + (step % 28) as i64 * DAY,
            _ => T0 + 125 * DAY + step as i64 * DAY,
        };
        db.record(Batch::new().post(revenue(&mut rng, 10_000 + step, at)))
            .unwrap();
    }
    db.freeze(None).unwrap();
    let after_version = january(&db).expect("January frozen");
    assert!(after_version > before_version);
    let replaced = path.join(format!("frozen/2024-01.v{before_version}.frz"));
    assert!(!replaced.exists(), "{}", replaced.display());
    assert_eq!(answers(&reader), before, "the reader's view moved");
    let verified = reader.verify();
    assert!(verified.problems.is_empty(), "{:?}", verified.problems);
    // A checkpoint of the reader's view takes the removed file from its mapping.
    let out = tmp.path().join("copy");
    reader.checkpoint_to(&out).unwrap();
    let copy = Db::open_with(&out, Options::read_only()).unwrap();
    assert_eq!(answers(&copy), before);
    assert!(copy.verify().problems.is_empty());
    drop(copy);
    // A second reader sees the writer's batches.
    let second = Db::open_with(&path, Options::read_only()).unwrap();
    assert!(second.recovery().beside_writer);
    assert_eq!(second.visible_lsn(), db.visible_lsn());
    assert_eq!(answers(&second), answers(&db));
    drop(second);
    drop(reader);
    db.close().unwrap();
}

#[test]
fn without_a_gate_file_readers_exclude_a_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("db");
    let db = Db::open_with(&path, Options::default().shards(2)).unwrap();
    register(&db);
    db.close().unwrap();
    std::fs::remove_file(path.join("LOCK.read")).unwrap();
    let reader = Db::open_with(&path, Options::read_only()).unwrap();
    assert!(!reader.recovery().beside_writer);
    let err = Db::open_with(&path, Options::default()).unwrap_err();
    assert!(
        matches!(&err, Error::Locked { path: p } if *p == path),
        "{err:?}"
    );
    drop(reader);
    // Once the reader is gone the writer opens, and the gate file is back.
    Db::open_with(&path, Options::default())
        .unwrap()
        .close()
        .unwrap();
    assert!(path.join("LOCK.read").exists());
}

#[test]
fn a_second_writer_is_still_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path: &Path = &tmp.path().join("db");
    let db = Db::open_with(path, Options::default().shards(2)).unwrap();
    let err = Db::open_with(path, Options::default()).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err:?}");
    db.close().unwrap();
}

#[test]
fn a_read_only_open_removes_the_store_copies_of_processes_that_are_gone() {
    let tmp = tempfile::tempdir().unwrap();
    let path: &Path = &tmp.path().join("db");
    let db = Db::open_with(path, Options::default().shards(2)).unwrap();
    register(&db);
    db.close().unwrap();
    // A copy a killed reader left (a process id above the kernel's largest: no such process),
    // and one of a process that runs (init's).
    let max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Copies go to the temporary directory, or to /dev/shm when the store fits in memory.
    let mut places = vec![std::env::temp_dir()];
    let shm = Path::new("/dev/shm");
    if std::env::var_os("TMPDIR").is_none() && shm.is_dir() {
        places.push(shm.to_path_buf());
    }
    for temp in &places {
        let gone = temp.join(format!("folio-read-only-{}-0", max + 1));
        let running = temp.join("folio-read-only-1-7");
        for dir in [&gone, &running] {
            std::fs::create_dir_all(dir.join("blobs")).unwrap();
            std::fs::write(dir.join("db"), b"sled's files").unwrap();
        }
        let reader = Db::open_with(path, Options::read_only()).unwrap();
        assert_eq!(reader.snapshot().orgs().unwrap().len(), ORGS as usize);
        reader.close().unwrap();
        let (gone_exists, running_exists) = (gone.exists(), running.exists());
        let _ = std::fs::remove_dir_all(&gone);
        let _ = std::fs::remove_dir_all(&running);
        assert!(
            !gone_exists,
            "{temp:?}: the dead process's copy was removed"
        );
        assert!(running_exists, "{temp:?}: a running process's copy is kept");
    }
}
