//! Proc macros of trackplan.
