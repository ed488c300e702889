//! Snapshots of the code `plan!` generates, pretty-printed: review them like hand-written code.

use std::path::{Path, PathBuf};

use trackplan_codegen::{LoadedPlan, expand_plan};
use trackplan_model::SourceFile;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The expansion of a plan of the repository, with a fixed path in `include_bytes!` so the
/// snapshot does not depend on where the repository is checked out.
fn expand(written: &str) -> (LoadedPlan, String) {
    let text = std::fs::read_to_string(root().join(written)).unwrap();
    let loaded = LoadedPlan::from_source(
        PathBuf::from(format!("/checkout/{written}")),
        SourceFile::new(written, text),
    );
    let tokens = expand_plan(&loaded, proc_macro2::Span::call_site());
    let file: syn::File = syn::parse2(tokens).expect("the expansion parses as a Rust file");
    (loaded, prettyplease::unparse(&file))
}

#[test]
fn shop() {
    let (loaded, code) = expand("plans/shop.toml");
    assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
    insta::assert_snapshot!(code);
}

/// The expansion of plan text given inline.
fn expand_text(text: &str) -> String {
    let loaded = LoadedPlan::from_source(
        PathBuf::from("/checkout/p.toml"),
        SourceFile::new("plans/p.toml", text),
    );
    let tokens = expand_plan(&loaded, proc_macro2::Span::call_site());
    let file: syn::File = syn::parse2(tokens).expect("the expansion parses as a Rust file");
    prettyplease::unparse(&file)
}

#[test]
fn a_valid_plan_has_no_compile_errors() {
    let (_, code) = expand("plans/shop.toml");
    assert!(!code.contains("compile_error"), "{code}");
    assert!(code.contains("include_bytes!(\"/checkout/plans/shop.toml\")"));
}

#[test]
fn a_plan_with_errors_gives_every_error_and_the_items_it_could_build() {
    let code = expand_text(
        r#"
[plan]
name = "p"
version = 1

[purposes.analytics]
description = "Analytics."
basis = "consent"
data_use = "analytics.reporting"

[events.app_opened]
purposes = ["analytics"]

[events.app_opened.properties]
screen = { type = "string", sensitivty = "public" }

[events.app_closed]
purposes = ["analytcs"]
"#,
    );
    assert_eq!(code.matches("compile_error!").count(), 2, "{code}");
    assert!(
        code.contains("[unknown-key] unknown key `sensitivty`"),
        "{code}"
    );
    assert!(code.contains("plans/p.toml:15:"), "{code}");
    assert!(code.contains("did you mean `analytics`?"), "{code}");
    // Stand-ins so call sites still resolve: the plan, the markers, the well-formed event.
    assert!(
        code.contains("pub static PLAN: ::trackplan::__private::PlanInfo"),
        "{code}"
    );
    assert!(code.contains("pub struct Analytics;"), "{code}");
    assert!(code.contains("pub struct AppClosed"), "{code}");
}

#[test]
fn unparsable_plans_still_give_plan_and_modules() {
    let code = expand_text("[plan\nname = ");
    assert!(code.contains("compile_error!"), "{code}");
    assert!(code.contains("[toml-syntax]"), "{code}");
    assert!(code.contains("pub static PLAN"), "{code}");
    assert!(code.contains("pub mod purpose {}"), "{code}");
    assert!(code.contains("pub mod destination {}"), "{code}");
}

#[test]
fn edge_cases_are_valid_and_generate_no_errors() {
    let (loaded, code) = expand("plans/edge_cases.toml");
    let rendered: Vec<String> = loaded
        .diagnostics
        .iter()
        .map(|d| d.render(&loaded.source))
        .collect();
    assert!(loaded.is_valid(), "{}", rendered.join("\n\n"));
    assert!(!code.contains("compile_error"), "{code}");
    insta::assert_snapshot!(code);
}

#[test]
fn generated_items_that_do_not_lex_become_an_error_and_stub_items() {
    let tokens =
        trackplan_codegen::unlexable(&"unterminated string", proc_macro2::Span::call_site());
    let code = prettyplease::unparse(&syn::parse2(tokens).expect("a Rust file"));
    assert!(code.contains("compile_error!"), "{code}");
    assert!(
        code.contains("does not lex (unterminated string)"),
        "{code}"
    );
    assert!(code.contains("bug in trackplan"), "{code}");
    assert!(code.contains("pub static PLAN"), "{code}");
    assert!(code.contains("pub mod purpose {}"), "{code}");
}

#[test]
fn items_are_source_text_and_diagnostics_are_tokens() {
    let text = std::fs::read_to_string(root().join("plans/shop.toml")).unwrap();
    let loaded = LoadedPlan::from_source(
        PathBuf::from("/checkout/plans/shop.toml"),
        SourceFile::new("plans/shop.toml", text),
    );
    let expansion = trackplan_codegen::plan_expansion(&loaded, proc_macro2::Span::call_site());
    assert!(expansion.diagnostics.is_empty());
    assert!(expansion.items.contains("pub struct SignupCompleted {"));
    // Readable as is: one item per line, not one long token dump.
    assert!(expansion.items.lines().count() > 500, "{}", expansion.items);
}
