//! Canary tests: a raw e-mail address and user id handed to `track` must never show up in what
//! leaves the process (NDJSON), in `Debug` output, in logs or in panic messages.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod common;
mod fixture;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use trackplan_runtime::config::{RetryPolicy, ViolationPolicy};
use trackplan_runtime::error::FlushError;
use trackplan_runtime::sinks::{Memory, Ndjson};
use trackplan_runtime::testing::Recorder;
use trackplan_runtime::{Consent, Outcome, Tracker};

const EMAIL: &str = "Canary.Alice@Example.COM";
// Its distinctive part has letters that are not hex digits, so it cannot turn up by chance in
// the random insert ids or HMAC digests of the output (`4711` alone once did).
const USER_ID: &str = "canary-user-zq4711";

/// Every spelling of the canaries that would count as a leak.
fn leaked(text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase();
    [
        "canary.alice@example.com",
        "canary.alice",
        "canary-user-zq4711",
        "zq4711",
    ]
    .into_iter()
    .find(|c| lower.contains(c))
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn canaries_never_leave_the_process_raw() {
    // Logs of every thread (the worker included), at every level.
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let path = temp_path("canary", "warehouse.ndjson");
    let security_path = temp_path("canary-security", "security.ndjson");
    let flaky = Gated::new().with_retry(RetryPolicy {
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
        max_retries: 1,
    });
    flaky.script([
        Outcome::Retry {
            reason: "503 Service Unavailable".into(),
            after: None,
        },
        Outcome::Failed {
            reason: "400 Bad Request".into(),
        },
    ]);
    let recorder = Recorder::new();
    let tracker = Tracker::builder(&PLAN)
        .key(key())
        .sink(
            destination::Warehouse,
            Ndjson::create(&path).expect("create"),
        )
        .sink(destination::Mixpanel, flaky)
        .sink(destination::Ads, recorder.clone())
        .sink(
            destination::SecurityLog,
            Ndjson::create(&security_path).expect("create"),
        )
        .sink(destination::SupportDesk, Memory::new())
        // Nothing leaves before the flush, so the GPC change below meets a queued event.
        .max_delay(Duration::from_secs(60))
        .build()
        .expect("build");
    let consent = Consent::none()
        .grant(purpose::ProductAnalytics)
        .grant(purpose::Advertising);
    let user = tracker.subject(USER_ID, consent);
    user.track(login_failed(EMAIL));
    user.track(LoginFailed {
        email: EMAIL.to_string().into(),
        ip_address: EMAIL.to_string().into(), // not an address: the event is refused
        attempt: 2,
    });
    user.track(ProductViewed {
        product_id: format!("{EMAIL}-").repeat(4), // breaks max_length: the event is refused
        price: 1.0,
        currency: Currency::Gbp,
    });
    user.track(ProductViewed {
        product_id: "p-1".into(),
        price: 1.0,
        currency: Currency::Gbp,
    });
    user.track(PageViewed {
        url: format!("https://shop.example/account?email={EMAIL}#{USER_ID}"),
        ip_address: "192.0.2.1".to_string().into(),
    });
    user.update_consent(|c| c.with_gpc(true));
    // The scripted 400 fails Mixpanel's batch for good, which the flush reports.
    match tracker.flush() {
        Err(FlushError::Failed { destination, .. }) => assert_eq!(destination, "mixpanel"),
        other => panic!("expected Mixpanel's rejected batch: {other:?}"),
    }
    for file in [&path, &security_path] {
        let text = std::fs::read_to_string(file).expect("read");
        assert!(text.lines().count() >= 1, "{text}");
        assert_eq!(leaked(&text), None, "delivered data leaked: {text}");
    }
    // GPC arrived while the product view was queued for the ads partner: it never left.
    assert!(recorder.events().is_empty());
    assert_eq!(
        tracker
            .stats()
            .destination("ads")
            .map(|c| c.dropped_consent),
        Some(1)
    );
    tracker.forget(USER_ID).expect("forget");

    let event = login_failed(EMAIL);
    let debug_outputs = [
        format!("{event:?}"),
        format!("{event:#?}"),
        format!("{user:?}"),
        format!("{tracker:?}"),
        format!("{:?}", tracker.stats()),
        format!("{:?}", user.consent()),
        format!("{:?}", recorder.events()),
        format!("{:?}", key()),
    ];
    for text in &debug_outputs {
        assert_eq!(leaked(text), None, "Debug leaked: {text}");
    }

    // The panic path, with the canary in the offending value.
    let strict = Tracker::builder(&PLAN)
        .key(key())
        .violations(ViolationPolicy::Panic)
        .sink(destination::Warehouse, Memory::new())
        .sink(destination::Mixpanel, Memory::new())
        .sink(destination::Ads, Memory::new())
        .sink(destination::SecurityLog, Memory::new())
        .sink(destination::SupportDesk, Memory::new())
        .build()
        .expect("build");
    let strict_user = strict.subject(USER_ID, Consent::none());
    let payload = std::panic::catch_unwind(|| {
        strict_user.track(LoginFailed {
            email: EMAIL.to_string().into(),
            ip_address: USER_ID.to_string().into(),
            attempt: 1,
        })
    })
    .expect_err("an unparsable IP panics under the strict policy");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("ip_address"), "{message}");
    assert_eq!(leaked(&message), None, "panic message leaked: {message}");

    let warehouse = std::fs::read_to_string(&path).expect("read");
    let security = std::fs::read_to_string(&security_path).expect("read");
    drop(tracker);
    drop(strict);
    let logs =
        String::from_utf8_lossy(&logs.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    // The capture works: the refused events and the failing sink were logged.
    assert!(logs.contains("event not tracked"), "{logs}");
    assert!(logs.contains("400 Bad Request"), "{logs}");
    assert_eq!(leaked(&logs), None, "logs leaked:\n{logs}");
    // Forgotten: the files no longer hold the subject at all.
    assert!(
        warehouse.is_empty() && security.is_empty(),
        "{warehouse}{security}"
    );
}

#[test]
fn delivered_files_hold_pseudonyms_only() {
    let path = temp_path("pseudonyms", "security.ndjson");
    let tracker = Tracker::builder(&PLAN)
        .key(key())
        .sink(
            destination::SecurityLog,
            Ndjson::create(&path).expect("create"),
        )
        .skip(destination::Warehouse)
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .skip(destination::SupportDesk)
        .build()
        .expect("build");
    let user = tracker.subject(USER_ID, Consent::none());
    user.track(login_failed(EMAIL));
    tracker.flush().expect("flush");
    let text = std::fs::read_to_string(&path).expect("read");
    assert_eq!(text.lines().count(), 1);
    assert_eq!(leaked(&text), None, "{text}");
    let line: serde_json::Value = serde_json::from_str(text.trim()).expect("json");
    assert_eq!(line["distinct_id"], key().pseudonymize(USER_ID).as_str());
    let email = line["properties"]["email"].as_str().expect("email");
    assert_eq!(email.len(), 64);
    assert!(email.chars().all(|c| c.is_ascii_hexdigit()));
}
