//! trackplan: typed analytics from one reviewed tracking plan.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use trackplan_runtime::*;
