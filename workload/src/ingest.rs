//! Loading hotel-ledger-v1 files (JSON Lines or CSV) into a database, in batches.

use crate::{Error, IngestOp, InputFormat, Result, WorkloadEvent};
use folio::{
    Batch, BatchError, Currency, Db, Entry, EntryId, Lsn, Money, Op, Org, OrgId, PayExpense,
    Reversal, Ticket,
};
use std::collections::{HashSet, VecDeque};
use std::io::{BufRead, Read};
use std::path::Path;
use std::time::Instant;

/// Length of a JSONL/CSV ingest line.
pub const MAX_INGEST_LINE_BYTES: usize = 4096;

/// Batches kept in flight by one loader so that group commit can merge them.
pub const IN_FLIGHT: usize = 4;

/// The posting a workload event stands for.
pub fn entry_of(e: &WorkloadEvent) -> Entry {
    Entry {
        org: OrgId(e.org_id),
        id: EntryId(e.entry_id),
        kind: e.kind,
        occurred_at: e.occurred_at,
        amount: Money(e.amount),
        category: e.category,
        payment_method: e.payment_method,
        status: e.status,
        reference: String::new(),
    }
}

/// The org `--auto-org` registers for an unknown id: UTC, opening balance 0.
pub fn auto_org(id: OrgId, currency: Currency) -> Org {
    Org::new(id, format!("org-{id}"), currency)
}

/// How to load.
#[derive(Clone, Debug)]
pub struct IngestOptions {
    pub batch: usize,
    /// Register unknown orgs (UTC, opening balance 0, this currency) in the batch that needs them.
    pub auto_org: Option<Currency>,
    pub format: Option<InputFormat>,
}

/// What a load did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IngestSummary {
    /// Lines recorded: postings, reversals and payments.
    pub events: u64,
    pub batches: u64,
    pub orgs_registered: u64,
    pub seconds: f64,
    pub lsn: Lsn,
}

impl IngestSummary {
    pub fn events_per_sec(&self) -> f64 {
        if self.seconds > 0.0 {
            self.events as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// The operation a line of an ingest file stands for.
pub fn op_of(line: &IngestOp) -> Op {
    match *line {
        IngestOp::Post(ref e) => Op::Post(entry_of(e)),
        IngestOp::Reversal {
            org_id,
            entry_id,
            reverses,
            occurred_at,
        } => Op::Reverse(Reversal {
            org: OrgId(org_id),
            id: EntryId(entry_id),
            reverses: EntryId(reverses),
            occurred_at,
            reference: String::new(),
        }),
        IngestOp::Payment {
            org_id,
            entry_id,
            paid_at,
        } => Op::Pay(PayExpense {
            org: OrgId(org_id),
            entry: EntryId(entry_id),
            paid_at,
        }),
    }
}

/// A batch being built or in flight, with the file line of each of its operations.
#[derive(Default)]
struct Lines {
    ops: Vec<Op>,
    /// `lines[i]` is the line `ops[i]` comes from (an auto-registered org: the line needing it).
    lines: Vec<u64>,
    events: u64,
}

impl Lines {
    fn range(&self) -> (u64, u64) {
        (
            self.lines.first().copied().unwrap_or(0),
            self.lines.last().copied().unwrap_or(0),
        )
    }
}

/// Adds auto-registered orgs and lines to batches, tracking which orgs exist.
struct BatchBuilder<'a> {
    db: &'a Db,
    auto_org: Option<Currency>,
    known: HashSet<u64>,
    current: Lines,
    orgs_registered: u64,
}

impl BatchBuilder<'_> {
    fn push(&mut self, op: &IngestOp, line: u64) {
        if let (Some(currency), IngestOp::Post(_)) = (self.auto_org, op) {
            // Only a posting registers its org: a reversal or payment needs an existing entry.
            let org = op.org_id();
            if self.known.insert(org) && matches!(self.db.org(OrgId(org)), Ok(None)) {
                self.current
                    .ops
                    .push(Op::RegisterOrg(auto_org(OrgId(org), currency)));
                self.current.lines.push(line);
                self.orgs_registered += 1;
            }
        }
        self.current.ops.push(op_of(op));
        self.current.lines.push(line);
        self.current.events += 1;
    }

    fn take(&mut self) -> (Batch, Lines) {
        let mut lines = std::mem::take(&mut self.current);
        let batch = Batch::from(std::mem::take(&mut lines.ops));
        (batch, lines)
    }
}

/// Where a load stopped: the first failing line and what it means for the file.
struct Stop {
    line: u64,
    why: String,
    /// The failing batch's lines, when a batch was rejected (else the line was never submitted).
    batch: Option<(u64, u64)>,
}

/// The input of a load: a file, or standard input for the path `-`.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Loads a file (standard input for the path `-`; JSON Lines unless `options.format` says CSV).
/// Lines are parsed a batch at a time. A malformed or rejected line stops the load: nothing of
/// its batch is recorded, the error names the line and tells which lines are recorded. Loading
/// the same file again is idempotent: lines already recorded are identical repeats and change
/// nothing.
pub fn ingest_file(
    db: &Db,
    path: &Path,
    options: &IngestOptions,
    progress: impl FnMut(u64),
) -> Result<IngestSummary> {
    if is_stdin(path) {
        let stdin = std::io::stdin();
        let format = options.format.unwrap_or(InputFormat::Jsonl);
        let name = Path::new("<stdin>");
        return ingest_reader(db, stdin.lock(), name, format, options, progress);
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let format = options.format.unwrap_or_else(|| InputFormat::detect(path));
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    ingest_reader(db, reader, path, format, options, progress)
}

/// Loads lines from `reader`, named `path` in errors (see [`ingest_file`]).
pub fn ingest_reader(
    db: &Db,
    mut reader: impl BufRead,
    path: &Path,
    format: InputFormat,
    options: &IngestOptions,
    mut progress: impl FnMut(u64),
) -> Result<IngestSummary> {
    let mut load = Load::new(db, options);
    let started = Instant::now();
    let mut line = String::new();
    let mut number = 0u64;
    loop {
        let read = match read_line(&mut reader, &mut line) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                load.stop_at(number + 1, "not UTF-8".into());
                0
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        if read > 0 {
            number += 1;
            progress(read as u64);
            match parse_line(format, &line, read, number) {
                Ok(Some(op)) => load.builder.push(&op, number),
                Ok(None) => {}
                Err(why) => load.stop_at(number, why),
            }
        }
        let end = read == 0;
        load.submit(end, options.batch)?;
        load.settle(end)?;
        if end || load.stop.is_some() {
            break;
        }
    }
    load.finish(started, path)
}

/// Reads the next line into `line`; the bytes read, 0 at the end of the input. Bounded: a line
/// longer than the limit is an error, not an unbounded allocation, so at most one byte more than
/// the limit is read.
fn read_line(reader: &mut impl BufRead, line: &mut String) -> std::io::Result<usize> {
    line.clear();
    reader
        .take(MAX_INGEST_LINE_BYTES as u64 + 1)
        .read_line(line)
}

/// The operation line `number` of the input stands for (`read` bytes with its line ending):
/// `None` for a header or an empty line, the reason when it is too long or does not parse.
fn parse_line(
    format: InputFormat,
    line: &str,
    read: usize,
    number: u64,
) -> Result<Option<IngestOp>, String> {
    let text = line.trim_end_matches(['\n', '\r']);
    let is_header = number == 1 && format.headers().contains(&text);
    if read > MAX_INGEST_LINE_BYTES {
        Err(format!("line longer than {MAX_INGEST_LINE_BYTES} bytes"))
    } else if is_header || text.is_empty() {
        Ok(None)
    } else {
        format
            .parse_op_line(text)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

/// A load under way: the batch being built, the batches in flight and what is recorded.
struct Load<'a> {
    builder: BatchBuilder<'a>,
    in_flight: VecDeque<(Ticket, Lines)>,
    summary: IngestSummary,
    /// Every line up to this one is recorded (the last line of the last batch recorded in order).
    recorded_through: u64,
    stop: Option<Stop>,
    /// Whether a batch was rejected; batches recorded after it are `later` (first, last line).
    rejected: bool,
    later: Option<(u64, u64)>,
}

impl<'a> Load<'a> {
    fn new(db: &'a Db, options: &IngestOptions) -> Load<'a> {
        Load {
            builder: BatchBuilder {
                db,
                auto_org: options.auto_org,
                known: HashSet::new(),
                current: Lines::default(),
                orgs_registered: 0,
            },
            in_flight: VecDeque::new(),
            summary: IngestSummary::default(),
            recorded_through: 0,
            stop: None,
            rejected: false,
            later: None,
        }
    }

    /// Line `line` failed to read or parse: the load stops there.
    fn stop_at(&mut self, line: u64, why: String) {
        self.stop = Some(Stop {
            line,
            why,
            batch: None,
        });
    }

    /// Submits the batch being built once it holds `batch` lines, or at the `end` of the input,
    /// unless a line failed.
    fn submit(&mut self, end: bool, batch: usize) -> Result<()> {
        let events = self.builder.current.events;
        let full = events as usize >= batch;
        if (full || end) && self.stop.is_none() && events > 0 {
            let (batch, lines) = self.builder.take();
            self.in_flight
                .push_back((self.builder.db.submit(batch)?, lines));
        }
        Ok(())
    }

    /// Waits for the batches in flight beyond [`IN_FLIGHT`], or for all of them at the `end` of
    /// the input or once a line failed (nothing more is submitted then).
    fn settle(&mut self, end: bool) -> Result<()> {
        while self.in_flight.len() > IN_FLIGHT
            || ((end || self.stop.is_some()) && !self.in_flight.is_empty())
        {
            let Some((ticket, lines)) = self.in_flight.pop_front() else {
                break;
            };
            self.answered(ticket.wait_op(), &lines)?;
        }
        Ok(())
    }

    /// Takes in the database's answer to the batch of `lines`.
    fn answered(&mut self, answer: Result<Lsn, BatchError>, lines: &Lines) -> Result<()> {
        let (first, last) = lines.range();
        match answer {
            Ok(lsn) => {
                self.summary.lsn = self.summary.lsn.max(lsn);
                self.summary.events += lines.events;
                self.summary.batches += 1;
                if !self.rejected {
                    self.recorded_through = last;
                } else {
                    self.later = Some(self.later.map_or((first, last), |(a, _)| (a, last)));
                }
            }
            Err(BatchError {
                error: folio::Error::Rejected(r),
                op_index,
            }) => {
                let line = op_index
                    .and_then(|i| lines.lines.get(i).copied())
                    .unwrap_or(first);
                // The first rejected batch stops the load (before any later parse error).
                if !self.rejected {
                    self.rejected = true;
                    self.stop = Some(Stop {
                        line,
                        why: r.to_string(),
                        batch: Some((first, last)),
                    });
                }
            }
            Err(other) => return Err(other.error.into()),
        }
        Ok(())
    }

    /// The load's summary, or the error naming the line it stopped at.
    fn finish(mut self, started: Instant, path: &Path) -> Result<IngestSummary> {
        self.summary.orgs_registered = self.builder.orgs_registered;
        self.summary.seconds = started.elapsed().as_secs_f64();
        match self.stop {
            None => Ok(self.summary),
            Some(stop) => Err(Error::Input {
                file: path.to_path_buf(),
                line: stop.line,
                why: stopped_why(&stop, self.recorded_through, self.later, &self.summary),
            }),
        }
    }
}

/// The message of a load that stopped: the failure, what of the file is recorded, and that
/// re-running the file is safe.
fn stopped_why(
    stop: &Stop,
    recorded_through: u64,
    later: Option<(u64, u64)>,
    summary: &IngestSummary,
) -> String {
    let mut why = stop.why.clone();
    if let Some((first, last)) = stop.batch {
        why.push_str(&format!(
            "; nothing of its batch (lines {first}..={last}) is recorded"
        ));
    }
    let recorded = if summary.events == 0 {
        "no line of the file is recorded".to_owned()
    } else {
        let before = if recorded_through == 0 {
            "no line before it is recorded".to_owned()
        } else {
            format!("lines 1..={recorded_through} are recorded")
        };
        // Batches already in flight behind a rejected one may have been recorded.
        let after = later.map_or(String::new(), |(first, last)| {
            format!(", and so are lines {first}..={last}")
        });
        format!(
            "{before}{after} ({} operations, last LSN {})",
            summary.events, summary.lsn
        )
    };
    why.push_str(&format!(
        "; {recorded}; loading the same file again is idempotent: recorded lines are skipped as \
         repeats"
    ));
    why
}
