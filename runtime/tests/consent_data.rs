//! Consent as data: plan ids, cookie values and records, each read back into the same
//! `Consent`, with errors that name what the plan does not declare.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod fixture;

use fixture::shop::*;
use trackplan_runtime::Consent;
use trackplan_runtime::consent::{ConsentDataError, ConsentRecord};

/// Every shape a consent can have: grants, explicit grants, objections, GPC, opt-out.
fn consents() -> Vec<Consent> {
    vec![
        Consent::none(),
        Consent::none().grant(purpose::ProductAnalytics),
        Consent::none()
            .grant(purpose::ProductAnalytics)
            .grant(purpose::Advertising),
        Consent::none().grant_explicit(purpose::ProductAnalytics),
        Consent::none()
            .grant_explicit(purpose::ProductAnalytics)
            .grant(purpose::Advertising)
            .object(purpose::Security),
        Consent::none().object(purpose::Security).with_gpc(true),
        Consent::none()
            .grant(purpose::ProductAnalytics)
            .opt_out_all(),
        Consent::from_gpc(true),
    ]
}

#[test]
fn ids_round_trip_and_grant_what_they_name() {
    let consent = Consent::from_ids(&PLAN, ["advertising", "product_analytics"]).unwrap();
    assert!(consent.permits(purpose::ProductAnalytics));
    assert!(consent.permits(purpose::Advertising));
    assert!(!consent.is_explicit(purpose::ProductAnalytics));
    // Plan order, whatever order they were given in.
    assert_eq!(consent.to_ids(), ["product_analytics", "advertising"]);
    assert_eq!(
        consent,
        Consent::none()
            .grant(purpose::ProductAnalytics)
            .grant(purpose::Advertising)
    );
    assert_eq!(Consent::from_ids(&PLAN, consent.to_ids()).unwrap(), consent);

    let explicit = Consent::from_explicit_ids(&PLAN, ["product_analytics"]).unwrap();
    assert!(explicit.is_explicit(purpose::ProductAnalytics));
    assert_eq!(explicit.explicit_ids(), ["product_analytics"]);
    assert_eq!(
        explicit,
        Consent::none().grant_explicit(purpose::ProductAnalytics)
    );
}

#[test]
fn unknown_ids_are_named_with_the_plans_purposes() {
    let err = Consent::from_ids(&PLAN, ["product_analytics", "analytics", "ads"]).unwrap_err();
    let ConsentDataError::UnknownPurposes { unknown, known, .. } = &err else {
        panic!("expected UnknownPurposes, got {err:?}");
    };
    assert_eq!(unknown, &["analytics", "ads"]);
    assert_eq!(
        known,
        &[
            "product_analytics",
            "advertising",
            "security",
            "customer_support"
        ]
    );
    let message = err.to_string();
    assert!(
        message.starts_with("plan `shop@3` declares no purposes \"analytics\", \"ads\""),
        "{message}"
    );
    assert!(message.contains("`customer_support`"), "{message}");

    // Text from a request is cut, not repeated whole.
    let long = "x".repeat(10_000);
    let message = Consent::from_ids(&PLAN, [long.as_str()])
        .unwrap_err()
        .to_string();
    assert!(message.len() < 400, "{message}");
}

#[test]
fn cookie_values_round_trip_every_consent() {
    for consent in consents() {
        let value = consent.to_cookie_value();
        // RFC 6265 cookie-octet: no space, quote, comma, semicolon or backslash.
        assert!(
            value
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"\",;\\".contains(&b)),
            "{value}"
        );
        let back =
            Consent::from_cookie_value(&PLAN, &value).unwrap_or_else(|e| panic!("{value}: {e}"));
        assert_eq!(back, consent, "{value}");
        assert_eq!(back.to_cookie_value(), value);
    }
    assert_eq!(Consent::none().to_cookie_value(), "tp1");
    assert_eq!(
        Consent::none()
            .grant_explicit(purpose::ProductAnalytics)
            .grant(purpose::Advertising)
            .object(purpose::Security)
            .with_gpc(true)
            .opt_out_all()
            .to_cookie_value(),
        "tp1.g=product_analytics:advertising.x=product_analytics.o=security.gpc.out"
    );
}

#[test]
fn malformed_cookie_values_are_refused_with_the_reason() {
    let cases = [
        ("", "does not start with `tp1.`"),
        ("tp2.g=security", "does not start with `tp1.`"),
        ("tp1.g=", "repeated or empty field"),
        ("tp1.g=security.g=advertising", "repeated or empty field"),
        ("tp1.gpc.gpc", "unexpected or repeated field"),
        ("tp1.z=security", "unexpected or repeated field"),
        ("tp1.g=security.o=security", "both granted and objected"),
        (
            "tp1.x=product_analytics",
            "granted explicitly (`x`) but not granted",
        ),
    ];
    for (value, reason) in cases {
        let err = Consent::from_cookie_value(&PLAN, value).unwrap_err();
        assert!(
            matches!(err, ConsentDataError::Malformed { .. }) && err.to_string().contains(reason),
            "{value:?}: {err}"
        );
    }
    // A purpose the plan does not declare (dropped in a new plan version): named.
    let err = Consent::from_cookie_value(&PLAN, "tp1.g=newsletter").unwrap_err();
    assert!(
        matches!(&err, ConsentDataError::UnknownPurposes { unknown, .. } if unknown == &["newsletter"]),
        "{err:?}"
    );
}

#[test]
fn records_round_trip_and_check_the_plan() {
    for consent in consents() {
        let record = consent.to_record();
        assert_eq!(record.resolve(&PLAN).unwrap(), consent, "{record:?}");
    }
    let record = Consent::none()
        .grant_explicit(purpose::ProductAnalytics)
        .object(purpose::Security)
        .to_record();
    assert_eq!(
        record,
        ConsentRecord {
            plan: Some("shop@3".into()),
            granted: vec!["product_analytics".into()],
            explicit: vec!["product_analytics".into()],
            objected: vec!["security".into()],
            gpc: false,
            opt_out_all: false,
        }
    );
    // Recorded under another version of the same plan: fine; under another plan: refused.
    let older = ConsentRecord {
        plan: Some("shop@2".into()),
        ..record.clone()
    };
    assert!(older.resolve(&PLAN).is_ok());
    let other = ConsentRecord {
        plan: Some("blog@1".into()),
        ..record
    };
    let err = other.resolve(&PLAN).unwrap_err();
    assert!(
        err.to_string().contains("recorded for plan \"blog@1\""),
        "{err}"
    );
}

#[test]
fn consent_from_ids_permits_nothing_for_another_plan() {
    // Ids of the blog plan's purposes, used with the shop's tracker, permit nothing there.
    let blog = Consent::from_ids(
        &fixture::blog::PLAN,
        fixture::blog::PLAN.purposes.iter().map(|p| p.id),
    )
    .unwrap();
    assert!(blog.permitted(&PLAN).is_empty());
}
