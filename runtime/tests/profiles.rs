//! Profiles, groups, identity stitching and context (issue 11), end to end through a tracker:
//! consent and routing per trait, the `redact` rule, transforms, the NDJSON records of every
//! message kind (byte for byte, both HMACs recomputed here), `forget` after a stitch, spool
//! replay of an update, backfill times and caller-supplied insert ids.

// The plan module is written as generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod hand;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hand::*;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use trackplan_runtime::config::SinkDeclaration;
use trackplan_runtime::requests::{Access, Erasure};
use trackplan_runtime::sinks::{Memory, Ndjson};
use trackplan_runtime::spool::Spool;
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

fn builder() -> TrackerBuilder {
    Tracker::builder(&PLAN)
        .key(key())
        .max_delay(Duration::from_millis(5))
}

fn both() -> Consent {
    Consent::none()
        .grant(purpose::Analytics)
        .grant(purpose::Ads)
}

fn flush(tracker: &Tracker) {
    tracker.flush().unwrap_or_else(|e| panic!("{e}"));
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn each_destination_gets_the_traits_its_purposes_and_party_allow_through_their_transforms() {
    let (warehouse, mixpanel, ads) = (Memory::new(), Memory::new(), Memory::new());
    let tracker = builder()
        .sink(destination::Warehouse, warehouse.clone())
        .sink(destination::Mixpanel, mixpanel.clone())
        .sink(destination::Ads, ads.clone())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let user = tracker.subject("user-42", both());
    user.update_profile(
        Profile::new()
            .set_plan_tier("pro")
            .set_email(Personal::new(" Alice@Example.COM ".into()))
            .set_audience("runners")
            .set_support_notes(Personal::new("asked about a refund".into()))
            .add_lifetime_orders(1),
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
        json(&w[0].properties),
        serde_json::json!({"Plan Tier": "pro", "Email": email, "Support Notes": "asked about a refund"})
    );
    assert_eq!(w[1].message, Message::Profile { op: ProfileOp::Add });
    assert_eq!(&*w[1].properties, r#"{"Lifetime Orders":1}"#);
    assert_ne!(
        w[0].insert_id, w[1].insert_id,
        "two operations, two messages"
    );

    // Third party: without the `redact` trait, and without the ad trait it has no purpose for.
    let m = mixpanel.envelopes();
    assert_eq!(m.len(), 2);
    assert_eq!(
        &*m[0].properties,
        format!(r#"{{"Plan Tier":"pro","Email":"{email}"}}"#)
    );
    // The ad network: only the trait collected for advertising.
    let a = ads.envelopes();
    assert_eq!(a.len(), 1);
    assert_eq!(&*a[0].properties, r#"{"Ad Audience":"runners"}"#);
    assert_eq!(
        tracker
            .plan()
            .purpose_ids(a[0].purposes)
            .collect::<Vec<_>>(),
        ["ads"]
    );
    for e in w.iter().chain(&m).chain(&a) {
        assert!(
            !e.properties.to_lowercase().contains("alice"),
            "{}",
            e.properties
        );
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
        ::trackplan::__private::Value::write(&"runners", p, w);
    }
}

/// A profile update setting only the ad trait, with a probe for its value.
struct AdOnly(::trackplan::__private::TraitOp<Probe>);
impl ::trackplan::__private::Sealed for AdOnly {}
impl ::trackplan::__private::ProfileUpdate for AdOnly {
    const PLAN: &'static trackplan_runtime::info::PlanInfo = &PLAN;
    fn write_traits(&self, w: &mut ::trackplan::__private::TraitWriter<'_>) {
        w.write(&PLAN.traits[2], &self.0);
    }
}

#[test]
fn a_profile_update_for_a_withdrawn_purpose_reaches_nobody_and_is_never_serialized() {
    let (warehouse, mixpanel, ads) = (Memory::new(), Memory::new(), Memory::new());
    let tracker = builder()
        .sink(destination::Warehouse, warehouse.clone())
        .sink(destination::Mixpanel, mixpanel.clone())
        .sink(destination::Ads, ads.clone())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let user = tracker.subject("user-42", both());
    user.withdraw(purpose::Ads);
    let serialized = Arc::new(Mutex::new(0));
    user.update_profile(AdOnly(::trackplan::__private::TraitOp::Set(Probe(
        Arc::clone(&serialized),
    ))));
    flush(&tracker);
    assert!(warehouse.is_empty() && mixpanel.is_empty() && ads.is_empty());
    assert_eq!(
        *serialized.lock().unwrap_or_else(PoisonError::into_inner),
        0
    );
    let stats = tracker.stats();
    let ad_counts = stats.destination("ads").unwrap_or_else(|| panic!("no ads"));
    assert_eq!((ad_counts.accepted, ad_counts.dropped_consent), (1, 1));

    // With consent it is serialized once and sent.
    user.grant(purpose::Ads);
    user.update_profile(AdOnly(::trackplan::__private::TraitOp::Set(Probe(
        Arc::clone(&serialized),
    ))));
    flush(&tracker);
    assert_eq!(
        *serialized.lock().unwrap_or_else(PoisonError::into_inner),
        1
    );
    assert_eq!(ads.len(), 1);
    assert!(warehouse.is_empty() && mixpanel.is_empty());
}

/// Trait descriptions made by hand, claiming every purpose and destination (and no `redact`):
/// one of a trait the plan does not declare, one copying a declared `redact` trait's id.
static UNDECLARED: trackplan_runtime::info::TraitInfo = forged("vip", "VIP", "\"VIP\":");
static COPIED: trackplan_runtime::info::TraitInfo =
    forged("support_notes", "Support Notes", "\"Support Notes\":");

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
            trackplan_runtime::info::ValueKind::String,
            trackplan_runtime::info::Sensitivity::Internal,
            None,
            trackplan_runtime::info::TransformInfo::None,
            false,
            ::trackplan::__private::constraints(None, None, None),
        ),
        trackplan_runtime::info::PurposeSet::from_bits(0b11),
        trackplan_runtime::info::DestinationSet::from_bits(0b111),
    )
}

struct Forged;
impl ::trackplan::__private::Sealed for Forged {}
impl ::trackplan::__private::ProfileUpdate for Forged {
    const PLAN: &'static trackplan_runtime::info::PlanInfo = &PLAN;
    fn write_traits(&self, w: &mut ::trackplan::__private::TraitWriter<'_>) {
        w.write(&UNDECLARED, &::trackplan::__private::TraitOp::Set("yes"));
        w.write(
            &COPIED,
            &::trackplan::__private::TraitOp::Set("asked about a refund"),
        );
    }
}

#[test]
fn a_hand_made_trait_description_gets_no_more_than_the_plan_allows() {
    let (warehouse, mixpanel, ads) = (Memory::new(), Memory::new(), Memory::new());
    let tracker = builder()
        .sink(destination::Warehouse, warehouse.clone())
        .sink(destination::Mixpanel, mixpanel.clone())
        .sink(destination::Ads, ads.clone())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    tracker.subject("user-42", both()).update_profile(Forged);
    flush(&tracker);
    // The undeclared trait went nowhere; the copy got the declared trait's rules: first
    // party only (`redact`), analytics destinations only.
    let w = warehouse.envelopes();
    assert_eq!(w.len(), 1);
    assert_eq!(
        &*w[0].properties,
        r#"{"Support Notes":"asked about a refund"}"#
    );
    assert!(mixpanel.is_empty() && ads.is_empty());
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
        .context(Context {
            app_version: Some("1.4.2".into()),
        })
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let visitor = tracker.anonymous_with_id("device-7f3a", both());
    let at = Timestamp::from_unix_millis(1_764_547_200_000);
    visitor.track_with_options(
        PageViewed {
            url: "https://shop.example/".into(),
        },
        &TrackOptions::new()
            .at(at)
            .insert_id("0b8e4f9c-6a1d-4c8e-9f3a-2d7b5e1c0a94")
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let user = visitor.identify("user-42");
    user.update_profile(Profile::new().set_plan_tier("pro").unset_plan_tier());
    user.update_profile(
        Profile::new()
            .union_interests(vec!["running".into(), "hiking".into()])
            .set_email(Personal::new("Alice@Example.com".into())),
    );
    user.join(Company::new("acme"));
    user.update_group(Company::new("acme").set_seats(40));
    user.track_at(OrderCompleted { revenue: 59.9 }, at);
    flush(&tracker);

    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<&str> = text.lines().collect();
    let anon = pseudonym("device-7f3a");
    let id = pseudonym("user-42");
    assert_eq!(visitor.distinct_id(), anon);
    assert_eq!(user.distinct_id(), id);
    // Time and insert id are the runtime's (now, random) except where the caller gave them.
    let field = |line: &str, name: &str| json(line)[name].clone();
    let fixed = |i: usize| {
        (
            field(lines[i], "time").as_i64().unwrap_or_default(),
            field(lines[i], "insert_id")
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    };
    let head = |i: usize, kind: &str, op: Option<&str>, who: &str| {
        let (time, insert_id) = fixed(i);
        let op = op.map_or(String::new(), |op| format!(r#","op":"{op}""#));
        format!(
            r#"{{"type":"{kind}"{op},"time":{time},"insert_id":"{insert_id}","distinct_id":"{who}","plan":"hand@1","purposes":["analytics"]"#
        )
    };
    let group = r#""group":{"kind":"company","key":"company_id","id":"acme"}"#;
    let want = [
        format!(
            r#"{{"type":"track","event":"Page Viewed","time":1764547200000,"insert_id":"0b8e4f9c-6a1d-4c8e-9f3a-2d7b5e1c0a94","distinct_id":"{anon}","plan":"hand@1","purposes":["analytics"],"properties":{{"URL":"https://shop.example/","App Version":"1.4.2"}}}}"#
        ),
        format!(
            r#"{},"anonymous_id":"{anon}"}}"#,
            head(1, "link", None, &id)
        ),
        // One operation per trait and update: the later builder call (`unset`) won.
        format!(
            r#"{},"traits":["Plan Tier"]}}"#,
            head(2, "profile", Some("unset"), &id)
        ),
        // One message per operation, in `ProfileOp` order.
        format!(
            r#"{},"traits":{{"Email":"{}"}}}}"#,
            head(3, "profile", Some("set"), &id),
            hmac_hex("alice@example.com")
        ),
        format!(
            r#"{},"traits":{{"Interests":["running","hiking"]}}}}"#,
            head(4, "profile", Some("union"), &id)
        ),
        format!(r#"{},{group}}}"#, head(5, "join", None, &id)),
        format!(
            r#"{},{group},"traits":{{"Seats":40}}}}"#,
            head(6, "group", Some("set"), &id)
        ),
        format!(
            r#"{{"type":"track","event":"Order Completed","time":1764547200000,"insert_id":"{}","distinct_id":"{id}","plan":"hand@1","purposes":["analytics"],"groups":[{{"kind":"company","key":"company_id","id":"acme"}}],"properties":{{"Revenue":59.9,"App Version":"1.4.2"}}}}"#,
            fixed(7).1
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
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let visitor = tracker.anonymous(both()).unwrap_or_else(|e| panic!("{e}"));
    let anon = visitor.distinct_id().to_owned();
    visitor.track(PageViewed {
        url: "https://shop.example/".into(),
    });
    let user = visitor.identify("user-42");
    user.update_profile(Profile::new().set_plan_tier("pro").set_audience("runners"));
    user.join(Company::new("acme"));
    user.update_group(Company::new("acme").set_seats(3));
    // Someone else, who must stay.
    tracker
        .subject("user-7", both())
        .update_profile(Profile::new().set_plan_tier("free"));
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
    assert!(
        report
            .destinations
            .iter()
            .all(|(_, e)| *e == Erasure::Erased)
    );
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

#[test]
fn a_spooled_profile_update_is_replayed_with_its_kind() {
    let dir = temp_path("spool-update", "spool");
    {
        /// Never accepts anything: the update stays in the spool.
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
        let tracker = builder()
            .sink(destination::Warehouse, Down)
            .skip(destination::Mixpanel)
            .skip(destination::Ads)
            .spool(Spool::open(&dir).unwrap_or_else(|e| panic!("{e}")))
            .drop_timeout(Duration::from_millis(50))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let user = tracker.subject("user-42", both());
        user.update_profile(Profile::new().unset_plan_tier().add_lifetime_orders(2));
        user.update_group(Company::new("acme").set_seats(9));
        let _ = tracker.shutdown_within(Duration::from_millis(100));
    }
    let warehouse = Memory::new();
    let tracker = builder()
        .sink(destination::Warehouse, warehouse.clone())
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .spool(Spool::open(&dir).unwrap_or_else(|e| panic!("{e}")))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    flush(&tracker);
    let mut got: Vec<(Message, String)> = warehouse
        .envelopes()
        .into_iter()
        .map(|e| (e.message, e.properties.to_string()))
        .collect();
    got.sort_by_key(|(m, _)| format!("{m:?}"));
    let acme = trackplan_runtime::GroupRef {
        kind: "company",
        key: "company_id",
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
                r#"{"Lifetime Orders":2}"#.to_owned()
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
fn context_is_merged_from_the_tracker_and_the_subject_overrides_it() {
    let warehouse = Memory::new();
    let tracker = builder()
        .sink(destination::Warehouse, warehouse.clone())
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .context(Context {
            app_version: Some("1.4.2".into()),
        })
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let a = tracker.subject("a", both());
    let b = tracker.subject("b", both());
    b.set_context(Context {
        app_version: Some("2.0.0-beta".into()),
    });
    // `None` keeps what was set.
    b.set_context(Context { app_version: None });
    for s in [&a, &b] {
        s.track(PageViewed {
            url: "https://shop.example/".into(),
        });
    }
    flush(&tracker);
    let got: Vec<String> = warehouse
        .envelopes()
        .iter()
        .map(|e| e.properties.to_string())
        .collect();
    assert_eq!(
        got,
        [
            r#"{"URL":"https://shop.example/","App Version":"1.4.2"}"#,
            r#"{"URL":"https://shop.example/","App Version":"2.0.0-beta"}"#,
        ]
    );
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
fn events_of_a_joined_group_carry_it_and_others_do_not() {
    let warehouse = Memory::new();
    let tracker = builder()
        .sink(destination::Warehouse, warehouse.clone())
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let user = tracker.subject("user-42", both());
    user.track(OrderCompleted { revenue: 1.0 });
    user.join(Company::new("acme"));
    user.join(Company::new("globex")); // one group per kind: the later one
    user.track(OrderCompleted { revenue: 2.0 });
    user.track(PageViewed {
        url: "https://shop.example/".into(),
    });
    flush(&tracker);
    let tracks: Vec<Message> = warehouse
        .envelopes()
        .into_iter()
        .filter(|e| e.message.kind() == "track")
        .map(|e| e.message)
        .collect();
    let globex = trackplan_runtime::GroupRef {
        kind: "company",
        key: "company_id",
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
