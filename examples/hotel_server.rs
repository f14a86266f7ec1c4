//! A hotel server embedding Folio: open (or create) the database, register the chain's hotels,
//! post from several front-desk threads at once, and print the night audit.
//!
//! ```sh
//! cargo run -p folio --example hotel_server [DIR]
//! ```
//!
//! Without DIR it works in a fresh temporary directory and removes it at the end. Every `record` returns once its batch is
//! durable (fsync, group-committed with the other desks' batches), and every batch is atomic:
//! the audit never sees half of one.

use folio::{
    Batch, BusinessDay, Category, Currency, Db, Entry, EntryId, Error, ExpenseStatus, Money,
    Options, Org, OrgId, PaymentMethod,
};
use std::path::PathBuf;

/// 2024-03-15 00:00:00 UTC, the business day this example posts on.
const DAY_START: i64 = 1_710_460_800;
const DESKS: u64 = 4;
const POSTINGS_PER_DESK: u64 = 250;

fn main() -> Result<(), Error> {
    let given = std::env::args_os().nth(1).map(PathBuf::from);
    let dir = given.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("folio-hotel-server-{}", std::process::id()))
    });
    let db = Db::open_with(&dir, Options::default().shards(4))?;

    // The chain's hotels (registering is itself a logged, durable write).
    let hotels = [
        (OrgId(1), "Seaside Inn", Currency::EUR, "Europe/Lisbon"),
        (OrgId(2), "Harbour View", Currency::EUR, "Europe/Lisbon"),
        (OrgId(3), "Mountain Lodge", Currency::USD, "UTC"),
    ];
    for (id, name, currency, tz) in hotels {
        if db.org(id)?.is_none() {
            db.register_org(
                Org::new(id, name, currency)
                    .with_time_zone(tz)
                    .with_opening_balance(Money(50_000)),
            )?;
        }
    }

    // Front desks post concurrently; ids are unique per hotel (desk × postings + n).
    let first_id = db.snapshot().entry_count()? as u64;
    std::thread::scope(|scope| {
        let desks: Vec<_> = (0..DESKS)
            .map(|desk| {
                let db = &db;
                scope.spawn(move || post_shift(db, desk, first_id))
            })
            .collect();
        desks
            .into_iter()
            .map(|desk| desk.join().unwrap_or(Err(Error::Closed)))
            .collect::<Result<Vec<()>, Error>>()
    })?;

    // The night audit, on one consistent snapshot.
    let day = BusinessDay::utc(DAY_START)?;
    let audit = db.snapshot();
    println!("night audit for {day} at LSN {}", audit.lsn());
    for (id, name, currency, _) in hotels {
        let report = audit.daily_report(id, day)?;
        let b = &report.balance;
        println!(
            "{name:<16} {currency}: opening {:>10} revenue {:>10} ({:>3}) expense {:>10} ({:>3}) closing {:>10}",
            b.opening.0, b.revenue.0, b.revenue_count, b.expense.0, b.expense_count, b.closing.0
        );
        for line in &report.revenue {
            println!(
                "    revenue {:<14} {:>10} in {} postings",
                line.category.as_str(),
                line.total.0,
                line.count
            );
        }
    }
    db.close()?;
    match given {
        Some(dir) => println!("database: {}", dir.display()),
        None => std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?,
    }
    Ok(())
}

/// One desk's shift: stays and meals as revenue, supplies as expenses, one batch per guest.
fn post_shift(db: &Db, desk: u64, first_id: u64) -> Result<(), Error> {
    for n in 0..POSTINGS_PER_DESK {
        let hotel = OrgId(1 + (desk + n) % 3);
        let id = first_id + desk * POSTINGS_PER_DESK + n + 1;
        let at = DAY_START + ((n * 97 + desk * 13) % 86_000) as i64;
        let stay = Entry::revenue(
            hotel,
            EntryId(id * 2),
            at,
            Money(9_000 + (n % 7) as i64 * 1_500),
            Category::Rooms,
            PaymentMethod::Card,
        );
        let supplies = Entry::expense(
            hotel,
            EntryId(id * 2 + 1),
            at,
            Money(300 + (n % 5) as i64 * 40),
            Category::Supplies,
            PaymentMethod::BankTransfer,
            ExpenseStatus::Paid,
        );
        db.record(Batch::new().post(stay).post(supplies))?;
    }
    Ok(())
}
