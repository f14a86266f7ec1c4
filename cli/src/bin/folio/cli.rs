//! The command line: `Cli`, its commands and their arguments (clap types only).

use clap::{Parser, Subcommand};
use folio_workload::Params;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "folio",
    version,
    about = "Embedded storage engine for hotel finance data"
)]
pub struct Cli {
    /// Database directory.
    #[arg(long, global = true, default_value = "folio-data")]
    pub data: PathBuf,
    /// Print the engine's log events on stderr (-v: warnings and errors, -vv: info, -vvv:
    /// debug, -vvvv: trace); RUST_LOG (e.g. RUST_LOG=folio=debug) sets them too. Off by default:
    /// what a command must say (a cut torn tail, an error) it prints itself.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The engine's resident memory budget (`Options::memory_budget`), e.g. 8MiB, 256MiB,
    /// 2GiB: a quarter goes to sled's page cache, and with the background freezer on, months
    /// before its horizon are frozen while the engine's account is over it. Default 256MiB.
    #[arg(long, global = true, value_name = "SIZE")]
    pub memory_budget: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a database.
    Init {
        /// Balance shards (fixed at creation).
        #[arg(long, default_value_t = 16)]
        shards: u32,
    },
    /// Manage orgs.
    #[command(subcommand)]
    Org(OrgCommand),
    /// What the database holds: orgs, ledger partitions (table, month) with rows and estimated
    /// bytes, log segments and bytes, the LSN, the indexes and what opening it found.
    Info {
        /// Print one JSON object instead of text (keys: docs/CLI.md).
        #[arg(long)]
        json: bool,
    },
    /// Load postings, reversals and expense payments (JSON Lines, or CSV when the name ends in
    /// .csv; `-` reads standard input).
    ///
    /// JSON Lines, one object per line; the `op` key says what a line records:
    ///   posting (no `op`, or "op":"post"; every hotel-ledger-v1 line):
    ///     {"entry_id":1,"org_id":7,"kind":"expense","occurred_at":1704067218,"amount":719,
    ///      "category":"supplies","payment_method":"cash","status":"pending"}
    ///     (revenue: "status":null)
    ///   reversal of entry `reverses` by a new entry `entry_id`, on the day of `occurred_at`:
    ///     {"op":"reversal","org_id":7,"entry_id":9001,"reverses":1,"occurred_at":1704153600}
    ///   payment of the pending expense `entry_id`:
    ///     {"op":"payment","org_id":7,"entry_id":1,"paid_at":1704240000}
    ///
    /// CSV: the header line is optional. Eight fields are a posting:
    ///   entry_id,org_id,kind,occurred_at,amount,category,payment_method,status
    /// Eleven fields add op,reverses,paid_at (fields an op does not take stay empty):
    ///   1,7,expense,1704067218,719,supplies,cash,pending,,,
    ///   9001,7,,1704153600,,,,,reversal,1,
    ///   1,7,,,,,,,payment,,1704240000
    ///
    /// Amounts are integer minor units, times UTC epoch seconds. A bad line stops the load:
    /// nothing of its batch is recorded, and the error names the line and the lines recorded
    /// before it. Loading the same file again is idempotent. See docs/CLI.md.
    #[command(verbatim_doc_comment)]
    Ingest(IngestArgs),
    /// One org's cash balance on one business day.
    Balance {
        /// Org id.
        #[arg(long)]
        org: u64,
        /// Business day, YYYY-MM-DD.
        #[arg(long)]
        day: String,
        /// Print JSON instead of text (keys: docs/CLI.md).
        #[arg(long)]
        json: bool,
    },
    /// One balance row per day of a range.
    Balances {
        /// Org id.
        #[arg(long)]
        org: u64,
        /// First business day, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// Last business day (inclusive), YYYY-MM-DD.
        #[arg(long)]
        to: String,
        /// Print one JSON object per line instead of text (keys: docs/CLI.md).
        #[arg(long)]
        json: bool,
    },
    /// Ledger entries of an org with from <= occurred_at < to (YYYY-MM-DD or epoch seconds).
    Entries {
        /// Org id.
        #[arg(long)]
        org: u64,
        /// occurred_at >= FROM (YYYY-MM-DD or epoch seconds).
        #[arg(long)]
        from: String,
        /// occurred_at < TO (YYYY-MM-DD or epoch seconds).
        #[arg(long)]
        to: String,
        /// Print one JSON object per line instead of text (keys: docs/CLI.md).
        #[arg(long)]
        json: bool,
    },
    /// Freeze months now: write each month older than the horizon (default: before the
    /// previous calendar month of the newest row) as an immutable frozen file, whose rows then
    /// leave memory; a frozen month with late rows or patches is written again as a new version.
    Freeze {
        /// Freeze the months before this one instead (YYYY-MM).
        #[arg(long)]
        before: Option<String>,
        /// Print JSON instead of text (keys: docs/CLI.md).
        #[arg(long)]
        json: bool,
    },
    /// Every month with rows: open or frozen, file version, rows, bytes, rows in memory (a
    /// frozen month's overlay) and patches.
    Months {
        /// Print JSON instead of text (keys: docs/CLI.md).
        #[arg(long)]
        json: bool,
    },
    /// Check every balance against its entries, every index against its predicate, every
    /// checksum of the log and the store. Exits non-zero on any mismatch.
    Verify {
        /// Print JSON instead of text (keys: docs/CLI.md).
        #[arg(long)]
        json: bool,
    },
    /// Say what opening finds (read-only); with --accept-loss, open a database that refuses to
    /// open because acknowledged data is damaged or missing, setting the damage aside.
    Recover {
        /// Accept the loss: copy every damaged or orphaned piece (the log from the damage on,
        /// later segments, a store ahead of the log) into the side directory, then cut it and
        /// reopen. Nothing is discarded without a copy.
        #[arg(long)]
        accept_loss: bool,
        /// Where discarded pieces are copied (default: DATA.lost-<unix seconds>, beside DATA).
        #[arg(long)]
        side: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a JSON Lines file of hotel-ledger-v1 query instances; print one JSON answer per line.
    Queries {
        /// JSON Lines file of query instances (as `folio generate --queries N` writes).
        file: PathBuf,
    },
    /// Hotel reports.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Query revenues/expenses with filters, grouping, order and paging.
    Query(Box<QueryArgs>),
    /// Secondary indexes.
    #[command(subcommand)]
    Index(IndexCommand),
    /// Write the hotel-ledger-v1 stream (or, with --queries N, N instances of each query kind) to stdout.
    Generate(GenerateArgs),
    /// Run hotel-ledger-v1 on a fresh database and report events/s (ignores --data unless --dir).
    Bench(BenchArgs),
    /// Commit latency of batches that overlap a checkpoint and of those that do not: loads
    /// hotel-ledger-v1, then writer threads record more of it while checkpoints run one after
    /// the other (JSON; docs/CLI.md).
    BenchCheckpoints(BenchCheckpointsArgs),
    /// Replica lag, snapshot cost and pool read throughput while the primary ingests
    /// hotel-ledger-v1 at its full batch rate (JSON).
    BenchReplicas(BenchReplicasArgs),
    /// Run hotel-ledger-v1 on Folio, PostgreSQL and SQLite in one run; compare every checked
    /// answer exactly (exit status 1 on any disagreement) and print one table of figures and
    /// ratios (Markdown, or JSON with --json; --out DIR also writes report.md, report.json and
    /// chart.svg).
    Compare(CompareArgs),
    /// Write a consistent, checksummed copy of --data at its current LSN to OUT (writers keep
    /// going). OUT opens as a read-only replica and follows the primary's log from there.
    Checkpoint {
        /// Directory to write the checkpoint to (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// Print JSON instead of text (keys: docs/CLI.md).
        #[arg(long)]
        json: bool,
    },
    /// Run a replica directory (--data): seed it from a checkpoint, catch it up from a log
    /// directory or shipped segment files, or show its status. `folio replica --from CHECKPOINT
    /// --follow LOGDIR` is short for `folio replica follow --from CHECKPOINT --log LOGDIR`.
    #[command(args_conflicts_with_subcommands = true)]
    Replica {
        #[command(subcommand)]
        action: Option<ReplicaCmd>,
        /// Checkpoint directory to seed from (with --follow).
        #[arg(long)]
        from: Option<PathBuf>,
        /// The primary's log directory to follow (DATA/wal).
        #[arg(long)]
        follow: Option<PathBuf>,
        /// Stop once caught up (with --follow).
        #[arg(long)]
        once: bool,
    },
    /// Create a database under --data, load hotel-ledger-v1, print a daily report and a balance.
    Demo {
        /// Number of orgs.
        #[arg(long, default_value_t = 10_000)]
        orgs: u64,
        /// Number of events.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
    },
}

// The arguments of `folio ingest` (its help text: the doc comment of `Command::Ingest`).
#[derive(clap::Args)]
pub struct IngestArgs {
    /// The file to load, or `-` for standard input (JSON Lines unless --format csv).
    pub file: PathBuf,
    /// Lines per batch (each batch is recorded whole or not at all).
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Register unknown org ids (UTC, opening balance 0).
    #[arg(long)]
    pub auto_org: bool,
    /// Currency of auto-registered orgs.
    #[arg(long, default_value = "USD")]
    pub currency: String,
    /// Input format (default: from the file name).
    #[arg(long, value_parser = ["jsonl", "csv"])]
    pub format: Option<String>,
    /// Skip the fsync per batch (durable at the end of the load only).
    #[arg(long)]
    pub buffered: bool,
}

// The hotel-ledger-v1 parameters of `folio generate`, `folio bench` and `folio compare`.
#[derive(clap::Args)]
pub struct WorkloadArgs {
    /// Number of orgs (hotel-ledger-v1 parameter N).
    #[arg(long, default_value_t = 10_000)]
    pub orgs: u64,
    /// Number of events (hotel-ledger-v1 parameter E).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Generator seed.
    #[arg(long, default_value_t = 20_240_101)]
    pub seed: u64,
    /// Years of history (hotel-ledger-v1 parameter Y, 1..=7959): the events span Y × 366 days
    /// from 2024-01-01, query months Y × 12.
    #[arg(long, default_value_t = 1)]
    pub years: u64,
}

impl WorkloadArgs {
    /// The workload parameters (not yet validated).
    pub fn params(&self) -> Params {
        Params {
            seed: self.seed,
            orgs: self.orgs,
            events: self.events,
            years: self.years,
        }
    }
}

// The arguments of `folio generate` (its help text: the doc comment of `Command::Generate`).
#[derive(clap::Args)]
pub struct GenerateArgs {
    /// Emit the first N instances of each of Q1–Q5 instead of events.
    #[arg(long)]
    pub queries: Option<usize>,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Write CSV (with a header line) instead of JSON Lines.
    #[arg(long)]
    pub csv: bool,
}

// The arguments of `folio bench` (its help text: the doc comment of `Command::Bench`).
#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Events per batch.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Concurrent writer threads.
    #[arg(long, default_value_t = 1)]
    pub writers: usize,
    /// Batches each writer keeps in flight.
    #[arg(long, default_value_t = 1)]
    pub in_flight: usize,
    /// Skip the fsync per batch.
    #[arg(long)]
    pub buffered: bool,
    /// Database directory (must not exist); a temporary one by default.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Keep the database directory afterwards.
    #[arg(long)]
    pub keep: bool,
    /// Run the background freezer: months before the previous calendar month of the newest
    /// posting become frozen files while the workload records.
    #[arg(long)]
    pub freeze: bool,
    /// Print JSON instead of text (keys: docs/CLI.md).
    #[arg(long)]
    pub json: bool,
}

// The arguments of `folio bench-checkpoints` (its help text: the doc comment of
// `Command::BenchCheckpoints`).
#[derive(clap::Args)]
pub struct BenchCheckpointsArgs {
    /// Number of orgs.
    #[arg(long, default_value_t = 10_000)]
    pub orgs: u64,
    /// Events loaded before the measured phase (which records up to as many more).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Events per batch in the measured phase.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Writer threads in the measured phase, one batch in flight each.
    #[arg(long, default_value_t = 4)]
    pub writers: usize,
    /// Events per second over all writers (0 = as fast as the database goes).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Milliseconds between the end of one checkpoint and the start of the next.
    #[arg(long, default_value_t = 200)]
    pub pause_ms: u64,
    /// Longest measured phase in seconds.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Generator seed (the measured phase's stream uses seed + 1).
    #[arg(long, default_value_t = 20_240_101)]
    pub seed: u64,
}

// The arguments of `folio bench-replicas` (its help text: the doc comment of
// `Command::BenchReplicas`).
#[derive(clap::Args)]
pub struct BenchReplicasArgs {
    /// Number of orgs.
    #[arg(long, default_value_t = 10_000)]
    pub orgs: u64,
    /// Number of events.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Events per batch.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Generator seed.
    #[arg(long, default_value_t = 20_240_101)]
    pub seed: u64,
    /// In-process replicas following the primary.
    #[arg(long, default_value_t = 2)]
    pub replicas: usize,
    /// Milliseconds per read-thread count, split between direct and pooled reads.
    #[arg(long, default_value_t = 400)]
    pub phase_ms: u64,
    /// Ingest rate for the lag phase in events/s (0 = the primary's full rate).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Ingest rate for the read phase in events/s (0 = the primary's full rate); a fixed
    /// rate gives direct and pooled reads the same write load.
    #[arg(long, default_value_t = 0)]
    pub read_rate: u64,
    /// Flow control: the primary waits for a replica lagging more than this many
    /// milliseconds (the library's default bound; 0 = off).
    #[arg(long, default_value_t = 3.0)]
    pub flow_control_ms: f64,
    /// Pool reads wait for a replica that is applying instead of going to the primary
    /// (`PoolOptions::spill_to_primary` off).
    #[arg(long)]
    pub no_spill: bool,
    /// Pooled reads go through `ReadPool::read_for(org, ..)`: each org's reads on one replica.
    #[arg(long)]
    pub by_org: bool,
}

// The arguments of `folio compare` (its help text: the doc comment of `Command::Compare`).
#[derive(clap::Args)]
pub struct CompareArgs {
    /// PostgreSQL connection string, e.g. "host=127.0.0.1 port=5432 user=postgres".
    #[arg(long)]
    pub postgres: Option<String>,
    /// Database created on the PostgreSQL server for the run (must not exist; dropped after).
    #[arg(long, default_value = "folio_compare")]
    pub pg_database: String,
    /// Also run SQLite (bundled; WAL, synchronous=FULL).
    #[arg(long)]
    pub sqlite: bool,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Events per batch.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Events ingested one per transaction by one writer, after the batches.
    #[arg(long, default_value_t = 2_000)]
    pub singles: u64,
    /// Events ingested one per transaction by --writers concurrent writers, after those.
    #[arg(long, default_value_t = 20_000)]
    pub concurrent: u64,
    /// Concurrent writers (PostgreSQL: as many connections).
    #[arg(long, default_value_t = 64)]
    pub writers: usize,
    /// Timed instances of Q1–Q4 (Q5: a hundredth).
    #[arg(long, default_value_t = 10_000)]
    pub timed: usize,
    /// Instances of every query kind whose answers are compared.
    #[arg(long, default_value_t = 200)]
    pub check: usize,
    /// Print the report as JSON instead of Markdown.
    #[arg(long)]
    pub json: bool,
    /// Directory for report.md, report.json and chart.svg.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Working directory for Folio's and SQLite's files (must not exist; removed after).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Run Folio's background freezer (`Options::auto_freeze`): months before the previous
    /// calendar month of the newest posting become frozen files while the workload records.
    #[arg(long)]
    pub freeze: bool,
}

/// How often `folio replica follow` looks for new frames.
pub const DEFAULT_FOLLOW_INTERVAL_MS: u64 = 200;

#[derive(Subcommand)]
pub enum ReplicaCmd {
    /// Follow a primary's log directory: seed --data from --from when it does not exist yet,
    /// then apply new frames as they appear. Keeps serving (and retrying) while the source is
    /// unreachable.
    Follow {
        /// Checkpoint directory to seed from (verified file by file).
        #[arg(long)]
        from: Option<PathBuf>,
        /// The primary's log directory (DATA/wal).
        #[arg(long, alias = "follow")]
        log: PathBuf,
        /// Stop once caught up.
        #[arg(long)]
        once: bool,
        /// Milliseconds between polls.
        #[arg(long, default_value_t = DEFAULT_FOLLOW_INTERVAL_MS)]
        interval_ms: u64,
    },
    /// Apply shipped segment files (any order; checked together before anything is applied).
    Apply {
        /// Segment files shipped from the primary's log directory.
        segments: Vec<PathBuf>,
    },
    /// Applied LSN, base LSN and, with --log, the source's end and the lag.
    Status {
        /// The primary's log directory (DATA/wal), to show the source's end and the lag.
        #[arg(long)]
        log: Option<PathBuf>,
        /// Print JSON instead of text (keys: docs/CLI.md).
        #[arg(long)]
        json: bool,
    },
}

// The arguments of `folio query` (its help text: the doc comment of `Command::Query`).
#[derive(clap::Args)]
pub struct QueryArgs {
    /// revenues, expenses or ledger (both).
    #[arg(long, default_value = "ledger")]
    pub table: String,
    /// Org id (all orgs when absent).
    #[arg(long)]
    pub org: Option<u64>,
    /// occurred_at >= FROM (YYYY-MM-DD or epoch seconds).
    #[arg(long)]
    pub from: Option<String>,
    /// occurred_at < TO (YYYY-MM-DD or epoch seconds).
    #[arg(long)]
    pub to: Option<String>,
    /// First business day (inclusive).
    #[arg(long)]
    pub day_from: Option<String>,
    /// Last business day (inclusive).
    #[arg(long)]
    pub day_to: Option<String>,
    /// Only this category.
    #[arg(long)]
    pub category: Option<String>,
    /// Only this payment method (cash, card, bank_transfer).
    #[arg(long)]
    pub payment_method: Option<String>,
    /// pending or paid (expenses).
    #[arg(long)]
    pub status: Option<String>,
    /// Only amounts >= this, in minor units.
    #[arg(long, allow_negative_numbers = true)]
    pub min_amount: Option<i64>,
    /// Only amounts <= this, in minor units.
    #[arg(long, allow_negative_numbers = true)]
    pub max_amount: Option<i64>,
    /// category, payment_method, day, month or all: aggregates instead of rows.
    #[arg(long)]
    pub group_by: Option<String>,
    /// asc or desc (by occurred_at, entry id).
    #[arg(long, default_value = "asc")]
    pub order: String,
    /// Rows (or groups) per page.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Continue after a previous page's cursor.
    #[arg(long)]
    pub after: Option<String>,
    /// Return only these columns, comma-separated (occurred_at, entry_id, amount, category,
    /// payment_method, status, day).
    #[arg(long)]
    pub select: Option<String>,
    /// Print the plan instead of running the query.
    #[arg(long)]
    pub explain: bool,
    /// Print one JSON object per line instead of text (keys: docs/CLI.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum IndexCommand {
    /// List the declared indexes.
    List {
        /// Print one JSON object per line instead of text (keys: docs/CLI.md).
        #[arg(long)]
        json: bool,
    },
    /// Declare an index and backfill it from the existing rows (writers keep going).
    Create {
        /// Index name.
        name: String,
        /// revenues or expenses.
        #[arg(long)]
        table: String,
        /// Key columns after org_id, comma-separated (category, payment_method, status, amount, day, ...).
        #[arg(long, default_value = "")]
        key: String,
        /// Included (covered) columns, comma-separated.
        #[arg(long, default_value = "")]
        include: String,
        /// Partial index predicate: status=pending, payment_method=cash, category=rooms, amount>=500.
        #[arg(long = "where")]
        predicate: Option<String>,
    },
    /// Drop an index.
    Drop {
        /// Index name.
        name: String,
    },
}

#[derive(Subcommand)]
pub enum ReportCommand {
    /// Night audit of one org and business day.
    Daily {
        /// Org id.
        #[arg(long)]
        org: u64,
        /// Business day, YYYY-MM-DD.
        #[arg(long)]
        day: String,
        /// Print JSON instead of text (keys: docs/CLI.md).
        #[arg(long)]
        json: bool,
    },
    /// Revenue and expense by category of a UTC month, with daily closing balances.
    Monthly {
        /// Org id.
        #[arg(long)]
        org: u64,
        /// YYYY-MM
        #[arg(long)]
        month: String,
        /// Print JSON instead of text (keys: docs/CLI.md).
        #[arg(long)]
        json: bool,
    },
    /// Oldest pending expenses.
    Pending {
        /// Org id.
        #[arg(long)]
        org: u64,
        /// Most expenses to list.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print one JSON object per line instead of text (keys: docs/CLI.md).
        #[arg(long)]
        json: bool,
    },
    /// Revenue of a chain's hotels in a UTC month: per org and in total.
    Chain {
        /// Org ids, comma-separated.
        #[arg(long)]
        orgs: String,
        /// YYYY-MM
        #[arg(long)]
        month: String,
        /// Print JSON instead of text (keys: docs/CLI.md).
        #[arg(long)]
        json: bool,
    },
    /// Orgs with the most revenue in a UTC month.
    Top {
        /// YYYY-MM
        #[arg(long)]
        month: String,
        /// Most orgs to list.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print one JSON object per line instead of text (keys: docs/CLI.md).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Register an org.
    Add {
        /// Org id.
        #[arg(long)]
        id: u64,
        /// Org name.
        #[arg(long)]
        name: String,
        /// ISO 4217 currency code.
        #[arg(long, default_value = "USD")]
        currency: String,
        /// IANA time zone.
        #[arg(long, default_value = "UTC")]
        tz: String,
        /// Opening balance in minor units.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        opening: i64,
    },
    /// List orgs.
    List {
        /// Print one JSON object per line instead of text (keys: docs/CLI.md).
        #[arg(long)]
        json: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every argument of every command, as `command path: --flag`, that has no help text.
    fn without_help(command: &clap::Command, path: &str, out: &mut Vec<String>) {
        let path = format!("{path} {}", command.get_name());
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                out.push(format!("{path}: {id}"));
            }
        }
        if command.get_about().is_none() && command.get_long_about().is_none() {
            out.push(format!("{path}: (command)"));
        }
        for sub in command.get_subcommands() {
            without_help(sub, &path, out);
        }
    }

    /// `--years`'s help names the workload's limit.
    #[test]
    fn the_years_help_names_the_limit() {
        assert_eq!(folio_workload::MAX_YEARS, 7959);
    }

    #[test]
    fn every_command_flag_and_argument_has_help_text() {
        let mut missing = Vec::new();
        without_help(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }
}
