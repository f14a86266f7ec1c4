//! Pure encodings, no I/O: order-preserving keys, log records (compact and rkyv), log frames
//! and varints.

pub mod compact;
pub mod frame;
pub mod key;
pub mod record;
pub mod varint;
