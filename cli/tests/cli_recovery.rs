//! Recovery from the command line: acknowledged data is never silently dropped (the database is
//! refused with the file, the offset and the LSNs missing, and nothing changes), an operator can
//! accept a loss with `folio recover --accept-loss`, read commands change nothing on disk and
//! work on a directory the user cannot write, and a checkpoint directory read by any command
//! still seeds a replica.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "../../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output};

fn folio(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_folio"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: Output) -> (String, String) {
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "folio failed: {stderr}");
    (stdout, stderr)
}

fn fails(out: Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "folio should have failed: {stderr}");
    stderr
}

/// A database of 50 orgs and 10,000 generated events in batches of 100 (LSN 100, closed).
fn database(root: &Path) -> std::path::PathBuf {
    let data = root.join("L");
    let stream = root.join("L.jsonl");
    ok(folio(&data, &["init"]));
    let generated = Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["generate", "--orgs", "50", "--events", "10000"])
        .output()
        .unwrap();
    std::fs::write(&stream, generated.stdout).unwrap();
    let stream = stream.to_str().unwrap();
    let (out, _) = ok(folio(
        &data,
        &["ingest", stream, "--auto-org", "--batch", "100"],
    ));
    assert!(out.contains("LSN 100"), "{out}");
    data
}

fn segment(data: &Path) -> std::path::PathBuf {
    data.join("wal").join("00000000000000000001.log")
}

#[test]
fn a_truncated_log_is_refused_by_every_command_until_an_operator_accepts_the_loss() {
    let tmp = tempfile::tempdir().unwrap();
    let data = database(tmp.path());
    let seg = segment(&data);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(41)
        .unwrap();
    let before = common::files(&data);
    for args in [
        &["balance", "--org", "1", "--day", "2024-12-31"][..],
        &["verify"],
        &["report", "daily", "--org", "1", "--day", "2024-03-01"],
        &["recover"],
        &["ingest", "/dev/null"],
    ] {
        let err = fails(folio(&data, args));
        assert!(err.contains(&seg.display().to_string()), "{args:?}: {err}");
        assert!(err.contains("offset 40"), "{args:?}: {err}");
        assert!(err.contains("1..=100"), "{args:?}: the LSNs lost: {err}");
        assert_eq!(common::files(&data), before, "{args:?} changed files");
    }
    let side = tmp.path().join("side");
    let side_arg = side.to_str().unwrap();
    let (out, _) = ok(folio(
        &data,
        &["recover", "--accept-loss", "--side", side_arg, "--json"],
    ));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["lsn"], 0, "{report}");
    let dropped = report["dropped"].as_array().unwrap();
    assert!(
        dropped
            .iter()
            .any(|d| d["file"] == seg.display().to_string()),
        "{report}"
    );
    // Everything discarded has a copy: the cut byte, the store ahead of the log.
    assert_eq!(
        std::fs::read(side.join("wal/00000000000000000001.log.from-40"))
            .unwrap()
            .len(),
        1
    );
    assert!(side.join("state").is_dir());
    let (out, _) = ok(folio(&data, &["verify", "--json"]));
    let verify: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(verify["ok"], true, "{verify}");
    let notes = verify["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.as_str().unwrap().contains("accepted_loss")),
        "{verify}"
    );
}

#[test]
fn a_torn_tail_is_read_around_by_read_commands_and_cut_and_reported_by_a_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let data = database(tmp.path());
    let seg = segment(&data);
    let clean_len = std::fs::metadata(&seg).unwrap().len();
    // A write that never completed: bytes after the last acknowledged frame.
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes.extend_from_slice(&[0x5a; 100]);
    std::fs::write(&seg, &bytes).unwrap();
    let before = common::files(&data);
    let read_commands: [&[&str]; 9] = [
        &["balance", "--org", "1", "--day", "2024-12-31"],
        &[
            "balances",
            "--org",
            "1",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-31",
        ],
        &[
            "entries",
            "--org",
            "1",
            "--from",
            "2024-01-01",
            "--to",
            "2024-02-01",
        ],
        &["report", "daily", "--org", "1", "--day", "2024-03-01"],
        &["query", "--org", "1", "--limit", "5"],
        &["index", "list"],
        &["org", "list"],
        &["verify"],
        &["replica", "status"],
    ];
    for args in read_commands {
        let (_, err) = ok(folio(&data, args));
        assert!(
            err.contains("torn log tail") && err.contains("100 bytes"),
            "{args:?}: the torn tail is not reported: {err}"
        );
        assert_eq!(common::files(&data), before, "{args:?} changed files");
    }
    // The read-only open's verify tells the torn tail.
    let (out, _) = ok(folio(&data, &["verify", "--json"]));
    assert!(out.contains("torn"), "{out}");
    // A writer cuts it, says so on stderr in one line, and records it for later verifies.
    let (_, err) = ok(folio(&data, &["ingest", "/dev/null"]));
    let warning: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("torn log tail"))
        .collect();
    assert_eq!(warning.len(), 1, "{err}");
    assert!(
        warning[0].contains("100 bytes") && warning[0].contains("1 frame"),
        "{err}"
    );
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), clean_len);
    let (out, err) = ok(folio(&data, &["verify"]));
    assert!(!err.contains("torn log tail"), "reported again: {err}");
    assert!(
        out.contains("torn_tail"),
        "verify does not recall the cut: {out}"
    );
}

/// Runs `folio` as an unprivileged user when this test runs as root (root writes anywhere).
fn folio_unprivileged(data: &Path, args: &[&str]) -> Output {
    let uid = Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return folio(data, args);
    }
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_folio"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env("TMPDIR", "/tmp")
        .output()
        .unwrap()
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chmod_tree(path: &Path, file_mode: u32, dir_mode: u32) {
    for item in std::fs::read_dir(path).unwrap() {
        let p = item.unwrap().path();
        if p.is_dir() {
            chmod_tree(&p, file_mode, dir_mode);
        } else {
            chmod(&p, file_mode);
        }
    }
    chmod(path, dir_mode);
}

#[test]
fn a_database_the_user_cannot_write_is_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let data = database(tmp.path());
    chmod(tmp.path(), 0o755);
    chmod_tree(&data, 0o444, 0o555);
    let before = common::files(&data);
    let (out, _) = ok(folio_unprivileged(
        &data,
        &["balance", "--org", "1", "--day", "2024-12-31"],
    ));
    assert!(!out.trim().is_empty());
    ok(folio_unprivileged(&data, &["verify"]));
    ok(folio_unprivileged(
        &data,
        &["report", "monthly", "--org", "1", "--month", "2024-03"],
    ));
    let err = fails(folio_unprivileged(&data, &["ingest", "/dev/null"]));
    assert!(!err.is_empty());
    chmod_tree(&data, 0o644, 0o755);
    assert_eq!(common::files(&data), before, "a read changed files");
}

#[test]
fn a_checkpoint_directory_read_by_any_command_still_seeds_a_replica() {
    let tmp = tempfile::tempdir().unwrap();
    let data = database(tmp.path());
    let cp = tmp.path().join("cp");
    ok(folio(&data, &["checkpoint", "--out", cp.to_str().unwrap()]));
    let before = common::files(&cp);
    assert!(before.contains_key(Path::new("MANIFEST.json")));
    for args in [
        &["balance", "--org", "1", "--day", "2024-12-31"][..],
        &["verify"],
        &["report", "monthly", "--org", "1", "--month", "2024-03"],
        &["replica", "status"],
    ] {
        ok(folio(&cp, args));
        assert_eq!(
            common::files(&cp),
            before,
            "{args:?} changed the checkpoint"
        );
    }
    let edge = tmp.path().join("edge");
    let log = data.join("wal");
    ok(folio(
        &edge,
        &[
            "replica",
            "--from",
            cp.to_str().unwrap(),
            "--follow",
            log.to_str().unwrap(),
            "--once",
        ],
    ));
    let (a, _) = ok(folio(
        &edge,
        &["balance", "--org", "7", "--day", "2024-12-31", "--json"],
    ));
    let (b, _) = ok(folio(
        &data,
        &["balance", "--org", "7", "--day", "2024-12-31", "--json"],
    ));
    assert_eq!(a, b);
}
