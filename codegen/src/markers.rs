//! The `purpose` and `destination` modules of marker types.

use trackplan_model::{Plan, SourceFile};

use crate::code::Code;
use crate::doc::{self, Doc};
use crate::event::{location, purpose_list};
use crate::names::Names;

/// Writes `pub mod purpose { … }` and `pub mod destination { … }`.
///
/// The modules hold only the marker structs; their trait impls follow each module, at the
/// level of the `plan!` call. Nothing refers back out of a module with `super::`, so the
/// expansion means the same inside a function body (where `super` would skip the function and
/// name the module around it) as at module level.
pub(crate) fn markers(out: &mut Code, plan: &Plan, src: &SourceFile, names: &Names<'_>) {
    let mut impls = Code::with_capacity(64 * (plan.purposes.len() + plan.destinations.len()));
    out.push(
        "/// Purposes of the plan: why data is collected. Marker types for
/// `Consent::grant`, `Tracker::scoped` and compile-time purpose checks.
pub mod purpose {
",
    );
    let purposes = plan
        .purposes
        .iter()
        .zip(&names.purposes)
        .enumerate()
        .filter_map(|(i, (p, m))| Some((i, p, m.as_ref()?)));
    for (i, p, m) in purposes {
        let mut docs = Doc::described(Some(&p.description));
        docs.line(format!(
            "Purpose {}; declared at {}.",
            doc::code(&p.id.value),
            doc::code(&location(src, p.id.span.start))
        ));
        docs.paragraph();
        docs.line(format!("- Legal basis: {}", doc::code(p.basis.value.key())));
        docs.line(format!("- Data use: {}", doc::code(&p.data_use.value)));
        if let Some(r) = &p.retention_days {
            docs.line(format!("- Kept for {} days", r.value));
        }
        if p.sale_or_share.value {
            docs.line("- Sells or shares data: the Global Privacy Control signal withdraws it");
        }
        write!(
            out,
            "{docs}#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct {m};

",
            docs = docs.attr(),
        );
        write!(
            impls,
            "impl ::trackplan::__private::Purpose for purpose::{m} {{
    const PLAN: &'static ::trackplan::__private::PlanInfo = &PLAN;
    const INDEX: usize = {i};
}}

"
        );
    }
    out.push("}\n\n");
    out.push(&impls.into_string());
    let mut impls = Code::with_capacity(128 * plan.destinations.len());
    out.push(
        "
/// Destinations of the plan: where events may go. Marker types for attaching sinks
/// to a tracker and for `Tracker::send_to`.
pub mod destination {
",
    );
    let destinations = plan
        .destinations
        .iter()
        .zip(&names.destinations)
        .enumerate()
        .filter_map(|(i, (d, m))| Some((i, d, m.as_ref()?)));
    for (i, d, m) in destinations {
        let mut docs = Doc::described(d.description.as_ref());
        docs.line(format!(
            "Destination {} ({}); declared at {}.",
            doc::code(&d.id.value),
            doc::code(d.kind.value.key()),
            doc::code(&location(src, d.id.span.start))
        ));
        docs.paragraph();
        docs.line(format!(
            "- Uses data for: {}",
            doc::ids(d.purposes.iter().map(|p| p.value.as_str()))
        ));
        let party = if d.third_party.value {
            "third party: `redact` properties are withheld"
        } else {
            "first party"
        };
        docs.line(format!("- {party}"));
        let wanted = names.purpose_markers(plan, &d.purposes);
        write!(
            out,
            "{docs}#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct {m};

",
            docs = docs.attr(),
        );
        write!(
            impls,
            "impl ::trackplan::__private::Destination for destination::{m} {{
    type Purposes = {purposes};
    const PLAN: &'static ::trackplan::__private::PlanInfo = &PLAN;
    const INDEX: usize = {i};
}}

",
            purposes = purpose_list("purpose", &wanted),
        );
    }
    out.push("}\n\n");
    out.push(&impls.into_string());
}
