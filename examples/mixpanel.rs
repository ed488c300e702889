//! `cargo run --example mixpanel`: the shop plan's events, delivered to a real Mixpanel project.
//!
//! Without `MIXPANEL_TOKEN` it explains what it would send and how to set it up, and exits
//! without touching the network. With it:
//!
//! ```text
//! MIXPANEL_TOKEN=<project token> cargo run --example mixpanel
//! MIXPANEL_TOKEN=… MIXPANEL_EU=1 cargo run --example mixpanel        # EU data residency
//! MIXPANEL_TOKEN=… MIXPANEL_GDPR_TOKEN=… cargo run --example mixpanel -- --request-access
//! ```
//!
//! Optional: `TRACKPLAN_KEY` (64 hex digits; a fixed demo key otherwise), `MIXPANEL_API_URL` (a
//! proxy in front of Mixpanel), `MIXPANEL_GDPR_TOKEN` (the GDPR API's OAuth token, for
//! `--request-access` and `--forget`). The plan's first-party NDJSON destinations write under
//! `target/mixpanel-example/`; the ads collector and the support desk are skipped.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use trackplan::requests::Access;
use trackplan::sinks::{Mixpanel, Ndjson};
use trackplan::{Consent, Personal, Timestamp, Tracker};

mod support;

trackplan::plan!("plans/shop.toml");

fn main() -> ExitCode {
    support::run("MIXPANEL_TOKEN", explain, send)
}

/// What the example does, without a token: all from the plan, no network.
fn explain() {
    println!(
        "This example sends the events of plan {} to Mixpanel.\n",
        PLAN.label
    );
    println!("MIXPANEL_TOKEN is not set, so nothing was sent. To run it for real:");
    println!("  1. In Mixpanel, open Project Settings → Overview and copy the project token.");
    println!("  2. MIXPANEL_TOKEN=<token> cargo run --example mixpanel");
    println!("     Add MIXPANEL_EU=1 if the project stores its data in the EU.");
    println!("  3. Look for the printed distinct id in Mixpanel's Events view.\n");
    let Some((d, info)) = support::destination_of_kind(&PLAN, "mixpanel") else {
        println!("(This plan has no Mixpanel destination.)");
        return;
    };
    let purposes: Vec<&str> = PLAN.purpose_ids(info.purposes).collect();
    println!(
        "Per the plan, destination `{}` — {} — receives only events whose purposes\n\
         include {}, and only from people whose consent covers {}:",
        info.id,
        info.description,
        purposes.join(", "),
        if purposes.len() == 1 {
            "it"
        } else {
            "them all"
        },
    );
    support::print_routed_events(&PLAN, d, info);
    println!(
        "\nUser ids leave the process only as HMACs under your key (TRACKPLAN_KEY), e-mail\n\
         addresses too; IP addresses are truncated to their network. With MIXPANEL_GDPR_TOKEN,\n\
         `--request-access` and `--forget` file Mixpanel GDPR data-retrieval and deletion\n\
         requests for the demo user and print their tracking ids."
    );
}

fn send(token: &str) -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let wants = |flag: &str| args.iter().any(|a| a == flag);
    let key = support::key()?;

    let eu = std::env::var("MIXPANEL_EU").is_ok_and(|v| v == "1");
    let mut mixpanel = Mixpanel::new(token);
    let mut region = "US";
    if eu {
        mixpanel = mixpanel.eu();
        region = "EU";
    }
    if let Ok(url) = std::env::var("MIXPANEL_API_URL") {
        mixpanel = mixpanel.base_url(url);
        region = "custom URL";
    }
    let gdpr = std::env::var("MIXPANEL_GDPR_TOKEN").ok();
    if let Some(gdpr) = &gdpr {
        mixpanel = mixpanel.gdpr_api_token(gdpr);
    }

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/mixpanel-example");
    std::fs::create_dir_all(&dir)?;
    let tracker = Tracker::builder(&PLAN)
        .key(key)
        .sink(destination::Mixpanel, mixpanel)
        .sink(
            destination::Warehouse,
            Ndjson::create(dir.join("warehouse.ndjson"))?,
        )
        .sink(
            destination::SecurityLog,
            Ndjson::create(dir.join("security_log.ndjson"))?,
        )
        .skip(destination::Ads)
        .skip(destination::SupportDesk)
        .flush_timeout(Duration::from_secs(60))
        .build()?;

    // One shopper who accepted product analytics, one who declined everything.
    let shopper = tracker.subject(
        "demo-user-1",
        Consent::none().grant(purpose::ProductAnalytics),
    );
    let declined = tracker.subject("demo-user-2", Consent::none().opt_out_all());
    for user in [&shopper, &declined] {
        user.track(PageViewed {
            url: "https://shop.example/products/42?utm_source=newsletter".into(),
            referrer: Some("https://search.example/?q=vitamins".into()),
            ip_address: Personal::new("203.0.113.77".into()),
        });
        user.track(SignupCompleted {
            plan_tier: PlanTier::Pro,
            referrer: None,
            age: Personal::new(34),
            newsletter: true,
        });
        user.track(ProductViewed {
            product_id: "sku-42".into(),
            product_category: ProductViewedProductCategory::HealthBeauty,
            price: 12.5,
            currency: Currency::Eur,
        });
        user.track(CartUpdated {
            product_id: "sku-42".into(),
            quantity: 2,
            cart_value: 25.0,
        });
        user.track(SearchPerformed {
            query: Personal::new("vitamin d".into()),
            result_count: 7,
            health_filter: None,
        });
        user.track(CheckoutCompleted {
            revenue: 25.0,
            currency: Currency::Eur,
            item_count: 2,
            product_ids: vec!["sku-42".into(), "sku-42".into()],
            coupon_codes: None,
            ordered_at: Timestamp::now(),
        });
    }
    let flushed = tracker.flush();

    let stats = tracker.stats();
    let m = stats.destination("mixpanel").copied().unwrap_or_default();
    support::print_counts(&format!("Mixpanel ({region})"), &m);
    println!(
        "\nIn Mixpanel, demo-user-1 is distinct id\n  {}\n\
         demo-user-2 declined: none of their events left the process.",
        shopper.distinct_id()
    );
    println!(
        "First-party copies (with the search query, which Mixpanel does not get): {}",
        dir.display()
    );
    if let Err(e) = flushed {
        return Err(format!("not every event was delivered: {e}").into());
    }
    if m.failed > 0 {
        return Err(
            "Mixpanel rejected events: check the token and the region (MIXPANEL_EU=1 for EU \
             projects); the warnings above name the HTTP status"
                .into(),
        );
    }

    if wants("--request-access") || wants("--forget") {
        if gdpr.is_none() {
            println!("\n--request-access/--forget need MIXPANEL_GDPR_TOKEN: skipped.");
        } else if wants("--request-access") {
            let report = tracker.request_access("demo-user-1")?;
            println!("\nrequest_access(\"demo-user-1\"):");
            for (destination, answer) in &report.destinations {
                match answer {
                    Access::Records { records, source } => println!(
                        "  {destination:<14} {} record(s) in {}",
                        records.len(),
                        source.as_deref().unwrap_or("memory")
                    ),
                    Access::Requested { reference } => println!(
                        "  {destination:<14} export requested, tracking id {}",
                        reference.as_deref().unwrap_or("(none given)")
                    ),
                    other => println!("  {destination:<14} {other:?}"),
                }
            }
        }
        if gdpr.is_some() && wants("--forget") {
            let report = tracker.forget("demo-user-1")?;
            println!("\nforget(\"demo-user-1\"):");
            for (destination, answer) in &report.destinations {
                println!("  {destination:<14} {answer:?}");
            }
        }
    }
    tracker.shutdown()?;
    Ok(())
}
