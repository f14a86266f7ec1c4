//! The `folio` command: a thin layer over the library. `cli` declares the command line, one
//! module per command (or group of commands) runs it, `output` prints what they found.

/// mimalloc instead of the system allocator: under a long ingest the system allocator keeps
/// freed memory in per-thread arenas and fragments, so the process's RssAnon grows well past what
/// the engine holds (docs/ARCHITECTURE.md, "Dependencies"). Embedders choose their own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod balance;
mod bench;
mod cli;
mod compare;
mod demo;
mod freeze;
mod generate;
mod index;
mod info;
mod ingest;
mod init;
mod log;
mod open;
mod output;
mod parse;
mod query;
mod recover;
mod replica;
mod report;
mod verify;

use clap::Parser;
use cli::{Cli, Command};
use folio_cli::Error;
use folio_workload::Params;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// A reader that closed our stdout (`folio ... | head`) ends the command quietly with status 0:
/// the reader had what it wanted. `println!` panics on a closed stdout; this hook ends the
/// process instead of printing the panic.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.contains("failed printing to stdout") && text.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    log::install(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // Output written through a buffer reports the closed pipe as an error: as quiet.
        Err(Error::Engine(folio::Error::Io { path, source }))
            if path == Path::new(output::STDOUT)
                && source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "folio: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the command on the database directory --data.
fn run(cli: Cli) -> Result<(), Error> {
    let data = cli.data.as_path();
    let memory_budget = cli
        .memory_budget
        .as_deref()
        .map(parse::bytes_arg)
        .transpose()?;
    if let Some(bytes) = memory_budget {
        open::set_memory_budget(bytes);
    }
    match cli.command {
        Command::Init { shards } => init::init(data, shards),
        Command::Org(command) => init::org(data, command),
        Command::Info { json } => info::run(data, json),
        Command::Ingest(args) => ingest::run(data, args),
        Command::Balance { org, day, json } => balance::balance(data, org, &day, json),
        Command::Balances {
            org,
            from,
            to,
            json,
        } => balance::balances(data, org, &from, &to, json),
        Command::Entries {
            org,
            from,
            to,
            json,
        } => balance::entries(data, org, &from, &to, json),
        Command::Verify { json } => verify::run(data, json),
        Command::Freeze { before, json } => freeze::freeze(data, before.as_deref(), json),
        Command::Months { json } => freeze::months(data, json),
        Command::Recover {
            accept_loss,
            side,
            json,
        } => recover::run(data, accept_loss, side, json),
        Command::Queries { file } => query::queries(data, &file),
        Command::Report(command) => report::run(data, command),
        Command::Query(args) => query::run(data, &args),
        Command::Index(command) => index::run(data, command),
        Command::Generate(args) => generate::run(args),
        Command::Bench(args) => bench::run(args, memory_budget),
        Command::BenchCheckpoints(args) => bench::checkpoints(args),
        Command::BenchReplicas(args) => bench::replicas(args),
        Command::Compare(args) => compare::run(args, memory_budget),
        Command::Checkpoint { out, json } => replica::checkpoint(data, &out, json),
        Command::Replica {
            action,
            from,
            follow,
            once,
        } => replica::run(data, action, from, follow, once),
        Command::Demo { orgs, events } => demo::run(
            data,
            Params {
                orgs,
                events,
                ..Params::default()
            },
        ),
    }
}
