//! The expansion of `plan!`.

use std::fmt;

use proc_macro2::{Literal, Span, TokenStream};
use quote::quote_spanned;
use trackplan_model::{Diagnostic, Plan, Severity, SourceFile};

use crate::code::{Code, lit};
use crate::doc::{self, Doc};
use crate::info::{EventEntry, plan_info};
use crate::load::{LoadError, LoadedPlan};
use crate::names::Names;
use trackplan_vocab::MAX_ITEMS;

/// Everything `plan!` expands to for `loaded`, in two parts (see [`Expansion`]).
///
/// A valid plan gives the items of SPEC §4. A plan with errors gives one `compile_error!` per
/// error (the model's rendered diagnostic) *and* the items that could still be built, so code
/// that uses them does not drown the real errors in "cannot find type" noise.
pub fn plan_expansion(loaded: &LoadedPlan, call_site: Span) -> Expansion {
    let mut diagnostics = TokenStream::new();
    for d in &loaded.diagnostics {
        diagnostics.extend(diagnostic(d, &loaded.source, call_site));
    }
    // The generated source runs five to six times the size of the plan; reserving that up
    // front saves copying megabytes while a large plan's expansion grows.
    let mut out = Code::with_capacity(loaded.source.text.len() * 6);
    match &loaded.plan {
        Some(plan) => {
            let names = Names::of(plan);
            if loaded.is_valid() {
                for problem in limits(plan)
                    .into_iter()
                    .chain(names.skipped.iter().cloned())
                {
                    diagnostics.extend(crate::code::bug(
                        &format!(
                            "trackplan could not generate code for this valid plan ({problem})"
                        ),
                        call_site,
                    ));
                }
            }
            items(&mut out, plan, loaded, &names);
        }
        None => out.push(STUB_ITEMS),
    }
    if let Some(path) = loaded.path.to_str() {
        // Cargo rebuilds a crate when a file it `include_bytes!` changes.
        writeln!(
            out,
            "const _: &[u8] = ::core::include_bytes!({});",
            lit(path)
        );
    }
    Expansion {
        diagnostics,
        items: out.into_string(),
    }
}

/// The expansion of `plan!`, in the two forms that suit its two parts.
///
/// A large plan generates hundreds of thousands of tokens. Built one by one, every token costs
/// an allocation and, inside the compiler, a round trip across the proc-macro bridge; so the
/// items are written as Rust source that the compiler lexes once
/// (`proc_macro::TokenStream::from_str`). The diagnostics are built as tokens because they
/// carry the span of the macro call, where the compiler shows them.
pub struct Expansion {
    /// The plan's errors (`compile_error!`) and warnings, spanned at the macro call.
    pub diagnostics: TokenStream,
    /// Every generated item as Rust source; it always lexes, and it is readable as is.
    pub items: String,
}

/// Everything `plan!` expands to for `loaded` as one token stream: [`plan_expansion`] with its
/// items lexed by proc_macro2, for tests and tools outside the compiler.
pub fn expand_plan(loaded: &LoadedPlan, call_site: Span) -> TokenStream {
    let Expansion {
        mut diagnostics,
        items,
    } = plan_expansion(loaded, call_site);
    match items.parse::<TokenStream>() {
        Ok(items) => diagnostics.extend(items),
        Err(e) => diagnostics.extend(unlexable(&e, call_site)),
    }
    diagnostics
}

/// What `plan!` gives instead of its items should they not lex, which would be a trackplan
/// bug: that error at `call_site`, and the stub items.
pub fn unlexable(error: &dyn fmt::Display, call_site: Span) -> TokenStream {
    let mut out = crate::code::bug(
        &format!("the generated code does not lex ({error})"),
        call_site,
    );
    out.extend(stub_items());
    out
}

/// The expansion of `plan!` for a plan that could not be read: the error and the stub items.
pub fn expand_load_error(err: &LoadError, call_site: Span) -> TokenStream {
    let mut out = error(&err.to_string(), call_site);
    out.extend(stub_items());
    out
}

fn items(out: &mut Code, plan: &Plan, loaded: &LoadedPlan, names: &Names<'_>) {
    let src = &loaded.source;
    let entries: Vec<EventEntry<'_>> = names
        .events
        .iter()
        .map(|e| EventEntry {
            event: e.event,
            properties: e.fields.iter().map(|f| f.property).collect(),
        })
        .collect();

    let mut docs = Doc::new();
    docs.line(format!(
        "The tracking plan {} version {}, compiled from {}.",
        doc::code(&plan.name.value),
        plan.version.value,
        doc::code(&src.name)
    ));
    docs.paragraph();
    docs.line(format!(
        "{} events, {} purposes, {} destinations. Content hash (SHA-256): {}.",
        names.events.len(),
        plan.purposes.len(),
        plan.destinations.len(),
        doc::code(&loaded.hash)
    ));
    if let Some(owner) = &plan.owner {
        docs.line(format!("Owner: {}.", doc::code(&owner.value)));
    }
    docs.paragraph();
    docs.line("Pass it to `Tracker::builder`; consent screens list `PLAN.purposes`.");

    crate::markers::markers(out, plan, src, names);
    for e in &names.enums {
        crate::values::enum_type(out, src, e);
    }
    for (i, e) in names.events.iter().enumerate() {
        crate::event::event(out, plan, src, names, e, i, !loaded.is_valid());
    }
    crate::profile::sections(out, plan, src, names.std);
    write!(
        out,
        "{docs}pub static PLAN: ::trackplan::__private::PlanInfo = ",
        docs = docs.attr()
    );
    plan_info(out, plan, &loaded.hash, &entries, &names.purposes);
    out.push(";\n");
}

/// The source of [`stub_items`].
const STUB_ITEMS: &str = "/// Stand-in for the plan, which has errors (see the compile errors).
pub static PLAN: ::trackplan::__private::PlanInfo = ::trackplan::__private::plan_info(
    \"\",
    0,
    \"\",
    \"\",
    ::trackplan::__private::IdentityTransform::Hmac,
    &[],
    &[],
    &[],
);

/// Stand-in: the plan has errors.
pub mod purpose {}

/// Stand-in: the plan has errors.
pub mod destination {}
";

/// Items that let call sites type-check when the plan could not be read or parsed at all: a
/// `PLAN` with nothing in it and empty `purpose` and `destination` modules.
pub fn stub_items() -> TokenStream {
    crate::code::tokens(STUB_ITEMS, Span::call_site())
}

/// Bit sets are `u64`: a plan has at most 64 purposes and 64 destinations.
fn limits(plan: &Plan) -> Vec<String> {
    let mut problems = Vec::new();
    if plan.purposes.len() > MAX_ITEMS {
        problems.push(format!(
            "{} purposes; at most {MAX_ITEMS} are supported",
            plan.purposes.len()
        ));
    }
    if plan.destinations.len() > MAX_ITEMS {
        problems.push(format!(
            "{} destinations; at most {MAX_ITEMS} are supported",
            plan.destinations.len()
        ));
    }
    problems
}

/// A plan diagnostic at the macro call: an error becomes `compile_error!`, a warning a
/// deprecation warning (the only warning a proc macro can raise on stable Rust).
pub(crate) fn diagnostic(d: &Diagnostic, src: &SourceFile, call_site: Span) -> TokenStream {
    let text = render(d, src);
    match d.severity {
        Severity::Error => error(&text, call_site),
        Severity::Warning => {
            let text = Literal::string(&text);
            quote_spanned! {call_site=>
                const _: () = {
                    #[deprecated(note = #text)]
                    struct PlanWarning;
                    let _ = PlanWarning;
                };
            }
        }
    }
}

/// The model's rendering of `d` without the severity word, which rustc already prints
/// (`error: [unknown-key] unknown key …`, not `error: error[…]`).
pub(crate) fn render(d: &Diagnostic, src: &SourceFile) -> String {
    d.render_without_severity(src)
}

/// `compile_error!` with `message`, spanned at `span`.
pub(crate) fn error(message: &str, span: Span) -> TokenStream {
    let mut lit = Literal::string(message);
    lit.set_span(span);
    quote_spanned!(span=> ::core::compile_error! { #lit })
}
