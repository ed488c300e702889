//! The axum example served on 127.0.0.1 and driven with real HTTP requests (ureq): GPC keeps
//! `sale_or_share` destinations empty and is recorded in the ledger; the consent cookie the
//! consent endpoint sets is read back by the extractor on the next request.

#[allow(dead_code, unused_imports)]
#[path = "../examples/axum.rs"]
mod example;

use std::time::Duration;

use example::{App, PLAN, destination};
use trackplan::consent::{Ledger, Method};
use trackplan::testing::Recorder;
use trackplan::{Key, Tracker};

struct Service {
    base: String,
    tracker: Tracker,
    ledger: Ledger,
    mixpanel: Recorder,
    ads: Recorder,
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Service {
    fn start() -> Service {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path().join("consent")).unwrap();
        let (mixpanel, ads) = (Recorder::new(), Recorder::new());
        let tracker = Tracker::builder(&PLAN)
            .key(Key::from_hex(&"5a".repeat(32)).unwrap())
            .sink(destination::Warehouse, Recorder::new())
            .sink(destination::Mixpanel, mixpanel.clone())
            .sink(destination::Ads, ads.clone())
            .sink(destination::SecurityLog, Recorder::new())
            .sink(destination::SupportDesk, Recorder::new())
            .ledger(ledger.clone())
            .build()
            .unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = App::new(tracker.clone());
        let served = runtime.spawn(async move {
            example::serve(listener, app, async {
                let _ = stopped.await;
            })
            .await
            .expect("the example serves and shuts down cleanly");
        });
        Service {
            base,
            tracker,
            ledger,
            mixpanel,
            ads,
            runtime,
            stop: Some(stop),
            served: Some(served),
            _dir: dir,
        }
    }

    fn agent(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into()
    }

    fn view(
        &self,
        user: &str,
        gpc: bool,
        cookie: Option<&str>,
    ) -> ureq::http::Response<ureq::Body> {
        let mut request = self
            .agent()
            .get(format!("{}/products/sku-42", self.base))
            .header("x-user-id", user);
        if gpc {
            request = request.header("Sec-GPC", "1");
        }
        if let Some(cookie) = cookie {
            request = request.header("Cookie", format!("theme=dark; {cookie}"));
        }
        let response = request.call().expect("the example answers on 127.0.0.1");
        assert_eq!(response.status(), 200);
        response
    }

    fn consent(&self, user: &str, body: &str) -> ureq::http::Response<ureq::Body> {
        self.agent()
            .post(format!("{}/consent", self.base))
            .header("x-user-id", user)
            .send(body)
            .expect("the example answers on 127.0.0.1")
    }

    /// Stops the server the graceful way, as Ctrl-C does in the example, which then
    /// delivers what is queued (`shutdown_async`).
    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
            let served = self.served.take().unwrap();
            self.runtime.block_on(served).expect("the server task ends");
        }
    }
}

/// `name=value` of the `Set-Cookie` header naming `name`.
fn set_cookie(response: &ureq::http::Response<ureq::Body>, name: &str) -> String {
    let header = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|value| value.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no Set-Cookie for {name}: {:?}", response.headers()));
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Lax"),
        "{header}"
    );
    header.split(';').next().unwrap().to_owned()
}

#[test]
fn gpc_keeps_sale_or_share_destinations_empty_and_is_recorded_once() {
    let mut service = Service::start();
    // Alice granted analytics and advertising on the banner: her cookie says so.
    let response = service.consent("alice", "product_analytics, advertising");
    assert_eq!(response.status(), 204);
    let cookie = set_cookie(&response, "shop_consent");

    // Without the signal, the advertising destination receives her product view ...
    service.view("alice", false, Some(&cookie));
    service.tracker.flush().unwrap();
    assert_eq!(service.ads.count("Product Viewed"), 1);
    assert_eq!(service.mixpanel.count("Product Viewed"), 1);

    // ... with `Sec-GPC: 1` it does not, whatever the cookie says; analytics still does.
    let response = service.view("alice", true, Some(&cookie));
    let gpc_cookie = set_cookie(&response, "shop_consent");
    assert!(gpc_cookie.ends_with(".gpc"), "{gpc_cookie}");
    service.view("alice", true, Some(&gpc_cookie));
    // Bob never answered the banner and sends GPC from the start.
    let response = service.view("bob", true, None);
    set_cookie(&response, "shop_consent");
    service.tracker.flush().unwrap();
    assert_eq!(
        service.ads.count("Product Viewed"),
        1,
        "GPC reached a sale_or_share destination"
    );
    assert_eq!(service.mixpanel.count("Product Viewed"), 3);

    // The ledger proves the signal was honoured, once per subject (the cookie holds it after).
    let alice = service
        .ledger
        .history(&service.tracker.distinct_id("alice"))
        .unwrap();
    let methods: Vec<Method> = alice.iter().map(|entry| entry.collection_method).collect();
    assert_eq!(methods, [Method::SaveChoices, Method::Gpc]);
    let honoured = &alice[1];
    assert!(honoured.gpc);
    let advertising = honoured
        .purposes
        .iter()
        .find(|choice| choice.purpose == "advertising")
        .unwrap();
    assert!(!advertising.permitted, "{advertising:?}");
    let bob = service
        .ledger
        .history(&service.tracker.distinct_id("bob"))
        .unwrap();
    assert_eq!(bob.len(), 1);
    assert!(bob[0].gpc && bob[0].collection_method == Method::Gpc);
    assert!(service.ledger.verify().unwrap().is_intact());
    service.stop();
}

#[test]
fn the_consent_cookie_round_trips_through_the_extractor() {
    let mut service = Service::start();
    // No cookie yet: consent-based destinations receive nothing.
    service.view("carol", false, None);
    service.tracker.flush().unwrap();
    assert_eq!(service.mixpanel.count("Product Viewed"), 0);

    let response = service.consent("carol", "product_analytics");
    assert_eq!(response.status(), 204);
    let cookie = set_cookie(&response, "shop_consent");
    assert_eq!(cookie, "shop_consent=tp1.g=product_analytics");
    // The next request's cookie is what the extractor reads: analytics yes, advertising no.
    service.view("carol", false, Some(&cookie));
    service.tracker.flush().unwrap();
    assert_eq!(service.mixpanel.count("Product Viewed"), 1);
    assert_eq!(service.ads.count("Product Viewed"), 0);

    // A cookie naming a purpose the plan does not have is no consent (asked again), not an
    // error page.
    service.view(
        "carol",
        false,
        Some("shop_consent=tp1.g=product_analytics:telepathy"),
    );
    service.tracker.flush().unwrap();
    assert_eq!(service.mixpanel.count("Product Viewed"), 1);

    // A purpose id the plan does not declare is refused by the consent endpoint, by name.
    let mut response = service.consent("carol", "product_analytics,telepathy");
    assert_eq!(response.status(), 400);
    let body = response.body_mut().read_to_string().unwrap();
    assert!(body.contains("telepathy"), "{body}");

    // Forget through the async API: the cookie is cleared, the proof is kept.
    let mut response = service
        .agent()
        .delete(format!("{}/me", service.base))
        .header("x-user-id", "carol")
        .call()
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "{}",
        response.body_mut().read_to_string().unwrap()
    );
    assert_eq!(set_cookie(&response, "shop_consent"), "shop_consent=");
    let carol = service
        .ledger
        .history(&service.tracker.distinct_id("carol"))
        .unwrap();
    assert!(
        carol
            .iter()
            .any(|entry| entry.collection_method == Method::Erasure)
    );
    service.stop();
}

#[test]
fn graceful_shutdown_delivers_what_requests_queued() {
    let mut service = Service::start();
    let cookie = set_cookie(
        &service.consent("dave", "product_analytics"),
        "shop_consent",
    );
    for _ in 0..5 {
        service.view("dave", false, Some(&cookie));
    }
    // No flush here: stopping the server runs `shutdown_async`, which delivers the queue.
    service.stop();
    assert_eq!(service.mixpanel.count("Product Viewed"), 5);
}
