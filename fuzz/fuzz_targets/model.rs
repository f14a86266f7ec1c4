//! A script of batches, closes, crashes (log cut at a chosen offset) and checkpoints run against
//! a real database and a simple model: the database accepts exactly the valid batches, holds
//! exactly the model, and after a crash the model as of its visible LSN; `verify` stays clean.
//! (Harness and input layout: `folio_fuzz::model`.)
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| folio_fuzz::model::model(data));
