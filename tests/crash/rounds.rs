//! The kill loop: rounds of child runs on one database, what each round's output says, and the
//! checks after reopening.

use crate::checks::{check_db, check_orgs, list_all, op_visible, touched, Listing, Totals};
use crate::parent::{run_child, KillAt};
use crate::protocol::{orgs, parse_line, Line, Rng, TOp};
use crate::reference::Model;
use crate::{PARENT_SEED_VAR, ROUNDS_PER_DB_VAR, ROUNDS_VAR};
use folio::{Db, Lsn, Op};
use std::path::Path;
use std::time::{Duration, Instant};

fn env_u64(var: &str) -> Option<u64> {
    std::env::var(var).ok().and_then(|s| s.parse().ok())
}

/// What the databases of a run hold at their end.
#[derive(Default)]
struct Finals {
    databases: u64,
    lsns: u64,
    entries: usize,
    segments: usize,
}

pub fn run() {
    let rounds = env_u64(ROUNDS_VAR).unwrap_or(1000);
    let seed = env_u64(PARENT_SEED_VAR).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    // A fresh database every `rounds_per_db` rounds keeps the per-round check (which reads the
    // whole database back) from growing without bound in long runs.
    let rounds_per_db = env_u64(ROUNDS_PER_DB_VAR).unwrap_or(100).max(1);
    println!("crash test: {rounds} rounds, {rounds_per_db} per database, {PARENT_SEED_VAR}={seed}");
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let mut totals = Totals::default();
    let mut finals = Finals::default();
    let mut first = 0;
    while first < rounds {
        let last = (first + rounds_per_db).min(rounds);
        run_database(first..last, seed, &mut rng, &mut totals, &mut finals);
        first = last;
    }
    print_summary(rounds, started, &totals, &finals);
}

/// Rounds `rounds` on a fresh database, then the database rebuilt from its whole log.
fn run_database(
    rounds: std::ops::Range<u64>,
    seed: u64,
    rng: &mut Rng,
    totals: &mut Totals,
    finals: &mut Finals,
) {
    finals.databases += 1;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db");
    // The parent creates the database (a crash during creation is covered in tests/recovery/).
    Db::open(&dir).expect("create").close().expect("close");

    let mut model = Model::default();
    for round in rounds {
        let kill_at = match rng.below(100) {
            0..=9 => KillAt::SinceSpawn(Duration::from_millis(rng.below(60))),
            10..=34 => KillAt::InCheckpoint(Duration::from_micros(rng.below(3000))),
            _ => KillAt::SinceReady(Duration::from_millis(5 + rng.below(146))),
        };
        let ctx = format!("round {round} ({kill_at:?}, {PARENT_SEED_VAR}={seed})");
        run_round(&dir, (seed, round, kill_at), &mut model, &ctx, totals);
    }

    // Finally: the store thrown away, everything rebuilt from the whole log.
    std::fs::remove_dir_all(dir.join("state")).expect("remove state");
    let db = Db::open(&dir).expect("open after removing the store");
    assert_eq!(db.visible_lsn(), Lsn(model.lsn()), "rebuild from the log");
    assert_eq!(
        db.recovery().frames_replayed,
        model.lsn(),
        "frames replayed"
    );
    check_orgs(&db, &model, "rebuild");
    let listing = list_all(&db, "rebuild");
    check_db(&db, &listing, &model, "rebuild", totals);
    db.close().expect("close");
    let segments = std::fs::read_dir(dir.join("wal"))
        .expect("wal dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "log"))
        })
        .count();
    finals.lsns += model.lsn();
    finals.entries += model.entry_count();
    finals.segments += segments;
}

/// What one child printed: its ACKed batches, the batch in flight at the kill, whether it
/// registered the orgs and whether it got ready.
struct RoundLog {
    acked: Vec<(u64, Vec<TOp>, i64)>,
    pending: Option<Line>,
    orgs_acked: bool,
    ready: bool,
}

/// Reads the child's lines; `lsn` is the LSN the round started from.
fn parse_round(lines: &[String], lsn: u64, ctx: &str) -> RoundLog {
    let mut log = RoundLog {
        acked: Vec::new(),
        pending: None,
        orgs_acked: false,
        ready: false,
    };
    for text in lines {
        match parse_line(text) {
            Some(Line::TryOrgs) => log.pending = Some(Line::TryOrgs),
            Some(Line::AckOrgs(acked)) => {
                assert!(
                    matches!(log.pending.take(), Some(Line::TryOrgs)),
                    "{ctx}: ACK without TRY"
                );
                assert_eq!(acked, lsn + 1, "{ctx}: org registration LSN");
                log.orgs_acked = true;
            }
            Some(Line::Ready) => log.ready = true,
            Some(Line::Try(ops)) => {
                assert!(log.pending.is_none(), "{ctx}: two TRY lines without ACK");
                log.pending = Some(Line::Try(ops));
            }
            Some(Line::Ack { lsn, n, sum }) => {
                let Some(Line::Try(ops)) = log.pending.take() else {
                    panic!("{ctx}: ACK without TRY: {text}");
                };
                assert_eq!(n, ops.len(), "{ctx}: op count of ACK {lsn}");
                log.acked.push((lsn, ops, sum));
            }
            Some(Line::Ckpt) | None => {}
        }
    }
    log
}

/// One round: the child run and killed, the database reopened and checked against the model,
/// which takes in what landed.
fn run_round(
    dir: &Path,
    (seed, round, kill_at): (u64, u64, KillAt),
    model: &mut Model,
    ctx: &str,
    totals: &mut Totals,
) {
    let t0 = Instant::now();
    // Every fourth round, read-only opens beside the child (readers in another process).
    let out = run_child(dir, seed, round, kill_at, round % 4 == 1);
    totals.secs[0] += t0.elapsed().as_secs_f64();
    totals.reader_opens += out.reader_opens;
    if out.killed_in_checkpoint {
        totals.killed_in_checkpoint += 1;
    }
    let log = parse_round(&out.lines, model.lsn(), ctx);
    if !log.ready {
        totals.killed_before_ready += 1;
    }

    let t1 = Instant::now();
    let db = match std::panic::catch_unwind(|| Db::open(dir)) {
        Ok(Ok(db)) => db,
        Ok(Err(e)) => panic!("{ctx}: reopen failed: {e}"),
        Err(_) => panic!("{ctx}: Db::open panicked during recovery (message above)"),
    };
    let report = db.recovery().clone();
    totals.secs[1] += t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    let visible = db.visible_lsn().0;
    assert_eq!(report.lsn, Lsn(visible), "{ctx}: report LSN");
    if report.rebuilt.is_some() {
        totals.rebuilt += 1;
    }
    if report.truncated_bytes > 0 {
        totals.truncated_rounds += 1;
        totals.truncated_bytes += report.truncated_bytes;
    }
    totals.frames_replayed += report.frames_replayed;
    for (version, _, _) in db.months().expect("months").iter().filter_map(|m| m.file) {
        totals.frozen_months += 1;
        totals.frozen_versions += u64::from(version);
    }

    take_orgs(&db, &log, model, ctx);
    let listing = list_all(&db, ctx);
    take_batches(&listing, visible, log, model, ctx, totals);
    assert_eq!(
        visible,
        model.lsn(),
        "{ctx}: visible LSN is not the previous LSN plus the batches that landed"
    );
    check_db(&db, &listing, model, ctx, totals);
    totals.secs[2] += t2.elapsed().as_secs_f64();
    let t3 = Instant::now();
    db.close()
        .unwrap_or_else(|e| panic!("{ctx}: close failed: {e}"));
    totals.secs[3] += t3.elapsed().as_secs_f64();
}

/// The operations of a test batch as the child recorded them.
fn ops_of(ops: &[TOp]) -> Vec<Op> {
    ops.iter().map(TOp::to_op).collect()
}

/// Takes the org registration into the model when it landed: registered in one batch, so all
/// or none.
fn take_orgs(db: &Db, log: &RoundLog, model: &mut Model, ctx: &str) {
    if model.org_ids().next().is_none() {
        let present = db
            .snapshot()
            .orgs()
            .unwrap_or_else(|e| panic!("{ctx}: orgs: {e}"));
        if log.orgs_acked || !present.is_empty() {
            assert_eq!(
                present,
                orgs(),
                "{ctx}: org registration half applied or lost"
            );
            let register: Vec<Op> = orgs().into_iter().map(Op::RegisterOrg).collect();
            assert_eq!(model.record(&register), Ok(true), "{ctx}: registering");
        }
    } else {
        assert!(!log.orgs_acked, "{ctx}: orgs registered twice");
    }
    check_orgs(db, model, ctx);
}

/// Takes the round's batches into the model: every ACKed batch (there, with consecutive LSNs,
/// content and sums as the child printed them) and the batch in flight at the kill (whole or
/// absent).
fn take_batches(
    listing: &Listing,
    visible: u64,
    log: RoundLog,
    model: &mut Model,
    ctx: &str,
    totals: &mut Totals,
) {
    let mut round_ops: Vec<&TOp> = log.acked.iter().flat_map(|(_, ops, _)| ops).collect();
    if let Some(Line::Try(ops)) = &log.pending {
        round_ops.extend(ops);
    }
    let all = touched(listing, &round_ops);
    for (lsn, ops, sum) in &log.acked {
        assert_eq!(
            *lsn,
            model.lsn() + 1,
            "{ctx}: ACKed LSNs are not consecutive"
        );
        assert!(
            *lsn <= visible,
            "{ctx}: ACKed LSN {lsn} is beyond the visible LSN {visible}"
        );
        for op in ops {
            assert!(
                op_visible(&all, op),
                "{ctx}: ACKed batch {lsn} lost its operation {op:?}"
            );
        }
        let net = model.net_total();
        assert_eq!(
            model.record(&ops_of(ops)),
            Ok(true),
            "{ctx}: the model refuses ACKed batch {lsn}"
        );
        assert_eq!(
            model.net_total() - net,
            i128::from(*sum),
            "{ctx}: sum of ACK {lsn}"
        );
        totals.acked += 1;
    }

    // The batch in flight at the kill: whole or absent.
    if let Some(Line::Try(ops)) = log.pending {
        let seen: Vec<bool> = ops.iter().map(|op| op_visible(&all, op)).collect();
        if seen.iter().all(|&s| s) {
            assert_eq!(
                model.record(&ops_of(&ops)),
                Ok(true),
                "{ctx}: the model refuses the in-flight batch that landed"
            );
            totals.inflight_landed += 1;
        } else if seen.iter().any(|&s| s) {
            panic!("{ctx}: in-flight batch half applied: {seen:?}\n{ops:?}");
        } else {
            totals.inflight_lost += 1;
        }
    }
}

fn print_summary(rounds: u64, started: Instant, totals: &Totals, finals: &Finals) {
    println!(
        "crash test: {rounds} rounds in {:.1} s; {} ACKed batches verified, {} entry checks, {} \
         balance rows; in-flight batch landed {} / lost {}; killed before READY {}, inside a \
         checkpoint {}; store rebuilt {}; torn tail truncated in {} rounds ({} bytes); {} frames \
         replayed; frozen months at reopens {} ({} file versions); read-only opens beside the writer {}; {} databases, final LSNs {} in all, {} entries in {} log segments; seconds in \
         children {:.1}, reopening {:.1}, checking {:.1}, closing {:.1}",
        started.elapsed().as_secs_f64(),
        totals.acked,
        totals.entries_checked,
        totals.balance_rows_checked,
        totals.inflight_landed,
        totals.inflight_lost,
        totals.killed_before_ready,
        totals.killed_in_checkpoint,
        totals.rebuilt,
        totals.truncated_rounds,
        totals.truncated_bytes,
        totals.frames_replayed,
        totals.frozen_months,
        totals.frozen_versions,
        totals.reader_opens,
        finals.databases,
        finals.lsns,
        finals.entries,
        finals.segments,
        totals.secs[0],
        totals.secs[1],
        totals.secs[2],
        totals.secs[3],
    );
}
