//! Crash test with real processes and `kill -9` (guarantees 1–4 of DESIGN.md section 2).
//!
//! The test binary re-executes itself as the writer: `current_exe() --exact child_writer
//! --nocapture --test-threads=1` with `FOLIO_CRASH_CHILD_DIR` set. The child opens the database
//! (default options, `Durability::Sync`, but 64 KiB log segments), registers a few orgs (several
//! with non-UTC time zones) when they are missing, then records random batches forever. Before each `record` it prints
//! `TRY <ops>` (the full content of the batch), after `record` returned `Ok` it prints
//! `ACK <lsn> <n_ops> <signed sum>`. Now and then it calls `Db::checkpoint`, or `Db::freeze`
//! (default horizon, or every month) which ends with one, printed as `CKPT begin` / `CKPT end`,
//! so that kills also land inside checkpoints and freezes. In odd rounds the store compacts at
//! every doubling (no floor); in half the rounds the background freezer runs under a 1 MiB
//! budget, so kills also land in its freezes, spills and unsettled installs. In every fourth
//! round the parent also opens the database read-only, over and over, while the child writes
//! (a reader in another process, through the read gate): each open must succeed, see every
//! batch the child had acknowledged when it began, and pass `verify`.
//!
//! The parent kills the child with SIGKILL after a random delay (sometimes while the child is
//! still opening the database, sometimes right after a `CKPT begin` line), reopens the database
//! and checks against the reference model (`tests/reference/`) fed only with what the child
//! printed:
//!
//! * every ACKed batch is valid for the model, its printed sum is what it adds to the balances,
//!   and it is there; the visible LSN is exactly the previous one plus the ACKed
//!   batches plus the in-flight batch if it landed (no lost and no phantom LSN);
//! * the in-flight batch (a `TRY` without `ACK`) is applied whole or not at all;
//! * the ledger equals the model entry by entry (kind, time, business day computed independently
//!   with chrono-tz, amount, signed amount, status, payment, reversal links, reference) and
//!   holds nothing else;
//! * for every org and every day, the balance row equals the model's sums and counts of that
//!   day's entries (the entries read back, as the ledger equals the model), and closing = opening
//!   balance + prefix sums, both through `balances` (day by day) and through `balance` (prefix
//!   tree);
//! * the monthly report of the month of each org's newest entry and the pending expenses equal
//!   the model's.
//!
//! Then it closes the database and runs the next round on the same directory; every 100 rounds
//! (`FOLIO_CRASH_ROUNDS_PER_DB`) it starts a fresh database and finally checks the old one
//! rebuilt from its whole log. Rounds (kills): 1000, or `FOLIO_CRASH_ROUNDS`. Seed: random, or
//! `FOLIO_CRASH_SEED` (printed at the start). Postings are back-dated up to 400 days, or
//! `FOLIO_CRASH_BACKDATE_DAYS` (passed on to the child).
//!
//! * `protocol.rs`: the test's orgs, its random numbers, and the lines the child prints;
//! * `child.rs`: the writer (its batch generator);
//! * `parent.rs`: running one child and killing it;
//! * `rounds.rs`: the kill loop, what each round's output says, and the checks after reopening;
//! * `checks.rs`: the whole database against the model.
#![cfg(unix)]

#[path = "../reference/mod.rs"]
mod reference;

mod checks;
mod child;
mod parent;
mod protocol;
mod rounds;

const DIR_VAR: &str = "FOLIO_CRASH_CHILD_DIR";
const SEED_VAR: &str = "FOLIO_CRASH_CHILD_SEED";
const ROUND_VAR: &str = "FOLIO_CRASH_CHILD_ROUND";
const ROUNDS_VAR: &str = "FOLIO_CRASH_ROUNDS";
const ROUNDS_PER_DB_VAR: &str = "FOLIO_CRASH_ROUNDS_PER_DB";
const PARENT_SEED_VAR: &str = "FOLIO_CRASH_SEED";
/// The child's log segments: small, so that rounds rotate segments.
const SEGMENT_BYTES: u64 = 16 * 1024;
/// How many days back the child may date postings (default 400).
const BACKDATE_VAR: &str = "FOLIO_CRASH_BACKDATE_DAYS";

/// The writer process. Returns at once unless started by the crash test.
#[test]
fn child_writer() {
    if let Ok(dir) = std::env::var(DIR_VAR) {
        child::run(&dir);
    }
}

#[test]
fn kill9_rounds_lose_no_acked_batch_and_apply_batches_whole() {
    if std::env::var(DIR_VAR).is_err() {
        rounds::run();
    }
}
