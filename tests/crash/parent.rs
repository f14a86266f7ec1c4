//! Running one child and killing it with SIGKILL.

use crate::{BACKDATE_VAR, DIR_VAR, ROUND_VAR, SEED_VAR};
use folio::{Db, Error, Options};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// When a round kills its child.
#[derive(Clone, Copy, Debug)]
pub enum KillAt {
    /// This long after spawning, ready or not (lands in process start, open, recovery, org
    /// registration).
    SinceSpawn(Duration),
    /// This long after the child printed READY.
    SinceReady(Duration),
    /// This long after the first `CKPT begin` line (inside the checkpoint).
    InCheckpoint(Duration),
}

pub struct RoundOutput {
    pub lines: Vec<String>,
    pub killed_in_checkpoint: bool,
    /// Read-only opens of the database while the child ran (see [`readers`]).
    pub reader_opens: u64,
}

/// Opens the database read-only, over and over, while the child writes it (until `stop`), as a
/// report tool in another process would: every open must succeed beside the writer (or after
/// its kill), see every batch the child had acknowledged when the open began (`acked`), and
/// pass `verify`. Returns the number of opens.
fn readers(
    dir: &Path,
    round: u64,
    acked: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> JoinHandle<u64> {
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        let mut opens = 0;
        while !stop.load(Ordering::Acquire) && opens < MAX_READER_OPENS {
            let floor = acked.load(Ordering::Acquire);
            match Db::open_with(&dir, Options::read_only()) {
                Ok(db) => {
                    let lsn = db.visible_lsn().0;
                    assert!(
                        lsn >= floor,
                        "round {round}: a reader opened at LSN {lsn} after ACK {floor}"
                    );
                    let verified = db.verify();
                    assert!(
                        verified.problems.is_empty(),
                        "round {round}: a reader at LSN {lsn}: {:?}",
                        verified.problems
                    );
                    opens += 1;
                }
                // The child has not created the database yet.
                Err(Error::NotADatabase { .. }) => {}
                Err(e) => panic!("round {round}: a read-only open beside the writer: {e}"),
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        opens
    })
}

/// Read-only opens a round makes at most.
const MAX_READER_OPENS: u64 = 40;

/// Starts the test binary again as the writer (`child_writer`) on `dir`.
fn spawn(dir: &Path, seed: u64, round: u64) -> Child {
    let exe = std::env::current_exe().expect("current_exe");
    Command::new(exe)
        .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
        .env(DIR_VAR, dir)
        .env(SEED_VAR, seed.to_string())
        .env(ROUND_VAR, round.to_string())
        .env(
            BACKDATE_VAR,
            std::env::var(BACKDATE_VAR).unwrap_or_else(|_| "400".into()),
        )
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child")
}

/// A thread sending every complete line of `stdout` to `tx`.
fn read_lines(stdout: ChildStdout, tx: mpsc::Sender<String>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        loop {
            line.clear();
            match r.read_line(&mut line) {
                // A line cut off by the kill has no newline: it was never printed whole.
                Ok(n) if n > 0 && line.ends_with('\n') => {
                    if tx.send(line.trim_end().to_string()).is_err() {
                        return;
                    }
                }
                _ => return,
            }
        }
    })
}

/// Collects the child's lines until it is time to kill it (`true`), or until the child closed
/// its output on its own (`false`).
fn watch(
    child: &mut Child,
    rx: &mpsc::Receiver<String>,
    (round, spawned): (u64, Instant),
    (kill_at, acked): (KillAt, &AtomicU64),
    lines: &mut Vec<String>,
) -> bool {
    let mut ready_at: Option<Instant> = None;
    let mut ckpt_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let kill_now = match kill_at {
            KillAt::SinceSpawn(d) => now >= spawned + d,
            KillAt::SinceReady(d) => ready_at.is_some_and(|t| now >= t + d),
            KillAt::InCheckpoint(d) => {
                ckpt_at.is_some_and(|t| now >= t + d)
                    || ready_at.is_some_and(|t| now >= t + Duration::from_secs(3))
            }
        };
        if kill_now {
            return true;
        }
        if now > spawned + Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("round {round}: child made no progress in 120 s: {lines:?}");
        }
        match rx.recv_timeout(Duration::from_micros(200)) {
            Ok(line) => {
                if line.starts_with("READY") {
                    ready_at = Some(Instant::now());
                }
                if line == "CKPT begin" && ckpt_at.is_none() {
                    ckpt_at = Some(Instant::now());
                }
                if let Some(lsn) = line
                    .strip_prefix("ACK ")
                    .and_then(|rest| rest.split(' ').next())
                    .and_then(|lsn| lsn.parse().ok())
                {
                    acked.fetch_max(lsn, Ordering::AcqRel);
                }
                lines.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return false,
        }
    }
}

/// Spawns the child, kills it per `kill_at`, and returns the complete lines it printed. With
/// `with_readers`, read-only opens run beside the child meanwhile ([`readers`]).
pub fn run_child(
    dir: &Path,
    seed: u64,
    round: u64,
    kill_at: KillAt,
    with_readers: bool,
) -> RoundOutput {
    let (acked, stop) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let mut child = spawn(dir, seed, round);
    let reading = with_readers.then(|| readers(dir, round, acked.clone(), stop.clone()));
    let spawned = Instant::now();
    let stdout = child.stdout.take().expect("child stdout");
    let mut stderr = child.stderr.take().expect("child stderr");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = read_lines(stdout, tx);
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let mut lines = Vec::new();
    let killed = watch(
        &mut child,
        &rx,
        (round, spawned),
        (kill_at, &acked),
        &mut lines,
    );
    let _ = child.kill();
    let status = child.wait().expect("wait for child");
    stop.store(true, Ordering::Release);
    let reader_opens = match reading {
        Some(handle) => match handle.join() {
            Ok(opens) => opens,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        None => 0,
    };
    reader.join().expect("stdout reader");
    lines.extend(rx.try_iter());
    let stderr_text = err_reader.join().expect("stderr reader");
    if !killed || status.signal() != Some(9) {
        panic!(
            "round {round}: the child ended on its own ({status:?}) instead of being killed.\n\
             last lines: {:?}\nstderr:\n{stderr_text}",
            &lines[lines.len().saturating_sub(5)..]
        );
    }
    // Killed inside a checkpoint: the last CKPT line is a `begin`.
    let killed_in_checkpoint = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("CKPT"))
        .is_some_and(|l| l == "CKPT begin");
    RoundOutput {
        lines,
        killed_in_checkpoint,
        reader_opens,
    }
}
