//! `checkpoint_decode`: arbitrary bytes fed to every decoder of checkpoint and catalog data that
//! the public API reaches. Every input goes through the pure decoders (packed store values as
//! given and with a valid CRC appended, the index catalog and the definitions it holds, the
//! identity file `FOLIO` on a simulated disk); then the first byte picks one file of a real
//! directory to replace with the rest of the input before `Db::open`:
//!
//! | `data[0] & 7` | the rest of the input is written as                                   |
//! | ------------- | --------------------------------------------------------------------- |
//! | 0             | `FOLIO` of an empty directory (bit 4: of a populated database)          |
//! | 1             | `BASE` of a checkpoint directory (`MANIFEST.json` recomputed)           |
//! | 2             | `MANIFEST.json` of a checkpoint directory                               |
//! | 3             | `BASE` of a checkpoint directory already opened once (no manifest)      |
//! | 4             | `FOLIO` of a checkpoint directory (`MANIFEST.json` recomputed)          |
//! | 5             | the `body` of `MANIFEST.json` (its checksum computed by the harness)     |
//! | 6             | a store value of a checkpoint directory (`MANIFEST.json` recomputed)    |
//! | 7             | a store value of a populated database                                  |
//!
//! Bit 3 of `data[0]` set: the file's checksum is left as given instead of being recomputed (so
//! both the checksum checks and the decoders behind them are reached). For store values,
//! `data[1]` picks the value and the checkpoint LSN written with it (see [`StoreSlot`]).
//!
//! Whatever the bytes, opening returns `Ok` or a typed `Err`, never panics; a database created
//! around a valid `FOLIO` verifies clean.

use super::scratch::{self, Tree};
use folio::codec::record::IndexRecord;
use folio::{
    Batch, BusinessDay, Category, Currency, Db, Entry, EntryId, ExpenseStatus, Kind, Money,
    Options, Org, OrgId, PayExpense, PaymentMethod, Reversal,
};
use folio::{Column, IndexDef, Predicate};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::OnceLock;

/// Balance shards of the template databases.
pub const TEMPLATE_SHARDS: u32 = 4;

pub fn checkpoint_decode(data: &[u8]) {
    decode_values(data);
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let fix = mode & 8 == 0;
    match mode & 7 {
        0 if mode & 16 == 0 => fresh_folio(rest, fix),
        0 => in_primary(|dir| write(&dir.join("FOLIO"), &with_header_crc(rest, fix))),
        1 => in_checkpoint(ManifestAfter::Recompute, |dir| {
            write(&dir.join("BASE"), &with_header_crc(rest, fix))
        }),
        2 => in_checkpoint(ManifestAfter::Keep, |dir| {
            write(&dir.join("MANIFEST.json"), rest)
        }),
        3 => in_checkpoint(ManifestAfter::Remove, |dir| {
            write(&dir.join("BASE"), &with_header_crc(rest, fix))
        }),
        4 => in_checkpoint(ManifestAfter::Recompute, |dir| {
            write(&dir.join("FOLIO"), &with_header_crc(rest, fix))
        }),
        5 => in_checkpoint(ManifestAfter::Keep, |dir| {
            write(&dir.join("MANIFEST.json"), &manifest_around_body(rest))
        }),
        6 => in_checkpoint(ManifestAfter::Recompute, |dir| {
            store_value(&dir.join("state"), rest, fix)
        }),
        _ => in_primary(|dir| store_value(&dir.join("state"), rest, fix)),
    }
}

// ------------------------------------------------------------------------------ pure decoders

/// `value ++ crc32(value)`: what a packed store value with this stamp and body looks like.
pub fn with_value_crc(value: &[u8]) -> Vec<u8> {
    let mut out = value.to_vec();
    out.extend_from_slice(&crc32fast::hash(value).to_le_bytes());
    out
}

/// A 32-byte `FOLIO` or `BASE` file with its header checksum (bytes 12..16, over 0..12 ++
/// 16..32) recomputed when `fix` is set; other lengths unchanged.
pub fn with_header_crc(bytes: &[u8], fix: bool) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if fix && out.len() == 32 {
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&out[0..12]);
        hasher.update(&out[16..32]);
        out[12..16].copy_from_slice(&hasher.finalize().to_le_bytes());
    }
    out
}

fn decode_values(data: &[u8]) {
    let fixed = with_value_crc(data);
    for value in [data, fixed.as_slice()] {
        if let Ok((stamp, orgs)) = folio::store::pack::unpack_orgs(value) {
            let refs: Vec<_> = orgs.iter().map(|(id, r)| (*id, r)).collect();
            let again = folio::store::pack::pack_orgs(stamp, &refs);
            assert_eq!(
                folio::store::pack::unpack_orgs(&again).ok(),
                Some((stamp, orgs.clone())),
                "org records do not survive pack(unpack(value))"
            );
        }
        if let Ok((stamp, ledgers)) = folio::store::pack::unpack_ledgers(value) {
            let refs: Vec<_> = ledgers.iter().map(|(id, l)| (*id, l)).collect();
            let again = folio::store::pack::pack_ledgers(stamp, &refs);
            let back =
                folio::store::pack::unpack_ledgers(&again).expect("a packed ledger value unpacks");
            assert_eq!(back.0, stamp);
            assert_eq!(back.1.len(), ledgers.len());
            for ((a_id, a), (b_id, b)) in ledgers.iter().zip(&back.1) {
                assert_eq!((a_id, &a.rows), (b_id, &b.rows), "ledger rows differ");
            }
        }
        if let Ok((stamp, months)) = folio::store::pack::unpack_balances(value) {
            let refs: Vec<_> = months.iter().map(|(id, m)| (*id, m)).collect();
            let again = folio::store::pack::pack_balances(stamp, &refs);
            assert_eq!(
                folio::store::pack::unpack_balances(&again).ok(),
                Some((stamp, months.clone())),
                "balance months do not survive pack(unpack(value))"
            );
        }
        if let Ok((stamp, records)) = folio::store::pack::unpack_catalog(value) {
            for record in &records {
                index_record(record);
            }
            let again = folio::store::pack::pack_catalog(stamp, &records);
            assert_eq!(
                folio::store::pack::unpack_catalog(&again).ok(),
                Some((stamp, records)),
                "catalog does not survive pack(unpack(value))"
            );
        }
    }
    identity_file(data);
}

/// An index catalog record as a definition: unknown codes are `None`, a known definition
/// validates (or not), prints, and round-trips through its record.
fn index_record(record: &IndexRecord) {
    let Some(def) = IndexDef::from_record(record) else {
        return;
    };
    let _ = def.validate();
    let _ = def.to_string();
    let _ = def.covers(Column::Amount);
    let back = IndexDef::from_record(&def.record(record.create));
    assert_eq!(back.as_ref(), Some(&def), "index definition round trip");
}

/// `FOLIO` on a simulated disk: `Meta::read` answers a value or a typed error; a value
/// round-trips through `Meta::encode`.
fn identity_file(data: &[u8]) {
    use folio::io::Vfs;
    use folio::store::meta::Meta;
    let vfs = folio::io::SimFs::new();
    let dir = Path::new("/db");
    if vfs.create_dir_all(dir).is_err() || vfs.write_atomic(&dir.join("FOLIO"), data).is_err() {
        return;
    }
    if let Ok(meta) = Meta::read(&vfs, dir) {
        assert!(meta.shards >= 1 && meta.shards <= folio::limits::MAX_SHARDS);
        if vfs.write_atomic(&dir.join("FOLIO"), &meta.encode()).is_ok() {
            assert_eq!(Meta::read(&vfs, dir).ok(), Some(meta), "FOLIO round trip");
        }
    }
}

// ------------------------------------------------------------------------------- directories

fn write(path: &Path, bytes: &[u8]) -> bool {
    std::fs::write(path, bytes).is_ok()
}

/// `FOLIO` alone in a directory: `Db::open` fails with a typed error, or opens (creating the log
/// and the store) a database that works and verifies clean.
fn fresh_folio(folio_file: &[u8], fix: bool) {
    let Some(tmp) = scratch::tempdir() else {
        return;
    };
    let dir = tmp.path().join("db");
    if std::fs::create_dir_all(&dir).is_err()
        || !write(&dir.join("FOLIO"), &with_header_crc(folio_file, fix))
    {
        return;
    }
    let Ok(db) = Db::open(&dir) else { return };
    let report = db.verify();
    assert!(report.is_ok(), "fresh database: {:?}", report.problems);
    if db
        .register_org(Org::new(OrgId(1), "A", Currency::EUR))
        .is_ok()
    {
        assert_eq!(db.snapshot().orgs().map(|o| o.len()).ok(), Some(1));
    }
    let _ = db.close();
}

/// Opens a damaged directory: a typed error, or a database whose reads and `verify` return.
fn open_and_read(dir: &Path) {
    let opened = Db::open(dir);
    if scratch::tracing() {
        eprintln!(
            "open {}: {:?}",
            dir.display(),
            opened.as_ref().map(|db| db.recovery())
        );
    }
    let Ok(db) = opened else { return };
    let _ = db.is_replica();
    for org in db.snapshot().orgs().unwrap_or_default() {
        if let Ok(day) = BusinessDay::from_days(19_723) {
            let _ = db.balance(org.id, day);
        }
        let _ = db.entries(org.id, folio::MIN_TIMESTAMP, i64::MAX);
    }
    let _ = db.indexes();
    let _ = db.verify();
    let _ = db.close();
}

/// What happens to `MANIFEST.json` after the harness changed a checkpoint directory.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ManifestAfter {
    /// Left as the change made it.
    Keep,
    /// Rewritten to list the files as they are now (so it verifies).
    Recompute,
    /// Removed: the directory looks like a replica that was opened before.
    Remove,
}

fn in_checkpoint(after: ManifestAfter, change: impl FnOnce(&Path) -> bool) {
    let Some(template) = template() else { return };
    let Some(tmp) = scratch::tempdir() else {
        return;
    };
    let dir = tmp.path().join("ckpt");
    if scratch::write_tree(&dir, &template.checkpoint).is_err() || !change(&dir) {
        return;
    }
    match after {
        ManifestAfter::Keep => {}
        ManifestAfter::Recompute => {
            if recompute_manifest(&dir).is_err() {
                return;
            }
        }
        ManifestAfter::Remove => {
            let _ = std::fs::remove_file(dir.join("MANIFEST.json"));
        }
    }
    let _ = folio::verify_checkpoint(&dir);
    let _ = folio::ReplicaBase::read(&dir);
    open_and_read(&dir);
}

fn in_primary(change: impl FnOnce(&Path) -> bool) {
    let Some(template) = template() else { return };
    let Some(tmp) = scratch::tempdir() else {
        return;
    };
    let dir = tmp.path().join("db");
    if scratch::write_tree(&dir, &template.primary).is_err() || !change(&dir) {
        return;
    }
    open_and_read(&dir);
}

// ---------------------------------------------------------------------------------- manifest

/// The manifest as `Db::checkpoint_to` writes it (`src/db/edge.rs`); the checksum covers the
/// compact JSON of `body`.
#[derive(Serialize, Deserialize)]
struct ManifestFile {
    path: String,
    len: u64,
    crc32: u32,
}

#[derive(Serialize, Deserialize)]
struct ManifestBody {
    format_version: u32,
    db_id: String,
    lsn: u64,
    files: Vec<ManifestFile>,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    body: ManifestBody,
    crc32: u32,
}

fn body_crc(body: &ManifestBody) -> u32 {
    crc32fast::hash(&serde_json::to_vec(body).unwrap_or_default())
}

/// `{"body":<body>,"crc32":<checksum of body>}`; the checksum is 0 when `body` does not parse.
pub fn manifest_around_body(body: &[u8]) -> Vec<u8> {
    let crc = serde_json::from_slice::<ManifestBody>(body)
        .map(|b| body_crc(&b))
        .unwrap_or(0);
    let mut out = b"{\"body\":".to_vec();
    out.extend_from_slice(body);
    out.extend_from_slice(format!(",\"crc32\":{crc}}}").as_bytes());
    out
}

/// Rewrites `MANIFEST.json` of `dir` to list every file as it is now (keeping the identity the
/// old manifest names, when it is readable).
fn recompute_manifest(dir: &Path) -> std::io::Result<()> {
    let path = dir.join("MANIFEST.json");
    let old = std::fs::read(&path)
        .ok()
        .and_then(|raw| serde_json::from_slice::<Manifest>(&raw).ok());
    let mut files = Vec::new();
    for (relative, contents) in scratch::read_tree(dir)? {
        let Some(bytes) = contents else { continue };
        if relative.file_name().is_some_and(|n| n == "MANIFEST.json") {
            continue;
        }
        files.push(ManifestFile {
            path: relative.to_string_lossy().into_owned(),
            len: bytes.len() as u64,
            crc32: crc32fast::hash(&bytes),
        });
    }
    let body = match old {
        Some(m) => ManifestBody { files, ..m.body },
        None => ManifestBody {
            format_version: folio::format::FORMAT_VERSION,
            db_id: "0x1".into(),
            lsn: 0,
            files,
        },
    };
    let manifest = Manifest {
        crc32: body_crc(&body),
        body,
    };
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest)?)
}

// ------------------------------------------------------------------------------- store values

/// Which value of the template store a store-value input replaces, and the checkpoint LSN
/// written with it. `data[1] & 7` picks the value:
///
/// 0 orgs of chunk 0, 1 `revenues/2024-01` of chunk 0, 2 `expenses/2024-02` of chunk 0,
/// 3 the January 2024 day rows of chunk 0 (org 1's) in `balances`, 4 the index catalog, 5 none (only the checkpoint LSN,
/// taken from the next 8 bytes), 6 orgs of chunk 1, 7 `revenues/2024-01` of chunk 1;
///
/// `(data[1] >> 4) & 3` the checkpoint LSN: 0 the template's, 1 zero, 2 one past the log's end,
/// 3 `u64::MAX`.
pub struct StoreSlot;

impl StoreSlot {
    pub const ORGS: u8 = 0;
    pub const REVENUES: u8 = 1;
    pub const EXPENSES: u8 = 2;
    pub const BALANCES: u8 = 3;
    pub const CATALOG: u8 = 4;
    pub const LSN_ONLY: u8 = 5;
    pub const ORGS_CHUNK_1: u8 = 6;
    pub const REVENUES_CHUNK_1: u8 = 7;

    /// (tree, key) of a slot; `None` for [`StoreSlot::LSN_ONLY`].
    pub fn location(slot: u8) -> Option<(String, Vec<u8>)> {
        let jan = folio::Month::from_ym(2024, 1).map_or(0, |m| m.index());
        Some(match slot & 7 {
            0 => ("orgs".into(), 0u64.to_be_bytes().to_vec()),
            1 => ("revenues/2024-01".into(), 0u64.to_be_bytes().to_vec()),
            2 => ("expenses/2024-02".into(), 0u64.to_be_bytes().to_vec()),
            3 => ("balances".into(), folio::codec::key::balance_key(0, jan)),
            4 => ("meta".into(), b"index_catalog".to_vec()),
            5 => return None,
            6 => ("orgs".into(), 1u64.to_be_bytes().to_vec()),
            _ => ("revenues/2024-01".into(), 1u64.to_be_bytes().to_vec()),
        })
    }
}

/// Writes a fuzzed value into the sled store at `state` through `Store::write`.
fn store_value(state: &Path, data: &[u8], fix: bool) -> bool {
    let Some(template) = template() else {
        return false;
    };
    let Some((&selector, value)) = data.split_first() else {
        return false;
    };
    let mut covers = match (selector >> 4) & 3 {
        0 => template.lsn,
        1 => 0,
        2 => template.lsn + 1,
        _ => u64::MAX,
    };
    let mut values = Vec::new();
    match StoreSlot::location(selector) {
        Some((tree, key)) => {
            let value = if fix {
                with_value_crc(value)
            } else {
                value.to_vec()
            };
            values.push((tree, key, value));
        }
        None => {
            let mut raw = [0u8; 8];
            for (to, from) in raw.iter_mut().zip(value) {
                *to = *from;
            }
            covers = u64::from_le_bytes(raw);
        }
    }
    let Ok(store) = folio::store::Store::open(state) else {
        return false;
    };
    let snapshot = folio::store::checkpoint::Snapshot {
        covers: folio::Lsn(covers),
        values,
        ..Default::default()
    };
    let written = store.write(&snapshot).is_ok();
    let db = state.parent().unwrap_or(state);
    let _ = store.load(&folio::io::StdFs, db, 0, TEMPLATE_SHARDS);
    written
}

// ---------------------------------------------------------------------------------- template

/// A populated database and a checkpoint directory of it, kept in memory (built once per
/// process, then written out for every input that needs one).
struct Template {
    primary: Tree,
    checkpoint: Tree,
    lsn: u64,
}

static TEMPLATE: OnceLock<Option<Template>> = OnceLock::new();

fn template() -> Option<&'static Template> {
    TEMPLATE.get_or_init(build_template).as_ref()
}

fn build_template() -> Option<Template> {
    let tmp = scratch::tempdir()?;
    let primary = tmp.path().join("db");
    let checkpoint = tmp.path().join("ckpt");
    let options = Options::default().shards(TEMPLATE_SHARDS);
    let db = Db::open_with(&primary, options).ok()?;
    populate(&db).ok()?;
    db.checkpoint_to(&checkpoint).ok()?;
    let lsn = db.visible_lsn().0;
    db.close().ok()?;
    Some(Template {
        primary: scratch::read_tree(&primary).ok()?,
        checkpoint: scratch::read_tree(&checkpoint).ok()?,
        lsn,
    })
}

/// What the template database holds: orgs 1 (UTC), 2 (Europe/Paris, negative opening balance)
/// and 70 (another org chunk); revenues in January 2024, expenses in February 2024 (pending and
/// paid), a reversal, a payment, and a partial index of its own beside the default ones.
pub fn populate(db: &Db) -> folio::Result<()> {
    let jan = 1_704_067_200;
    let feb = 1_706_745_600;
    db.record(
        Batch::new()
            .register_org(Org::new(OrgId(1), "Seaside Inn", Currency::EUR))
            .register_org(
                Org::new(OrgId(2), "Hôtel du Lac", Currency::EUR)
                    .with_time_zone("Europe/Paris")
                    .with_opening_balance(Money(-500)),
            )
            .register_org(Org::new(OrgId(70), "Chunk One", Currency::USD)),
    )?;
    let mut batch = Batch::new();
    for (i, org) in [1u64, 2, 70, 1, 2].into_iter().enumerate() {
        let i = i as u64;
        batch = batch
            .post(
                Entry::revenue(
                    OrgId(org),
                    EntryId(10 + i),
                    jan + 3_600 * i as i64,
                    Money(12_000 + i as i64),
                    Category::ALL[(i % 4) as usize],
                    PaymentMethod::Card,
                )
                .with_reference(format!("INV-{i}")),
            )
            .post(Entry::expense(
                OrgId(org),
                EntryId(20 + i),
                feb + 7_200 * i as i64,
                Money(3_000 + i as i64),
                Category::Supplies,
                PaymentMethod::BankTransfer,
                ExpenseStatus::Pending,
            ));
    }
    db.record(batch)?;
    db.record(
        Batch::new()
            .reverse(Reversal {
                org: OrgId(1),
                id: EntryId(30),
                reverses: EntryId(10),
                occurred_at: jan + 86_400,
                reference: "void".into(),
            })
            .pay(PayExpense {
                org: OrgId(2),
                entry: EntryId(21),
                paid_at: feb + 86_400,
            }),
    )?;
    let def = IndexDef::new(
        "big_revenues",
        Kind::Revenue,
        &[Column::Amount],
        &[Column::Category],
        Some(Predicate::AmountAtLeast(12_002)),
    );
    db.create_index(def, |_, _| {})?;
    db.checkpoint()?;
    Ok(())
}
