//! Bad-input classes of docs/RELIABILITY.md not covered elsewhere: frame lengths 0 and
//! u32::MAX, frames out of LSN order, empty and header-only segment files, business days at DST
//! edges, non-UTF-8 and oversized ingest lines. Each ends in a typed error naming where, or in
//! a documented repair (a torn tail cut), never a panic or a half-read file.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use chrono::TimeZone;
use folio::{
    Batch, BusinessDay, Category, CorruptionKind, Currency, Db, Entry, EntryId, Error, Lsn, Money,
    Options, Org, OrgId, PaymentMethod,
};
use folio_workload::ingest::{ingest_file, IngestOptions};
use std::fs;
use std::path::{Path, PathBuf};

mod common;

const SEGMENT_HEADER: usize = 40;
const FRAME_HEADER: usize = 24;

/// Registers org 1 (LSN 1) and records `n` one-posting batches (LSNs 2..).
fn post(db: &Db, n: u64) {
    db.register_org(Org::new(OrgId(1), "A", Currency::EUR))
        .unwrap();
    for i in 1..=n {
        let e = Entry::revenue(
            OrgId(1),
            EntryId(i),
            1_704_067_200 + i as i64 * 3_600,
            Money(100 * i as i64),
            Category::Rooms,
            PaymentMethod::Card,
        );
        db.record(Batch::new().post(e)).unwrap();
    }
}

/// A closed database with orgs registered (LSN 1) and `n` one-posting batches (LSNs 2..),
/// its store removed so that opening reads the whole log.
fn database(dir: &Path, n: u64) -> PathBuf {
    let db = Db::open(dir).unwrap();
    post(&db, n);
    db.close().unwrap();
    fs::remove_dir_all(dir.join("state")).unwrap();
    dir.join("wal").join("00000000000000000001.log")
}

/// (offset, length incl. padding) of every frame of a segment.
fn frames(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = SEGMENT_HEADER;
    while at + FRAME_HEADER <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let total = (FRAME_HEADER + len).div_ceil(8) * 8;
        out.push((at, total));
        at += total;
    }
    out
}

/// The state after a crash before any checkpoint: no store, no durable mark, so nothing shows
/// which frames were acknowledged.
fn forget_what_was_acknowledged(dir: &Path) {
    let _ = fs::remove_dir_all(dir.join("state"));
    fs::remove_file(dir.join("DURABLE")).unwrap();
}

fn corruption_at(result: folio::Result<Db>, file: &Path, offset: u64) -> CorruptionKind {
    match result {
        Err(Error::Corruption {
            file: f,
            offset: o,
            kind,
        }) => {
            assert_eq!((f.as_path(), o), (file, offset), "{kind:?}");
            kind
        }
        Err(e) => panic!("expected corruption at {offset}, got {e}"),
        Ok(db) => panic!("opened at LSN {}", db.visible_lsn().0),
    }
}

#[test]
fn frame_lengths_zero_and_u32_max_are_corruption_mid_log_and_a_torn_tail_at_the_end() {
    for value in [0u32, u32::MAX] {
        for which in [2usize, 5] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("db");
            let segment = database(&dir, 5);
            let mut bytes = fs::read(&segment).unwrap();
            let f = frames(&bytes);
            let (at, _) = f[which];
            bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
            fs::write(&segment, &bytes).unwrap();
            if which + 1 < f.len() {
                corruption_at(Db::open(&dir), &segment, at as u64);
                assert_eq!(fs::read(&segment).unwrap(), bytes, "the log was changed");
            } else {
                // The last frame: acknowledged (the close's checkpoint covers it), so damage,
                // not a torn tail, and nothing is changed.
                corruption_at(Db::open(&dir), &segment, at as u64);
                assert_eq!(fs::read(&segment).unwrap(), bytes, "the log was changed");
                // Nothing known durable (a crash before any checkpoint): a torn tail, cut.
                forget_what_was_acknowledged(&dir);
                let db = Db::open(&dir).unwrap();
                assert_eq!(db.visible_lsn(), Lsn(which as u64), "length {value}");
                assert!(db.recovery().truncated_bytes > 0);
                assert_eq!(
                    db.entries(OrgId(1), 0, i64::MAX / 4).unwrap().len(),
                    which - 1
                );
            }
        }
    }
}

#[test]
fn frames_out_of_lsn_order_are_corruption_naming_the_first_misplaced_frame() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let segment = database(&dir, 5);
    let bytes = fs::read(&segment).unwrap();
    let f = frames(&bytes);
    let piece = |i: usize| &bytes[f[i].0..f[i].0 + f[i].1];
    let mut swapped = bytes[..SEGMENT_HEADER].to_vec();
    for i in [0, 1, 3, 2, 4, 5] {
        swapped.extend_from_slice(piece(i));
    }
    fs::write(&segment, &swapped).unwrap();
    let kind = corruption_at(Db::open(&dir), &segment, f[2].0 as u64);
    assert!(
        matches!(
            kind,
            CorruptionKind::LsnGap {
                expected: Lsn(3),
                found: Lsn(4)
            }
        ),
        "{kind:?}"
    );
}

#[test]
fn an_empty_or_header_only_next_segment_is_a_torn_rotation_and_the_log_continues() {
    for keep in [0usize, SEGMENT_HEADER / 2, SEGMENT_HEADER] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        let first = database(&dir, 3);
        // The next segment as a rotation would create it (header: db id, first LSN 5, chain).
        let next = dir.join("wal").join("00000000000000000005.log");
        let db = Db::open_with(&dir, folio::Options::default().segment_target_bytes(1)).unwrap();
        let e = Entry::revenue(
            OrgId(1),
            EntryId(99),
            1_704_067_200,
            Money(1),
            Category::Rooms,
            PaymentMethod::Card,
        );
        db.record(Batch::new().post(e)).unwrap();
        db.close().unwrap();
        let full = fs::read(&next).unwrap();
        fs::write(&next, &full[..keep]).unwrap();
        // LSN 5 was acknowledged (the close's checkpoint covers it): its segment is damage.
        assert!(matches!(Db::open(&dir), Err(Error::Corruption { .. })));
        assert_eq!(
            fs::read(&next).unwrap(),
            &full[..keep],
            "the segment was changed"
        );
        // A crash right after the rotation, before any checkpoint: a torn rotation.
        forget_what_was_acknowledged(&dir);
        let db = Db::open(&dir).unwrap();
        assert_eq!(
            db.visible_lsn(),
            Lsn(4),
            "{keep} bytes of the new segment kept"
        );
        let e = Entry::revenue(
            OrgId(1),
            EntryId(100),
            1_704_067_200,
            Money(2),
            Category::Rooms,
            PaymentMethod::Card,
        );
        assert_eq!(db.record(Batch::new().post(e)).unwrap(), Lsn(5));
        db.close().unwrap();
        let db = Db::open(&dir).unwrap();
        assert_eq!(db.visible_lsn(), Lsn(5));
        assert!(db.verify().problems.is_empty());
        assert!(first.exists());
    }
}

#[test]
fn business_days_at_dst_edges_follow_the_local_calendar() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path().join("db")).unwrap();
    let zones = [
        "America/New_York",
        "Europe/London",
        "Australia/Lord_Howe",
        "America/St_Johns",
    ];
    let mut batch = Batch::new();
    for (i, tz) in zones.iter().enumerate() {
        batch = batch.register_org(
            Org::new(OrgId(i as u64 + 1), format!("Hotel {tz}"), Currency::EUR)
                .with_time_zone(*tz)
                .with_created_at(1_700_000_000),
        );
    }
    db.record(batch).unwrap();
    // Every quarter hour around the 2024 transitions of each zone (±3 h of local midnight and
    // of the switch itself).
    let mut id = 0u64;
    let mut expected = Vec::new();
    for (i, tz) in zones.iter().enumerate() {
        let zone: chrono_tz::Tz = tz.parse().unwrap();
        let org = OrgId(i as u64 + 1);
        let mut posts = Batch::new();
        for center in [
            1_710_054_000i64,
            1_711_846_800,
            1_712_455_200,
            1_727_568_000,
            1_730_613_600,
        ] {
            for step in -24..=24 {
                let ts = center + step * 900;
                id += 1;
                posts = posts.post(Entry::revenue(
                    org,
                    EntryId(id),
                    ts,
                    Money(1),
                    Category::Rooms,
                    PaymentMethod::Card,
                ));
                let local = zone.timestamp_opt(ts, 0).unwrap().date_naive();
                let day = local
                    .signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap());
                expected.push((
                    org,
                    EntryId(id),
                    BusinessDay::from_days(day.num_days() as i32).expect("day"),
                ));
            }
        }
        db.record(posts).unwrap();
    }
    for (org, id, day) in expected {
        let entries = db.entries(org, 0, i64::MAX / 4).unwrap();
        let e = entries.iter().find(|e| e.id == id).unwrap();
        assert_eq!(e.day, day, "org {org:?} entry {id:?} at {}", e.occurred_at);
    }
    assert!(db.verify().problems.is_empty());
}

#[test]
fn non_utf8_and_oversized_ingest_lines_are_refused_with_their_line_number_and_load_nothing() {
    let good = r#"{"entry_id":1,"org_id":1,"kind":"revenue","occurred_at":1704067218,"amount":719,"category":"rooms","payment_method":"cash","status":null}"#;
    let bad_lines: Vec<Vec<u8>> = vec![
        b"{\"entry_id\":2,\"org_id\":1,\"kind\":\"rev\xffnue\"}".to_vec(),
        format!(
            "{{\"entry_id\":2,\"org_id\":1,\"kind\":\"revenue\",\"occurred_at\":1704067218,\"amount\":{},\"category\":\"rooms\",\"payment_method\":\"cash\",\"status\":null}}",
            "9".repeat(40)
        )
        .into_bytes(),
        vec![b'x'; 4 << 20],
    ];
    for bad in bad_lines {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(tmp.path().join("db")).unwrap();
        let file = tmp.path().join("events.jsonl");
        let mut bytes = good.as_bytes().to_vec();
        bytes.push(b'\n');
        bytes.extend_from_slice(&bad);
        bytes.push(b'\n');
        fs::write(&file, &bytes).unwrap();
        let options = IngestOptions {
            batch: 1000,
            auto_org: Some(Currency::USD),
            format: None,
        };
        let err = ingest_file(&db, &file, &options, |_| {}).unwrap_err();
        let text = err.to_string();
        assert!(text.contains('2'), "the error names line 2: {text}");
        assert!(text.len() < 1_000, "the error does not echo the whole line");
        assert_eq!(
            db.visible_lsn(),
            Lsn(0),
            "{text}: nothing of the batch was recorded"
        );
    }
}

/// A checkpoint directory (see docs/REPLICAS.md) of a small database.
fn checkpoint_dir(tmp: &Path) -> PathBuf {
    let primary = tmp.join("db");
    database(&primary, 3);
    let db = Db::open(&primary).unwrap();
    let out = tmp.join("checkpoint");
    db.checkpoint_to(&out).unwrap();
    db.close().unwrap();
    out
}

#[test]
fn a_manifest_naming_files_outside_the_checkpoint_is_refused_without_reading_them() {
    for listed in ["/dev/zero", "../db/FOLIO", "state/../../db/FOLIO", ""] {
        let tmp = tempfile::tempdir().unwrap();
        let out = checkpoint_dir(tmp.path());
        let manifest_path = out.join("MANIFEST.json");
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&fs::read(&manifest_path).unwrap()).unwrap();
        manifest["body"]["files"][0]["path"] = serde_json::json!(listed);
        manifest["body"]["files"][0]["len"] = serde_json::json!(1u64 << 40);
        let body = serde_json::to_vec(&manifest["body"]).unwrap();
        manifest["crc32"] = serde_json::json!(crc32fast::hash(&body));
        fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
        match Db::open(&out) {
            Err(Error::Replica(folio::ReplicaError::BadCheckpoint { why, .. })) => {
                assert!(
                    why.contains("outside") || why.contains("regular"),
                    "{listed}: {why}"
                )
            }
            Err(e) => panic!("{listed}: expected a bad checkpoint, got {e}"),
            Ok(_) => panic!("{listed}: opened"),
        }
    }
}

#[test]
fn a_replica_whose_store_is_gone_is_refused_rather_than_opened_empty() {
    for drop_log in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let out = checkpoint_dir(tmp.path());
        Db::open(&out).unwrap().close().unwrap(); // first open: manifest checked and removed
        fs::remove_dir_all(out.join("state")).unwrap();
        if drop_log {
            for f in fs::read_dir(out.join("wal")).unwrap() {
                fs::remove_file(f.unwrap().path()).unwrap();
            }
        }
        match Db::open(&out) {
            Err(Error::Replica(folio::ReplicaError::BadCheckpoint { why, .. })) => {
                assert!(why.contains("continues from LSN 4"), "{why}")
            }
            // Its own log starts after the base: replaying it from LSN 1 finds the gap.
            Err(Error::Corruption { kind, .. }) if !drop_log => {
                assert!(matches!(kind, CorruptionKind::LsnGap { .. }), "{kind:?}")
            }
            Err(e) => panic!("expected a bad checkpoint, got {e}"),
            Ok(db) => panic!("opened at LSN {}", db.visible_lsn().0),
        }
    }
}

/// A closed database of `n` one-posting batches in many small segments; returns its segments.
fn segmented(dir: &Path, n: u64) -> Vec<PathBuf> {
    let options = Options::default().segment_target_bytes(200);
    let db = Db::open_with(dir, options).unwrap();
    post(&db, n);
    db.close().unwrap();
    let mut segments: Vec<PathBuf> = fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segments.sort();
    segments
}

#[test]
fn a_deleted_segment_or_log_directory_is_corruption_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = tmp.path().join("db");
    let segments = segmented(&pristine, 40);
    assert!(segments.len() >= 5, "{} segments", segments.len());
    let wal = pristine.join("wal");
    let mid = segments.len() / 2;
    let cases = [
        ("first segment", segments[0].clone(), segments[1].clone()),
        (
            "middle segment",
            segments[mid].clone(),
            segments[mid + 1].clone(),
        ),
        (
            "last segment",
            segments[segments.len() - 1].clone(),
            segments[segments.len() - 2].clone(),
        ),
        ("log directory", wal.clone(), wal.clone()),
    ];
    for store_kept in [true, false] {
        for (what, victim, named) in &cases {
            let case = format!("{what} deleted, store kept: {store_kept}");
            let dir = tmp.path().join("case");
            let _ = fs::remove_dir_all(&dir);
            common::copy_dir(&pristine, &dir);
            let moved = |p: &Path| dir.join(p.strip_prefix(&pristine).unwrap());
            if victim.is_dir() {
                fs::remove_dir_all(moved(victim)).unwrap();
            } else {
                fs::remove_file(moved(victim)).unwrap();
            }
            if !store_kept {
                fs::remove_dir_all(dir.join("state")).unwrap();
            }
            let before = common::files(&dir);
            for options in [Options::default(), Options::read_only()] {
                match Db::open_with(&dir, options) {
                    Err(Error::Corruption { file, .. }) => {
                        assert_eq!(file, moved(named), "{case}")
                    }
                    Err(e) => panic!("{case}: expected corruption, got {e}"),
                    Ok(db) => panic!("{case}: opened at LSN {}", db.visible_lsn()),
                }
                assert_eq!(common::files(&dir), before, "{case}: files changed");
            }
        }
    }
}
