//! What every public handle promises at compile time: `Debug`, and `Send + Sync` for the ones
//! shared across threads.

use crate::{Db, ReadPool, Replica, Snapshot, Ticket};
use std::fmt;

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.path())
            .field("lsn", &self.visible_lsn())
            .field("read_only", &self.is_read_only())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("lsn", &self.lsn())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket").finish_non_exhaustive()
    }
}

impl fmt::Debug for Replica {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replica")
            .field("name", &self.name())
            .field("applied_lsn", &self.applied_lsn())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ReadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadPool").finish_non_exhaustive()
    }
}

/// Compiles only when `T` can be shared across threads.
const fn shared_across_threads<T: Send + Sync>() {}

const _: () = {
    shared_across_threads::<Db>();
    shared_across_threads::<Snapshot>();
    shared_across_threads::<ReadPool>();
    shared_across_threads::<Replica>();
};

#[cfg(feature = "internals")]
impl Snapshot {
    /// The state behind the snapshot, for the fuzz targets' seed generator (feature `internals`;
    /// no stability promise).
    #[doc(hidden)]
    pub fn internal_state(&self) -> &crate::state::State {
        self.state()
    }
}
