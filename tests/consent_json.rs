//! `Consent` through serde (feature `serde`): JSON written from a consent reads back into the
//! same consent, and JSON that names an undeclared purpose or field is refused.

use trackplan::Consent;
use trackplan::consent::ConsentRecord;

trackplan::plan!("plans/shop.toml");

#[test]
fn consent_round_trips_through_json() {
    let consent = Consent::none()
        .grant_explicit(purpose::ProductAnalytics)
        .object(purpose::Security)
        .with_gpc(true);
    let json = serde_json::to_string(&consent).unwrap();
    assert_eq!(
        json,
        r#"{"plan":"shop@3","granted":["product_analytics"],"explicit":["product_analytics"],"objected":["security"],"gpc":true,"opt_out_all":false}"#
    );
    let record: ConsentRecord = serde_json::from_str(&json).unwrap();
    assert_eq!(record.resolve(&PLAN).unwrap(), consent);

    // Fields left out take their defaults: a record from a form with one checkbox.
    let record: ConsentRecord = serde_json::from_str(r#"{"granted":["advertising"]}"#).unwrap();
    assert_eq!(
        record.resolve(&PLAN).unwrap(),
        Consent::none().grant(purpose::Advertising)
    );
}

#[test]
fn json_naming_what_the_plan_lacks_is_refused() {
    let record: ConsentRecord = serde_json::from_str(r#"{"granted":["newsletter"]}"#).unwrap();
    let err = record.resolve(&PLAN).unwrap_err();
    assert!(err.to_string().contains("\"newsletter\""), "{err}");
    let err = serde_json::from_str::<ConsentRecord>(r#"{"granted":[],"ads":true}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `ads`"), "{err}");
}
