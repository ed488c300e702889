//! Code generation of trackplan's macros.
//!
//! `trackplan-macros` is a thin proc-macro crate; everything it generates comes from here, as
//! plain functions over [`proc_macro2`] (and, for `plan!`'s large output, Rust source text) that take the model's checked plan. That keeps the
//! generators unit- and snapshot-testable and benchmarkable without a compiler (the approach of
//! sqlx-macros-core). Data flows one way: `macros → codegen → model`.
//!
//! - [`plan_expansion`] / [`expand_plan`]: the items of `plan!` (event structs, enums, purpose
//!   and destination markers, the `PLAN` static), or the plan's errors plus stub items. The
//!   items are written as Rust source text, which the compiler lexes once; see [`Expansion`].
//! - [`derive_event`] / [`derive_values`]: checks of a user's own types against the plan.
//! - [`LoadedPlan`], [`resolve`], [`default_plan`]: finding and checking plan files.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod code;
mod derive;
mod doc;
mod event;
mod expand;
mod ident;
mod info;
mod load;
mod markers;
mod names;
mod profile;
#[doc(hidden)]
pub mod synth;
mod ty;
mod values;

pub use derive::{FileLoader, Loader, derive_event, derive_values};
pub use expand::{
    Expansion, expand_load_error, expand_plan, plan_expansion, stub_items, unlexable,
};
pub use load::{LoadError, LoadedPlan, default_plan, resolve, workspace_root};
