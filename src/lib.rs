//! trackplan: typed analytics from one reviewed tracking plan.
//!
//! A tracking plan is one TOML file that declares every analytics event, its properties, why it
//! is collected (purposes), how sensitive each value is and where it may go. [`plan!`] turns
//! that file into Rust types at compile time, so an undeclared event or property, a value of
//! the wrong type or a purpose mismatch does not compile, and a plan that breaks its own
//! privacy rules does not compile either.
//!
//! ```
//! // In the crate's root or any module: one struct per event, one enum per enum property,
//! // `purpose` and `destination` marker modules, and the `PLAN` static.
//! trackplan::plan!("plans/shop.toml");
//!
//! fn main() {
//!     let event = SignupCompleted {
//!         plan_tier: PlanTier::Pro,
//!         referrer: None,
//!         // Personal data is wrapped: it never shows in `Debug` and is only ever sent
//!         // through the transform the plan declares (here, as an age range).
//!         age: trackplan::Personal::new(34),
//!         newsletter: true,
//!     };
//!     assert_eq!(format!("{:?}", event.age), "[redacted]");
//!
//!     use trackplan::Event as _;
//!     assert_eq!(SignupCompleted::INFO.name, "Signup Completed");
//!     assert_eq!(PLAN.label, "shop@3");
//!     assert_eq!(PLAN.purposes[0].id, "product_analytics");
//! }
//! ```
//!
//! Application types that already exist can be bound to the plan instead, with
//! [`derive@Event`] and [`derive@Values`]; their fields and variants are checked against the
//! plan the same way.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

// The daily items at the root; the rest in modules named for what they hold. The modules are
// the runtime's own, re-exported whole, so this crate and `trackplan_runtime` have one layout
// (generated code for `::trackplan::` compiles against either).
#[cfg(feature = "cli-telemetry")]
pub use trackplan_runtime::cli_telemetry;
pub use trackplan_runtime::{
    Completion, Consent, ContextProperties, DeclaredFor, Destination, Envelope, Event, Group,
    GroupRef, GroupUpdate, Key, Message, Outcome, Personal, ProfileOp, ProfileUpdate, Purpose,
    RoutableTo, Sink, Special, Subject, SubjectScope, Timestamp, TrackOptions, Tracker,
    TrackerBuilder, TrackerScope, Values,
};
pub use trackplan_runtime::{
    config, consent, crypt, error, info, requests, retention, sinks, spool, stats, testing, time,
};

#[doc(hidden)]
pub use trackplan_runtime::__private;

// Generated code names `::trackplan::…`; this makes that path work inside this crate too.
#[cfg(any(doctest, trackplan_doc_check))]
extern crate self as trackplan;

/// Plan descriptions never turn into doctests nor rustdoc warnings: rustdoc collects the doc
/// comments `plan!` generates here, and `plans/edge_cases.toml` is full of code fences,
/// indented text, brackets, HTML and bare URLs. `cargo test --doc` proves the first;
/// `RUSTDOCFLAGS="--cfg trackplan_doc_check -D warnings --document-private-items" cargo doc
/// -p trackplan --no-deps` the second.
#[cfg(any(doctest, trackplan_doc_check))]
mod edge_cases {
    crate::plan!("plans/edge_cases.toml");
}

/// Generates the typed API of a tracking plan.
///
/// The path is relative to the directory of the calling crate's `Cargo.toml`
/// (`CARGO_MANIFEST_DIR`); absolute paths are rejected so the crate builds wherever it is
/// checked out. In the calling module it expands to:
///
/// - one struct per event (`signup_completed` → `SignupCompleted`), one field per property,
///   typed by the plan: `String`, `i64`, `f64`, `bool`, [`Timestamp`], a generated enum or a
///   `Vec` of those; [`Personal<T>`] / [`Special<T>`] around personal and special values;
///   `Option<T>` when the property is not required. Doc comments carry the plan's
///   descriptions, wire names, purposes, sensitivity, categories, transforms and the
///   destinations each event can reach, so rustdoc and IDE hovers show the plan;
/// - one enum per enum property (`PlanTier::Pro` is sent as `"pro"`);
/// - `pub mod purpose` and `pub mod destination` with a marker type per purpose and
///   destination;
/// - `pub static PLAN: trackplan::info::PlanInfo` with the plan's name, version, content hash,
///   purposes (for consent screens), destinations and events.
///
/// Generated names follow one documented rule (see `trackplan_model::naming`): Rust keywords
/// as ids become raw identifiers (`r#type`) or get a trailing underscore (`self_`), and wire
/// names and values may be any text — they are sent byte-for-byte.
///
/// The plan is read and validated at compile time; cargo rebuilds the crate when the file
/// changes. Every problem in the plan is a compile error showing `file:line:column`, the line
/// and a suggestion, and the items that could still be generated are, so the rest of the crate
/// does not drown the real error in follow-up ones.
///
/// ```
/// mod analytics {
///     trackplan::plan!("plans/shop.toml");
/// }
///
/// fn main() {
///     use analytics::{LoginFailed, LoginFailedReason};
///     let event = LoginFailed {
///         email: "alice@example.com".into(),
///         ip_address: "203.0.113.9".into(),
///         attempt: 3,
///         reason: LoginFailedReason::BadPassword,
///     };
///     assert_eq!(trackplan::Values::wire(&event.reason), "bad_password");
/// }
/// ```
///
/// Invoke it at module level: it generates modules whose items refer to `PLAN` through
/// `super::`.
pub use trackplan_macros::plan;

/// Binds an application's own struct to an event of the plan: `#[derive(trackplan::Event)]`.
///
/// ```
/// #[derive(trackplan::Event)]
/// #[trackplan(event = "cart_updated", purposes(product_analytics))]
/// struct CartChange<'a> {
///     product_id: &'a str,
///     // Any primitive integer fits an `integer` property.
///     quantity: u8,
///     #[trackplan(rename = "cart_value")]
///     total: f64,
/// }
/// # fn main() {}
/// ```
///
/// - `event = "…"` names the event. The plan comes from `plan = "…"` in the attribute or, once
///   for the crate, from `Cargo.toml`:
///   ```toml
///   [package.metadata.trackplan]
///   plan = "plans/shop.toml"
///   ```
/// - Every field must be a property of the event (`#[trackplan(rename = "…")]` maps a field to
///   another property id); a field that is not is an error at that field, with a suggestion.
///   Every required property needs a field; optional ones may be left out.
/// - Field types must fit the plan type: strings are `String`, `&str`, `Cow<str>`, `Box<str>`
///   or `Arc<str>`; integers any primitive integer (values outside `i64` are dropped and
///   counted at run time); numbers `f64` or `f32`; timestamps [`Timestamp`] or `SystemTime`; enums a [`derive@Values`] enum bound to
///   that property (or the enum `plan!` generates); lists a `Vec`; personal and special values
///   are wrapped in [`Personal`] / [`Special`]; optional properties are `Option`s.
/// - `purposes(…)`, when given, must equal the plan's purposes for the event, so reviewers see
///   the purpose at the code site and a plan change that alters it breaks the build here.
pub use trackplan_macros::Event;

/// Binds an application's own enum to an enum property of the plan:
/// `#[derive(trackplan::Values)]`.
///
/// ```
/// #[derive(Clone, Copy, trackplan::Values)]
/// #[trackplan(property = "plan_tier")]
/// enum Tier {
///     Free,
///     Pro,
///     #[trackplan(rename = "enterprise")]
///     Business,
/// }
///
/// fn main() {
///     assert_eq!(trackplan::Values::wire(&Tier::Business), "enterprise");
/// }
/// ```
///
/// `property = "…"` is a shared property id, or `event.property` for a property declared on
/// an event (`login_failed.reason`). Variants must match the plan's values exactly: by the
/// naming rule (`"gluten_free"` → `GlutenFree`, `"EUR"` → `Eur`) or by
/// `#[trackplan(rename = "…")]`. A missing, extra or misspelled variant is a compile error.
pub use trackplan_macros::Values;
