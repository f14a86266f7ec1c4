//! The write-ahead log: segment files of checksummed frames, the source of truth and the audit trail.

pub mod follow;
pub mod position;
pub mod recovery;
pub mod segment;
pub mod writer;

pub use follow::{read_segments, sync_status, LogFollower, ShippedFrame, SyncState, SyncStatus};
pub use recovery::{cut_torn, frames_in, recover, Expect, LogFrame, LogTail, TornTail};
pub use position::{LogMarks, LogPosition};
pub use writer::LogWriter;
