//! A database whose only log segment holds a valid prefix followed by arbitrary bytes: opening it
//! either succeeds (torn tail cut off) or fails with a typed error. Never a panic.
#![no_main]
use folio::{Batch, Category, Currency, Db, Entry, EntryId, Money, Org, OrgId, PaymentMethod};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(tmp) = tempfile::tempdir() else { return };
    let dir = tmp.path().join("db");
    {
        let Ok(db) = Db::open(&dir) else { return };
        let _ = db.register_org(Org::new(OrgId(1), "A", Currency::USD));
        let e = Entry::revenue(OrgId(1), EntryId(1), 1_704_067_200, Money(5), Category::Rooms, PaymentMethod::Cash);
        let _ = db.record(Batch::new().post(e));
    }
    let _ = std::fs::remove_dir_all(dir.join("state"));
    let segment = dir.join("wal").join("00000000000000000001.log");
    let Ok(mut bytes) = std::fs::read(&segment) else { return };
    // The first byte picks where the garbage starts: inside the log or after it.
    let cut = data.first().map_or(bytes.len(), |b| bytes.len() * *b as usize / 255);
    bytes.truncate(cut.max(1));
    bytes.extend_from_slice(data.get(1..).unwrap_or_default());
    if std::fs::write(&segment, &bytes).is_err() {
        return;
    }
    if let Ok(db) = Db::open(&dir) {
        let _ = db.balance(OrgId(1), folio::BusinessDay(19723));
    }
});
