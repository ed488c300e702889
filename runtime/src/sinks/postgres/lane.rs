//! [`Lane`]: one kept connection of the [`Postgres`](super::Postgres) sink and its reused
//! `COPY` buffer. A large batch is written over several lanes at once, each its own
//! transaction.

use postgres::{Client, Config, NoTls, Transaction};

use super::ddl::postgres_ddl;
use super::sink::{Classify, Failure, STAGE, tables_exist, write_batch};
use crate::sink::Envelope;

/// Whether the DDL failed because another session was creating the same object.
fn created_meanwhile(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    e.code().is_some_and(|code| {
        [
            SqlState::UNIQUE_VIOLATION,
            SqlState::DUPLICATE_TABLE,
            SqlState::DUPLICATE_SCHEMA,
            SqlState::DUPLICATE_OBJECT,
        ]
        .contains(code)
    })
}

/// Where and how a lane connects: the same for every lane of a sink.
pub(super) struct Target {
    pub(super) config: Config,
    pub(super) schema: String,
    /// Create the tables on connect when one is missing.
    pub(super) manage_tables: bool,
}

/// One connection (made when first needed, dropped after a transient failure) and the binary
/// `COPY` stream of its part of a batch.
#[derive(Default)]
pub(super) struct Lane {
    client: Option<Client>,
    copy: Vec<u8>,
}

impl Lane {
    /// Whether the lane holds a connection (it may have died since).
    pub(super) fn is_connected(&self) -> bool {
        self.client.is_some()
    }

    /// Connects (and creates the tables) unless connected: before the other lanes connect,
    /// so that only one session runs the DDL (two at once would collide in the catalog).
    pub(super) fn connect(&mut self, to: &Target) -> Result<(), Failure> {
        self.client(to).map(|_| ())
    }

    /// The kept connection, connecting (and creating the tables) when there is none or the
    /// server closed it.
    fn client(&mut self, to: &Target) -> Result<&mut Client, Failure> {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        if self.client.is_none() {
            let mut client = to.config.connect(NoTls).pg()?;
            let mut setup = String::new();
            // The DDL only when a table is missing: `CREATE INDEX IF NOT EXISTS` still locks
            // its table, which would hold up other writers while this one connects.
            if to.manage_tables && !tables_exist(&mut client, &to.schema)? {
                setup.push_str(&postgres_ddl(&to.schema).unwrap_or_default());
            }
            setup.push_str(STAGE);
            client
                .batch_execute(&setup)
                .map_err(|e| match Failure::of(&e) {
                    // Another session created the same table or schema at the same moment (the
                    // catalog's unique index, or `IF NOT EXISTS` checked before it committed):
                    // the next attempt finds it.
                    Failure::Duplicate(r) | Failure::Permanent(r) if created_meanwhile(&e) => {
                        Failure::Transient(r)
                    }
                    other => other,
                })?;
            self.client = Some(client);
        }
        self.client
            .as_mut()
            .ok_or_else(|| Failure::Transient("PostgreSQL connection: not connected".to_owned()))
    }

    /// Runs `f` in a transaction on the kept connection; a transient failure drops the
    /// connection so the next call connects again.
    pub(super) fn in_transaction<T>(
        &mut self,
        to: &Target,
        f: impl FnOnce(&mut Transaction<'_>, &str, &mut Vec<u8>) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let mut copy = std::mem::take(&mut self.copy);
        let result = self.client(to).and_then(|client| {
            let mut tx = client.transaction().pg()?;
            let value = f(&mut tx, &to.schema, &mut copy)?;
            tx.commit().pg()?;
            Ok(value)
        });
        self.copy = copy;
        if let Err(Failure::Transient(_)) = &result {
            self.client = None;
        }
        result
    }

    /// Writes `batch` in one transaction: the events `COPY`'d straight into `events`; when one
    /// of them is there already (a retried or replayed batch), again through the staging
    /// table, skipping those.
    pub(super) fn write(&mut self, to: &Target, batch: &[&Envelope]) -> Result<(), Failure> {
        match self.in_transaction(to, |tx, schema, copy| {
            write_batch(tx, schema, copy, batch, false)
        }) {
            Err(Failure::Duplicate(_)) => self.in_transaction(to, |tx, schema, copy| {
                write_batch(tx, schema, copy, batch, true)
            }),
            other => other,
        }
    }
}
