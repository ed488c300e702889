//! The built-in sinks: [`Ndjson`] files, [`Stdout`] and in-[`Memory`] (see also
//! [`crate::testing::Recorder`]). Each implements [`Sink`](crate::Sink), the trait custom
//! destinations implement too.

mod memory;
mod ndjson;

pub use memory::Memory;
pub use ndjson::{Ndjson, Stdout, write_ndjson_line};
