//! Loading hotel-ledger-v1 files (JSON Lines or CSV) into a database, in batches.

use crate::db::{Db, Ticket};
use crate::error::{Error, Result};
use crate::limits::MAX_INGEST_LINE_BYTES;
use crate::model::{Batch, Currency, Entry, EntryId, Lsn, Money, Op, Org, OrgId};
use crate::workload::{InputFormat, WorkloadEvent};
use std::collections::{HashSet, VecDeque};
use std::io::{BufRead, Read};
use std::path::Path;
use std::time::Instant;

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

/// (org id, entry id, line number) of a posting in a batch being loaded.
type LineRef = (u64, u64, u64);

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

/// Adds auto-registered orgs and postings to batches, tracking which orgs exist.
struct BatchBuilder<'a> {
    db: &'a Db,
    auto_org: Option<Currency>,
    known: HashSet<u64>,
    ops: Vec<Op>,
    /// (org, entry id, line) of each posting in the batch being built.
    lines: Vec<LineRef>,
    events: u64,
    orgs_registered: u64,
}

impl BatchBuilder<'_> {
    fn push(&mut self, event: &WorkloadEvent, line: u64) {
        self.lines.push((event.org_id, event.entry_id, line));
        if let Some(currency) = self.auto_org {
            if self.known.insert(event.org_id) && self.db.org(OrgId(event.org_id)).is_none() {
                self.ops
                    .push(Op::RegisterOrg(auto_org(OrgId(event.org_id), currency)));
                self.orgs_registered += 1;
            }
        }
        self.ops.push(Op::Post(entry_of(event)));
        self.events += 1;
    }

    fn take(&mut self) -> (Batch, u64, Vec<LineRef>) {
        let events = std::mem::take(&mut self.events);
        (
            Batch::from(std::mem::take(&mut self.ops)),
            events,
            std::mem::take(&mut self.lines),
        )
    }
}

/// The line a rejection points at: the posting it names, else the first line of the batch.
fn rejected_line(rejection: &crate::error::Rejection, lines: &[LineRef]) -> u64 {
    let named = |l: &&LineRef| {
        rejection.org().is_none_or(|o| o.0 == l.0) && rejection.entry().is_none_or(|e| e.0 == l.1)
    };
    lines
        .iter()
        .find(named)
        .or(lines.first())
        .map_or(0, |l| l.2)
}

/// Loads a file. Lines are parsed a batch at a time; a malformed line stops the load before its
/// batch is recorded and is reported with its line number. Batches recorded before it stay.
pub fn ingest_file(
    db: &Db,
    path: &Path,
    options: &IngestOptions,
    mut progress: impl FnMut(u64),
) -> Result<IngestSummary> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let format = options.format.unwrap_or_else(|| InputFormat::detect(path));
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut builder = BatchBuilder {
        db,
        auto_org: options.auto_org,
        known: HashSet::new(),
        ops: Vec::with_capacity(options.batch),
        lines: Vec::with_capacity(options.batch),
        events: 0,
        orgs_registered: 0,
    };
    let mut in_flight: VecDeque<(Ticket, u64, Vec<LineRef>)> = VecDeque::new();
    let mut summary = IngestSummary::default();
    let started = Instant::now();
    let mut line = String::new();
    let mut number = 0u64;
    let input_error = |line: u64, why: String| Error::Input {
        file: path.to_path_buf(),
        line,
        why,
    };
    loop {
        line.clear();
        // Bounded: a line longer than the limit is an error, not an unbounded allocation.
        let read = (&mut reader)
            .take(MAX_INGEST_LINE_BYTES as u64 + 1)
            .read_line(&mut line)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidData => input_error(number + 1, "not UTF-8".into()),
                _ => Error::io(path, e),
            })?;
        if read > 0 {
            number += 1;
            progress(read as u64);
            if read > MAX_INGEST_LINE_BYTES {
                return Err(input_error(
                    number,
                    format!("line longer than {MAX_INGEST_LINE_BYTES} bytes"),
                ));
            }
            let text = line.trim_end_matches(['\n', '\r']);
            let is_header = number == 1 && format.header().is_some_and(|h| text == h);
            if !is_header && !text.is_empty() {
                let event = format
                    .parse_line(text)
                    .map_err(|e| input_error(number, e.to_string()))?;
                builder.push(&event, number);
            }
        }
        let full = builder.events as usize >= options.batch;
        if (full || read == 0) && builder.events > 0 {
            let (batch, events, lines) = builder.take();
            in_flight.push_back((db.submit(batch)?, events, lines));
        }
        while in_flight.len() > IN_FLIGHT || (read == 0 && !in_flight.is_empty()) {
            let Some((ticket, events, lines)) = in_flight.pop_front() else {
                break;
            };
            summary.lsn = ticket.wait().map_err(|e| match e {
                Error::Rejected(r) => {
                    let first = lines.first().map_or(0, |l| l.2);
                    let last = lines.last().map_or(0, |l| l.2);
                    let why = format!("{r} (batch of lines {first}..={last} not applied)");
                    input_error(rejected_line(&r, &lines), why)
                }
                other => other,
            })?;
            summary.events += events;
            summary.batches += 1;
        }
        if read == 0 {
            break;
        }
    }
    summary.orgs_registered = builder.orgs_registered;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}
