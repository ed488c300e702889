//! The PostgreSQL ledger store, for apps with several instances: one table, one chain, every
//! append in a transaction that holds a transaction-level advisory lock, so instances take
//! turns and each record links to the one committed before it.
//!
//! ```sql
//! CREATE TABLE trackplan_consent_ledger (
//!     seq       bigint PRIMARY KEY,  -- 1, 2, … : the entry id
//!     kind      smallint NOT NULL,   -- 1 notice (purpose texts), 2 entry
//!     prev      bytea NOT NULL,      -- chain hash of seq - 1 (32 zero bytes for the first)
//!     hash      bytea NOT NULL,      -- this record's chain hash
//!     digest    bytea NOT NULL,      -- SHA-256 of payload (kept when the payload is deleted)
//!     payload   bytea,               -- the JSON payload; NULL once deleted by forget
//!     principal text,                -- an entry's distinct id; NULL for notices, deleted entries
//!     notice    text                 -- a notice's hash; NULL for entries
//! );
//! ```
//!
//! Commits are as durable as the server's `synchronous_commit` makes them (on by default):
//! `record` returns after the commit.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use postgres::{Client, NoTls, Transaction};

use super::Consent;
use super::chain::{self, ENTRY, GENESIS, NOTICE};
use super::entry::EntryId;
use super::ledger::{Collection, ForgetProof};
use super::ledger_error::LedgerError;
use super::notice::Notice;
use super::payload::{self, NewEntry};
use super::snapshot::{Raw, Snapshot};
use super::store::Store;
use crate::plan::PlanInfo;

const TABLE: &str = "trackplan_consent_ledger";
/// The advisory lock every append takes ("tpledger" as a number).
const LOCK_KEY: i64 = 0x7470_6c65_6467_6572;

pub(crate) struct PgStore {
    client: Mutex<Client>,
    /// To connect again after the connection broke (a server restart, a failover). Never
    /// printed: it may hold the password.
    url: String,
    /// The URL without its password, for `Debug` and messages.
    shown: String,
}

fn db(e: postgres::Error) -> LedgerError {
    let reason = match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => e.to_string(),
    };
    LedgerError::Database { reason }
}

fn arr(bytes: &[u8]) -> Result<[u8; 32], LedgerError> {
    bytes.try_into().map_err(|_| LedgerError::Database {
        reason: "a hash column does not hold 32 bytes".into(),
    })
}

impl PgStore {
    pub(crate) fn connect(url: &str) -> Result<PgStore, LedgerError> {
        let shown = without_password(url);
        let mut client = Client::connect(url, NoTls).map_err(db)?;
        let mut tx = client.transaction().map_err(db)?;
        lock(&mut tx)?;
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (
                 seq bigint PRIMARY KEY,
                 kind smallint NOT NULL,
                 prev bytea NOT NULL,
                 hash bytea NOT NULL,
                 digest bytea NOT NULL,
                 payload bytea,
                 principal text,
                 notice text
             );
             CREATE INDEX IF NOT EXISTS {TABLE}_principal ON {TABLE} (principal);
             CREATE INDEX IF NOT EXISTS {TABLE}_notice ON {TABLE} (notice);"
        ))
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(PgStore {
            client: Mutex::new(client),
            url: url.to_owned(),
            shown,
        })
    }

    /// The connection, opened again first when the last one broke: a restarted server costs
    /// the calls made while it was down (they return the error), not the ledger.
    fn client(&self) -> Result<MutexGuard<'_, Client>, LedgerError> {
        let mut client = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if client.is_closed() {
            *client = Client::connect(&self.url, NoTls).map_err(db)?;
            tracing::info!(ledger = %self.shown, "consent ledger: reconnected to PostgreSQL");
        }
        Ok(client)
    }

    pub(crate) fn snapshot_now(&self) -> Result<Snapshot, LedgerError> {
        let mut client = self.client()?;
        let rows = client
            .query(
                &format!("SELECT seq, kind, prev, hash, digest, payload FROM {TABLE} ORDER BY seq"),
                &[],
            )
            .map_err(db)?;
        let mut raws = Vec::with_capacity(rows.len());
        for row in rows {
            let seq: i64 = row.get(0);
            let kind: i16 = row.get(1);
            raws.push(Raw {
                seq: u64::try_from(seq).unwrap_or(0),
                kind: u8::try_from(kind).unwrap_or(u8::MAX),
                prev: arr(row.get::<_, &[u8]>(2))?,
                hash: arr(row.get::<_, &[u8]>(3))?,
                digest: arr(row.get::<_, &[u8]>(4))?,
                payload: row.get::<_, Option<Vec<u8>>>(5),
                offset: None,
            });
        }
        Ok(Snapshot::from_raw(raws, None))
    }
}

fn lock(tx: &mut Transaction<'_>) -> Result<(), LedgerError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .map(drop)
        .map_err(db)
}

/// The last record's number and hash.
fn head(tx: &mut Transaction<'_>) -> Result<(u64, [u8; 32]), LedgerError> {
    let row = tx
        .query_opt(
            &format!("SELECT seq, hash FROM {TABLE} ORDER BY seq DESC LIMIT 1"),
            &[],
        )
        .map_err(db)?;
    match row {
        None => Ok((0, GENESIS)),
        Some(row) => Ok((
            u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
            arr(row.get::<_, &[u8]>(1))?,
        )),
    }
}

fn insert(
    tx: &mut Transaction<'_>,
    seq: u64,
    kind: u8,
    prev: &[u8; 32],
    payload: &[u8],
    principal: Option<&str>,
    notice: Option<&str>,
) -> Result<[u8; 32], LedgerError> {
    let digest = chain::digest(payload);
    let hash = chain::link(seq, prev, kind, &digest);
    tx.execute(
        &format!(
            "INSERT INTO {TABLE} (seq, kind, prev, hash, digest, payload, principal, notice)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ),
        &[
            &(seq as i64),
            &i16::from(kind),
            &prev.as_slice(),
            &hash.as_slice(),
            &digest.as_slice(),
            &payload,
            &principal,
            &notice,
        ],
    )
    .map_err(db)?;
    Ok(hash)
}

impl Store for PgStore {
    fn record(
        &self,
        principal: &str,
        plan: &'static PlanInfo,
        consent: &Consent,
        how: &Collection,
    ) -> Result<EntryId, LedgerError> {
        let notice = Notice::of(plan);
        let notice_hash = notice.hash();
        let mut client = self.client()?;
        let mut tx = client.transaction().map_err(db)?;
        lock(&mut tx)?;
        let (mut seq, mut prev) = head(&mut tx)?;
        let known = tx
            .query_opt(
                &format!("SELECT 1 FROM {TABLE} WHERE notice = $1 LIMIT 1"),
                &[&notice_hash],
            )
            .map_err(db)?
            .is_some();
        if !known {
            seq += 1;
            prev = insert(
                &mut tx,
                seq,
                NOTICE,
                &prev,
                &payload::encode_notice(&notice),
                None,
                Some(&notice_hash),
            )?;
        }
        let supersedes = tx
            .query_one(
                &format!("SELECT max(seq) FROM {TABLE} WHERE principal = $1"),
                &[&principal],
            )
            .map_err(db)?
            .get::<_, Option<i64>>(0)
            .map(|s| EntryId(u64::try_from(s).unwrap_or(0)));
        seq += 1;
        let entry = NewEntry {
            principal,
            plan,
            consent,
            how,
            notice_hash: &notice_hash,
            supersedes,
        };
        let mut body = Vec::with_capacity(768);
        payload::encode_entry(&entry, &mut body);
        insert(&mut tx, seq, ENTRY, &prev, &body, Some(principal), None)?;
        tx.commit().map_err(db)?;
        Ok(EntryId(seq))
    }

    fn forget(&self, principal: &str, proof: ForgetProof) -> Result<usize, LedgerError> {
        let mut client = self.client()?;
        let mut tx = client.transaction().map_err(db)?;
        lock(&mut tx)?;
        let rows = tx
            .query(
                &format!(
                    "SELECT seq, payload FROM {TABLE} WHERE principal = $1 AND kind = $2 \
                     AND payload IS NOT NULL ORDER BY seq"
                ),
                &[&principal, &i16::from(ENTRY)],
            )
            .map_err(db)?;
        let count = rows.len();
        let Some(last_row) = rows.last() else {
            return Ok(0);
        };
        match proof {
            ForgetProof::Keep => {
                let seq_last = u64::try_from(last_row.get::<_, i64>(0)).unwrap_or(0);
                let last_payload: &[u8] = last_row.get(1);
                // A compact entry names its purposes through its notice: read that too.
                let mut notices = HashMap::new();
                if let Some(hash) = payload::notice_hash_of(last_payload) {
                    let row = tx
                        .query_opt(
                            &format!(
                                "SELECT payload FROM {TABLE} WHERE notice = $1 AND kind = $2 \
                                 AND payload IS NOT NULL LIMIT 1"
                            ),
                            &[&hash, &i16::from(NOTICE)],
                        )
                        .map_err(db)?;
                    if let Some(notice) =
                        row.and_then(|r| payload::decode_notice(r.get::<_, &[u8]>(0)).ok())
                    {
                        notices.insert(hash, notice);
                    }
                }
                let last = payload::decode_entry(seq_last, last_payload, String::new(), &notices)
                    .map_err(|reason| LedgerError::Broken {
                    entry: seq_last,
                    reason,
                })?;
                let (seq, prev) = head(&mut tx)?;
                let mut body = Vec::new();
                payload::write_erasure(&mut body, payload::now_ms(), principal, &last);
                insert(&mut tx, seq + 1, ENTRY, &prev, &body, Some(principal), None)?;
            }
            ForgetProof::Delete => {
                tx.execute(
                    &format!(
                        "UPDATE {TABLE} SET payload = NULL, principal = NULL \
                         WHERE principal = $1 AND kind = $2"
                    ),
                    &[&principal, &i16::from(ENTRY)],
                )
                .map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        Ok(count)
    }

    fn sync(&self) -> Result<(), LedgerError> {
        // Every record is committed before `record` returns.
        Ok(())
    }

    fn snapshot(&self) -> Result<Snapshot, LedgerError> {
        self.snapshot_now()
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }
}

/// `postgres://user:secret@host/db` as `postgres://user@host/db`; key=value connection
/// strings with their `password=` value removed.
fn without_password(url: &str) -> String {
    if let (Some(scheme), Some(at)) = (url.find("://"), url.rfind('@'))
        && at > scheme
    {
        let user = url[scheme + 3..at].split(':').next().unwrap_or("");
        return format!("{}{user}{}", &url[..scheme + 3], &url[at..]);
    }
    url.split_whitespace()
        .filter(|kv| !kv.starts_with("password="))
        .collect::<Vec<_>>()
        .join(" ")
}
