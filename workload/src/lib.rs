//! The deterministic `hotel-ledger-v1` workload (see `shared/workload/WORKLOAD.md`):
//! the splitmix64 generator, Zipf org popularity, the ledger event stream,
//! its JSONL and CSV forms, and the query instance streams Q1–Q5 — over one year of history, or
//! `years` of them (the multi-year variant, [`Params::years`]).
//!
//! ```
//! use folio_workload::{Generator, Params};
//!
//! let mut line = Vec::new();
//! let first = Generator::new(Params::default())
//!     .expect("valid parameters")
//!     .next()
//!     .expect("one event");
//! first.write_jsonl(&mut line);
//! assert!(line.starts_with(br#"{"entry_id":1,"org_id":1799,"kind":"expense""#));
//! ```

mod error;
mod format;
mod generator;
pub mod ingest;
mod queries;
mod rng;
pub mod run;
mod zipf;

pub use error::{Error, Result};
pub use format::{
    parse_csv_line, parse_csv_op, parse_jsonl_line, parse_jsonl_op, IngestOp, InputFormat,
    ParseError, CSV_HEADER, CSV_OPS_HEADER,
};
pub use generator::{
    Generator, Params, ParamsError, WorkloadEvent, DAY, DAYS_PER_YEAR, FIRST_DAY, MAX_AMOUNT,
    MAX_YEARS, SPAN, T0, T1,
};
pub use queries::{calendar_month, instances, QueryInstance, MAX_INSTANCES, MAX_MONTH};
pub use rng::{uniform, SplitMix64};
pub use zipf::{Zipf, MAX_ORGS};
