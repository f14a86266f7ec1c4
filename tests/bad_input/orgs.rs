//! Bad orgs: unknown ones (in writes and reads), names, time zones, currencies, conflicting
//! registrations.

use crate::common::assert_one_line;
use crate::fixture::*;
use folio::limits::{MAX_ORG_NAME_BYTES, MAX_TIME_ZONE_BYTES};
use folio::{Batch, BusinessDay, Currency, Error, Money, Org, OrgId, Rejection};

#[test]
fn unknown_org() {
    let f = fixture();
    let db = &f.db;
    let r = rejected(db, Batch::new().post(revenue(UNKNOWN, 10, T0, 100)));
    assert_eq!(r, Rejection::UnknownOrg(UNKNOWN));
    let r = rejected(db, Batch::new().reverse(reversal(UNKNOWN, 10, REVENUE, T0)));
    assert_eq!(r, Rejection::UnknownOrg(UNKNOWN));
    let r = rejected(db, Batch::new().pay(pay(UNKNOWN, PENDING, T0)));
    assert_eq!(r, Rejection::UnknownOrg(UNKNOWN));
    // Reads name the org too.
    for err in [
        db.balance(UNKNOWN, BusinessDay::utc(T0).expect("day"))
            .unwrap_err(),
        db.balances(
            UNKNOWN,
            BusinessDay::utc(T0).expect("day"),
            BusinessDay::utc(T0).expect("day"),
        )
        .unwrap_err(),
        db.entries(UNKNOWN, T0, T0 + 1).unwrap_err(),
    ] {
        assert_one_line(&err);
        assert!(
            matches!(err, Error::UnknownOrg(o) if o == UNKNOWN),
            "{err:?}"
        );
    }
}

#[test]
fn org_name_too_long() {
    let f = fixture();
    let org = Org::new(OrgId(7), "n".repeat(MAX_ORG_NAME_BYTES + 1), Currency::EUR);
    let r = rejected(&f.db, Batch::new().register_org(org));
    assert!(
        matches!(&r, Rejection::InvalidOrg { org, .. } if *org == OrgId(7)),
        "{r:?}"
    );
    assert_eq!(f.db.org(OrgId(7)).unwrap(), None);
    // Postings that relied on it in the same batch are gone with it.
    let org = Org::new(
        OrgId(7),
        "ü".repeat(MAX_ORG_NAME_BYTES / 2 + 1),
        Currency::EUR,
    );
    let r = rejected(
        &f.db,
        Batch::new()
            .register_org(org)
            .post(revenue(OrgId(7), 1, T0, 1)),
    );
    assert!(matches!(&r, Rejection::InvalidOrg { .. }), "{r:?}");
    assert_eq!(f.db.org(OrgId(7)).unwrap(), None);
    f.db.register_org(Org::new(
        OrgId(7),
        "n".repeat(MAX_ORG_NAME_BYTES),
        Currency::EUR,
    ))
    .unwrap();
}

#[test]
fn unknown_time_zone() {
    let f = fixture();
    for zone in [
        "Mars/Olympus",
        "",
        "America/New York",
        "UTC+25",
        &"A".repeat(MAX_TIME_ZONE_BYTES + 1),
    ] {
        let org = Org::new(OrgId(7), "Orbit Hotel", Currency::EUR).with_time_zone(zone);
        let r = rejected(&f.db, Batch::new().register_org(org));
        assert!(
            matches!(&r, Rejection::InvalidOrg { org, .. } if *org == OrgId(7)),
            "{zone:?}: {r:?}"
        );
        assert_eq!(f.db.org(OrgId(7)).unwrap(), None);
    }
}

#[test]
fn unknown_currency() {
    let f = fixture();
    for code in [*b"XXX", *b"ABC", *b"eur", *b"DEM", [0xff, b'U', b'R']] {
        let org = Org::new(OrgId(7), "Orbit Hotel", Currency(code));
        let r = rejected(&f.db, Batch::new().register_org(org));
        assert!(
            matches!(&r, Rejection::UnknownCurrency { org, .. } if *org == OrgId(7)),
            "{code:?}: {r:?}"
        );
        assert_eq!(r.org(), Some(OrgId(7)));
        assert_eq!(f.db.org(OrgId(7)).unwrap(), None);
    }
    // The same org with an ISO 4217 code is accepted.
    f.db.record(Batch::new().register_org(Org::new(OrgId(7), "Orbit Hotel", Currency::JPY)))
        .unwrap();
}

#[test]
fn org_conflict_and_identical_registration() {
    let f = fixture();
    let same = Org::new(HOTEL, "Seaside Inn", Currency::EUR).with_opening_balance(Money(1_000));
    no_op(&f.db, Batch::new().register_org(same.clone()));
    for changed in [
        Org {
            name: "Seaside Inn II".into(),
            ..same.clone()
        },
        Org {
            currency: Currency::USD,
            ..same.clone()
        },
        same.clone().with_time_zone("Europe/Paris"),
        same.clone().with_opening_balance(Money(0)),
        same.clone().with_created_at(1),
    ] {
        let r = rejected(&f.db, Batch::new().register_org(changed));
        assert_eq!(r, Rejection::OrgConflict(HOTEL));
    }
}
