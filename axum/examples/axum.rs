//! `cargo run -p trackplan-axum --example axum`: a small shop service on axum, tracked
//! under the shop plan, with consent from the banner's cookie and the `Sec-GPC` header.
//!
//! - `POST /consent` (header `x-user-id`, body: the purpose ids granted, comma-separated;
//!   empty = reject all): recorded in the consent ledger, applied, stored in the cookie.
//! - `GET /products/{id}` (header `x-user-id`): tracks `Product Viewed`. A request with
//!   `Sec-GPC: 1` whose cookie does not hold GPC yet records that GPC was honoured, once.
//! - `DELETE /me`: forgets the subject (its queued and stored events, through the async
//!   API), keeps the pseudonymous consent proof in the ledger, clears the cookie.
//! - Ctrl-C: stops accepting, finishes the requests in flight, then delivers what is queued
//!   (`shutdown_async`).
//!
//! Every destination writes NDJSON under `target/axum-example/`; the ledger lives in
//! `target/axum-example/consent/` (`trackplan consent verify target/axum-example/consent`).
//!
//! ```text
//! curl -i -X POST -H 'x-user-id: alice' -d product_analytics,advertising localhost:3000/consent
//! curl -H 'x-user-id: alice' -H 'Sec-GPC: 1' -b 'shop_consent=…' localhost:3000/products/sku-42
//! ```

use std::future::Future;
use std::path::Path;

use axum::Router;
use axum::extract::{FromRef, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header::SET_COOKIE};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use trackplan::consent::{Collection, ForgetProof, Ledger, Method, Surface};
use trackplan::sinks::Ndjson;
use trackplan::{Consent, Key, Tracker};
use trackplan_axum::{ConsentCookie, RequestConsent};

trackplan::plan!("../plans/shop.toml");

/// The service's shared state: one tracker (it is an `Arc` inside: clones share the queue,
/// the workers and the ledger) and the consent cookie's configuration.
#[derive(Clone)]
pub struct App {
    pub tracker: Tracker,
    pub cookie: ConsentCookie,
}

impl FromRef<App> for ConsentCookie {
    fn from_ref(app: &App) -> ConsentCookie {
        app.cookie.clone()
    }
}

impl App {
    /// The state for `tracker`, with the cookie `shop_consent`.
    pub fn new(tracker: Tracker) -> App {
        let cookie = ConsentCookie::new(&PLAN, "shop_consent").expect("a valid cookie name");
        App { tracker, cookie }
    }
}

/// The tracker the example runs with: NDJSON files under `dir` for every destination and
/// the consent ledger in `dir/consent`.
pub fn file_tracker(dir: &Path, key: Key) -> Result<Tracker, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    Ok(Tracker::builder(&PLAN)
        .key(key)
        .sink(
            destination::Warehouse,
            Ndjson::create(dir.join("warehouse.ndjson"))?,
        )
        .sink(
            destination::Mixpanel,
            Ndjson::create(dir.join("mixpanel.ndjson"))?,
        )
        .sink(destination::Ads, Ndjson::create(dir.join("ads.ndjson"))?)
        .sink(
            destination::SecurityLog,
            Ndjson::create(dir.join("security.ndjson"))?,
        )
        .sink(
            destination::SupportDesk,
            Ndjson::create(dir.join("support.ndjson"))?,
        )
        .ledger(Ledger::open(dir.join("consent"))?)
        .build()?)
}

/// The routes.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/consent", post(record_consent))
        .route("/products/{id}", get(product))
        .route("/me", delete(forget_me))
        .with_state(app)
}

/// Serves `app` on `listener` until `shutdown` completes, then delivers what is queued.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let tracker = app.tracker.clone();
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown)
        .await?;
    // Requests in flight have finished: deliver what they queued, without blocking a worker
    // thread of the runtime.
    let report = tracker.shutdown_async().await?;
    eprintln!("trackplan: shut down, {report:?}");
    Ok(())
}

/// A refused request: its status and a line saying why.
type Refusal = (StatusCode, String);

fn internal(_: tokio::task::JoinError) -> Refusal {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error\n".to_owned(),
    )
}

/// The signed-in user. A real service reads its session; the example takes a header.
fn user_id(headers: &HeaderMap) -> Result<String, Refusal> {
    headers
        .get("x-user-id")
        .and_then(|value| value.to_str().ok())
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| (StatusCode::UNAUTHORIZED, "send x-user-id\n".to_owned()))
}

/// Records `consent` for `user` in the ledger (which syncs to disk: off the async workers)
/// and applies it; the `Set-Cookie` header that stores it.
async fn record(
    app: &App,
    user: &str,
    consent: Consent,
    how: Collection,
) -> Result<[(axum::http::HeaderName, axum::http::HeaderValue); 1], Refusal> {
    let subject = app.tracker.subject(user, Consent::none());
    tokio::task::spawn_blocking(move || subject.record_consent(consent, how))
        .await
        .map_err(internal)?
        .map_err(|error| {
            eprintln!("trackplan: consent not recorded: {error}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "consent not recorded, try again\n".to_owned(),
            )
        })?;
    Ok([(SET_COOKIE, app.cookie.set_cookie(&consent))])
}

async fn record_consent(
    State(app): State<App>,
    headers: HeaderMap,
    request: RequestConsent,
    body: String,
) -> Result<Response, Refusal> {
    let user = user_id(&headers)?;
    let ids: Vec<&str> = body
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .collect();
    let chosen = Consent::from_ids(&PLAN, ids.iter().copied())
        .map_err(|error| (StatusCode::BAD_REQUEST, format!("{error}\n")))?;
    // The GPC signal stays honoured whatever the banner's answer.
    let chosen = chosen.with_gpc(request.gpc_header());
    let method = if ids.is_empty() {
        Method::Reject
    } else {
        Method::SaveChoices
    };
    let cookie = record(
        &app,
        &user,
        chosen,
        Collection::new(method, Surface::Banner),
    )
    .await?;
    Ok((StatusCode::NO_CONTENT, cookie).into_response())
}

async fn product(
    State(app): State<App>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    request: RequestConsent,
) -> Result<Response, Refusal> {
    let user = user_id(&headers)?;
    let mut set_cookie = None;
    if request.gpc_unrecorded() {
        // Proof that the signal was seen and honoured, once per subject: the cookie then
        // holds GPC and later requests skip this.
        let how = Collection::new(Method::Gpc, Surface::Api);
        set_cookie = Some(record(&app, &user, request.consent(), how).await?);
    }
    let visitor = app.tracker.subject(&user, request.consent());
    visitor.track(ProductViewed {
        product_id: id,
        product_category: ProductViewedProductCategory::HealthBeauty,
        price: 12.5,
        currency: Currency::Eur,
    });
    Ok((set_cookie, "product page\n").into_response())
}

async fn forget_me(State(app): State<App>, headers: HeaderMap) -> Result<Response, Refusal> {
    let user = user_id(&headers)?;
    let report = app
        .tracker
        .forget_async(&user)
        .await
        .map_err(|error| (StatusCode::SERVICE_UNAVAILABLE, format!("{error}\n")))?;
    if let Some(ledger) = app.tracker.ledger().cloned() {
        let distinct_id = app.tracker.distinct_id(&user);
        // Keep the pseudonymous proof of consent and withdrawal (GDPR Art. 17(3)(e)).
        tokio::task::spawn_blocking(move || ledger.forget(&distinct_id, ForgetProof::Keep))
            .await
            .map_err(internal)?
            .map_err(|error| (StatusCode::SERVICE_UNAVAILABLE, format!("{error}\n")))?;
    }
    let body = format!("forgotten: {report:?}\n");
    Ok(([(SET_COOKIE, app.cookie.clear_cookie())], body).into_response())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let key = match Key::from_env("TRACKPLAN_KEY") {
        Ok(key) => key,
        Err(_) => Key::from_hex(&"5a".repeat(32))?,
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/axum-example");
    let tracker = file_tracker(&dir, key).map_err(|error| error.to_string())?;
    let address = std::env::var("ADDRESS").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    eprintln!("listening on http://{address} (Ctrl-C stops)");
    serve(listener, App::new(tracker), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
