//! `folio replica follow` killed at random points while it applies converges to the primary.

#![allow(clippy::unwrap_used)]
#[path = "../../tests/replica_common/mod.rs"]
mod replica_common;

use folio::Db;
use replica_common::{answers, primary_after_checkpoint};
use std::time::Duration;

/// Kills `folio replica follow` at random points while it applies, restarts it, and checks it
/// converges to the primary's answers exactly.
#[test]
fn an_edge_replica_killed_while_applying_converges() {
    let dir = tempfile::tempdir().unwrap();
    let (db, primary_dir, cp) = primary_after_checkpoint(dir.path(), 3000);
    let want = answers(&db);
    let head = db.visible_lsn();
    db.close().unwrap();
    let edge = dir.path().join("edge");
    let bin = env!("CARGO_BIN_EXE_folio");
    let wal = primary_dir.join("wal");
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for round in 0..6 {
        let mut child = std::process::Command::new(bin)
            .arg("--data")
            .arg(&edge)
            .args([
                "replica",
                "follow",
                "--once",
                "--interval-ms",
                "1",
                "--from",
            ])
            .arg(&cp)
            .arg("--log")
            .arg(&wal)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        // The first kills land early, most likely while the directory is being seeded.
        let wait = if round < 2 {
            1 + rng % 15
        } else {
            20 + rng % 150
        };
        std::thread::sleep(Duration::from_millis(wait));
        let _ = child.kill();
        let _ = child.wait();
        eprintln!("round {round}: killed");
    }
    let status = std::process::Command::new(bin)
        .arg("--data")
        .arg(&edge)
        .args(["replica", "--once", "--from"])
        .arg(&cp)
        .arg("--follow")
        .arg(&wal)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(!dir.path().join(".edge.seeding").exists());
    let replica = Db::open(&edge).unwrap();
    assert_eq!(replica.visible_lsn(), head);
    assert_eq!(answers(&replica), want);
    assert!(replica.verify().is_ok(), "{:?}", replica.verify().problems);
}
