//! Crash safety of frozen month files on the simulated disk (`io::sim`): a month frozen as
//! version 1, then frozen again as version 2 (new file written and synced, the manifest switched,
//! the old file removed). A crash after every mutation of that whole sequence, in every crash
//! kind, leaves a directory that loads with the month absent (only before version 1 was in
//! force), at version 1 or at version 2 — never neither — whose file checks clean and answers
//! exactly what that version was given; leftovers are removed by the load. A flipped bit is
//! found (a typed error) or harmless.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
use folio::frozen::layout::FileId;
use folio::frozen::sample::{self, Sample};
use folio::frozen::{FrozenDir, FrozenRow, OrgMonthInput};
use folio::io::sim::{CrashKind, SimFs};
use folio::io::Vfs;
use folio::{Error, Kind, Month};
use std::path::Path;

const DB: u64 = 0xC0FFEE;

fn freeze(fs: &SimFs, db: &Path, month: Month, inputs: &[OrgMonthInput]) {
    let (mut dir, _) = FrozenDir::load(fs, db, DB).unwrap();
    let id = FileId {
        db_id: DB,
        month,
        version: dir.next_version(month).unwrap(),
    };
    let entry = sample::write(fs, dir.dir(), id, inputs).unwrap();
    dir.install(fs, entry).unwrap();
}

/// Each org's rows, in the order of a list of orgs.
type RowsByOrg = Vec<Vec<FrozenRow>>;

fn rows_of(inputs: &[OrgMonthInput]) -> Vec<Vec<FrozenRow>> {
    inputs
        .iter()
        .map(|i| {
            let mut rows = i.rows.clone();
            rows.sort_by_key(|r| (r.kind, r.occurred_at, r.entry_id));
            rows
        })
        .collect()
}

/// What the directory of a crash image holds for `month`: `None` for no file, else the version
/// and its rows per org (in the inputs' org order); `Err` for a typed error.
fn state_of(
    fs: &SimFs,
    db: &Path,
    month: Month,
    orgs: &[OrgMonthInput],
) -> Result<Option<(u32, RowsByOrg)>, Error> {
    let (dir, _) = FrozenDir::load(fs, db, DB)?;
    let Some(file) = dir.open(fs, month)? else {
        return Ok(None);
    };
    file.verify()?;
    let mut rows = Vec::new();
    for input in orgs {
        let org_rows = match file.org(input.org)? {
            None => Vec::new(),
            Some(view) => {
                let mut all: Vec<FrozenRow> =
                    view.rows(Kind::Revenue).map(|r| r.to_row()).collect();
                all.extend(view.rows(Kind::Expense).map(|r| r.to_row()));
                all
            }
        };
        rows.push(org_rows);
    }
    // A second load finds nothing left to clean.
    let (_, cleanup) = FrozenDir::load(fs, db, DB)?;
    assert!(cleanup.removed.is_empty(), "{cleanup:?}");
    Ok(Some((file.id().version, rows)))
}

#[test]
fn a_crash_at_any_point_of_freezing_and_refreezing_leaves_the_old_or_the_new_version() {
    let fs = SimFs::new();
    let db = Path::new("/db");
    fs.create_dir_all(db).unwrap();
    fs.sync_dir(Path::new("/")).unwrap();
    let month = Month::new(2024, 3).unwrap();
    let v1 = sample::month(
        1,
        Sample {
            month,
            orgs: 4,
            max_rows: 6,
            extremes: false,
        },
    );
    let v2 = sample::month(
        2,
        Sample {
            month,
            orgs: 5,
            max_rows: 6,
            extremes: true,
        },
    );
    // Both versions over the same orgs, so the answers tell the versions apart.
    let mut union: Vec<OrgMonthInput> = v1.iter().chain(&v2).cloned().collect();
    union.sort_by_key(|i| i.org);
    union.dedup_by_key(|i| i.org);
    let start = fs.mutations();
    freeze(&fs, db, month, &v1);
    let after_v1 = fs.mutations();
    freeze(&fs, db, month, &v2);
    let end = fs.mutations();
    let by_org = |inputs: &[OrgMonthInput]| -> Vec<Vec<FrozenRow>> {
        union
            .iter()
            .map(|u| {
                inputs
                    .iter()
                    .position(|i| i.org == u.org)
                    .map_or(Vec::new(), |at| rows_of(inputs)[at].clone())
            })
            .collect()
    };
    let (want1, want2) = (by_org(&v1), by_org(&v2));
    let mut seen = [0usize; 3];
    let mut images = 0;
    for point in start..=end {
        for kind in CrashKind::ALL {
            for seed in 0..3 {
                let image = fs.image(point, kind, seed);
                let crashed = SimFs::from_image(&image);
                images += 1;
                match state_of(&crashed, db, month, &union) {
                    Ok(None) => {
                        assert!(
                            point < after_v1,
                            "{}: no version after v1 was in force",
                            image.note
                        );
                        seen[0] += 1;
                    }
                    Ok(Some((1, rows))) => {
                        assert_eq!(rows, want1, "{}", image.note);
                        seen[1] += 1;
                    }
                    Ok(Some((2, rows))) => {
                        assert!(point > after_v1, "{}", image.note);
                        assert_eq!(rows, want2, "{}", image.note);
                        seen[2] += 1;
                    }
                    Ok(Some((v, _))) => panic!("{}: version {v}", image.note),
                    Err(e) if kind == CrashKind::BitFlip => {
                        assert!(
                            matches!(e, Error::Corruption { .. } | Error::FormatVersion { .. }),
                            "{}: {e}",
                            image.note
                        );
                    }
                    Err(e) => panic!("{}: {e}", image.note),
                }
            }
        }
    }
    eprintln!(
        "{} crash points, {images} images: none {}, v1 {}, v2 {}",
        end - start + 1,
        seen[0],
        seen[1],
        seen[2]
    );
    assert!(seen.iter().all(|n| *n > 0), "{seen:?}");
}
