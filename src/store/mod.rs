//! The materialized store on sled: a rebuildable view of the log, written by checkpoints.

pub mod checkpoint;
pub mod compact;
pub mod durable;
pub mod load;
pub mod meta;
pub mod pack;

pub use checkpoint::{CheckpointStats, Store};
