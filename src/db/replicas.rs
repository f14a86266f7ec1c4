//! The database's side of in-process replicas and read pools: a [`Replica`] starts from what
//! the database hands it ([`Source`]), and a [`ReadPool`] reads the primary through
//! [`PrimaryReads`], which the database implements.

use super::Db;
use crate::error::Result;
use crate::format::WAL_DIR;
use crate::model::Lsn;
use crate::query::{ReadKind, Snapshot, StateRef};
use crate::replica::pool::PrimaryReads;
use crate::replica::{PoolOptions, ReadPool, Replica, ReplicaOptions, Source};
use std::sync::Arc;

impl Db {
    /// Starts an in-process replica from a snapshot of this database; it tails this database's
    /// log from there, under the default flow control (`ReplicaOptions::default()`: the primary
    /// delays a group commit while the replica trails by more than 3 ms and is applying).
    ///
    /// # Errors
    /// [`crate::Error::Thread`] if the system refuses the replica's applier thread.
    pub fn replica(&self, name: &str) -> Result<Replica> {
        self.replica_with(name, ReplicaOptions::default())
    }

    /// [`Db::replica`] with options (e.g. flow control).
    ///
    /// # Errors
    /// [`crate::Error::Thread`] if the system refuses the replica's applier thread.
    pub fn replica_with(&self, name: &str, options: ReplicaOptions) -> Result<Replica> {
        self.shared.ensure(crate::query::Scope::All)?;
        let (state, entries, log_crc) = {
            let current = self.shared.state.read();
            let entries = current.applier.entries.settled();
            (current.state.clone(), entries, current.log_crc)
        };
        let source = Source {
            state,
            entries,
            log_crc,
            log_dir: self.shared.path.join(WAL_DIR),
            vfs: self.shared.vfs.clone(),
            db_id: self.shared.db_id,
            progress: self.shared.progress.clone(),
        };
        Replica::start(name.to_string(), source, options)
    }
}

impl PrimaryReads for Db {
    fn snapshot(&self) -> Snapshot {
        Db::snapshot(self)
    }

    fn state_for(&self, kind: ReadKind) -> StateRef<'_> {
        Db::state_for(self, kind)
    }

    fn try_state_for(&self, kind: ReadKind) -> Option<StateRef<'_>> {
        Db::try_state_for(self, kind)
    }

    fn ensure(&self, scope: crate::query::Scope) -> Result<()> {
        self.shared.ensure(scope)
    }

    fn visible_lsn(&self) -> Lsn {
        Db::visible_lsn(self)
    }
}

impl ReadPool {
    /// A pool over `primary` and `replicas`; starts the health checker.
    ///
    /// # Errors
    /// [`crate::Error::Thread`] if the system refuses the health checker's thread.
    pub fn new(
        primary: Arc<Db>,
        replicas: Vec<Arc<Replica>>,
        options: PoolOptions,
    ) -> Result<ReadPool> {
        ReadPool::over(primary, replicas, options)
    }
}

#[cfg(test)]
mod tests {
    use crate::Db;
    use std::sync::atomic::Ordering;

    /// The committer splits its apply over two threads only while it and every in-process
    /// replica can each have two cores; replicas count from start to stop.
    #[test]
    fn the_primary_splits_its_apply_only_when_replicas_leave_it_the_cores() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let db = Db::open(tmp.path().join("db")).expect("open");
        let progress = &db.shared.progress;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(progress.followers.load(Ordering::Relaxed), 0);
        assert_eq!(progress.primary_may_split(), cores >= 2);
        let r1 = db.replica("r1").expect("replica");
        let r2 = db.replica("r2").expect("replica");
        assert_eq!(progress.followers.load(Ordering::Relaxed), 2);
        assert_eq!(progress.primary_may_split(), cores >= 6);
        r1.stop();
        r1.stop();
        assert_eq!(progress.followers.load(Ordering::Relaxed), 1);
        drop(r2);
        drop(r1);
        assert_eq!(progress.followers.load(Ordering::Relaxed), 0);
        assert_eq!(progress.primary_may_split(), cores >= 2);
    }
}
