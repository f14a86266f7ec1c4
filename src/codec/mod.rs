//! Pure encodings, no I/O: order-preserving keys, log records and log frames.

pub mod frame;
pub mod key;
pub mod record;
