//! The derives' checks, without a compiler: every mistake gives an error at the right place
//! with the plan's location, and odd input never panics.

use std::path::Path;

use trackplan_codegen::{FileLoader, derive_event, derive_values};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn event(input: &str) -> String {
    let input = syn::parse_str(input).expect("test input parses");
    derive_event(
        &input,
        &FileLoader {
            manifest_dir: root(),
        },
    )
    .to_string()
}

fn values(input: &str) -> String {
    let input = syn::parse_str(input).expect("test input parses");
    derive_values(
        &input,
        &FileLoader {
            manifest_dir: root(),
        },
    )
    .to_string()
}

#[test]
fn a_correct_struct_gets_an_event_impl_and_no_error() {
    let out = event(
        r#"#[trackplan(event = "cart_updated", purposes(product_analytics))]
        struct Cart { product_id: String, quantity: u8, #[trackplan(rename = "cart_value")] total: f64 }"#,
    );
    assert!(!out.contains("compile_error"), "{out}");
    assert!(
        out.contains("impl :: trackplan :: __private :: Event for Cart"),
        "{out}"
    );
    assert!(out.contains("property_cart_value"), "{out}");
}

#[test]
fn the_plan_comes_from_cargo_toml_metadata_by_default() {
    // The root package has `[package.metadata.trackplan] plan = "plans/shop.toml"`.
    let out = event(
        r#"#[trackplan(event = "password_reset_requested")] struct Reset { email: trackplan::Personal<String>, ip_address: trackplan::Personal<String> }"#,
    );
    assert!(!out.contains("compile_error"), "{out}");
}

#[test]
fn every_field_error_is_reported_at_once() {
    let out = event(
        r#"#[trackplan(event = "signup_completed", plan = "plans/shop.toml")]
        struct Signup { plan_tier: Tier, referer: Option<String>, newsletter: bool, nesletter: bool }"#,
    );
    assert_eq!(out.matches("compile_error").count(), 3, "{out}");
    assert!(
        out.contains(
            "`referer` is not a property of event `signup_completed` (plans/shop.toml:118:9)"
        ),
        "{out}"
    );
    assert!(out.contains("did you mean `referrer`?"), "{out}");
    assert!(out.contains("did you mean `newsletter`?"), "{out}");
    assert!(out.contains("has no field for property `age`, which event `signup_completed` requires (plans/shop.toml:126:1)"), "{out}");
    // A stand-in impl keeps uses of the type from adding errors.
    assert!(
        out.contains("impl :: trackplan :: __private :: Event for Signup"),
        "{out}"
    );
}

#[test]
fn malformed_input_is_an_error_never_a_panic() {
    for input in [
        "struct NoAttribute { a: bool }",
        r#"#[trackplan(event = "cart_updated", plan = "plans/shop.toml")] struct Tuple(String);"#,
        r#"#[trackplan(event = "cart_updated", plan = "plans/shop.toml")] enum NotAStruct { A }"#,
        r#"#[trackplan(event = "cart_updated", plan = "plans/shop.toml")] struct Generic<T> { product_id: T }"#,
        r#"#[trackplan(event = "cart_updated", plan = "/abs/plan.toml")] struct Abs {}"#,
        r#"#[trackplan(event = "cart_updated", plan = "plans/none.toml")] struct Missing {}"#,
        r#"#[trackplan(event = "x", plan = "tests/ui/plans/toml_syntax.toml")] struct Broken {}"#,
        r#"#[trackplan(evnt = "cart_updated")] struct Typo {}"#,
        r#"#[trackplan(event = 3)] struct NotAString {}"#,
        r#"#[trackplan(event = "cart_updated", purposes("x"))] struct BadPurposes {}"#,
    ] {
        let out = event(input);
        assert!(out.contains("compile_error"), "{input}: {out}");
    }
    for input in [
        "enum NoAttribute { A }",
        r#"#[trackplan(property = "plan_tier", plan = "plans/shop.toml")] struct NotAnEnum;"#,
        r#"#[trackplan(property = "plan_tier", plan = "plans/shop.toml")] enum WithData { Free(u8), Pro, Enterprise }"#,
        r#"#[trackplan(property = "nope", plan = "plans/shop.toml")] enum Unknown { A }"#,
        r#"#[trackplan(property = "price", plan = "plans/shop.toml")] enum NotEnumProperty { A }"#,
    ] {
        let out = values(input);
        assert!(out.contains("compile_error"), "{input}: {out}");
    }
}

#[test]
fn values_bind_inline_properties_by_event_and_id() {
    let out = values(
        r#"#[trackplan(property = "login_failed.reason", plan = "plans/shop.toml")]
        enum Reason { BadPassword, UnknownAccount, #[trackplan(rename = "locked")] Blocked }"#,
    );
    assert!(!out.contains("compile_error"), "{out}");
    assert!(out.contains("\"login_failed.reason\""), "{out}");
    assert!(out.contains("Reason :: Blocked => \"locked\""), "{out}");
}
