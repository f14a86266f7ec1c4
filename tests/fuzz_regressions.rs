//! The fuzzers' seed corpus and their findings, as ordinary tests.
//!
//! * `seeds_<target>`: every input of `fuzz/seeds/<target>/` goes through the same harness as the
//!   cargo-fuzz target `<target>` (the harnesses live in `fuzz/src/` and are included below with
//!   `#[path]`), in-process and without libFuzzer: no panic, no failed harness check.
//! * One named test per crash found with the fuzz harnesses, reproducing it through the public
//!   API. Its minimized input is kept as `fuzz/seeds/<target>/crash-*` (replayed by
//!   `seeds_<target>` like every other seed) and listed in [`KNOWN_CRASHES`].

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod harness;

use folio::{Currency, Db, Lsn, Org, OrgId};
use std::path::{Path, PathBuf};

/// Minimized crash inputs kept in `fuzz/seeds/` and the regression test reproducing each.
const KNOWN_CRASHES: &[(&str, &str)] = &[
    (
        "checkpoint_decode/crash-store-checkpoint-lsn-u64-max",
        "store_checkpoint_lsn_u64_max_opens_without_panic",
    ),
    (
        "checkpoint_decode/crash-replica-base-lsn-u64-max",
        "replica_base_lsn_u64_max_opens_without_panic",
    ),
];

fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("seeds")
}

fn is_crash_input(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("crash-"))
}

fn seed_files(target: &str) -> Vec<PathBuf> {
    let dir = seed_dir().join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    files.sort();
    files
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "non-text panic".into())
}

/// Runs every seed of `target` through its harness.
fn replay(target: &str) {
    let mut ran = 0;
    let mut failures = Vec::new();
    for path in seed_files(target) {
        let data = std::fs::read(&path).expect("read a seed");
        match std::panic::catch_unwind(|| harness::run(target, &data)) {
            Ok(true) => ran += 1,
            Ok(false) => failures.push(format!("no harness for target {target}")),
            Err(payload) => failures.push(format!(
                "{}: {}",
                path.display(),
                panic_text(payload.as_ref())
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "seeds failed:\n{}",
        failures.join("\n")
    );
    assert!(ran > 0, "no seeds for {target}");
}

#[test]
fn seeds_frame_decode() {
    replay("frame_decode");
}

#[test]
fn seeds_log_recovery() {
    replay("log_recovery");
}

#[test]
fn seeds_ingest_line() {
    replay("ingest_line");
}

#[test]
fn seeds_store_value() {
    replay("store_value");
}

#[test]
fn seeds_checkpoint_decode() {
    replay("checkpoint_decode");
}

#[test]
fn seeds_model() {
    replay("model");
}

#[test]
fn seeds_frozen_read() {
    replay("frozen_read");
}

/// Every target has seeds, and every crash input is covered by a named test below.
#[test]
fn seed_corpus_is_complete() {
    let mut crash_inputs = Vec::new();
    for target in harness::TARGETS {
        for path in seed_files(target) {
            if is_crash_input(&path) {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
                crash_inputs.push(format!("{target}/{name}"));
            }
        }
    }
    let mut known: Vec<String> = KNOWN_CRASHES.iter().map(|(s, _)| s.to_string()).collect();
    known.sort();
    crash_inputs.sort();
    assert_eq!(
        crash_inputs, known,
        "crash inputs in fuzz/seeds vs KNOWN_CRASHES"
    );
}

// ------------------------------------------------------------------------ fuzzer findings

/// A closed database with one org: its store's checkpoint LSN is 1.
fn small_database(dir: &Path) {
    let db = Db::open(dir).expect("create");
    db.register_org(Org::new(OrgId(1), "Seaside Inn", Currency::EUR))
        .expect("register");
    db.close().expect("close");
}

/// Found by `checkpoint_decode` (input `[7, 5, 0xff x 8]`: a populated database whose store
/// holds the checkpoint LSN `u64::MAX`, with a valid checksum). `Db::open` panicked with
/// "attempt to add with overflow" in the replay closure of `src/db/open.rs` (`from.0 + 1`, then
/// line 73), computed from the store's checkpoint LSN before any check; folio's release profile
/// has `overflow-checks = true`, so release builds panicked too. Fixed in aa145bc: a checkpoint
/// LSN above `limits::MAX_LSN` makes the store rebuilt from the log.
#[test]
fn store_checkpoint_lsn_u64_max_opens_without_panic() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db");
    small_database(&dir);
    {
        let store = folio::store::Store::open(&dir.join("state")).expect("open the store");
        let checkpoint = folio::store::checkpoint::Snapshot {
            covers: Lsn(u64::MAX),
            ..Default::default()
        };
        store.write(&checkpoint).expect("write the checkpoint LSN");
    }
    let opened = std::panic::catch_unwind(|| Db::open(&dir).map(|db| db.visible_lsn()));
    match opened {
        Ok(Ok(lsn)) => assert_eq!(lsn, Lsn(1), "the log holds one batch"),
        Ok(Err(_)) => {}
        Err(payload) => panic!("Db::open panicked: {}", panic_text(payload.as_ref())),
    }
}

/// Found with the `checkpoint_decode` harness (input `[3]` + a 32-byte `BASE` whose LSN is
/// `u64::MAX`, checksum valid, in a checkpoint directory opened before, i.e. without
/// `MANIFEST.json`; the same with a recomputed manifest). `Db::open` panicked with "attempt to
/// add with overflow" at `src/db/open.rs:89` (`tail.end.next_lsn <= base.lsn + 1`, evaluated
/// whenever the replica's own log is empty), and `Db::verify` has the same addition
/// (`src/db/verify.rs`: `replica_of.map_or(1, |b| b + 1)`), so the test runs it too. Fixed in
/// aa145bc: `Base::read` refuses an LSN above `limits::MAX_LSN` as corruption.
#[test]
fn replica_base_lsn_u64_max_opens_without_panic() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let primary = tmp.path().join("db");
    let replica = tmp.path().join("replica");
    small_database(&primary);
    {
        let db = Db::open(&primary).expect("reopen");
        db.checkpoint_to(&replica).expect("checkpoint_to");
        db.close().expect("close");
    }
    let base = replica.join("BASE");
    let mut bytes = std::fs::read(&base).expect("read BASE");
    assert_eq!(bytes.len(), 32);
    bytes[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&bytes[0..12]);
    crc.update(&bytes[16..32]);
    bytes[12..16].copy_from_slice(&crc.finalize().to_le_bytes());
    std::fs::write(&base, &bytes).expect("write BASE");
    std::fs::remove_file(replica.join("MANIFEST.json")).expect("remove the manifest");
    let opened = std::panic::catch_unwind(|| {
        Db::open(&replica).map(|db| {
            let report = db.verify();
            (db.visible_lsn(), report.is_ok())
        })
    });
    if let Err(payload) = opened {
        panic!(
            "opening or verifying the replica panicked: {}",
            panic_text(payload.as_ref())
        );
    }
}
