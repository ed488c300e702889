//! `cargo run --example quickstart`: the shop plan end to end, offline.
//!
//! 1. What a consent screen would show, straight from the plan.
//! 2. A short session of three shoppers: Alice opts in to analytics and advertising, Bob grants
//!    nothing and sends the Global Privacy Control signal, and Carol browses anonymously, signs
//!    up (her anonymous id is linked to her account: a stitch), and gets a profile.
//! 3. Where each event and profile update went, what was dropped and why.
//!
//! The first-party destinations write NDJSON under `target/quickstart/`; the third-party ones
//! (Mixpanel, the ads collector) and the support desk are stood in for by
//! `trackplan::testing::Recorder`, so nothing leaves the machine.

use std::error::Error;
use std::path::PathBuf;
use std::time::Duration;

use trackplan::info::LegalBasis;
use trackplan::sinks::Ndjson;
use trackplan::testing::Recorder;
use trackplan::{Consent, Key, Message, Personal, Timestamp, Tracker};

trackplan::plan!("plans/shop.toml");

fn main() -> Result<(), Box<dyn Error>> {
    consent_screen();

    // The key pseudonymizes user ids and e-mail addresses. Real deployments load it from the
    // environment (`openssl rand -hex 32`); the example falls back to a fixed demo key.
    let key = match Key::from_env("TRACKPLAN_KEY") {
        Ok(key) => key,
        Err(_) => Key::from_hex(&"5a".repeat(32))?,
    };
    println!(
        "Pseudonymization key id: {} (the key itself is never printed)\n",
        key.id()
    );

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/quickstart");
    std::fs::create_dir_all(&dir)?;
    let warehouse_file = dir.join("warehouse.ndjson");
    let security_file = dir.join("security_log.ndjson");
    let mixpanel = Recorder::new();
    let ads = Recorder::new();
    let support_desk = Recorder::new();
    let tracker = Tracker::builder(&PLAN)
        .key(key)
        .sink(destination::Warehouse, Ndjson::create(&warehouse_file)?)
        .sink(destination::Mixpanel, mixpanel.clone())
        .sink(destination::Ads, ads.clone())
        .sink(destination::SecurityLog, Ndjson::create(&security_file)?)
        .sink(destination::SupportDesk, support_desk.clone())
        // Context properties go with every event: set once here (or per subject).
        .context(Context {
            app_version: Some(env!("CARGO_PKG_VERSION").into()),
        })
        // Batches leave at `flush` below (or after 5 s), so the consent change mid-session
        // meets queued events, as it would in a busy service.
        .max_delay(Duration::from_secs(5))
        .build()?;

    // Alice accepted analytics and advertising on the consent screen.
    let alice = tracker.subject(
        "user-1001",
        Consent::none()
            .grant(purpose::ProductAnalytics)
            .grant(purpose::Advertising),
    );
    // Bob clicked "reject all"; his browser also sends `Sec-GPC: 1`.
    let bob = tracker.subject("user-1002", Consent::from_gpc(true));

    for (who, user) in [("alice", &alice), ("bob", &bob)] {
        user.track(PageViewed {
            url: "https://shop.example/products/42?utm_source=mail&email=someone@example.com"
                .into(),
            referrer: Some("https://search.example/?q=vitamins".into()),
            ip_address: Personal::new("203.0.113.77".into()),
        });
        user.track(ProductViewed {
            product_id: "sku-42".into(),
            product_category: ProductViewedProductCategory::HealthBeauty,
            price: 12.5,
            currency: Currency::Eur,
        });
        // `track_with` builds the event only if a destination will receive it: for a user
        // who refused analytics the search text is never even formatted.
        user.track_with(|| SearchPerformed {
            query: Personal::new(format!("vitamin d for {who}")),
            result_count: 7,
            health_filter: None,
        });
        user.track(CheckoutCompleted {
            revenue: 25.0,
            currency: Currency::Eur,
            item_count: 2,
            product_ids: vec!["sku-42".into(), "sku-7".into()],
            coupon_codes: None,
            ordered_at: Timestamp::now(),
        });
    }
    bob.track(LoginFailed {
        email: Personal::new(" Bob@Example.com ".into()),
        ip_address: Personal::new("2001:db8:1234:5678::9".into()),
        attempt: 2,
        reason: LoginFailedReason::BadPassword,
    });
    bob.track(SupportTicketOpened {
        topic: SupportTicketOpenedTopic::Refund,
        contact_email: Personal::new("bob@example.com".into()),
        order_count: 1,
    });
    // Carol browses without an account: a random visitor id, never derived from anything
    // about her, with the analytics consent she gave on the banner.
    let visitor = tracker.anonymous(Consent::none().grant(purpose::ProductAnalytics))?;
    visitor.track(PageViewed {
        url: "https://shop.example/products/7".into(),
        referrer: None,
        ip_address: Personal::new("198.51.100.4".into()),
    });
    // She signs up: the visitor id is linked to her account at every destination her consent
    // permits (both ids pseudonymous), and `forget("user-1003")` will cover both.
    let carol = visitor.identify("user-1003");
    // Her profile: each trait goes only where its purposes and her consent allow; the e-mail
    // address leaves as an HMAC.
    carol.update_profile(
        Profile::new()
            .set_plan_tier(ProfilePlanTier::Pro)
            .set_email(Personal::new("Carol@Example.com".into()))
            .add_order_count(1),
    );
    carol.join(Company::new("acme-gmbh"));

    // Alice changes her mind about ads before the next batch leaves: her queued events for
    // the ads partner are dropped, the others still go out.
    alice.withdraw(purpose::Advertising);
    tracker.flush()?;

    let who = |distinct_id: &str| -> &'static str {
        if distinct_id == alice.distinct_id() {
            "alice"
        } else if distinct_id == bob.distinct_id() {
            "bob"
        } else if distinct_id == carol.distinct_id() {
            "carol"
        } else if distinct_id == visitor.distinct_id() {
            "carol (anonymous)"
        } else {
            "?"
        }
    };
    println!("== Where the events went ==");
    for d in PLAN.destinations {
        let party = if d.third_party {
            "third party"
        } else {
            "first party"
        };
        // (event, subject, properties) as the destination received them.
        let mut received: Vec<(String, &str, serde_json::Value)> = Vec::new();
        match d.id {
            "warehouse" | "security_log" => {
                let path = if d.id == "warehouse" {
                    &warehouse_file
                } else {
                    &security_file
                };
                println!("\n{} ({party}, NDJSON in {}):", d.id, path.display());
                for line in std::fs::read_to_string(path)?.lines() {
                    let v: serde_json::Value = serde_json::from_str(line)?;
                    let subject = who(v["distinct_id"].as_str().unwrap_or_default());
                    // Every record says what it is: `track`, `profile`, `join`, `group`, `link`.
                    let (what, data) = match v["type"].as_str().unwrap_or_default() {
                        "track" => (
                            v["event"].as_str().unwrap_or_default().to_owned(),
                            v["properties"].clone(),
                        ),
                        "link" => ("link (was anonymous)".to_owned(), v["anonymous_id"].clone()),
                        "join" => ("join".to_owned(), v["group"].clone()),
                        kind => (
                            format!("{kind} {}", v["op"].as_str().unwrap_or_default()),
                            v["traits"].clone(),
                        ),
                    };
                    received.push((what, subject, data));
                }
            }
            id => {
                let recorder = match id {
                    "mixpanel" => &mixpanel,
                    "ads" => &ads,
                    _ => &support_desk,
                };
                println!("\n{id} ({party}, a Recorder stands in):");
                for e in recorder.events() {
                    let (what, data) = match &e.message {
                        Message::Profile { op } => (format!("profile {op}"), e.properties),
                        Message::Group { op, .. } => (format!("group {op}"), e.properties),
                        Message::Join { group } => (
                            "join".to_owned(),
                            serde_json::json!({"kind": group.kind, "key": group.key,
                                "id": serde_json::from_str::<serde_json::Value>(&group.id)?}),
                        ),
                        Message::Link { anonymous_id } => (
                            "link (was anonymous)".to_owned(),
                            anonymous_id.as_ref().into(),
                        ),
                        _ => (e.event.clone(), e.properties),
                    };
                    received.push((what, who(&e.distinct_id), data));
                }
            }
        }
        if received.is_empty() {
            println!("  nothing");
        }
        for (event, subject, properties) in received {
            println!("  {subject:<17} {event:<22} {properties}");
        }
    }

    println!("\n== What was dropped, and why ==\n");
    println!(
        "{:<14} {:>6} {:>10} {:>18}",
        "destination", "routed", "delivered", "dropped (consent)"
    );
    for d in &tracker.stats().destinations {
        let c = d.counts;
        println!(
            "{:<14} {:>6} {:>10} {:>18}",
            d.id, c.accepted, c.delivered, c.dropped_consent
        );
    }
    println!();
    for (name, user) in [("alice", &alice), ("bob", &bob)] {
        let consent = user.consent();
        let permitted = consent.permitted(&PLAN);
        for (i, p) in PLAN.purposes.iter().enumerate() {
            if permitted.contains(i) {
                continue;
            }
            let why = if consent.gpc() && p.sale_or_share {
                "Global Privacy Control withdraws it"
            } else {
                "no consent for it (never granted, or withdrawn)"
            };
            let to: Vec<&str> = PLAN
                .destinations
                .iter()
                .filter(|d| d.purposes.contains(i))
                .map(|d| d.id)
                .collect();
            println!(
                "  {name}: {} — {why}; nothing sent to {}",
                p.id,
                to.join(", ")
            );
        }
    }
    println!("  alice withdrew advertising while her events were queued: none reached ads.");
    println!("  \"Query\" is `redact`: only the first-party warehouse received it, not Mixpanel.");
    println!(
        "\nRaw user ids never leave the process: user-1001 is sent as\n  {}\n\
         E-mail addresses go out as HMACs, except the support desk's contact e-mail, which the\n\
         plan sends as is to that first-party system with a written justification.",
        alice.distinct_id()
    );

    // Alice asks to be forgotten: queued events are purged, sinks erase what they hold.
    let report = tracker.forget("user-1001")?;
    println!("\nforget(\"user-1001\"):");
    for (destination, answer) in &report.destinations {
        println!("  {destination:<14} {answer:?}");
    }
    let left = std::fs::read_to_string(&warehouse_file)?;
    println!(
        "  warehouse now holds {} line(s), none of Alice's",
        left.lines().count()
    );
    tracker.shutdown()?;
    Ok(())
}

/// Prints what a consent screen shows for each purpose: all of it comes from the plan.
fn consent_screen() {
    println!("== {} — what we collect and why ==\n", PLAN.label);
    for (i, p) in PLAN.purposes.iter().enumerate() {
        let how = match p.basis {
            LegalBasis::Consent => "only with your consent (off until you turn it on)",
            LegalBasis::LegitimateInterest => "on by default; you can object at any time",
            LegalBasis::Contract => "needed to provide the service you asked for",
            LegalBasis::LegalObligation => "required by law",
            LegalBasis::VitalInterest => "to protect someone's life",
            LegalBasis::PublicTask => "a task in the public interest",
        };
        let kept = p
            .retention_days
            .map_or("as long as needed".to_owned(), |d| format!("{d} days"));
        let receivers: Vec<String> = PLAN
            .destinations
            .iter()
            .filter(|d| d.purposes.contains(i))
            .map(|d| {
                let party = if d.third_party {
                    "third party"
                } else {
                    "first party"
                };
                format!("{} ({party})", d.id)
            })
            .collect();
        println!("[{}] {}", p.id, p.description);
        println!("    legal basis: {} — {how}", p.basis.key());
        println!("    kept for:    {kept}");
        println!("    sent to:     {}", receivers.join(", "));
        if p.sale_or_share {
            println!("    \"Do not sell or share\" / Global Privacy Control turns this off.");
        }
        println!();
    }
}
