//! One test per class of bad input. Each asserts the exact error and that nothing changed: the
//! visible LSN, the orgs, their balance rows and their ledger listings are identical before and
//! after (and, where it matters, after a reopen). Every error's Display must be one clear line.
//!
//! * `fixture.rs`: the database the ledger and org cases start from, and the "rejected, nothing
//!   changed" / "accepted as a no-op" checks;
//! * `postings.rs`, `reversals_and_payments.rs`, `orgs.rs`: bad operations;
//! * `opening.rs`: bad directories to open;
//! * `display.rs`: every error's Display.

#![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must work"

#[path = "../common/mod.rs"]
mod common;

mod display;
mod fixture;
mod opening;
mod orgs;
mod postings;
mod reversals_and_payments;
