//! Profiles, groups, identity stitching and context (issue 11), end to end through a tracker:
//! consent and routing per trait, the `redact` rule, transforms, the NDJSON records of every
//! message kind (byte for byte, both HMACs recomputed here), `forget` after a stitch, spool
//! replay of an update, backfill times and caller-supplied insert ids.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod fixture;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fixture::shop::*;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use trackplan_runtime::config::SinkDeclaration;
use trackplan_runtime::requests::{Access, Erasure};
use trackplan_runtime::sinks::{Memory, Ndjson};
use trackplan_runtime::spool::Spool;
use trackplan_runtime::testing::Recorder;
use trackplan_runtime::{
    Consent, Envelope, Key, Message, Outcome, Personal, ProfileOp, Sink, Timestamp, TrackOptions,
    Tracker, TrackerBuilder,
};

const KEY: [u8; 32] = [0x42; 32];

fn key() -> Key {
    Key::from_bytes(KEY).unwrap_or_else(|e| panic!("{e}"))
}

/// HMAC-SHA-256 of `data` under the test key, hex: computed here, independently of the
/// runtime.
fn hmac_hex(data: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&KEY).unwrap_or_else(|e| panic!("{e}"));
    mac.update(data.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The distinct id the plan's `hmac` identity gives `id`, recomputed.
fn pseudonym(id: &str) -> String {
    format!("{}:{}", key().id(), hmac_hex(id))
}

fn temp_path(test: &str, file: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("trackplan-profiles-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir.join(file)
}

/// A sink that keeps envelopes and records the ids every erase and retrieve names.
#[derive(Clone, Default)]
struct Keeper {
    kept: Arc<Mutex<Vec<Envelope>>>,
    erased: Arc<Mutex<Vec<Vec<String>>>>,
}

impl Keeper {
    fn kept(&self) -> Vec<Envelope> {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
    fn erase_calls(&self) -> Vec<Vec<String>> {
        self.erased
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Sink for Keeper {
    fn declaration(&self) -> SinkDeclaration {
        SinkDeclaration::InProcess
    }
    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(batch);
        Outcome::Delivered
    }
    fn erase(&mut self, ids: &[String]) -> Erasure {
        self.erased
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(ids.to_vec());
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|e| {
                !ids.iter().any(|id| {
                    **id == *e.distinct_id
                        || matches!(&e.message, Message::Link { anonymous_id } if **anonymous_id == **id)
                })
            });
        Erasure::Erased
    }
}

/// A tracker for the shop plan; the security log (legitimate interest, it would receive every
/// link) is skipped unless `configure` gives it a sink.
fn builder() -> TrackerBuilder {
    Tracker::builder(&PLAN)
        .key(key())
        .max_delay(Duration::from_millis(5))
        .skip(destination::SecurityLog)
}

fn both() -> Consent {
    Consent::none()
        .grant(purpose::ProductAnalytics)
        .grant(purpose::Advertising)
}

/// A tracker with memory sinks for the first-party warehouse and the third-party Mixpanel.
fn warehouse_and_mixpanel() -> (Tracker, Memory, Memory) {
    let (warehouse, mixpanel) = (Memory::new(), Memory::new());
    let tracker = builder()
        .sink(destination::Warehouse, warehouse.clone())
        .sink(destination::Mixpanel, mixpanel.clone())
        .skip(destination::Ads)
        .skip(destination::SupportDesk)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    (tracker, warehouse, mixpanel)
}

fn flush(tracker: &Tracker) {
    tracker.flush().unwrap_or_else(|e| panic!("{e}"));
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn page_view() -> PageViewed {
    PageViewed {
        url: "https://shop.example/cart?coupon=X1".into(),
        ip_address: Personal::new("203.0.113.77".into()),
    }
}

#[test]
fn each_destination_gets_the_traits_its_purposes_and_party_allow_through_their_transforms() {
    let (warehouse, mixpanel, ads, support) =
        (Memory::new(), Memory::new(), Memory::new(), Memory::new());
    let tracker = builder()
        .sink(destination::Warehouse, warehouse.clone())
        .sink(destination::Mixpanel, mixpanel.clone())
        .sink(destination::Ads, ads.clone())
        .sink(destination::SupportDesk, support.clone())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let user = tracker.subject("user-42", both().grant(purpose::CustomerSupport));
    user.update_profile(
        Profile::new()
            .set_plan_tier(ProfilePlanTier::Pro)
            .set_email(Personal::new(" Alice@Example.COM ".into()))
            .set_first_name(Personal::new("Alice".into()))
            .set_ad_audience(ProfileAdAudience::Loyal)
            .set_lifetime_value(420.5)
            .add_order_count(1),
    );
    flush(&tracker);

    let email = hmac_hex("alice@example.com");
    let w = warehouse.envelopes();
    assert_eq!(w.len(), 2, "one set, one add");
    assert_eq!(w[0].message, Message::Profile { op: ProfileOp::Set });
    assert_eq!(w[0].event, "$profile");
    assert_eq!(*w[0].distinct_id, pseudonym("user-42"));
    // First party: the `redact` trait too.
    assert_eq!(
        &*w[0].properties,
        format!(r#"{{"Plan Tier":"pro","$email":"{email}","Lifetime Value":420.5}}"#)
    );
    assert_eq!(w[1].message, Message::Profile { op: ProfileOp::Add });
    assert_eq!(&*w[1].properties, r#"{"Order Count":1}"#);
    assert_ne!(
        w[0].insert_id, w[1].insert_id,
        "two operations, two messages"
    );

    // Third party: without the `redact` trait, and without the traits of other purposes.
    let m = mixpanel.envelopes();
    assert_eq!(m.len(), 2);
    assert_eq!(
        &*m[0].properties,
        format!(r#"{{"Plan Tier":"pro","$email":"{email}"}}"#)
    );
    // The ad network: only the trait collected for advertising.
    let a = ads.envelopes();
    assert_eq!(a.len(), 1);
    assert_eq!(&*a[0].properties, r#"{"Ad Audience":"loyal"}"#);
    assert_eq!(
        tracker
            .plan()
            .purpose_ids(a[0].purposes)
            .collect::<Vec<_>>(),
        ["advertising"]
    );
    // The support desk: the name, kept for customer support only.
    let s = support.envelopes();
    assert_eq!(s.len(), 1);
    assert_eq!(&*s[0].properties, r#"{"First Name":"Alice"}"#);
    for e in w.iter().chain(&m).chain(&a) {
        assert!(
            !e.properties.to_lowercase().contains("alice"),
            "{}",
            e.properties
        );
    }
}

/// An update whose traits all take one operation to the same destinations travels as the
/// buffer it was written in: a value refused on the way (first, between two others, last) must
/// leave no comma behind, and a member that is not sent none either.
#[test]
fn a_refused_trait_value_leaves_no_trace_in_the_message_of_the_others() {
    let (tracker, warehouse, mixpanel) = warehouse_and_mixpanel();
    let user = tracker.subject("user-42", both());
    let categories = || vec!["garden".to_owned(), "toys".to_owned()];
    // `order_count` has `min = 0`: -1 is refused and counted.
    user.update_profile(
        Profile::new()
            .set_plan_tier(ProfilePlanTier::Pro)
            .set_order_count(-1)
            .set_favourite_categories(categories()),
    );
    user.update_profile(
        Profile::new()
            .set_order_count(-1)
            .set_favourite_categories(categories()),
    );
    user.update_profile(
        Profile::new()
            .set_plan_tier(ProfilePlanTier::Free)
            .set_order_count(-1),
    );
    user.update_profile(Profile::new().set_order_count(-1));
    user.update_profile(
        Profile::new()
            .unset_plan_tier()
            .unset_favourite_categories(),
    );
    flush(&tracker);

    let w = warehouse.envelopes();
    let texts: Vec<&str> = w.iter().map(|e| &*e.properties).collect();
    let m = mixpanel.envelopes();
    let third_party: Vec<&str> = m.iter().map(|e| &*e.properties).collect();
    assert_eq!(texts, third_party, "no trait here is first-party only");
    assert_eq!(
        texts,
        [
            r#"{"Plan Tier":"pro","Favourite Categories":["garden","toys"]}"#,
            r#"{"Favourite Categories":["garden","toys"]}"#,
            r#"{"Plan Tier":"free"}"#,
            r#"["Plan Tier","Favourite Categories"]"#,
        ],
        "an update of only refused values sends nothing"
    );
    assert_eq!(
        w[3].message,
        Message::Profile {
            op: ProfileOp::Unset
        }
    );
    for e in &w {
        json(&e.properties);
        assert_eq!(*e.distinct_id, pseudonym("user-42"));
    }
    assert_eq!(tracker.stats().dropped_invalid, 4);
}

#[test]
fn a_special_trait_goes_only_where_consent_was_given_explicitly() {
    let (warehouse, mixpanel, ads, support) =
        (Memory::new(), Memory::new(), Memory::new(), Memory::new());
    let tracker = builder()
        .sink(destination::Warehouse, warehouse.clone())
        .sink(destination::Mixpanel, mixpanel.clone())
        .sink(destination::Ads, ads.clone())
        .sink(destination::SupportDesk, support.clone())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let update = || {
        Profile::new()
            .set_plan_tier(ProfilePlanTier::Free)
            .set_dietary_needs(ProfileDietaryNeeds::GlutenFree)
    };
    // Ordinary consent to the trait's purpose: the health trait reaches no destination, the
    // other trait of the update still goes.
    let user = tracker.subject("user-1", both());
    user.update_profile(update());
    flush(&tracker);
    let properties = |m: &Memory| -> Vec<String> {
        m.envelopes()
            .iter()
            .map(|e| e.properties.to_string())
            .collect()
    };
    assert_eq!(properties(&warehouse), [r#"{"Plan Tier":"free"}"#]);
    assert_eq!(properties(&mixpanel), [r#"{"Plan Tier":"free"}"#]);

    // Explicit consent (Art. 9(2)(a)): first party only, as its `redact` transform says.
    user.update_consent(|c| c.grant_explicit(purpose::ProductAnalytics));
    user.update_profile(update());
    let explicit = tracker.subject(
        "user-2",
        Consent::none().grant_explicit(purpose::ProductAnalytics),
    );
    explicit.update_profile(Profile::new().set_dietary_needs(ProfileDietaryNeeds::Diabetic));
    flush(&tracker);
    assert_eq!(
        properties(&warehouse),
        [
            r#"{"Plan Tier":"free"}"#,
            r#"{"Plan Tier":"free","Dietary Needs":"gluten_free"}"#,
            r#"{"Dietary Needs":"diabetic"}"#,
        ]
    );
    assert_eq!(
        properties(&mixpanel),
        [r#"{"Plan Tier":"free"}"#, r#"{"Plan Tier":"free"}"#]
    );
    for m in [&ads, &support] {
        assert!(properties(m).is_empty(), "{:?}", properties(m));
    }
}

#[test]
fn debug_of_updates_groups_and_context_prints_no_value_the_plan_protects() {
    use fixture::blog;
    // An internal key sent as is may be printed; trait values never are.
    let company = format!(
        "{:?}",
        Company::new("acme").set_seats(40).set_industry("retail")
    );
    assert!(company.contains(r#"key: "acme""#), "{company}");
    for hidden in ["40", "retail", "__key"] {
        assert!(!company.contains(hidden), "{hidden} in {company}");
    }
    // A key with a transform, or personal, is not what the plan lets out: redacted.
    for (shown, raw) in [
        (format!("{:?}", blog::Team::new("team-7")), "team-7"),
        (
            format!("{:?}", blog::Household::new("1 Main Street")),
            "Main",
        ),
    ] {
        assert!(shown.contains(r#"key: [redacted]"#), "{shown}");
        assert!(!shown.contains(raw), "{shown}");
    }
    let context = blog::Context {
        newsletter_id: Some("issue-2024-05".into()),
        theme: Some("dark".into()),
    };
    let context = format!("{context:?}");
    assert!(!context.contains("issue-2024"), "{context}");
    assert!(context.contains(r#"theme: Some("dark")"#), "{context}");
    let profile = format!(
        "{:?}",
        Profile::new()
            .set_first_name(Personal::new("Alice".into()))
            .set_email(" Alice@Example.COM ")
            .set_plan_tier(ProfilePlanTier::Enterprise)
            .set_dietary_needs(ProfileDietaryNeeds::Diabetic)
    );
    for hidden in ["Alice", "Example", "Enterprise", "Diabetic"] {
        assert!(!profile.contains(hidden), "{hidden} in {profile}");
    }
}

/// A value that counts how often it is serialized.
#[derive(Debug)]
struct Probe(Arc<Mutex<u32>>);

impl ::trackplan::__private::Value for Probe {
    fn write(
        &self,
        p: &'static trackplan_runtime::info::PropertyInfo,
        w: &mut ::trackplan::__private::PropertyWriter<'_>,
    ) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        ::trackplan::__private::Value::write(&ProfileAdAudience::Loyal, p, w);
    }
}

/// A profile update setting only the ad trait, with a probe for its value.
struct AdOnly(::trackplan::__private::TraitOp<Probe>);
impl ::trackplan::__private::Sealed for AdOnly {}
impl ::trackplan::__private::ProfileUpdate for AdOnly {
    const PLAN: &'static trackplan_runtime::info::PlanInfo = &PLAN;
    fn write_traits(&self, w: &mut ::trackplan::__private::TraitWriter<'_>) {
        w.write(&PLAN.traits[6], &self.0);
    }
}

#[test]
fn a_profile_update_for_a_withdrawn_purpose_reaches_nobody_and_is_never_serialized() {
    let recorder = Recorder::for_plan(&PLAN);
    let tracker = builder()
        .record_all(&recorder)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let user = tracker.subject("user-42", both());
    user.withdraw(purpose::Advertising);
    let serialized = Arc::new(Mutex::new(0));
    let probe = || {
        AdOnly(::trackplan::__private::TraitOp::Set(Probe(Arc::clone(
            &serialized,
        ))))
    };
    user.update_profile(probe());
    // The generated type too: the ad trait reaches no one, the others go.
    user.update_profile(
        Profile::new()
            .set_ad_audience(ProfileAdAudience::BargainHunter)
            .set_plan_tier(ProfilePlanTier::Free),
    );
    flush(&tracker);
    assert_eq!(
        *serialized.lock().unwrap_or_else(PoisonError::into_inner),
        0
    );
    recorder.assert_no_trait("Ad Audience");
    recorder.assert_trait(ProfileOp::Set, "Plan Tier", "free".into());
    let stats = tracker.stats();
    let ad_counts = stats.destination("ads").unwrap_or_else(|| panic!("no ads"));
    assert_eq!((ad_counts.accepted, ad_counts.dropped_consent), (2, 2));
    assert_eq!(ad_counts.pending(), 0);

    // With consent it is serialized once and sent.
    user.grant(purpose::Advertising);
    user.update_profile(probe());
    flush(&tracker);
    assert_eq!(
        *serialized.lock().unwrap_or_else(PoisonError::into_inner),
        1
    );
    let sent = recorder.assert_trait(ProfileOp::Set, "Ad Audience", "loyal".into());
    assert_eq!(sent.destination, Some("ads"));
    assert_eq!(
        recorder.profile_updates().len(),
        3,
        "plan tier twice, ad audience once"
    );
}

/// Trait descriptions made by hand, claiming every purpose and destination (and no `redact`):
/// one of a trait the plan does not declare, one copying a declared `redact` trait's id.
static UNDECLARED: trackplan_runtime::info::TraitInfo = forged("vip", "VIP", "\"VIP\":");
static COPIED: trackplan_runtime::info::TraitInfo =
    forged("lifetime_value", "Lifetime Value", "\"Lifetime Value\":");

const fn forged(
    id: &'static str,
    name: &'static str,
    json_key: &'static str,
) -> trackplan_runtime::info::TraitInfo {
    ::trackplan::__private::trait_info(
        ::trackplan::__private::property(
            id,
            name,
            json_key,
            trackplan_runtime::info::ValueKind::Number,
            trackplan_runtime::info::Sensitivity::Internal,
            None,
            trackplan_runtime::info::TransformInfo::None,
            false,
            ::trackplan::__private::constraints(None, None, None),
        ),
        trackplan_runtime::info::PurposeSet::from_bits(0b1111),
        trackplan_runtime::info::DestinationSet::from_bits(0b11111),
    )
}

struct Forged;
impl ::trackplan::__private::Sealed for Forged {}
impl ::trackplan::__private::ProfileUpdate for Forged {
    const PLAN: &'static trackplan_runtime::info::PlanInfo = &PLAN;
    fn write_traits(&self, w: &mut ::trackplan::__private::TraitWriter<'_>) {
        w.write(&UNDECLARED, &::trackplan::__private::TraitOp::Set(1.0));
        w.write(&COPIED, &::trackplan::__private::TraitOp::Set(420.5));
    }
}

#[test]
fn a_hand_made_trait_description_gets_no_more_than_the_plan_allows() {
    let recorder = Recorder::for_plan(&PLAN);
    let tracker = builder()
        .record_all(&recorder)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let everything = both()
        .grant(purpose::CustomerSupport)
        .grant(purpose::Security);
    tracker
        .subject("user-42", everything)
        .update_profile(Forged);
    flush(&tracker);
    // The undeclared trait went nowhere; the copy got the declared trait's rules: first
    // party only (`redact`), analytics destinations only.
    let updates = recorder.profile_updates();
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0].destination, Some("warehouse"));
    assert_eq!(
        updates[0].properties,
        serde_json::json!({"Lifetime Value": 420.5})
    );
}

#[test]
fn ndjson_records_of_every_kind_are_byte_exact_with_both_ids_pseudonymized() {
    let path = temp_path("wire", "events.ndjson");
    let tracker = builder()
        .sink(
            destination::Warehouse,
            Ndjson::create(&path).unwrap_or_else(|e| panic!("{e}")),
        )
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .skip(destination::SupportDesk)
        .context(Context {
            app_version: Some("1.4.2".into()),
            platform: Some(ContextPlatform::Web),
        })
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let visitor = tracker.anonymous_with_id("device-7f3a", both());
    let at = Timestamp::from_unix_millis(1_764_547_200_000);
    visitor.track_with_options(
        page_view(),
        &TrackOptions::new()
            .at(at)
            .insert_id("0b8e4f9c-6a1d-4c8e-9f3a-2d7b5e1c0a94")
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let user = visitor.identify("user-42");
    user.update_profile(
        Profile::new()
            .set_plan_tier(ProfilePlanTier::Pro)
            .unset_plan_tier(),
    );
    user.update_profile(
        Profile::new()
            .union_favourite_categories(["running", "hiking"])
            .set_email(Personal::new("Alice@Example.com".into())),
    );
    user.join(Company::new("acme"));
    user.update_group(Company::new("acme").set_seats(40));
    user.track_at(
        CheckoutCompleted {
            revenue: 59.9,
            currency: Currency::Eur,
            item_count: 2,
            product_ids: vec!["sku-1".into()],
            coupon_codes: None,
            ordered_at: at,
        },
        at,
    );
    user.track(SignupCompleted {
        plan_tier: PlanTier::Pro,
        age: Personal::new(30),
        newsletter: false,
    });
    flush(&tracker);

    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<&str> = text.lines().collect();
    let anon = pseudonym("device-7f3a");
    let id = pseudonym("user-42");
    assert_eq!(visitor.distinct_id(), anon);
    assert_eq!(user.distinct_id(), id);
    // Time and insert id are the runtime's (now, random) except where the caller gave them.
    let fixed = |i: usize| {
        let v = json(lines[i]);
        (
            v["time"].as_i64().unwrap_or_default(),
            v["insert_id"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let head = |i: usize, kind: &str, op: Option<&str>, purposes: &str| {
        let (time, insert_id) = fixed(i);
        let op = op.map_or(String::new(), |op| format!(r#","op":"{op}""#));
        format!(
            r#"{{"type":"{kind}"{op},"time":{time},"insert_id":"{insert_id}","distinct_id":"{id}","plan":"shop@3","purposes":[{purposes}]"#
        )
    };
    let pa = r#""product_analytics""#;
    let both = r#""product_analytics","advertising""#;
    let group = r#""group":{"kind":"company","key":"Company ID","id":"acme"}"#;
    let want = [
        format!(
            r#"{{"type":"track","event":"Page Viewed","time":1764547200000,"insert_id":"0b8e4f9c-6a1d-4c8e-9f3a-2d7b5e1c0a94","distinct_id":"{anon}","plan":"shop@3","purposes":["product_analytics"],"properties":{{"URL":"https://shop.example/cart","IP Address":"203.0.113.0","App Version":"1.4.2","Platform":"web"}}}}"#
        ),
        format!(r#"{},"anonymous_id":"{anon}"}}"#, head(1, "link", None, pa)),
        // One operation per trait and update: the later builder call (`unset`) won.
        format!(
            r#"{},"traits":["Plan Tier"]}}"#,
            head(2, "profile", Some("unset"), pa)
        ),
        // One message per operation, in `ProfileOp` order.
        format!(
            r#"{},"traits":{{"$email":"{}"}}}}"#,
            head(3, "profile", Some("set"), pa),
            hmac_hex("alice@example.com")
        ),
        format!(
            r#"{},"traits":{{"Favourite Categories":["running","hiking"]}}}}"#,
            head(4, "profile", Some("union"), pa)
        ),
        format!(r#"{},{group}}}"#, head(5, "join", None, both)),
        format!(
            r#"{},{group},"traits":{{"Seats":40}}}}"#,
            head(6, "group", Some("set"), pa)
        ),
        format!(
            r#"{{"type":"track","event":"Checkout Completed","time":1764547200000,"insert_id":"{}","distinct_id":"{id}","plan":"shop@3","purposes":[{both}],"groups":[{{"kind":"company","key":"Company ID","id":"acme"}}],"properties":{{"Revenue":59.9,"Currency":"EUR","Item Count":2,"Product IDs":["sku-1"],"Ordered At":"2025-12-01T00:00:00.000Z","App Version":"1.4.2","Platform":"web"}}}}"#,
            fixed(7).1
        ),
        // `platform` applies to the page view and checkout only.
        format!(
            r#"{{"type":"track","event":"Signup Completed","time":{},"insert_id":"{}","distinct_id":"{id}","plan":"shop@3","purposes":[{pa}],"properties":{{"Plan Tier":"pro","Age":"25-34","Newsletter":false,"App Version":"1.4.2"}}}}"#,
            fixed(8).0,
            fixed(8).1
        ),
    ];
    assert_eq!(lines, want);
    // The independent HMACs are the ids the runtime sent.
    assert!(anon.ends_with(&hmac_hex("device-7f3a")) && id.ends_with(&hmac_hex("user-42")));
    assert!(!text.contains("user-42") && !text.contains("device-7f3a"));
}

#[test]
fn forget_after_a_stitch_erases_both_ids_everywhere_and_names_both() {
    let path = temp_path("forget-stitch", "events.ndjson");
    let (mixpanel, ads) = (Keeper::default(), Keeper::default());
    let tracker = builder()
        .sink(
            destination::Warehouse,
            Ndjson::create(&path).unwrap_or_else(|e| panic!("{e}")),
        )
        .sink(destination::Mixpanel, mixpanel.clone())
        .sink(destination::Ads, ads.clone())
        .skip(destination::SupportDesk)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let visitor = tracker.anonymous(both()).unwrap_or_else(|e| panic!("{e}"));
    let anon = visitor.distinct_id().to_owned();
    visitor.track(page_view());
    let user = visitor.identify("user-42");
    user.update_profile(
        Profile::new()
            .set_plan_tier(ProfilePlanTier::Pro)
            .set_ad_audience(ProfileAdAudience::Loyal),
    );
    user.join(Company::new("acme"));
    user.update_group(Company::new("acme").set_seats(3));
    // Someone else, who must stay.
    tracker
        .subject("user-7", both())
        .update_profile(Profile::new().set_plan_tier(ProfilePlanTier::Free));
    flush(&tracker);
    assert!(mixpanel.kept().iter().any(|e| *e.distinct_id == *anon));
    assert!(
        ads.kept()
            .iter()
            .any(|e| matches!(e.message, Message::Link { .. }))
    );

    // The access request covers both ids too.
    let access = tracker
        .request_access("user-42")
        .unwrap_or_else(|e| panic!("{e}"));
    match access.destination("warehouse") {
        Some(Access::Records { records, .. }) => {
            assert_eq!(
                records.len(),
                5,
                "page view, link, profile, join, group update"
            );
            assert!(records.iter().any(|r| r.contains(&anon)));
        }
        other => panic!("expected the warehouse's records, got {other:?}"),
    }

    let report = tracker.forget("user-42").unwrap_or_else(|e| panic!("{e}"));
    for (destination, erasure) in &report.destinations {
        let expected = if ["security_log", "support_desk"].contains(destination) {
            Erasure::NothingStored // skipped
        } else {
            Erasure::Erased
        };
        assert_eq!(*erasure, expected, "{destination}");
    }
    let id = pseudonym("user-42");
    for keeper in [&mixpanel, &ads] {
        assert_eq!(keeper.erase_calls(), [vec![id.clone(), anon.clone()]]);
        assert!(
            keeper
                .kept()
                .iter()
                .all(|e| *e.distinct_id == *pseudonym("user-7"))
        );
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(!text.contains(&anon) && !text.contains(&id), "{text}");
    assert_eq!(text.lines().count(), 1, "user-7's update stays");
}

/// Never accepts anything: what is sent to it stays in the spool.
#[derive(Clone)]
struct Down;

impl Sink for Down {
    fn declaration(&self) -> SinkDeclaration {
        SinkDeclaration::InProcess
    }
    fn retry_policy(&self) -> trackplan_runtime::config::RetryPolicy {
        trackplan_runtime::config::RetryPolicy {
            initial_backoff: Duration::from_secs(60),
            max_backoff: Duration::from_secs(60),
            max_retries: 100,
        }
    }
    fn deliver(&mut self, _: &[Envelope]) -> Outcome {
        Outcome::Retry {
            reason: "down".into(),
            after: None,
        }
    }
}

fn spooling(dir: &std::path::Path, warehouse: impl Sink) -> Tracker {
    builder()
        .sink(destination::Warehouse, warehouse)
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .skip(destination::SupportDesk)
        .spool(Spool::open(dir).unwrap_or_else(|e| panic!("{e}")))
        .drop_timeout(Duration::from_millis(50))
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_spooled_profile_update_is_replayed_with_its_kind() {
    let dir = temp_path("spool-update", "spool");
    {
        let tracker = spooling(&dir, Down);
        let user = tracker.subject("user-42", both());
        user.update_profile(Profile::new().unset_plan_tier().add_order_count(2));
        user.update_group(Company::new("acme").set_seats(9));
        let _ = tracker.shutdown_within(Duration::from_millis(100));
    }
    let warehouse = Memory::new();
    let tracker = spooling(&dir, warehouse.clone());
    flush(&tracker);
    let mut got: Vec<(Message, String)> = warehouse
        .envelopes()
        .into_iter()
        .map(|e| (e.message, e.properties.to_string()))
        .collect();
    got.sort_by_key(|(m, _)| format!("{m:?}"));
    let acme = trackplan_runtime::GroupRef {
        kind: "company",
        key: "Company ID",
        id: "\"acme\"".into(),
    };
    assert_eq!(
        got,
        [
            (
                Message::Group {
                    group: acme,
                    op: ProfileOp::Set
                },
                r#"{"Seats":9}"#.to_owned()
            ),
            (
                Message::Profile { op: ProfileOp::Add },
                r#"{"Order Count":2}"#.to_owned()
            ),
            (
                Message::Profile {
                    op: ProfileOp::Unset
                },
                r#"["Plan Tier"]"#.to_owned()
            ),
        ]
    );
}

#[test]
fn forget_after_a_stitch_erases_both_ids_from_the_spool() {
    let dir = temp_path("spool-forget", "spool");
    {
        let tracker = spooling(&dir, Down);
        let visitor = tracker.anonymous_with_id("device-1", both());
        visitor.track(page_view());
        let user = visitor.identify("user-42");
        user.update_profile(Profile::new().set_plan_tier(ProfilePlanTier::Pro));
        tracker
            .subject("user-7", both())
            .update_profile(Profile::new().set_plan_tier(ProfilePlanTier::Free));
        let _ = tracker.forget("user-42");
        let _ = tracker.shutdown_within(Duration::from_millis(100));
    }
    let bytes: Vec<u8> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .filter_map(|f| std::fs::read(f.path()).ok())
        .flatten()
        .collect();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains(&pseudonym("user-42")) && !text.contains(&pseudonym("device-1")));
    assert!(
        text.contains(&pseudonym("user-7")),
        "the other subject's update stays"
    );
    let warehouse = Memory::new();
    let tracker = spooling(&dir, warehouse.clone());
    flush(&tracker);
    let replayed = warehouse.envelopes();
    assert_eq!(replayed.len(), 1);
    assert_eq!(*replayed[0].distinct_id, pseudonym("user-7"));
}

#[test]
fn context_is_merged_from_the_tracker_and_the_subject_overrides_it() {
    let warehouse = Memory::new();
    let tracker = builder()
        .sink(destination::Warehouse, warehouse.clone())
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .skip(destination::SupportDesk)
        .context(Context {
            app_version: Some("1.4.2".into()),
            platform: None,
        })
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let a = tracker.subject("a", both());
    let b = tracker.subject("b", both());
    b.set_context(Context {
        app_version: None,
        platform: Some(ContextPlatform::Ios),
    });
    b.set_context(Context {
        app_version: Some("2.0.0-beta".into()),
        platform: None, // keeps `ios`
    });
    for s in [&a, &b] {
        s.track(page_view());
    }
    b.track(SignupCompleted {
        plan_tier: PlanTier::Free,
        age: Personal::new(41),
        newsletter: true,
    });
    flush(&tracker);
    let got: Vec<serde_json::Value> = warehouse
        .envelopes()
        .iter()
        .map(|e| json(&e.properties))
        .collect();
    let page = |extra: serde_json::Value| {
        let mut v =
            serde_json::json!({"URL": "https://shop.example/cart", "IP Address": "203.0.113.0"});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        v
    };
    assert_eq!(
        got,
        [
            page(serde_json::json!({"App Version": "1.4.2"})),
            page(serde_json::json!({"App Version": "2.0.0-beta", "Platform": "ios"})),
            serde_json::json!({"Plan Tier": "free", "Age": "35-49", "Newsletter": true, "App Version": "2.0.0-beta"}),
        ]
    );
}

#[test]
fn a_context_value_that_breaks_its_constraints_is_dropped_and_counted() {
    let warehouse = Memory::new();
    let tracker = builder()
        .sink(destination::Warehouse, warehouse.clone())
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .skip(destination::SupportDesk)
        .context(Context {
            app_version: Some("x".repeat(33)), // max_length 32
            platform: None,
        })
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    tracker.subject("a", both()).track(page_view());
    flush(&tracker);
    assert_eq!(tracker.stats().dropped_invalid, 1);
    assert!(!warehouse.envelopes()[0].properties.contains("App Version"));
}

#[test]
fn an_insert_id_destinations_would_refuse_is_refused_with_the_rule() {
    for bad in ["", "order 42", "ü-1", &"a".repeat(37)] {
        let err = TrackOptions::new()
            .insert_id(bad)
            .err()
            .unwrap_or_else(|| panic!("accepted {bad:?}"));
        assert!(err.to_string().contains("[A-Za-z0-9-]"), "{err}");
        assert!(bad.is_empty() || !err.to_string().contains(bad));
    }
    assert!(TrackOptions::new().insert_id(&"a".repeat(36)).is_ok());
}

#[test]
fn a_replayed_insert_id_reaches_every_destination_unchanged() {
    let recorder = Recorder::for_plan(&PLAN);
    let tracker = builder()
        .record_all(&recorder)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let at = Timestamp::from_unix_millis(1_700_000_000_000);
    let options = TrackOptions::new()
        .at(at)
        .insert_id("order-42")
        .unwrap_or_else(|e| panic!("{e}"));
    let user = tracker.subject("user-42", both());
    for _ in 0..2 {
        user.track_with_options(
            CheckoutCompleted {
                revenue: 1.0,
                currency: Currency::Eur,
                item_count: 1,
                product_ids: vec![],
                coupon_codes: None,
                ordered_at: at,
            },
            &options,
        );
    }
    flush(&tracker);
    let got = recorder.events_of::<CheckoutCompleted>();
    assert_eq!(got.len(), 6, "two replays to three destinations");
    assert!(
        got.iter()
            .all(|r| r.insert_id == "order-42" && r.time_ms == 1_700_000_000_000)
    );
}

#[test]
fn events_of_a_joined_group_carry_it_and_others_do_not() {
    let warehouse = Memory::new();
    let tracker = builder()
        .sink(destination::Warehouse, warehouse.clone())
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .skip(destination::SupportDesk)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let user = tracker.subject("user-42", both());
    let checkout = |revenue| CheckoutCompleted {
        revenue,
        currency: Currency::Eur,
        item_count: 1,
        product_ids: vec![],
        coupon_codes: None,
        ordered_at: Timestamp::from_unix_millis(0),
    };
    user.track(checkout(1.0));
    user.join(Company::new("acme"));
    user.join(Company::new("globex")); // one group per kind: the later one
    user.track(checkout(2.0));
    user.track(page_view());
    flush(&tracker);
    let tracks: Vec<Message> = warehouse
        .envelopes()
        .into_iter()
        .filter(|e| e.message.kind() == "track")
        .map(|e| e.message)
        .collect();
    let globex = trackplan_runtime::GroupRef {
        kind: "company",
        key: "Company ID",
        id: "\"globex\"".into(),
    };
    assert_eq!(
        tracks,
        [
            Message::TRACK,
            Message::Track {
                groups: Some(vec![globex].into())
            },
            Message::TRACK,
        ]
    );
}

#[test]
fn the_recorder_sees_every_kind_and_its_debug_shows_no_value() {
    let recorder = Recorder::for_plan(&PLAN);
    let tracker = builder()
        .record_all(&recorder)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let visitor = tracker.anonymous(both()).unwrap_or_else(|e| panic!("{e}"));
    let user = visitor.identify("user-42");
    user.update_profile(
        Profile::new()
            .set_email(Personal::new("alice@example.com".into()))
            .unset_plan_tier(),
    );
    user.join(Company::new("acme"));
    flush(&tracker);
    let link = recorder.assert_linked(visitor.distinct_id(), user.distinct_id());
    assert_eq!(link.kind(), "link");
    recorder.assert_trait(
        ProfileOp::Set,
        "$email",
        hmac_hex("alice@example.com").into(),
    );
    assert_eq!(
        recorder.of_kind("join").len(),
        3,
        "warehouse, mixpanel, ads"
    );
    let unset = recorder
        .profile_updates()
        .into_iter()
        .find(|r| {
            r.message
                == Message::Profile {
                    op: ProfileOp::Unset,
                }
        })
        .unwrap_or_else(|| panic!("no unset"));
    assert_eq!(unset.properties, serde_json::json!(["Plan Tier"]));
    let shown = format!("{:?}", recorder.events());
    assert!(
        shown.contains("\"profile\"") && shown.contains("\"set\""),
        "{shown}"
    );
    for secret in [
        hmac_hex("alice@example.com"),
        "acme".to_owned(),
        visitor.distinct_id().to_owned(),
    ] {
        assert!(!shown.contains(&secret), "{shown}");
    }
}

#[test]
fn add_checks_the_amount_not_the_traits_bounds_and_set_checks_them() {
    let warehouse = Memory::new();
    let tracker = builder()
        .sink(destination::Warehouse, warehouse.clone())
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .skip(destination::SupportDesk)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let user = tracker.subject("user-42", both());
    // `order_count` has `min = 0`: a count may still go down by one, but never be set below 0.
    user.update_profile(Profile::new().add_order_count(-1));
    user.update_profile(Profile::new().set_order_count(-1));
    user.update_profile(Profile::new().add_lifetime_value(f64::NAN));
    // A `redact` number can be added to (first parties only).
    user.update_profile(Profile::new().add_lifetime_value(2.5));
    flush(&tracker);
    let got: Vec<String> = warehouse
        .envelopes()
        .iter()
        .map(|e| e.properties.to_string())
        .collect();
    assert_eq!(got, [r#"{"Order Count":-1}"#, r#"{"Lifetime Value":2.5}"#]);
    assert_eq!(tracker.stats().dropped_invalid, 2);
}

/// The runtime writes an update whose traits share one operation and destinations in one
/// pass; a trait that does not fit it (first-party only, or another operation) makes it write
/// the whole update again. Nothing written in the first pass may survive into the second, and
/// a value refused before the trait that did not fit is counted once.
#[test]
fn an_update_written_twice_sends_each_trait_once_and_counts_each_refusal_once() {
    let (tracker, warehouse, mixpanel) = warehouse_and_mixpanel();
    let user = tracker.subject("user-42", both());
    // `order_count` has `min = 0`: refused in the first pass, then the first-party-only
    // `lifetime_value` ends it.
    user.update_profile(
        Profile::new()
            .set_plan_tier(ProfilePlanTier::Pro)
            .set_order_count(-1)
            .set_lifetime_value(2.5),
    );
    // Another operation ends it.
    user.update_profile(
        Profile::new()
            .set_plan_tier(ProfilePlanTier::Free)
            .add_order_count(2),
    );
    flush(&tracker);
    let texts = |sink: &Memory| -> Vec<(String, Message)> {
        sink.envelopes()
            .iter()
            .map(|e| (e.properties.to_string(), e.message.clone()))
            .collect()
    };
    let (set, add) = (
        Message::Profile { op: ProfileOp::Set },
        Message::Profile { op: ProfileOp::Add },
    );
    assert_eq!(
        texts(&warehouse),
        [
            (
                r#"{"Plan Tier":"pro","Lifetime Value":2.5}"#.to_owned(),
                set.clone()
            ),
            (r#"{"Plan Tier":"free"}"#.to_owned(), set.clone()),
            (r#"{"Order Count":2}"#.to_owned(), add.clone()),
        ]
    );
    assert_eq!(
        texts(&mixpanel),
        [
            (r#"{"Plan Tier":"pro"}"#.to_owned(), set.clone()),
            (r#"{"Plan Tier":"free"}"#.to_owned(), set),
            (r#"{"Order Count":2}"#.to_owned(), add),
        ],
        "a third party gets no first-party-only trait"
    );
    assert_eq!(tracker.stats().dropped_invalid, 1);
}

#[test]
fn after_a_restart_the_ndjson_file_still_ties_the_anonymous_past_to_the_account() {
    let path = temp_path("restart-stitch", "events.ndjson");
    let ndjson_only = |sink: Ndjson| {
        builder()
            .sink(destination::Warehouse, sink)
            .skip(destination::Mixpanel)
            .skip(destination::Ads)
            .skip(destination::SupportDesk)
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let anon = {
        let tracker = ndjson_only(Ndjson::create(&path).unwrap_or_else(|e| panic!("{e}")));
        let visitor = tracker.anonymous(both()).unwrap_or_else(|e| panic!("{e}"));
        visitor.track(page_view());
        visitor.identify("user-42");
        tracker
            .anonymous(both())
            .unwrap_or_else(|e| panic!("{e}"))
            .track(page_view());
        tracker.shutdown().unwrap_or_else(|e| panic!("{e}"));
        visitor.distinct_id().to_owned()
    };
    // A new process: the tracker has no memory of the stitch, the file has.
    let tracker = ndjson_only(Ndjson::append(&path).unwrap_or_else(|e| panic!("{e}")));
    let access = tracker
        .request_access("user-42")
        .unwrap_or_else(|e| panic!("{e}"));
    match access.destination("warehouse") {
        Some(Access::Records { records, .. }) => {
            assert_eq!(records.len(), 2, "the anonymous page view and the link");
        }
        other => panic!("expected records, got {other:?}"),
    }
    tracker.forget("user-42").unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(!text.contains(&anon) && !text.contains(&pseudonym("user-42")));
    assert_eq!(
        text.lines().count(),
        1,
        "the other visitor's page view stays"
    );
}

#[test]
fn forgetting_the_anonymous_id_drops_the_queued_link_that_names_it() {
    let tracker = builder()
        .sink(destination::Warehouse, Down)
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .skip(destination::SupportDesk)
        .drop_timeout(Duration::from_millis(50))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let visitor = tracker.anonymous(both()).unwrap_or_else(|e| panic!("{e}"));
    visitor.track(page_view());
    let user = visitor.identify("user-42");
    user.update_profile(Profile::new().set_plan_tier(ProfilePlanTier::Pro));
    let report = tracker
        .forget_distinct_id(visitor.distinct_id())
        .unwrap_or_else(|e| panic!("{e}"));
    // The page view (the visitor's) and the link (the account's, naming the visitor); the
    // account's own profile update stays.
    assert_eq!(report.purged, 2);
    let warehouse = tracker.stats();
    let counts = warehouse
        .destination("warehouse")
        .unwrap_or_else(|| panic!("no warehouse"));
    assert_eq!((counts.dropped_forgotten, counts.pending()), (2, 1));
}
