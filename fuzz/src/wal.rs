//! `log_recovery`: a database whose only log segment holds a valid prefix followed by arbitrary
//! bytes: opening it either succeeds (torn tail cut off) or fails with a typed error. Never a
//! panic.

use folio::{Batch, Category, Currency, Db, Entry, EntryId, Money, Org, OrgId, PaymentMethod};

/// The batches the harness records before damaging the log: LSN 1 registers org 1, LSN 2 posts
/// a revenue (the seed generator rebuilds these frames to append valid ones).
pub fn base_batches() -> Vec<Batch> {
    vec![
        Batch::new().register_org(Org::new(OrgId(1), "A", Currency::USD)),
        Batch::new().post(Entry::revenue(
            OrgId(1),
            EntryId(1),
            1_704_067_200,
            Money(5),
            Category::Rooms,
            PaymentMethod::Cash,
        )),
    ]
}

pub fn log_recovery(data: &[u8]) {
    let Some(tmp) = super::scratch::tempdir() else {
        return;
    };
    let dir = tmp.path().join("db");
    {
        let Ok(db) = Db::open(&dir) else { return };
        for batch in base_batches() {
            let _ = db.record(batch);
        }
    }
    let _ = std::fs::remove_dir_all(dir.join("state"));
    let segment = dir.join("wal").join("00000000000000000001.log");
    let Ok(mut bytes) = std::fs::read(&segment) else {
        return;
    };
    // The first byte picks where the garbage starts: inside the log or after it.
    let cut = data
        .first()
        .map_or(bytes.len(), |b| bytes.len() * *b as usize / 255);
    bytes.truncate(cut.max(1));
    bytes.extend_from_slice(data.get(1..).unwrap_or_default());
    if std::fs::write(&segment, &bytes).is_err() {
        return;
    }
    if let Ok(db) = Db::open(&dir) {
        if let Ok(day) = folio::BusinessDay::from_days(19723) {
            let _ = db.balance(OrgId(1), day);
        }
        let _ = db.entries(OrgId(1), folio::MIN_TIMESTAMP, i64::MAX);
        let _ = db.verify();
    }
}
