//! Deterministic recovery tests on the real file system (guarantee 5 of DESIGN.md section 2, and
//! the exactness of replay over a store checkpoint that is behind the log).
//!
//! Layout under test: `<db>/FOLIO`, `<db>/LOCK`, `<db>/wal/<20-digit first LSN>.log` (40-byte
//! segment header, then frames of a 24-byte header and an rkyv payload padded to 8 bytes) and
//! `<db>/state/` (the sled store, a rebuildable cache of the log). Every damaged database is a
//! fresh recursive copy of a pristine one, so the cases are independent.
//!
//! * `history.rs`: the recorded history and the pristine databases; `files.rs`: segments, frames
//!   and damaging bytes; `expect.rs`: what a refused open must say;
//! * `position.rs`: the durable mark's log position and which opens start from it;
//! * the cases: `torn_tails.rs`, `bit_flips.rs`, `store.rs`, `segments.rs`, `directory.rs`.

#[allow(clippy::unwrap_used)]
#[path = "../common/mod.rs"]
mod common;

mod bit_flips;
mod directory;
mod expect;
mod files;
mod history;
mod position;
mod segments;
mod store;
mod torn_tails;
