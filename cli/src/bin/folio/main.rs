//! The `folio` command: a thin layer over the library.

mod demo;
mod info;
mod output;
mod recover;

use clap::{Parser, Subcommand};
use folio::{BusinessDay, Currency, Db, Durability, Money, Options, Org, OrgId};
use folio_cli::bench::{self, BenchConfig};
use folio_cli::Error;
use folio_workload::ingest::{self, IngestOptions};
use folio_workload::{Generator, InputFormat, Params};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "folio",
    version,
    about = "Embedded storage engine for hotel finance data"
)]
struct Cli {
    /// Database directory.
    #[arg(long, global = true, default_value = "folio-data")]
    data: PathBuf,
    /// Print the engine's log events on stderr (-v: warnings and errors, -vv: info, -vvv:
    /// debug, -vvvv: trace); RUST_LOG (e.g. RUST_LOG=folio=debug) sets them too. Off by default:
    /// what a command must say (a cut torn tail, an error) it prints itself.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    Ingest {
        /// The file to load, or `-` for standard input (JSON Lines unless --format csv).
        file: PathBuf,
        /// Lines per batch (each batch is recorded whole or not at all).
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Register unknown org ids (UTC, opening balance 0).
        #[arg(long)]
        auto_org: bool,
        /// Currency of auto-registered orgs.
        #[arg(long, default_value = "USD")]
        currency: String,
        /// Input format (default: from the file name).
        #[arg(long, value_parser = ["jsonl", "csv"])]
        format: Option<String>,
        /// Skip the fsync per batch (durable at the end of the load only).
        #[arg(long)]
        buffered: bool,
    },
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
    Generate {
        /// Emit the first N instances of each of Q1–Q5 instead of events.
        #[arg(long)]
        queries: Option<usize>,
        /// Number of orgs (hotel-ledger-v1 parameter N).
        #[arg(long, default_value_t = 10_000)]
        orgs: u64,
        /// Number of events (hotel-ledger-v1 parameter E).
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Generator seed.
        #[arg(long, default_value_t = 20_240_101)]
        seed: u64,
        /// Write CSV (with a header line) instead of JSON Lines.
        #[arg(long)]
        csv: bool,
    },
    /// Run hotel-ledger-v1 on a fresh database and report events/s (ignores --data unless --dir).
    Bench {
        /// Number of orgs.
        #[arg(long, default_value_t = 10_000)]
        orgs: u64,
        /// Number of events.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Events per batch.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Concurrent writer threads.
        #[arg(long, default_value_t = 1)]
        writers: usize,
        /// Batches each writer keeps in flight.
        #[arg(long, default_value_t = 1)]
        in_flight: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 20_240_101)]
        seed: u64,
        /// Skip the fsync per batch.
        #[arg(long)]
        buffered: bool,
        /// Database directory (must not exist); a temporary one by default.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Keep the database directory afterwards.
        #[arg(long)]
        keep: bool,
        /// Print JSON instead of text (keys: docs/CLI.md).
        #[arg(long)]
        json: bool,
    },
    /// Replica lag, snapshot cost and pool read throughput while the primary ingests
    /// hotel-ledger-v1 at its full batch rate (JSON).
    BenchReplicas {
        /// Number of orgs.
        #[arg(long, default_value_t = 10_000)]
        orgs: u64,
        /// Number of events.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Events per batch.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 20_240_101)]
        seed: u64,
        /// In-process replicas following the primary.
        #[arg(long, default_value_t = 2)]
        replicas: usize,
        /// Milliseconds per read-thread count, split between direct and pooled reads.
        #[arg(long, default_value_t = 400)]
        phase_ms: u64,
        /// Ingest rate for the lag phase in events/s (0 = the primary's full rate).
        #[arg(long, default_value_t = 0)]
        rate: u64,
        /// Ingest rate for the read phase in events/s (0 = the primary's full rate); a fixed
        /// rate gives direct and pooled reads the same write load.
        #[arg(long, default_value_t = 0)]
        read_rate: u64,
        /// Flow control: the primary waits for a replica lagging more than this many
        /// milliseconds (the library's default bound; 0 = off).
        #[arg(long, default_value_t = 3.0)]
        flow_control_ms: f64,
        /// Pool reads wait for a replica that is applying instead of going to the primary
        /// (`PoolOptions::spill_to_primary` off).
        #[arg(long)]
        no_spill: bool,
        /// Pooled reads go through `ReadPool::read_for(org, ..)`: each org's reads on one replica.
        #[arg(long)]
        by_org: bool,
    },
    /// Run hotel-ledger-v1 on Folio, PostgreSQL and SQLite in one run; compare every checked
    /// answer exactly (exit status 1 on any disagreement) and print one table of figures and
    /// ratios (Markdown, or JSON with --json; --out DIR also writes report.md, report.json and
    /// chart.svg).
    Compare {
        /// PostgreSQL connection string, e.g. "host=127.0.0.1 port=5432 user=postgres".
        #[arg(long)]
        postgres: Option<String>,
        /// Database created on the PostgreSQL server for the run (must not exist; dropped after).
        #[arg(long, default_value = "folio_compare")]
        pg_database: String,
        /// Also run SQLite (bundled; WAL, synchronous=FULL).
        #[arg(long)]
        sqlite: bool,
        /// Number of orgs.
        #[arg(long, default_value_t = 10_000)]
        orgs: u64,
        /// Number of events.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Generator seed.
        #[arg(long, default_value_t = 20_240_101)]
        seed: u64,
        /// Events per batch.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Events ingested one per transaction by one writer, after the batches.
        #[arg(long, default_value_t = 2_000)]
        singles: u64,
        /// Events ingested one per transaction by --writers concurrent writers, after those.
        #[arg(long, default_value_t = 20_000)]
        concurrent: u64,
        /// Concurrent writers (PostgreSQL: as many connections).
        #[arg(long, default_value_t = 64)]
        writers: usize,
        /// Timed instances of Q1–Q4 (Q5: a hundredth).
        #[arg(long, default_value_t = 10_000)]
        timed: usize,
        /// Instances of every query kind whose answers are compared.
        #[arg(long, default_value_t = 200)]
        check: usize,
        /// Print the report as JSON instead of Markdown.
        #[arg(long)]
        json: bool,
        /// Directory for report.md, report.json and chart.svg.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Working directory for Folio's and SQLite's files (must not exist; removed after).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
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

/// How often `folio replica follow` looks for new frames.
const DEFAULT_FOLLOW_INTERVAL_MS: u64 = 200;

#[derive(Subcommand)]
enum ReplicaCmd {
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
enum IndexCommand {
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
enum ReportCommand {
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
enum OrgCommand {
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

/// A reader that closed our stdout (`folio ... | head`) ends the command quietly with status 0:
/// the reader had what it wanted. `println!` panics on a closed stdout; this hook ends the
/// process instead of printing the panic.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.contains("failed printing to stdout") && text.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    install_log(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // Output written through a buffer reports the closed pipe as an error: as quiet.
        Err(Error::Engine(folio::Error::Io { path, source }))
            if path == Path::new(output::STDOUT)
                && source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "folio: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Sends the engine's `tracing` events to stderr at the level `-v` or RUST_LOG asks for (none
/// without either).
fn install_log(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let level = match verbose {
        0 => "off",
        1 => "warn",
        2 => "info",
        3 => "debug",
        _ => "trace",
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .try_init();
}

/// Opens an existing database for writing. A replica or checkpoint directory is refused before it
/// is opened: opening it for writing would make a checkpoint unfit to seed a replica, and its
/// data comes only from its primary's log (`folio replica`).
fn existing(data: &Path) -> Result<Db, Error> {
    refuse_replica(data)?;
    replica_dir(data)
}

/// Refuses a replica or checkpoint directory to a command that writes its own data.
fn refuse_replica(data: &Path) -> Result<(), Error> {
    match folio::db::edge::Base::read(data)? {
        Some(_) => Err(folio::Error::from(folio::ReplicaError::ReadOnly {
            path: data.to_path_buf(),
        })
        .into()),
        None => Ok(()),
    }
}

/// Opens an existing database, or a replica directory, for writing.
fn replica_dir(data: &Path) -> Result<Db, Error> {
    let db = Db::open_with(
        data,
        Options {
            create_if_missing: false,
            ..Options::default()
        },
    )?;
    warn_recovery(&db);
    Ok(db)
}

/// Opens an existing database read-only: nothing on disk changes (a torn log tail is read
/// around, not cut; a checkpoint directory keeps its manifest), and read-only media work.
fn reader(data: &Path) -> Result<Db, Error> {
    let db = Db::open_with(data, Options::read_only())?;
    warn_recovery(&db);
    Ok(db)
}

/// One line on stderr when recovery cut (or found) a torn log tail.
fn warn_recovery(db: &Db) {
    if let Some(warning) = db.recovery().warning() {
        let _ = writeln!(std::io::stderr(), "folio: warning: {warning}");
    }
}

pub(crate) fn day_arg(s: &str) -> Result<BusinessDay, Error> {
    BusinessDay::parse(s).ok_or_else(|| {
        Error::InvalidArgument(format!("{s:?} is not a date YYYY-MM-DD of 0001..=9999"))
    })
}

/// A timestamp argument: epoch seconds or a UTC date.
pub(crate) fn time_arg(s: &str) -> Result<i64, Error> {
    if let Ok(ts) = s.parse::<i64>() {
        return Ok(ts);
    }
    Ok(day_arg(s)
        .map_err(|_| {
            Error::InvalidArgument(format!("{s:?} is neither epoch seconds nor YYYY-MM-DD"))
        })?
        .start_utc())
}

fn month_arg(s: &str) -> Result<folio::Month, Error> {
    let bad = || Error::InvalidArgument(format!("{s:?} is not a month YYYY-MM"));
    let (y, m) = s.split_once('-').ok_or_else(bad)?;
    folio::Month::from_ym(y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?)
        .ok_or_else(bad)
}

fn currency_arg(s: &str) -> Result<Currency, Error> {
    Currency::parse(s).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{s:?} is not an active ISO 4217 currency code (three capital letters, e.g. EUR, JPY)"
        ))
    })
}

#[allow(clippy::too_many_arguments)]
fn compare(
    options: folio_cli::compare::CompareOptions,
    json: bool,
    out: Option<PathBuf>,
) -> Result<(), Error> {
    let dir = options.dir.clone();
    let existed = dir.exists();
    let progress = |step: &str| {
        let _ = writeln!(std::io::stderr(), "folio compare: {step}");
    };
    let result = folio_cli::compare::run(&options, &progress);
    if !existed {
        // Only what this run created (an existing --dir is refused before anything is written).
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = result?;
    let text = serde_json::to_string_pretty(&report).unwrap_or_default();
    let table = report.markdown();
    if let Some(out) = out {
        std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
        for (name, body) in [
            ("report.md", &table),
            ("report.json", &text),
            ("chart.svg", &report.svg()),
        ] {
            let path = out.join(name);
            std::fs::write(&path, body).map_err(|e| Error::io(&path, e))?;
        }
    }
    if json {
        println!("{text}");
    } else {
        print!("{table}");
    }
    if !report.disagreements.is_empty() {
        for d in report.disagreements.iter().take(50) {
            let _ = writeln!(std::io::stderr(), "disagreement: {d}");
        }
        return Err(Error::InvalidArgument(format!(
            "{} answers differ between engines",
            report.disagreements.len()
        )));
    }
    Ok(())
}

fn run(cli: Cli) -> Result<(), Error> {
    let data = cli.data;
    match cli.command {
        Command::Compare {
            postgres,
            pg_database,
            sqlite,
            orgs,
            events,
            seed,
            batch,
            singles,
            concurrent,
            writers,
            timed,
            check,
            json,
            out,
            dir,
        } => {
            let dir = dir.unwrap_or_else(|| {
                std::env::temp_dir().join(format!("folio-compare-{}", std::process::id()))
            });
            let options = folio_cli::compare::CompareOptions {
                params: folio_workload::Params { seed, orgs, events },
                postgres,
                pg_database,
                sqlite,
                batch,
                singles,
                concurrent,
                writers,
                timed,
                check,
                dir,
            };
            compare(options, json, out)?;
        }
        Command::Init { shards } => {
            if data.join(folio::store::meta::META_FILE).exists() {
                return Err(folio::Error::AlreadyExists { path: data }.into());
            }
            Db::open_with(
                &data,
                Options {
                    shards,
                    ..Options::default()
                },
            )?
            .close()?;
            println!("created {} with {shards} balance shards", data.display());
        }
        Command::Org(OrgCommand::Add {
            id,
            name,
            currency,
            tz,
            opening,
        }) => {
            let db = existing(&data)?;
            let org = Org::new(OrgId(id), name, currency_arg(&currency)?)
                .with_time_zone(tz)
                .with_opening_balance(Money(opening));
            let lsn = db.register_org(org)?;
            db.close()?;
            println!("org {id} registered (LSN {lsn})");
        }
        Command::Info { json } => {
            let db = reader(&data)?;
            let info = db.info();
            db.close()?;
            info::print(&info?, json);
        }
        Command::Org(OrgCommand::List { json }) => {
            let db = reader(&data)?;
            output::orgs(&db.read().orgs(), json);
            db.close()?;
        }
        Command::Ingest {
            file,
            batch,
            auto_org,
            currency,
            format,
            buffered,
        } => {
            refuse_replica(&data)?;
            let durability = if buffered {
                Durability::Buffered
            } else {
                Durability::Sync
            };
            let db = Db::open_with(
                &data,
                Options {
                    create_if_missing: false,
                    durability,
                    ..Options::default()
                },
            )?;
            warn_recovery(&db);
            let options = IngestOptions {
                batch: batch.clamp(1, folio::limits::MAX_BATCH_OPS / 2),
                auto_org: if auto_org {
                    Some(currency_arg(&currency)?)
                } else {
                    None
                },
                format: format.map(|f| {
                    if f == "csv" {
                        InputFormat::Csv
                    } else {
                        InputFormat::Jsonl
                    }
                }),
            };
            let bar = if ingest::is_stdin(&file) {
                indicatif::ProgressBar::hidden()
            } else {
                output::bytes_bar(
                    std::fs::metadata(&file)
                        .map_err(|e| Error::io(&file, e))?
                        .len(),
                )
            };
            let summary = ingest::ingest_file(&db, &file, &options, |n| bar.inc(n));
            bar.finish_and_clear();
            let summary = summary?;
            db.close()?;
            println!(
                "ingested {} events in {} batches ({} orgs registered) in {:.2} s: {:.0} events/s, last LSN {}",
                summary.events,
                summary.batches,
                summary.orgs_registered,
                summary.seconds,
                summary.events_per_sec(),
                summary.lsn
            );
        }
        Command::Balance { org, day, json } => {
            let db = reader(&data)?;
            let balance = db.balance(OrgId(org), day_arg(&day)?)?;
            let currencies = output::Currencies::of(&db);
            db.close()?;
            output::balance(&balance, &currencies, json);
        }
        Command::Balances {
            org,
            from,
            to,
            json,
        } => {
            let db = reader(&data)?;
            let rows = db.balances(OrgId(org), day_arg(&from)?, day_arg(&to)?)?;
            let currencies = output::Currencies::of(&db);
            db.close()?;
            for row in &rows {
                output::balance(row, &currencies, json);
            }
        }
        Command::Entries {
            org,
            from,
            to,
            json,
        } => {
            let db = reader(&data)?;
            let entries = db.entries(OrgId(org), time_arg(&from)?, time_arg(&to)?)?;
            let currencies = output::Currencies::of(&db);
            db.close()?;
            output::entries(&entries, &currencies, json);
        }
        Command::Checkpoint { out, json } => {
            let db = reader(&data)?;
            let info = db.checkpoint_to(&out)?;
            db.close()?;
            if json {
                println!("{}", serde_json::to_string(&info).unwrap_or_default());
            } else {
                println!(
                    "checkpoint {} at LSN {}: {} files, {} bytes",
                    info.path.display(),
                    info.lsn,
                    info.files,
                    info.bytes
                );
            }
        }
        Command::Replica {
            action,
            from,
            follow,
            once,
        } => {
            let action = match (action, follow) {
                (Some(action), _) => action,
                (None, Some(log)) => ReplicaCmd::Follow {
                    from,
                    log,
                    once,
                    interval_ms: DEFAULT_FOLLOW_INTERVAL_MS,
                },
                (None, None) => {
                    return Err(Error::InvalidArgument(
                        "replica: give a command (follow, apply, status) or --follow LOGDIR".into(),
                    ))
                }
            };
            replica_cmd(&data, action)?
        }
        Command::BenchReplicas {
            orgs,
            events,
            batch,
            seed,
            replicas,
            phase_ms,
            rate,
            read_rate,
            flow_control_ms,
            no_spill,
            by_org,
        } => {
            let flow_control = (flow_control_ms > 0.0)
                .then(|| std::time::Duration::from_secs_f64(flow_control_ms / 1e3));
            let report = bench::replicas(
                &Params { seed, orgs, events },
                &bench::ReplicaBench {
                    batch,
                    replicas,
                    phase_ms,
                    rate,
                    read_rate,
                    flow_control,
                    spill_to_primary: !no_spill,
                    by_org,
                },
            )?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
        }
        Command::Verify { json } => {
            let db = reader(&data)?;
            let report = db.verify();
            db.close()?;
            output::verify(&report, json);
            if !report.is_ok() {
                return Err(Error::InvalidArgument(format!(
                    "verify found {} problem(s)",
                    report.problems.len()
                )));
            }
        }
        Command::Recover {
            accept_loss,
            side,
            json,
        } => recover::run(&data, accept_loss, side, json)?,
        Command::Queries { file } => {
            let db = reader(&data)?;
            output::queries(&db, &file)?;
            db.close()?;
        }
        Command::Query(args) => {
            let db = reader(&data)?;
            let query = output::build_query(&args)?;
            let currencies = output::Currencies::of(&db);
            let result = if args.explain {
                db.explain(&query)
                    .map(|plan| output::plan(&plan, args.json))
            } else {
                db.query(&query)
                    .map(|out| output::query_output(&out, &currencies, args.json))
            };
            db.close()?;
            result?;
        }
        Command::Index(IndexCommand::Create {
            name,
            table,
            key,
            include,
            predicate,
        }) => {
            let def = output::index_def(&name, &table, &key, &include, predicate.as_deref())?;
            let db = existing(&data)?;
            let bar = output::events_bar(0);
            let result = db.create_index(def, |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            });
            bar.finish_and_clear();
            db.close()?;
            println!("index {name} created and backfilled (LSN {})", result?);
        }
        Command::Index(IndexCommand::Drop { name }) => {
            let db = existing(&data)?;
            let result = db.drop_index(&name);
            db.close()?;
            println!("index {name} dropped (LSN {})", result?);
        }
        Command::Index(IndexCommand::List { json }) => {
            let db = reader(&data)?;
            output::indexes(&db.read().indexes(), json);
            db.close()?;
        }
        Command::Report(report) => {
            let db = reader(&data)?;
            output::report(&db, report)?;
            db.close()?;
        }
        Command::Generate {
            queries: Some(count),
            orgs,
            events,
            seed,
            ..
        } => {
            let params = Params { seed, orgs, events };
            params
                .validate()
                .map_err(|e| Error::InvalidArgument(e.to_string()))?;
            for kind in 1..=5u8 {
                for q in folio_workload::instances(kind, &params, count)? {
                    println!("{}", q.to_json_line());
                }
            }
        }
        Command::Generate {
            orgs,
            events,
            seed,
            csv,
            ..
        } => {
            let params = Params { seed, orgs, events };
            params
                .validate()
                .map_err(|e| Error::InvalidArgument(e.to_string()))?;
            let format = if csv {
                InputFormat::Csv
            } else {
                InputFormat::Jsonl
            };
            output::generate(Generator::new(params)?, format)?;
        }
        Command::Bench {
            orgs,
            events,
            batch,
            writers,
            in_flight,
            seed,
            buffered,
            dir,
            keep,
            json,
        } => {
            let config = BenchConfig {
                params: Params { seed, orgs, events },
                batch,
                writers,
                in_flight,
                durability: if buffered {
                    Durability::Buffered
                } else {
                    Durability::Sync
                },
                dir,
                keep,
                ..BenchConfig::default()
            };
            let bar = output::events_bar(events);
            let report = bench::run(&config, &|n| bar.set_position(n));
            bar.finish_and_clear();
            output::bench(&report?, json);
        }
        Command::Demo { orgs, events } => demo::run(
            &data,
            Params {
                orgs,
                events,
                ..Params::default()
            },
        )?,
    }
    Ok(())
}

fn replica_cmd(data: &Path, action: ReplicaCmd) -> Result<(), Error> {
    match action {
        ReplicaCmd::Follow {
            from,
            log,
            once,
            interval_ms,
        } => {
            if !data.exists() {
                let from = from.ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "{} does not exist: give --from CHECKPOINT to seed it",
                        data.display()
                    ))
                })?;
                let lsn = folio::db::edge::seed_from_checkpoint(&from, data)?;
                eprintln!(
                    "seeded {} from {} at LSN {lsn}",
                    data.display(),
                    from.display()
                );
            }
            let db = replica_dir(data)?;
            if !db.is_replica() {
                return Err(Error::InvalidArgument(format!(
                    "{} is not a replica directory",
                    data.display()
                )));
            }
            loop {
                match db.follow(&log) {
                    Ok(n) => {
                        if n > 0 {
                            eprintln!("applied {n} frames, at LSN {}", db.visible_lsn());
                        } else if once {
                            break;
                        }
                    }
                    // Offline: keep what is applied and retry; refusals end the run.
                    Err(folio::Error::Io { path, source }) => {
                        eprintln!(
                            "source unreachable ({}: {source}); retrying",
                            path.display()
                        );
                        if once {
                            db.close()?;
                            return Err(folio::Error::Io { path, source }.into());
                        }
                    }
                    Err(e) => {
                        db.close()?;
                        return Err(e.into());
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(interval_ms));
            }
            println!("replica {} at LSN {}", data.display(), db.visible_lsn());
            db.close()?;
        }
        ReplicaCmd::Apply { segments } => {
            let db = replica_dir(data)?;
            let lsn = db.apply_segments(&segments);
            db.close()?;
            println!("replica {} at LSN {}", data.display(), lsn?);
        }
        ReplicaCmd::Status { log, json } => {
            let base = folio::db::edge::Base::read(data)?;
            let db = reader(data)?;
            let applied = db.visible_lsn().0;
            let sync = log
                .as_ref()
                .map(|dir| folio::replica::sync_status(dir, db.db_id(), applied, db.log_crc()));
            db.close()?;
            let sync = sync.transpose()?;
            let state = sync.as_ref().map(|s| s.state.as_str());
            let source = sync.as_ref().and_then(|s| s.source_lsn);
            let lag = sync.as_ref().and_then(|s| s.lag_lsn);
            let detail = sync.as_ref().and_then(|s| s.detail.clone());
            if json {
                let v = serde_json::json!({
                    "data": data.display().to_string(),
                    "replica": base.is_some(),
                    "base_lsn": base.map(|b| b.lsn),
                    "applied_lsn": applied,
                    "source_lsn": source,
                    "state": state,
                    "lag_lsn": lag,
                    "detail": detail,
                });
                println!("{v}");
            } else {
                println!(
                    "{}: applied LSN {applied}, base {:?}, source {:?}, state {}, lag {:?}{}",
                    data.display(),
                    base.map(|b| b.lsn),
                    source,
                    state.unwrap_or("unknown (no --log)"),
                    lag,
                    detail.map(|d| format!(" ({d})")).unwrap_or_default()
                );
            }
        }
    }
    Ok(())
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

    #[test]
    fn every_command_flag_and_argument_has_help_text() {
        let mut missing = Vec::new();
        without_help(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }
}
