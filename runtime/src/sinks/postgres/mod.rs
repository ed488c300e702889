//! The PostgreSQL warehouse: its tables ([`postgres_ddl`], always available, for
//! `trackplan schema --sql postgres`) and, with the `postgres` feature, the sink that writes
//! them ([`Postgres`]).

mod ddl;
#[cfg(feature = "postgres")]
mod lane;
#[cfg(feature = "postgres")]
mod sink;

pub use ddl::{InvalidSchemaName, check_schema_name, postgres_ddl};
#[cfg(feature = "postgres")]
pub use sink::{Postgres, PostgresError};
