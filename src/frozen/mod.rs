//! Frozen month files: one UTC calendar month of one database, immutable and versioned
//! (`frozen/2024-03.v3.frz`), read in place through a memory map; and the manifest that says
//! which version of each month is in force.
//!
//! A file holds, per org, one block (an rkyv archive with its own CRC32): the org's ledger rows
//! of the month (both kinds, in (occurred_at, entry id) order, every field of the engine's
//! rows: 24 bytes a row, the rare fields apart), per-category roll-ups of a kind with many rows,
//! index parts, the org's day rows of the month's business days, and the entry-id order of a
//! block with many rows. A directory (sorted by org, in checksummed pages with a fence of first
//! orgs) finds one org's block without touching the rest; a month-wide top list answers "top
//! orgs by revenue"; a Bloom filter over (org, entry id) answers most idempotency checks without
//! touching any block. Files of format 2 ([`block_v2`]) are read as well. The byte layout
//! is in docs/format.md and [`layout`].
//!
//! The engine's freezer, the reads that merge frozen months with their overlays and the memory
//! budget build on [`FrozenWriter`], [`FrozenFile`] and [`FrozenDir`] (issue 19). [`from_state`] turns one month of a state into the writer's inputs
//! (and says which file holds which rows and day rows at a month end); `query::frozen` answers
//! the engine's reads of one month from its file.
//!
//! Everything read from a file is checked before it is used: the header and footer at open
//! (constant cost), every other part on first use, by its CRC32 and then by what it says
//! about itself; [`FrozenFile::verify`] checks the whole file and how its parts agree.

pub mod block;
pub mod block_v2;
pub mod filter;
pub mod from_state;
pub mod layout;
pub mod manifest;
pub mod reader;
#[cfg(feature = "internals")]
pub mod sample;
mod verify;
pub mod view;
pub mod writer;

pub use from_state::freeze_month;
pub use block::{FrozenDay, FrozenIndexPart, FrozenRow, OrgMonthInput};
pub use layout::FileId;
pub use manifest::{Cleanup, FrozenDir, ManifestEntry};
pub use reader::{Expected, FrozenFile, ReadStats};
pub use verify::FrozenVerify;
pub use view::{BlockRef, IndexView, OrgMonth, RowRef};
pub use writer::{FileMeta, FrozenWriter};
