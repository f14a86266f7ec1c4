//! The write-ahead log: segment files of checksummed frames, the source of truth and the audit trail.

pub mod recovery;
pub mod segment;
pub mod writer;

pub use recovery::{cut_torn, frames_in, recover, Expect, LogTail, TornTail};
pub use writer::LogWriter;
