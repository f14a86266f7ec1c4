//! Damage to an acknowledged log on the simulated disk: a segment truncated at every frame
//! boundary and inside every frame, each segment deleted, the log directory deleted, a flipped
//! byte in the last frame — with the durable mark (what a checkpoint showed acknowledged) ahead
//! of the damage and behind it. Each case either opens with every batch the mark shows
//! acknowledged, the cut reported, or fails with `Error::Corruption` and leaves every file of
//! the simulated disk byte-identical.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod harness;

use folio::io::sim::{CrashKind, Image, SimFs};
use folio::{Batch, Currency, Db, Error, Org, OrgId};
use harness::{db_path, hourly_revenue, options, scratch};
use std::path::{Path, PathBuf};

const N: u64 = 24;

/// The database after LSN `N` (org at LSN 1), closed (mark `N`), and as a crash left it after a
/// checkpoint at `N - 1` and batch `N` (mark `N - 1`); with the path it lived at.
fn images() -> (Image, Image, PathBuf, tempfile::TempDir) {
    let sim = SimFs::new();
    let dir = scratch();
    let path = db_path(&dir);
    let db = Db::open_with(&path, options(&sim)).unwrap();
    db.register_org(Org::new(OrgId(1), "Inn", Currency::EUR))
        .unwrap();
    for i in 2..=N {
        let entry = hourly_revenue(i).with_reference("x".repeat(200));
        if i == N {
            db.checkpoint().unwrap();
        }
        db.record(Batch::new().post(entry)).unwrap();
    }
    let crashed = sim.image(sim.mutations(), CrashKind::Synced, 0);
    db.close().unwrap();
    (sim.live(), crashed, path, dir)
}

fn segments(image: &Image, path: &Path) -> Vec<PathBuf> {
    let wal = path.join("wal");
    image
        .files
        .keys()
        .filter(|p| p.parent() == Some(wal.as_path()))
        .cloned()
        .collect()
}

/// (offset, length) of every frame of a segment's bytes.
fn frames(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 40;
    while at + 24 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let total = (24 + len).div_ceil(8) * 8;
        out.push((at, total));
        at += total;
    }
    out
}

/// Opens `image` (of a database at `origin`) on a fresh simulated disk without a store:
/// `Ok(lsn, frames cut)` or the corruption error, after checking that a refused open changed
/// no file.
fn open(image: &Image, origin: &Path, case: &str) -> Result<(u64, u64), Error> {
    let dir = scratch();
    let path = db_path(&dir);
    let image = image.rebased(origin, &path);
    let sim = SimFs::from_image(&image);
    match Db::open_with(&path, options(&sim)) {
        Ok(db) => Ok((db.visible_lsn().0, db.recovery().truncated_frames)),
        Err(e @ Error::Corruption { .. }) => {
            let after = sim.live();
            assert_eq!(
                after.files, image.files,
                "{case}: a refused open changed files ({e})"
            );
            Err(e)
        }
        Err(e) => panic!("{case}: expected corruption, got {e}"),
    }
}

#[test]
fn damage_below_the_durable_mark_is_refused_unchanged_and_above_it_is_cut_and_reported() {
    let (closed, crashed, origin, _dir) = images();
    let segs = segments(&closed, &origin);
    assert!(segs.len() >= 3, "{} segments", segs.len());
    let last = segs.last().unwrap().clone();
    let bytes = closed.files[&last].clone();
    let fr = frames(&bytes);
    let (last_at, last_len) = *fr.last().unwrap();

    // Mark at N: every cut of the last segment, at a frame boundary or inside a frame, and a
    // flipped byte in its last frame, lose acknowledged batches.
    let mut cuts: Vec<usize> = fr.iter().map(|f| f.0).collect();
    cuts.extend(
        fr.iter()
            .flat_map(|f| [f.0 + 1, f.0 + f.1 / 2, f.0 + f.1 - 1]),
    );
    for cut in cuts {
        let mut image = closed.clone();
        image.files.get_mut(&last).unwrap().truncate(cut);
        let case = format!("mark {N}, last segment cut at {cut}");
        assert!(open(&image, &origin, &case).is_err(), "{case}: opened");
    }
    for at in [last_at + 4, last_at + 24, last_at + last_len - 9] {
        let mut image = closed.clone();
        image.files.get_mut(&last).unwrap()[at] ^= 0x20;
        let case = format!("mark {N}, byte {at} of the last frame flipped");
        assert!(open(&image, &origin, &case).is_err(), "{case}: opened");
    }
    for seg in &segs {
        let mut image = closed.clone();
        image.files.remove(seg);
        let case = format!("mark {N}, {} deleted", seg.display());
        assert!(open(&image, &origin, &case).is_err(), "{case}: opened");
    }
    let mut image = closed.clone();
    for seg in &segs {
        image.files.remove(seg);
    }
    image.dirs.remove(&origin.join("wal"));
    assert!(open(&image, &origin, "log directory deleted").is_err());

    // Mark at N - 1 (a crash after batch N): frame N may never have been acknowledged, so damage
    // to it is a torn tail, cut and reported; damage below it is still refused.
    let bytes = crashed.files[&last].clone();
    let fr = frames(&bytes);
    let (last_at, last_len) = *fr.last().unwrap();
    for cut in [last_at + 1, last_at + last_len / 2, last_at + last_len - 1] {
        let mut image = crashed.clone();
        image.files.get_mut(&last).unwrap().truncate(cut);
        let case = format!("mark {}, frame {N} cut at {cut}", N - 1);
        let (lsn, cut_frames) =
            open(&image, &origin, &case).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!((lsn, cut_frames), (N - 1, 1), "{case}");
    }
    for at in [last_at + 4, last_at + 24, last_at + last_len - 9] {
        let mut image = crashed.clone();
        image.files.get_mut(&last).unwrap()[at] ^= 0x20;
        let case = format!("mark {}, byte {at} of frame {N} flipped", N - 1);
        let (lsn, cut_frames) =
            open(&image, &origin, &case).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!((lsn, cut_frames), (N - 1, 1), "{case}");
    }
    if fr.len() >= 2 {
        let (below_at, _) = fr[fr.len() - 2];
        let mut image = crashed.clone();
        image.files.get_mut(&last).unwrap().truncate(below_at + 1);
        let case = format!("mark {}, frame {} cut", N - 1, N - 1);
        assert!(open(&image, &origin, &case).is_err(), "{case}: opened");
    }
}
