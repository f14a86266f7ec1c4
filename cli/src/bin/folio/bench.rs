//! `folio bench`, `folio bench-checkpoints` and `folio bench-replicas`: hotel-ledger-v1 on a
//! fresh database.

use crate::cli::{BenchArgs, BenchCheckpointsArgs, BenchReplicasArgs};
use crate::output;
use folio::Durability;
use folio_cli::bench::{self, BenchConfig};
use folio_cli::Error;
use folio_workload::Params;

/// `folio bench`: ingest rate, disk use, reopen time and query latencies.
pub fn run(args: BenchArgs, memory_budget: Option<u64>) -> Result<(), Error> {
    let BenchArgs {
        workload,
        batch,
        writers,
        in_flight,
        buffered,
        dir,
        keep,
        freeze,
        json,
    } = args;
    let config = BenchConfig {
        params: workload.params(),
        batch,
        writers,
        in_flight,
        durability: if buffered {
            Durability::Buffered
        } else {
            Durability::Sync
        },
        dir,
        keep,
        freeze,
        memory_budget,
        ..BenchConfig::default()
    };
    let bar = output::events_bar(workload.events);
    let report = bench::run(&config, &|n| bar.set_position(n));
    bar.finish_and_clear();
    output::bench(&report?, json);
    Ok(())
}

/// `folio bench-checkpoints`: commit latency beside checkpoints, as JSON.
pub fn checkpoints(args: BenchCheckpointsArgs) -> Result<(), Error> {
    let BenchCheckpointsArgs {
        orgs,
        events,
        batch,
        writers,
        rate,
        pause_ms,
        seconds,
        seed,
    } = args;
    let report = bench::checkpoints(&bench::CheckpointBench {
        params: Params {
            seed,
            orgs,
            events,
            years: 1,
        },
        batch,
        writers,
        rate,
        pause: std::time::Duration::from_millis(pause_ms),
        seconds,
    })?;
    output::pretty_json(&report);
    Ok(())
}

/// `folio bench-replicas`: replica lag, snapshot cost and pool reads, as JSON.
pub fn replicas(args: BenchReplicasArgs) -> Result<(), Error> {
    let BenchReplicasArgs {
        orgs,
        events,
        batch,
        seed,
        replicas,
        phase_ms,
        rate,
        read_rate,
        flow_control_ms,
        no_spill,
        by_org,
    } = args;
    let flow_control =
        (flow_control_ms > 0.0).then(|| std::time::Duration::from_secs_f64(flow_control_ms / 1e3));
    let report = bench::replicas(
        &Params {
            seed,
            orgs,
            events,
            years: 1,
        },
        &bench::ReplicaBench {
            batch,
            replicas,
            phase_ms,
            rate,
            read_rate,
            flow_control,
            spill_to_primary: !no_spill,
            by_org,
        },
    )?;
    output::pretty_json(&report);
    Ok(())
}
