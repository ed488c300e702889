//! The expansion of `plan!`.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned};
use trackplan_model::{Diagnostic, Plan, Severity, SourceFile};

use crate::doc::{self, Doc};
use crate::info::{EventEntry, MAX_SET, plan_info};
use crate::load::{LoadError, LoadedPlan};
use crate::names::Names;

/// Everything `plan!` expands to for `loaded`, with errors spanned at `call_site`.
///
/// A valid plan gives the items of SPEC §4. A plan with errors gives one `compile_error!` per
/// error (the model's rendered diagnostic) *and* the items that could still be built, so code
/// that uses them does not drown the real errors in "cannot find type" noise.
pub fn expand_plan(loaded: &LoadedPlan, call_site: Span) -> TokenStream {
    let mut out = TokenStream::new();
    for d in &loaded.diagnostics {
        out.extend(diagnostic(d, &loaded.source, call_site));
    }
    match &loaded.plan {
        Some(plan) => {
            let names = Names::of(plan);
            if loaded.is_valid() {
                for problem in limits(plan)
                    .into_iter()
                    .chain(names.skipped.iter().cloned())
                {
                    out.extend(error(
                        &format!(
                            "trackplan could not generate code for this valid plan ({problem}); this is a bug in trackplan, please report it with the plan"
                        ),
                        call_site,
                    ));
                }
            }
            out.extend(items(plan, loaded, &names));
        }
        None => out.extend(stub_items()),
    }
    out.extend(rebuild_on_change(loaded));
    out
}

/// The expansion of `plan!` for a plan that could not be read: the error and the stub items.
pub fn expand_load_error(err: &LoadError, call_site: Span) -> TokenStream {
    let mut out = error(&err.to_string(), call_site);
    out.extend(stub_items());
    out
}

fn items(plan: &Plan, loaded: &LoadedPlan, names: &Names<'_>) -> TokenStream {
    let src = &loaded.source;
    let entries: Vec<EventEntry<'_>> = names
        .events
        .iter()
        .map(|e| EventEntry {
            event: e.event,
            properties: e.fields.iter().map(|f| f.property).collect(),
        })
        .collect();
    let info = plan_info(plan, &loaded.hash, &entries);

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
    let docs = docs.attrs();

    // Each part is built once and moved into `out`: `quote!` interpolation would copy every
    // token of a part again, which dominates the cost of expanding a large plan.
    let mut out = crate::markers::markers(plan, src, names);
    for e in &names.enums {
        out.extend(crate::values::enum_type(src, e));
    }
    for (i, e) in names.events.iter().enumerate() {
        out.extend(crate::event::event(plan, src, names, e, i));
    }
    out.extend(quote! {
        #docs
        pub static PLAN: ::trackplan::PlanInfo = #info;
    });
    out
}

/// Items that let call sites type-check when the plan could not be read or parsed at all: a
/// `PLAN` with nothing in it and empty `purpose` and `destination` modules.
pub fn stub_items() -> TokenStream {
    quote! {
        /// Stand-in for the plan, which has errors (see the compile errors).
        pub static PLAN: ::trackplan::PlanInfo = ::trackplan::PlanInfo {
            name: "",
            version: 0,
            label: "",
            hash: "",
            identity: ::trackplan::IdentityInfo::Hmac,
            purposes: &[],
            destinations: &[],
            events: &[],
        };

        /// Stand-in: the plan has errors.
        pub mod purpose {}

        /// Stand-in: the plan has errors.
        pub mod destination {}
    }
}

/// Cargo rebuilds a crate when a file it `include_bytes!` changes.
fn rebuild_on_change(loaded: &LoadedPlan) -> TokenStream {
    match loaded.path.to_str() {
        Some(path) => quote!(
            const _: &[u8] = ::core::include_bytes!(#path);
        ),
        None => TokenStream::new(),
    }
}

/// Bit sets are `u64`: a plan has at most 64 purposes and 64 destinations.
fn limits(plan: &Plan) -> Vec<String> {
    let mut problems = Vec::new();
    if plan.purposes.len() > MAX_SET {
        problems.push(format!(
            "{} purposes; at most {MAX_SET} are supported",
            plan.purposes.len()
        ));
    }
    if plan.destinations.len() > MAX_SET {
        problems.push(format!(
            "{} destinations; at most {MAX_SET} are supported",
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

/// The model's rendering of `d`, with the severity word dropped from the first line because
/// rustc already prints it (`error: [unknown-key] unknown key …`, not `error: error[…]`).
pub(crate) fn render(d: &Diagnostic, src: &SourceFile) -> String {
    let text = d.render(src);
    let severity = match d.severity {
        Severity::Error => "error[",
        Severity::Warning => "warning[",
    };
    match text.strip_prefix(severity) {
        Some(rest) => match rest.split_once("]: ") {
            Some((code, rest)) => format!("[{code}] {rest}"),
            None => text,
        },
        None => text,
    }
}

/// `compile_error!` with `message`, spanned at `span`.
pub(crate) fn error(message: &str, span: Span) -> TokenStream {
    let mut lit = Literal::string(message);
    lit.set_span(span);
    quote_spanned!(span=> ::core::compile_error! { #lit })
}
