//! Text forms of workload events: canonical JSONL and CSV writers, and strict
//! parsers for both. Parsers work on one line and know nothing of line
//! numbers; callers add them to errors.

use std::borrow::Cow;
use std::ops::RangeInclusive;
use std::path::Path;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::generator::WorkloadEvent;
use folio::{Category, ExpenseStatus, Kind, PaymentMethod};

/// Header line of the CSV form (without line end).
pub const CSV_HEADER: &str =
    "entry_id,org_id,kind,occurred_at,amount,category,payment_method,status";

/// Header line of the CSV form with operations: [`CSV_HEADER`] and three more columns.
pub const CSV_OPS_HEADER: &str =
    "entry_id,org_id,kind,occurred_at,amount,category,payment_method,status,op,reverses,paid_at";

/// Number of fields in a CSV posting line.
const CSV_FIELDS: usize = 8;
/// Number of fields in a CSV line with the `op`, `reverses` and `paid_at` columns.
const CSV_OP_FIELDS: usize = 11;

/// Longest excerpt of offending input quoted in an error message, in chars.
const EXCERPT_CHARS: usize = 64;

const U64_RANGE: RangeInclusive<i128> = 0..=u64::MAX as i128;
const I64_RANGE: RangeInclusive<i128> = i64::MIN as i128..=i64::MAX as i128;
const U64_EXPECTED: &str = "an unsigned 64-bit integer";
const I64_EXPECTED: &str = "a signed 64-bit integer";

/// Why a line is not a valid workload event (or query instance).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The line is empty or only whitespace.
    #[error("empty line")]
    Empty,
    /// The JSON line does not start with an object.
    #[error("expected a JSON object")]
    NotAnObject,
    /// Malformed JSON, an unknown or duplicate key, or a value of the wrong JSON type.
    #[error("invalid JSON: {0}")]
    Json(serde_json::Error),
    /// Something other than whitespace follows the JSON object.
    #[error("unexpected characters after the JSON object")]
    TrailingGarbage,
    /// The CSV line does not have the expected number of fields.
    #[error("expected {expected} comma-separated fields, found {found}")]
    FieldCount {
        /// Fields a line must have.
        expected: usize,
        /// Fields the line has.
        found: usize,
    },
    /// A required field is absent.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A numeric field is not an integer or out of range.
    #[error("field `{field}`: expected {expected}, found {found}")]
    BadNumber {
        /// The field name.
        field: &'static str,
        /// What the field accepts.
        expected: &'static str,
        /// The offending value, as written (shortened if long).
        found: String,
    },
    /// A text field holds a JSON value that is not a string.
    #[error("field `{field}`: expected a string, found {found}")]
    NotAString {
        /// The field name.
        field: &'static str,
        /// The offending value.
        found: String,
    },
    /// `kind` is neither `revenue` nor `expense`.
    #[error("unknown kind `{0}` (expected revenue or expense)")]
    UnknownKind(String),
    /// `category` is not a known category name.
    #[error("unknown category `{0}`")]
    UnknownCategory(String),
    /// `payment_method` is not a known payment method.
    #[error("unknown payment method `{0}` (expected cash, card or bank_transfer)")]
    UnknownPaymentMethod(String),
    /// `status` is not a known expense status.
    #[error("unknown status `{0}` (expected pending or paid)")]
    UnknownStatus(String),
    /// A revenue entry carries a status; only expenses have one.
    #[error("revenue entries have no status, found `{0}`")]
    StatusForRevenue(String),
    /// An expense entry has no status.
    #[error("expense entries need a status (pending or paid)")]
    MissingStatus,
    /// The category exists but belongs to the other ledger.
    #[error("category `{category}` is not allowed for {kind} entries")]
    CategoryNotAllowed {
        /// The category given.
        category: Category,
        /// The entry's kind.
        kind: Kind,
    },
    /// `op` is none of `post`, `reversal` and `payment`.
    #[error("unknown op `{0}` (expected post, reversal or payment)")]
    UnknownOp(String),
    /// A line has a field its op does not take (e.g. an amount on a reversal).
    #[error("field `{field}` does not belong to a {op} line")]
    FieldNotForOp {
        /// The field name.
        field: &'static str,
        /// The line's op: `post`, `reversal` or `payment`.
        op: &'static str,
    },
    /// The line is a reversal or a payment where only postings are accepted.
    #[error("a {0} line where only postings are accepted")]
    NotAPosting(&'static str),
    /// A query line names no known query kind.
    #[error("unknown query `{0}` (expected Q1, Q2, Q3, Q4 or Q5)")]
    UnknownQuery(String),
    /// A query line has a field its query kind does not take.
    #[error("field `{field}` does not belong to query {query}")]
    UnexpectedField {
        /// The field name.
        field: &'static str,
        /// The query kind, e.g. `Q1`.
        query: &'static str,
    },
}

/// The text form of an event file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputFormat {
    /// One canonical JSON object per line.
    Jsonl,
    /// Comma-separated values under [`CSV_HEADER`].
    Csv,
}

impl InputFormat {
    /// The format of `path` by its extension: `.csv` (any case) is CSV, anything else JSONL.
    pub fn detect(path: &Path) -> Self {
        match path.extension() {
            Some(ext) if ext.eq_ignore_ascii_case("csv") => Self::Csv,
            _ => Self::Jsonl,
        }
    }

    /// The header line this format starts with, if any (without line end).
    pub fn header(self) -> Option<&'static str> {
        match self {
            Self::Jsonl => None,
            Self::Csv => Some(CSV_HEADER),
        }
    }

    /// The header lines this format may start with (without line end): the posting header and
    /// the header with operation columns. Empty for JSONL.
    pub fn headers(self) -> &'static [&'static str] {
        match self {
            Self::Jsonl => &[],
            Self::Csv => &[CSV_HEADER, CSV_OPS_HEADER],
        }
    }

    /// Parses one event line in this format.
    pub fn parse_line(self, line: &str) -> Result<WorkloadEvent, ParseError> {
        match self {
            Self::Jsonl => parse_jsonl_line(line),
            Self::Csv => parse_csv_line(line),
        }
    }

    /// Parses one line of a file to ingest: a posting, a reversal or an expense payment.
    pub fn parse_op_line(self, line: &str) -> Result<IngestOp, ParseError> {
        match self {
            Self::Jsonl => parse_jsonl_op(line),
            Self::Csv => parse_csv_op(line),
        }
    }

    /// Appends `event` as one line (with `\n`) in this format.
    pub fn write_event(self, event: &WorkloadEvent, out: &mut Vec<u8>) {
        match self {
            Self::Jsonl => event.write_jsonl(out),
            Self::Csv => event.write_csv(out),
        }
    }
}

// ---------------------------------------------------------------- writing

impl WorkloadEvent {
    /// Appends the canonical JSONL line: keys in fixed order, no spaces,
    /// `"status":null` when there is no status, and a trailing `\n`.
    pub fn write_jsonl(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"entry_id\":");
        push_u64(out, self.entry_id);
        out.extend_from_slice(b",\"org_id\":");
        push_u64(out, self.org_id);
        out.extend_from_slice(b",\"kind\":\"");
        out.extend_from_slice(self.kind.as_str().as_bytes());
        out.extend_from_slice(b"\",\"occurred_at\":");
        push_i64(out, self.occurred_at);
        out.extend_from_slice(b",\"amount\":");
        push_i64(out, self.amount);
        out.extend_from_slice(b",\"category\":\"");
        out.extend_from_slice(self.category.as_str().as_bytes());
        out.extend_from_slice(b"\",\"payment_method\":\"");
        out.extend_from_slice(self.payment_method.as_str().as_bytes());
        match self.status {
            None => out.extend_from_slice(b"\",\"status\":null}\n"),
            Some(status) => {
                out.extend_from_slice(b"\",\"status\":\"");
                out.extend_from_slice(status.as_str().as_bytes());
                out.extend_from_slice(b"\"}\n");
            }
        }
    }

    /// Appends the CSV line in [`CSV_HEADER`] order, an empty last field when
    /// there is no status, and a trailing `\n`.
    pub fn write_csv(&self, out: &mut Vec<u8>) {
        push_u64(out, self.entry_id);
        out.push(b',');
        push_u64(out, self.org_id);
        out.push(b',');
        out.extend_from_slice(self.kind.as_str().as_bytes());
        out.push(b',');
        push_i64(out, self.occurred_at);
        out.push(b',');
        push_i64(out, self.amount);
        out.push(b',');
        out.extend_from_slice(self.category.as_str().as_bytes());
        out.push(b',');
        out.extend_from_slice(self.payment_method.as_str().as_bytes());
        out.push(b',');
        if let Some(status) = self.status {
            out.extend_from_slice(status.as_str().as_bytes());
        }
        out.push(b'\n');
    }
}

/// Appends the decimal digits of `v`.
fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[start..]);
}

/// Appends `v` in decimal with a leading `-` when negative.
fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

// ---------------------------------------------------------------- parsing

/// One line of a file `folio ingest` loads (see docs/CLI.md, "Ingest formats").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IngestOp {
    /// A posting: a line without `op` (every hotel-ledger-v1 line), or with `op` `post`.
    Post(WorkloadEvent),
    /// `op` `reversal`: entry `entry_id` of org `org_id` cancels entry `reverses` on the business
    /// day of `occurred_at`.
    Reversal {
        /// The org of both entries.
        org_id: u64,
        /// The reversal's own id (its idempotency key).
        entry_id: u64,
        /// The id of the entry it cancels.
        reverses: u64,
        /// UTC epoch seconds.
        occurred_at: i64,
    },
    /// `op` `payment`: the pending expense `entry_id` of org `org_id` was paid at `paid_at`.
    Payment {
        /// The org of the expense.
        org_id: u64,
        /// The expense's id.
        entry_id: u64,
        /// UTC epoch seconds.
        paid_at: i64,
    },
}

impl IngestOp {
    /// The org the line is about.
    pub fn org_id(&self) -> u64 {
        match self {
            Self::Post(e) => e.org_id,
            Self::Reversal { org_id, .. } | Self::Payment { org_id, .. } => *org_id,
        }
    }
}

/// The line's op once read: `None` (no `op`) and `post` are postings.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OpName {
    Post,
    Reversal,
    Payment,
}

impl OpName {
    fn parse(text: Option<&str>) -> Result<OpName, ParseError> {
        match text {
            None | Some("post") => Ok(Self::Post),
            Some("reversal") => Ok(Self::Reversal),
            Some("payment") => Ok(Self::Payment),
            Some(other) => Err(ParseError::UnknownOp(excerpt(other))),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Post => "post",
            Self::Reversal => "reversal",
            Self::Payment => "payment",
        }
    }

    /// The fields a line of this op must not have.
    fn foreign(self) -> &'static [&'static str] {
        match self {
            Self::Post => &["reverses", "paid_at"],
            Self::Reversal => &[
                "kind",
                "amount",
                "category",
                "payment_method",
                "status",
                "paid_at",
            ],
            Self::Payment => &[
                "kind",
                "amount",
                "category",
                "payment_method",
                "status",
                "occurred_at",
                "reverses",
            ],
        }
    }

    /// Refuses the first field of `present` this op does not take.
    fn check_fields(self, present: &[&'static str]) -> Result<(), ParseError> {
        match present.iter().find(|f| self.foreign().contains(f)) {
            Some(field) => Err(ParseError::FieldNotForOp {
                field,
                op: self.as_str(),
            }),
            None => Ok(()),
        }
    }
}

/// A reversal or payment line's ids and times, each `None` when absent.
struct OpFields {
    org_id: Option<u64>,
    entry_id: Option<u64>,
    occurred_at: Option<i64>,
    reverses: Option<u64>,
    paid_at: Option<i64>,
}

impl OpFields {
    /// The reversal or payment these fields make (the caller checked foreign fields).
    fn into_op(self, op: OpName) -> Result<IngestOp, ParseError> {
        let org_id = self.org_id.ok_or(ParseError::MissingField("org_id"))?;
        let entry_id = self.entry_id.ok_or(ParseError::MissingField("entry_id"))?;
        Ok(match op {
            OpName::Reversal => IngestOp::Reversal {
                org_id,
                entry_id,
                reverses: self.reverses.ok_or(ParseError::MissingField("reverses"))?,
                occurred_at: self
                    .occurred_at
                    .ok_or(ParseError::MissingField("occurred_at"))?,
            },
            _ => IngestOp::Payment {
                org_id,
                entry_id,
                paid_at: self.paid_at.ok_or(ParseError::MissingField("paid_at"))?,
            },
        })
    }
}

/// The fields of an event line once read, before their meaning is checked.
struct Fields<'a> {
    entry_id: u64,
    org_id: u64,
    kind: &'a str,
    occurred_at: i64,
    amount: i64,
    category: &'a str,
    payment_method: &'a str,
    status: Option<&'a str>,
}

impl Fields<'_> {
    /// Checks names and the rules tying status and category to the kind.
    fn into_event(self) -> Result<WorkloadEvent, ParseError> {
        let kind: Kind = self
            .kind
            .parse()
            .map_err(|()| ParseError::UnknownKind(excerpt(self.kind)))?;
        let category: Category = self
            .category
            .parse()
            .map_err(|()| ParseError::UnknownCategory(excerpt(self.category)))?;
        if !category.allowed_for(kind) {
            return Err(ParseError::CategoryNotAllowed { category, kind });
        }
        let payment_method: PaymentMethod = self
            .payment_method
            .parse()
            .map_err(|()| ParseError::UnknownPaymentMethod(excerpt(self.payment_method)))?;
        let status = match (kind, self.status) {
            (Kind::Revenue, None) => None,
            (Kind::Revenue, Some(text)) => return Err(ParseError::StatusForRevenue(excerpt(text))),
            (Kind::Expense, None) => return Err(ParseError::MissingStatus),
            (Kind::Expense, Some(text)) => Some(
                text.parse::<ExpenseStatus>()
                    .map_err(|()| ParseError::UnknownStatus(excerpt(text)))?,
            ),
        };
        Ok(WorkloadEvent {
            entry_id: self.entry_id,
            org_id: self.org_id,
            kind,
            occurred_at: self.occurred_at,
            amount: self.amount,
            category,
            payment_method,
            status,
        })
    }
}

/// Parses one JSONL event line. Keys may come in any order with any JSON
/// whitespace; all eight are required (`status` may be `null` and must be for
/// revenue); numbers must be JSON integers in range.
pub fn parse_jsonl_line(line: &str) -> Result<WorkloadEvent, ParseError> {
    posting_only(parse_jsonl_op(line)?)
}

/// Parses one JSONL line of a file to ingest: without `op` (or with `"op":"post"`) a posting as
/// [`parse_jsonl_line`] reads it; `"op":"reversal"` with `org_id`, `entry_id`, `reverses` and
/// `occurred_at`; `"op":"payment"` with `org_id`, `entry_id` and `paid_at`. Any other key is an
/// error.
pub fn parse_jsonl_op(line: &str) -> Result<IngestOp, ParseError> {
    let body = line.trim_start_matches(is_json_whitespace);
    if body.is_empty() {
        return Err(ParseError::Empty);
    }
    if !body.starts_with('{') {
        return Err(ParseError::NotAnObject);
    }
    let mut de = serde_json::Deserializer::from_str(body);
    let raw = RawEvent::deserialize(&mut de).map_err(ParseError::Json)?;
    de.end().map_err(|_| ParseError::TrailingGarbage)?;
    let op = OpName::parse(raw.op.as_ref().map(|o| o.text("op")).transpose()?)?;
    op.check_fields(&raw.present())?;
    if op == OpName::Post {
        return raw.fields()?.into_event().map(IngestOp::Post);
    }
    let id = |field, value: &Option<Scalar<'_>>| {
        value.as_ref().map(|v| v.integer_u64(field)).transpose()
    };
    let time = |field, value: &Option<Scalar<'_>>| {
        value.as_ref().map(|v| v.integer_i64(field)).transpose()
    };
    OpFields {
        org_id: id("org_id", &raw.org_id)?,
        entry_id: id("entry_id", &raw.entry_id)?,
        reverses: id("reverses", &raw.reverses)?,
        occurred_at: time("occurred_at", &raw.occurred_at)?,
        paid_at: time("paid_at", &raw.paid_at)?,
    }
    .into_op(op)
}

/// Parses one CSV event line (a trailing `\n` or `\r\n` is allowed). Fields
/// are unquoted; revenue has an empty status field.
pub fn parse_csv_line(line: &str) -> Result<WorkloadEvent, ParseError> {
    posting_only(parse_csv_op(line)?)
}

/// Parses one CSV line of a file to ingest: eight fields in [`CSV_HEADER`] order are a posting
/// as [`parse_csv_line`] reads it; eleven fields follow [`CSV_OPS_HEADER`], where `op` is empty
/// or `post` (a posting; `reverses` and `paid_at` empty), `reversal` (`entry_id`, `org_id`,
/// `occurred_at` and `reverses`; the rest empty) or `payment` (`entry_id`, `org_id` and
/// `paid_at`; the rest empty).
pub fn parse_csv_op(line: &str) -> Result<IngestOp, ParseError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let mut cells = [""; CSV_OP_FIELDS];
    let mut found = 0;
    for cell in line.split(',') {
        if let Some(slot) = cells.get_mut(found) {
            *slot = cell;
        }
        found += 1;
    }
    if found != CSV_FIELDS && found != CSV_OP_FIELDS {
        return Err(ParseError::FieldCount {
            expected: if found > CSV_FIELDS {
                CSV_OP_FIELDS
            } else {
                CSV_FIELDS
            },
            found,
        });
    }
    let [entry_id, org_id, kind, occurred_at, amount, category, payment_method, status, op, reverses, paid_at] =
        cells;
    let op = OpName::parse((!op.is_empty()).then_some(op))?;
    let present: Vec<&'static str> = CSV_OPS_HEADER
        .split(',')
        .zip(cells)
        .filter(|(_, cell)| !cell.is_empty())
        .map(|(name, _)| name)
        .collect();
    op.check_fields(&present)?;
    if op == OpName::Post {
        return Fields {
            entry_id: csv_number("entry_id", entry_id, U64_EXPECTED)?,
            org_id: csv_number("org_id", org_id, U64_EXPECTED)?,
            kind,
            occurred_at: csv_number("occurred_at", occurred_at, I64_EXPECTED)?,
            amount: csv_number("amount", amount, I64_EXPECTED)?,
            category,
            payment_method,
            status: (!status.is_empty()).then_some(status),
        }
        .into_event()
        .map(IngestOp::Post);
    }
    let id = |field: &'static str, text: &str| -> Result<Option<u64>, ParseError> {
        (!text.is_empty())
            .then(|| csv_number(field, text, U64_EXPECTED))
            .transpose()
    };
    let time = |field: &'static str, text: &str| -> Result<Option<i64>, ParseError> {
        (!text.is_empty())
            .then(|| csv_number(field, text, I64_EXPECTED))
            .transpose()
    };
    OpFields {
        org_id: id("org_id", org_id)?,
        entry_id: id("entry_id", entry_id)?,
        reverses: id("reverses", reverses)?,
        occurred_at: time("occurred_at", occurred_at)?,
        paid_at: time("paid_at", paid_at)?,
    }
    .into_op(op)
}

/// The posting of a line, or an error for a reversal or payment line.
fn posting_only(op: IngestOp) -> Result<WorkloadEvent, ParseError> {
    match op {
        IngestOp::Post(event) => Ok(event),
        IngestOp::Reversal { .. } => Err(ParseError::NotAPosting("reversal")),
        IngestOp::Payment { .. } => Err(ParseError::NotAPosting("payment")),
    }
}

fn csv_number<T: std::str::FromStr>(
    field: &'static str,
    text: &str,
    expected: &'static str,
) -> Result<T, ParseError> {
    text.parse().map_err(|_| ParseError::BadNumber {
        field,
        expected,
        found: if text.is_empty() {
            "an empty field".to_owned()
        } else {
            format!("`{}`", excerpt(text))
        },
    })
}

fn is_json_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// `text` cut to [`EXCERPT_CHARS`] characters, for error messages.
pub(crate) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

/// A JSON event object as read: every field optional so that absence,
/// `null` and wrong types get their own errors.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    entry_id: Option<Scalar<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    org_id: Option<Scalar<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    kind: Option<Scalar<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    occurred_at: Option<Scalar<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    amount: Option<Scalar<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    category: Option<Scalar<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    payment_method: Option<Scalar<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    status: Option<Scalar<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    op: Option<Scalar<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    reverses: Option<Scalar<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    paid_at: Option<Scalar<'a>>,
}

impl RawEvent<'_> {
    /// The names of the keys the line has (`op` aside).
    fn present(&self) -> Vec<&'static str> {
        [
            ("entry_id", &self.entry_id),
            ("org_id", &self.org_id),
            ("kind", &self.kind),
            ("occurred_at", &self.occurred_at),
            ("amount", &self.amount),
            ("category", &self.category),
            ("payment_method", &self.payment_method),
            ("status", &self.status),
            ("reverses", &self.reverses),
            ("paid_at", &self.paid_at),
        ]
        .into_iter()
        .filter(|(_, value)| value.is_some())
        .map(|(name, _)| name)
        .collect()
    }

    fn fields(&self) -> Result<Fields<'_>, ParseError> {
        Ok(Fields {
            entry_id: required("entry_id", &self.entry_id)?.integer_u64("entry_id")?,
            org_id: required("org_id", &self.org_id)?.integer_u64("org_id")?,
            kind: required("kind", &self.kind)?.text("kind")?,
            occurred_at: required("occurred_at", &self.occurred_at)?.integer_i64("occurred_at")?,
            amount: required("amount", &self.amount)?.integer_i64("amount")?,
            category: required("category", &self.category)?.text("category")?,
            payment_method: required("payment_method", &self.payment_method)?
                .text("payment_method")?,
            status: match required("status", &self.status)? {
                Scalar::Null => None,
                other => Some(other.text("status")?),
            },
        })
    }
}

/// The value of a field that must be present.
pub(crate) fn required<'s, 'a>(
    field: &'static str,
    value: &'s Option<Scalar<'a>>,
) -> Result<&'s Scalar<'a>, ParseError> {
    value.as_ref().ok_or(ParseError::MissingField(field))
}

/// `deserialize_with` helper: a present key yields `Some`, even for `null`,
/// so that with `#[serde(default)]` only an absent key yields `None`.
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Any JSON scalar, captured as is so that the caller decides what is valid.
/// Strings borrow from the input unless they contain escapes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    Integer(i128),
    Float(f64),
    Str(Cow<'a, str>),
}

impl Scalar<'_> {
    /// The value as an integer within `range`.
    pub(crate) fn integer_in(
        &self,
        field: &'static str,
        range: RangeInclusive<i128>,
        expected: &'static str,
    ) -> Result<i128, ParseError> {
        match self {
            Self::Integer(n) if range.contains(n) => Ok(*n),
            other => Err(ParseError::BadNumber {
                field,
                expected,
                found: other.describe(),
            }),
        }
    }

    fn integer_u64(&self, field: &'static str) -> Result<u64, ParseError> {
        let n = self.integer_in(field, U64_RANGE, U64_EXPECTED)?;
        // In range by the check above.
        Ok(n as u64)
    }

    fn integer_i64(&self, field: &'static str) -> Result<i64, ParseError> {
        let n = self.integer_in(field, I64_RANGE, I64_EXPECTED)?;
        Ok(n as i64)
    }

    /// The value as a string.
    pub(crate) fn text(&self, field: &'static str) -> Result<&str, ParseError> {
        match self {
            Self::Str(text) => Ok(text),
            other => Err(ParseError::NotAString {
                field,
                found: other.describe(),
            }),
        }
    }

    /// How the value reads in an error message.
    fn describe(&self) -> String {
        match self {
            Self::Null => "null".to_owned(),
            Self::Bool(b) => b.to_string(),
            Self::Integer(n) => n.to_string(),
            // `{:?}` keeps the decimal point or exponent that marks a float.
            Self::Float(x) => format!("{x:?}"),
            Self::Str(text) => format!("the string \"{}\"", excerpt(text)),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON number, string, boolean or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Integer(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Integer(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Float(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_format_like_display() {
        for v in [0i64, 7, -7, 10, 99, 100, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            push_i64(&mut out, v);
            assert_eq!(out, v.to_string().into_bytes());
        }
        let mut out = Vec::new();
        push_u64(&mut out, u64::MAX);
        assert_eq!(out, u64::MAX.to_string().into_bytes());
    }

    #[test]
    fn excerpt_cuts_on_char_boundaries() {
        let long = "é".repeat(100);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert_eq!(excerpt("short"), "short");
    }

    #[test]
    fn escaped_strings_are_accepted() {
        let line = r#"{"entry_id":1,"org_id":2,"kind":"rev\u0065nue","occurred_at":3,"amount":4,"category":"rooms","payment_method":"cash","status":null}"#;
        let event = parse_jsonl_line(line).expect("valid line");
        assert_eq!(event.kind, Kind::Revenue);
    }

    #[test]
    fn detect_by_extension() {
        assert_eq!(InputFormat::detect(Path::new("a/b.csv")), InputFormat::Csv);
        assert_eq!(InputFormat::detect(Path::new("b.CSV")), InputFormat::Csv);
        assert_eq!(
            InputFormat::detect(Path::new("b.jsonl")),
            InputFormat::Jsonl
        );
        assert_eq!(InputFormat::detect(Path::new("csv")), InputFormat::Jsonl);
    }

    #[test]
    fn op_lines_parse_and_posting_lines_stay_valid() {
        let posting = r#"{"entry_id":1,"org_id":7,"kind":"expense","occurred_at":3,"amount":4,"category":"supplies","payment_method":"cash","status":"pending"}"#;
        let event = parse_jsonl_line(posting).expect("posting");
        assert_eq!(parse_jsonl_op(posting).unwrap(), IngestOp::Post(event));
        let csv = "1,7,expense,3,4,supplies,cash,pending";
        assert_eq!(parse_csv_op(csv).unwrap(), IngestOp::Post(event));
        assert_eq!(
            parse_csv_op(&format!("{csv},post,,")).unwrap(),
            IngestOp::Post(event)
        );
        let reversal = IngestOp::Reversal {
            org_id: 7,
            entry_id: 9,
            reverses: 1,
            occurred_at: 5,
        };
        assert_eq!(
            parse_jsonl_op(
                r#"{"op":"reversal","org_id":7,"entry_id":9,"reverses":1,"occurred_at":5}"#
            )
            .unwrap(),
            reversal
        );
        assert_eq!(parse_csv_op("9,7,,5,,,,,reversal,1,").unwrap(), reversal);
        let payment = IngestOp::Payment {
            org_id: 7,
            entry_id: 1,
            paid_at: 6,
        };
        assert_eq!(
            parse_jsonl_op(r#"{"op":"payment","org_id":7,"entry_id":1,"paid_at":6}"#).unwrap(),
            payment
        );
        assert_eq!(parse_csv_op("1,7,,,,,,,payment,,6").unwrap(), payment);
        // The posting-only parsers refuse the other ops by name.
        assert!(matches!(
            parse_csv_line("1,7,,,,,,,payment,,6"),
            Err(ParseError::NotAPosting("payment"))
        ));
    }

    #[test]
    fn bad_op_lines_are_typed_errors() {
        type Check = fn(&ParseError) -> bool;
        let cases: [(&str, Check); 7] = [
            (
                r#"{"op":"refund","org_id":7}"#,
                |e| matches!(e, ParseError::UnknownOp(op) if op == "refund"),
            ),
            (r#"{"op":5,"org_id":7}"#, |e| {
                matches!(e, ParseError::NotAString { field: "op", .. })
            }),
            (r#"{"op":"payment","org_id":7,"entry_id":1}"#, |e| {
                matches!(e, ParseError::MissingField("paid_at"))
            }),
            (
                r#"{"op":"reversal","org_id":7,"entry_id":9,"reverses":1,"occurred_at":5,"amount":3}"#,
                |e| {
                    matches!(
                        e,
                        ParseError::FieldNotForOp {
                            field: "amount",
                            op: "reversal"
                        }
                    )
                },
            ),
            (
                r#"{"entry_id":1,"org_id":7,"kind":"revenue","occurred_at":3,"amount":4,"category":"rooms","payment_method":"cash","status":null,"paid_at":3}"#,
                |e| {
                    matches!(
                        e,
                        ParseError::FieldNotForOp {
                            field: "paid_at",
                            op: "post"
                        }
                    )
                },
            ),
            ("1,7,,,,,,,payment,,", |e| {
                matches!(e, ParseError::MissingField("paid_at"))
            }),
            ("1,7,,,,,,,payment,,6,9", |e| {
                matches!(
                    e,
                    ParseError::FieldCount {
                        expected: 11,
                        found: 12
                    }
                )
            }),
        ];
        for (line, check) in cases {
            let format = if line.starts_with('{') {
                InputFormat::Jsonl
            } else {
                InputFormat::Csv
            };
            let err = format.parse_op_line(line).expect_err(line);
            assert!(check(&err), "{line}: {err:?}");
        }
    }
}
