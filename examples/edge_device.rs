//! An offline edge device (a hotel's back-office laptop, a kiosk): it seeds a read replica from
//! a checkpoint of the primary, follows the primary's shipped log segments whenever they reach
//! it, and answers reads locally — also while the primary is unreachable.
//!
//! ```sh
//! cargo run -p folio --example edge_device
//! ```
//!
//! Here the primary runs in the same process and "shipping" is a shared directory; on a real
//! device the checkpoint and the `wal/` segments arrive by copy (USB, rsync, object storage).

use folio::{
    seed_from_checkpoint, Batch, BusinessDay, Category, Currency, Db, Entry, EntryId, Error, Money,
    Org, OrgId, PaymentMethod,
};

/// 2024-06-01 00:00:00 UTC.
const DAY_START: i64 = 1_717_200_000;

fn main() -> Result<(), Error> {
    let root = std::env::temp_dir().join(format!("folio-edge-device-{}", std::process::id()));
    let primary_dir = root.join("primary");
    let checkpoint_dir = root.join("checkpoint");
    let edge_dir = root.join("edge");

    // The primary (the hotel server): some history, then a checkpoint to ship.
    let primary = Db::open(&primary_dir)?;
    primary.register_org(Org::new(OrgId(7), "Lakeside Hotel", Currency::EUR))?;
    post_day(&primary, 0, 40)?;
    let shipped = primary.checkpoint_to(&checkpoint_dir)?;
    println!(
        "checkpoint at LSN {}: {} files, {} bytes",
        shipped.lsn, shipped.files, shipped.bytes
    );

    // The device seeds its replica from the checkpoint (verified file by file) and opens it.
    let lsn = seed_from_checkpoint(&checkpoint_dir, &edge_dir)?;
    let edge = Db::open(&edge_dir)?;
    println!("edge seeded at LSN {lsn}, replica: {}", edge.is_replica());

    // The primary keeps posting while the device is offline.
    post_day(&primary, 1, 60)?;
    let day1 = BusinessDay::utc(DAY_START + 86_400)?;
    let offline = edge.snapshot();
    println!(
        "offline: edge at LSN {}, day 2 closing {} (primary at LSN {})",
        offline.lsn(),
        offline.balance(OrgId(7), day1)?.closing.0,
        primary.visible_lsn()
    );

    // Segments reach the device: it applies what is new (checksums and the LSN chain checked;
    // a gap, a fork or another database's log is refused with nothing applied).
    let log = primary_dir.join(folio::WAL_DIR);
    let applied = edge.follow(&log)?;
    let online = edge.snapshot();
    let want = primary.snapshot().balance(OrgId(7), day1)?.closing;
    let got = online.balance(OrgId(7), day1)?.closing;
    println!(
        "synced: applied {applied} frames, edge at LSN {}, day 2 closing {} (primary {})",
        online.lsn(),
        got.0,
        want.0
    );
    if got != want || online.lsn() != primary.visible_lsn() {
        return Err(Error::InvalidArgument(
            "the edge replica did not converge".into(),
        ));
    }
    // Writes belong to the primary: the replica refuses them.
    let refused = edge.record(Batch::new().post(stay(99_999, DAY_START)));
    println!(
        "a write on the edge: {}",
        refused.map_or_else(|e| e.to_string(), |_| "accepted?".into())
    );

    edge.close()?;
    primary.close()?;
    std::fs::remove_dir_all(&root).map_err(|e| Error::io(&root, e))
}

/// A day of stays for the hotel: `count` postings on day `day` (0-based).
fn post_day(db: &Db, day: i64, count: u64) -> Result<(), Error> {
    let start = DAY_START + day * 86_400;
    let first = db.snapshot().entry_count()? as u64 + 1;
    for n in 0..count {
        let at = start + (n as i64 * 1_800) % 86_000;
        db.record(Batch::new().post(stay(first + n, at)))?;
    }
    Ok(())
}

fn stay(id: u64, at: i64) -> Entry {
    Entry::revenue(
        OrgId(7),
        EntryId(id),
        at,
        Money(12_500),
        Category::Rooms,
        PaymentMethod::Card,
    )
}
