//! `folio replica follow` killed at random points while it applies converges to the primary.

#![allow(clippy::unwrap_used)]
use folio::{
    Batch, BusinessDay, Category, Currency, Db, Entry, EntryId, Money, Org, OrgId, PaymentMethod,
};
use std::time::Duration;

const ORGS: u64 = 8;
const DAY0: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z

/// Batch `n`: four postings over the orgs, revenues and expenses, spread over 40 days.
fn batch(n: u64) -> (Batch, Vec<(OrgId, i64)>) {
    let mut b = Batch::new();
    let mut effects = Vec::new();
    for k in 0..4u64 {
        let org = OrgId(1 + (n * 4 + k) % ORGS);
        let id = EntryId(n * 4 + k + 1);
        let at = DAY0 + ((n * 7919 + k * 104_729) % (40 * 86_400)) as i64;
        let amount = 100 + ((n * 31 + k * 17) % 9_000) as i64;
        let entry = if (n + k).is_multiple_of(3) {
            Entry::expense(
                org,
                id,
                at,
                Money(amount),
                Category::Supplies,
                PaymentMethod::Card,
                folio::ExpenseStatus::Paid,
            )
        } else {
            Entry::revenue(
                org,
                id,
                at,
                Money(amount),
                Category::Rooms,
                PaymentMethod::Cash,
            )
        };
        let signed = if (n + k).is_multiple_of(3) {
            -amount
        } else {
            amount
        };
        effects.push((org, signed));
        b = b.post(entry);
    }
    (b, effects)
}

fn setup(dir: &std::path::Path) -> Db {
    let db = Db::open(dir).unwrap();
    for o in 1..=ORGS {
        db.register_org(Org::new(OrgId(o), format!("Hotel {o}"), Currency::EUR))
            .unwrap();
    }
    db
}

fn answers(db: &Db) -> Vec<(OrgId, Money, usize)> {
    let last = BusinessDay::parse("2024-03-31").unwrap();
    (1..=ORGS)
        .map(|o| {
            (
                OrgId(o),
                db.balance(OrgId(o), last).unwrap().closing,
                db.entries(OrgId(o), DAY0 - 1, DAY0 + 100 * 86_400)
                    .unwrap()
                    .len(),
            )
        })
        .collect()
}

/// Kills `folio replica follow` at random points while it applies, restarts it, and checks it
/// converges to the primary's answers exactly.
#[test]
fn an_edge_replica_killed_while_applying_converges() {
    let dir = tempfile::tempdir().unwrap();
    let primary_dir = dir.path().join("primary");
    let db = setup(&primary_dir);
    let cp = dir.path().join("cp");
    db.checkpoint_to(&cp).unwrap();
    for n in 0..3000 {
        db.record(batch(n).0).unwrap();
    }
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
