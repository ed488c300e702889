//! [`Postgres`]: events, profiles, groups and links into PostgreSQL tables of our own, over one
//! kept connection.

use std::fmt;
use std::io::Write as _;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, Config, Transaction};

use super::ddl::{InvalidSchemaName, check_schema_name};
use super::lane::{Lane, Target};
use crate::message::{GroupRef, Message, ProfileOp};
use crate::retention::Pruned;
use crate::sink::{
    Access, BatchLimits, Envelope, Erasure, Outcome, RetryPolicy, Sink, SinkDeclaration,
};
use crate::time::Timestamp;
use crate::value::write_json_str;

/// Why a [`Postgres`] sink could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostgresError {
    /// The connection string does not parse (the reason never repeats a password).
    #[error("the PostgreSQL connection string is invalid: {0}")]
    InvalidUrl(String),
    /// The connection string asks for TLS (`sslmode=require`), which this sink does not
    /// speak yet.
    #[error(
        "the PostgreSQL connection string asks for TLS (sslmode=require), which the sink does not support: \
         connect over a Unix socket, loopback or a private network, or use sslmode=disable"
    )]
    TlsRequired,
    /// The schema name is not a plain identifier.
    #[error(transparent)]
    InvalidSchema(#[from] InvalidSchemaName),
}

/// A PostgreSQL warehouse of our own (plan kind `postgres`, first party).
///
/// Writes the tables of [`postgres_ddl`] (`trackplan schema --sql postgres PLAN` prints them
/// with the plan's typed views) in a schema of their own (default `trackplan`):
///
/// - each batch of events is one transaction: a binary `COPY` straight into `events`; when
///   an insert id is there already (a batch retried because its commit's answer was lost, or
///   replayed from the spool), the batch goes again through a temporary staging table and
///   `INSERT … SELECT … ON CONFLICT (insert_id) DO NOTHING`, so no row is added twice;
/// - a batch of 1000 events or more is split over two connections written at the same time
///   ([`Postgres::connections`]), each part its own transaction and exactly-once by itself;
/// - a profile, group, join or link message is logged once by insert id in `updates` and,
///   only when new, applied to `profiles`, `groups`, `memberships` or `links` (`add` and
///   `union` stay exact under retries);
/// - the connection is kept between batches; a lost connection, a server shutting down or
///   refusing connections is [`Outcome::Retry`], and the next attempt connects again; a batch
///   the server rejects for its data (class 22/23) is retried row by row so only the bad
///   events fail ([`Outcome::Partial`]);
/// - [`Sink::erase`] deletes the subjects' rows from every table in one transaction,
///   [`Sink::retrieve`] selects them, [`Sink::prune`] deletes what is older than the plan's
///   retention.
///
/// The connection is plain TCP or a Unix socket: the sink does not speak TLS, and refuses a
/// connection string that requires it.
///
/// ```no_run
/// # extern crate trackplan_runtime as trackplan;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use trackplan::sinks::Postgres;
/// let warehouse = Postgres::new("postgresql://trackplan@127.0.0.1:5432/analytics")?
///     .schema("shop_events")?;
/// # let _ = warehouse; Ok(()) }
/// ```
pub struct Postgres {
    target: Target,
    limits: BatchLimits,
    retry: RetryPolicy,
    /// The connections a batch is written over; the first also runs the updates, erasure,
    /// access and prune.
    lanes: Vec<Lane>,
}

impl fmt::Debug for Postgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Host, port, database and user only: never the password.
        f.debug_struct("Postgres")
            .field("hosts", &self.target.config.get_hosts())
            .field("ports", &self.target.config.get_ports())
            .field("dbname", &self.target.config.get_dbname())
            .field("user", &self.target.config.get_user())
            .field("schema", &self.target.schema)
            .field("connections", &self.lanes.len())
            .field(
                "connected",
                &self.lanes.iter().filter(|l| l.is_connected()).count(),
            )
            .finish_non_exhaustive()
    }
}

/// How a failed statement is handled.
#[derive(Debug)]
pub(super) enum Failure {
    /// The connection or the server's state: try again later, on a new connection.
    Transient(String),
    /// The rows themselves (a value the column refuses): try the rows one by one.
    Data(String),
    /// Anything else the server refused (a missing table, a permission): fails the batch.
    Permanent(String),
    /// An insert id the table holds already: the batch is written again, skipping those.
    Duplicate(String),
}

impl Failure {
    pub(super) fn of(e: &postgres::Error) -> Failure {
        let Some(db) = e.as_db_error() else {
            // I/O, a closed connection, a timeout: nothing the server decided.
            return Failure::Transient(format!("PostgreSQL connection: {}", short(e)));
        };
        let code = db.code().code();
        // The SQLSTATE and the server's message: neither repeats a row's values (PostgreSQL
        // puts those in DETAIL, which is left out).
        let reason = format!("PostgreSQL {code}: {}", db.message());
        match &code[..2] {
            // connection exception, insufficient resources, operator intervention (shutdown,
            // cannot connect now), system error, transaction rollback (serialization, deadlock)
            "08" | "53" | "57" | "58" | "40" => Failure::Transient(reason),
            _ if *db.code() == SqlState::UNIQUE_VIOLATION => Failure::Duplicate(reason),
            // data exception, integrity constraint violation
            "22" | "23" => Failure::Data(reason),
            _ if *db.code() == SqlState::READ_ONLY_SQL_TRANSACTION => Failure::Transient(reason),
            _ => Failure::Permanent(reason),
        }
    }
}

/// The error's first line, without the server's DETAIL.
fn short(e: &postgres::Error) -> String {
    let text = e.to_string();
    text.lines().next().unwrap_or_default().to_owned()
}

impl Postgres {
    /// A sink for the database at `url` (`postgresql://user[:password]@host[:port]/db`, or
    /// `host=… user=… dbname=…`), tables in schema `trackplan`. Connects on the first batch,
    /// with a 10 s connect timeout unless the string sets one.
    pub fn new(url: &str) -> Result<Postgres, PostgresError> {
        let mut config: Config = url
            .parse()
            .map_err(|e: postgres::Error| PostgresError::InvalidUrl(short(&e)))?;
        if config.get_ssl_mode() == postgres::config::SslMode::Require {
            return Err(PostgresError::TlsRequired);
        }
        // Plain connections only: `prefer` would try TLS first and need a connector.
        config.ssl_mode(postgres::config::SslMode::Disable);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("trackplan");
        Ok(Postgres {
            target: Target {
                config,
                schema: "trackplan".to_owned(),
                manage_tables: true,
            },
            limits: BatchLimits {
                max_events: 5000,
                max_bytes: 8 << 20,
                max_delay: Duration::from_millis(500),
            },
            retry: RetryPolicy::default(),
            lanes: (0..2).map(|_| Lane::default()).collect(),
        })
    }

    /// The PostgreSQL schema the tables live in (default `trackplan`): a plain identifier.
    pub fn schema(mut self, name: &str) -> Result<Postgres, PostgresError> {
        check_schema_name(name)?;
        name.clone_into(&mut self.target.schema);
        Ok(self)
    }

    /// Whether the sink creates its tables (`CREATE … IF NOT EXISTS`) when it connects
    /// (default `true`). Turn it off for a role without DDL rights, after applying
    /// `trackplan schema --sql postgres` yourself.
    pub fn manage_tables(mut self, yes: bool) -> Postgres {
        self.target.manage_tables = yes;
        self
    }

    /// Batch limits (default 5000 events, 8 MiB, 500 ms): one transaction per batch.
    pub fn limits(mut self, limits: BatchLimits) -> Postgres {
        self.limits = limits;
        self
    }

    /// How many connections a large batch is written over at once (default 2; 0 counts as
    /// 1). A batch is split into up to that many parts of consecutive events, at least 500
    /// events each, each part its own transaction on its own connection, written at the
    /// same time: the server's work per row (`jsonb`, heap, indexes, WAL) is what limits
    /// delivery, and a second backend does it on a second core. Profile, group, join and link
    /// messages stay in the first part, in order. Exactly once still holds: a part that
    /// committed while another failed adds nothing when the batch is retried. Every
    /// connection is kept between batches, so the server sees up to `n` sessions per sink.
    pub fn connections(mut self, n: usize) -> Postgres {
        self.lanes = (0..n.max(1)).map(|_| Lane::default()).collect();
        self
    }

    /// How a batch that could not be written (server down, connection lost) is retried.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Postgres {
        self.retry = policy;
        self
    }

    /// A transaction on the first connection, tried once more on a fresh connection when the
    /// kept one turned out to be dead: for the data subject's requests and prunes, which are
    /// not retried by the worker.
    fn in_transaction_again<T>(
        &mut self,
        mut f: impl FnMut(&mut Transaction<'_>, &str) -> Result<T, postgres::Error>,
    ) -> Result<T, String> {
        let (target, lane) = (&self.target, &mut self.lanes[0]);
        let had_connection = lane.is_connected();
        match lane.in_transaction(target, |tx, schema, _| f(tx, schema).pg()) {
            Ok(value) => Ok(value),
            Err(Failure::Transient(_)) if had_connection => lane
                .in_transaction(target, |tx, schema, _| f(tx, schema).pg())
                .map_err(|failure| reason(&failure)),
            Err(failure) => Err(reason(&failure)),
        }
    }

    /// Writes `batch`: on the first connection alone when it is small; else its events split
    /// over the connections, each part one transaction written at the same time, the first
    /// part also holding every profile, group, join and link message in order.
    ///
    /// Each part is exactly-once by insert id on its own, so a part that committed while
    /// another failed adds nothing when the worker retries the whole batch.
    fn write(&mut self, batch: &[&Envelope]) -> Result<(), Failure> {
        let tracks = batch.iter().filter(|e| is_track(e)).count();
        let parts = self.lanes.len().min(tracks / MIN_PER_CONNECTION).max(1);
        let (target, lanes) = (&self.target, &mut self.lanes);
        if parts == 1 {
            return lanes[0].write(target, batch);
        }
        let parts = split(batch, tracks, parts);
        // A failed connect keeps no connection: the next attempt connects again.
        lanes[0].connect(target)?;
        let results: Vec<Result<(), Failure>> = std::thread::scope(|scope| {
            let (first, others) = lanes.split_first_mut().expect("one connection at least");
            let others: Vec<_> = others
                .iter_mut()
                .zip(&parts[1..])
                .map(|(lane, part)| scope.spawn(move || lane.write(target, part)))
                .collect();
            let mut results = vec![first.write(target, &parts[0])];
            for handle in others {
                results.push(
                    handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                );
            }
            results
        });
        // One verdict for the batch: a transient failure anywhere retries the whole batch
        // (parts already committed add nothing again); else a refused row sends the batch row
        // by row (committed rows are skipped by insert id); else the first other failure.
        let mut worst = Ok(());
        for result in results {
            worst = match (worst, result) {
                (Err(Failure::Transient(r)), _) | (_, Err(Failure::Transient(r))) => {
                    Err(Failure::Transient(r))
                }
                (Err(Failure::Data(r)), _) | (_, Err(Failure::Data(r))) => Err(Failure::Data(r)),
                (Err(e), _) | (Ok(()), Err(e)) => Err(e),
                (Ok(()), Ok(())) => Ok(()),
            };
        }
        worst
    }
}

/// A batch is split over several connections only when each part gets at least this many
/// events: below it, the extra transaction and thread cost more than they save.
const MIN_PER_CONNECTION: usize = 500;

fn is_track(e: &Envelope) -> bool {
    matches!(e.message, Message::Track { .. })
}

/// `batch` in `n` parts: its `tracks` events in consecutive, equal runs, and every other
/// message in the first part, each part in the batch's order.
fn split<'a>(batch: &[&'a Envelope], tracks: usize, n: usize) -> Vec<Vec<&'a Envelope>> {
    let per_part = tracks.div_ceil(n);
    let mut parts: Vec<Vec<&Envelope>> = (0..n).map(|_| Vec::with_capacity(per_part + 1)).collect();
    let mut seen = 0;
    for &e in batch {
        if is_track(e) {
            parts[seen / per_part].push(e);
            seen += 1;
        } else {
            parts[0].push(e);
        }
    }
    parts
}

/// Whether every table of [`postgres_ddl`] exists in `schema`.
pub(super) fn tables_exist(client: &mut Client, schema: &str) -> Result<bool, Failure> {
    let row = client
        .query_one(
            "SELECT count(to_regclass(format('%s.%s', $1::text, t))) = 6 FROM unnest(ARRAY[\
             'events', 'updates', 'profiles', 'groups', 'memberships', 'links']) t",
            &[&schema],
        )
        .pg()?;
    row.try_get(0).pg()
}

/// `?` on a statement's result: its error classified.
pub(super) trait Classify<T> {
    fn pg(self) -> Result<T, Failure>;
}

impl<T> Classify<T> for Result<T, postgres::Error> {
    fn pg(self) -> Result<T, Failure> {
        self.map_err(|e| Failure::of(&e))
    }
}

fn reason(failure: &Failure) -> String {
    match failure {
        Failure::Transient(r)
        | Failure::Data(r)
        | Failure::Permanent(r)
        | Failure::Duplicate(r) => r.clone(),
    }
}

/// The session's staging table for `COPY`: emptied at every commit.
pub(super) const STAGE: &str = "
CREATE TEMPORARY TABLE IF NOT EXISTS trackplan_stage (
    insert_id text, event text, time timestamptz, distinct_id text, plan text,
    purposes text[], groups jsonb, properties jsonb
) ON COMMIT DELETE ROWS;
";

/// The columns every `COPY` writes, in the order of [`copy_row`].
const COLUMNS: &str = "(insert_id, event, time, distinct_id, plan, purposes, groups, properties)";

/// The timestamp of a `bigint` milliseconds parameter.
fn at(param: &str) -> String {
    format!("(timestamptz 'epoch' + {param}::bigint * interval '1 millisecond')")
}

pub(super) fn write_batch(
    tx: &mut Transaction<'_>,
    schema: &str,
    copy: &mut Vec<u8>,
    batch: &[&Envelope],
    dedupe: bool,
) -> Result<(), Failure> {
    copy.clear();
    copy.extend_from_slice(BINARY_HEADER);
    let mut events = 0;
    for e in batch {
        if let Message::Track { groups } = &e.message {
            copy_row(copy, e, groups.as_deref())?;
            events += 1;
        }
    }
    copy.extend_from_slice(&TRAILER.to_be_bytes());
    if events > 0 {
        let target = if dedupe {
            "trackplan_stage".to_owned()
        } else {
            format!("{schema}.events")
        };
        let mut writer = tx
            .copy_in(&format!(
                "COPY {target} {COLUMNS} FROM STDIN (FORMAT binary)"
            ))
            .pg()?;
        // A write error is the connection's; `finish` reports the server's verdict.
        writer.write_all(copy).map_err(|e| {
            Failure::Transient(format!("PostgreSQL connection: COPY: {}", e.kind()))
        })?;
        writer.finish().pg()?;
        if dedupe {
            tx.execute(
                &format!(
                    "INSERT INTO {schema}.events {COLUMNS} SELECT * FROM trackplan_stage \
                     ON CONFLICT (insert_id) DO NOTHING"
                ),
                &[],
            )
            .pg()?;
        }
    }
    for e in batch {
        if !matches!(e.message, Message::Track { .. }) {
            write_update(tx, schema, e).pg()?;
        }
    }
    Ok(())
}

/// The signature, flags and header extension length that open a binary `COPY` stream.
const BINARY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The field count of an `events` row, and the `-1` that ends the stream.
const FIELDS: i16 = 8;
const TRAILER: i16 = -1;

/// The OID of `text`, the element type of the `purposes` array.
const TEXT_OID: u32 = 25;

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// The longest value PostgreSQL stores in a field (1 GiB).
const MAX_FIELD: usize = 1 << 30;

/// One row of a binary `COPY` into `events` (or the staging table), in [`COLUMNS`] order:
/// each field is its length (`i32`, `-1` for NULL) and PostgreSQL's binary form of the
/// value, so the server parses no text but the JSON. Errs (without the value) when a field is
/// longer than PostgreSQL stores.
fn copy_row(out: &mut Vec<u8>, e: &Envelope, groups: Option<&[GroupRef]>) -> Result<(), Failure> {
    out.extend_from_slice(&FIELDS.to_be_bytes());
    field(out, e.insert_id.as_bytes())?;
    field(out, e.event.as_bytes())?;
    out.extend_from_slice(&8i32.to_be_bytes());
    out.extend_from_slice(&pg_micros(e.time_ms).to_be_bytes());
    field(out, e.distinct_id.as_bytes())?;
    field(out, e.plan.label.as_bytes())?;
    text_array(out, e.plan.purpose_ids(e.purposes))?;
    match groups {
        Some(groups) if !groups.is_empty() => {
            let mut json = vec![JSONB_VERSION];
            groups_json(&mut json, groups);
            field(out, &json)?;
        }
        _ => out.extend_from_slice(&(-1i32).to_be_bytes()),
    }
    jsonb_field(out, e.properties.as_bytes())
}

/// `timestamptz`'s binary form of Unix milliseconds: microseconds since 2000-01-01 UTC. A time
/// PostgreSQL cannot hold becomes a finite value out of its range (not `i64::MAX`, which reads
/// as `infinity`), so the server refuses that row.
fn pg_micros(time_ms: i64) -> i64 {
    time_ms
        .checked_mul(1000)
        .and_then(|us| us.checked_sub(PG_EPOCH_MICROS))
        .unwrap_or(i64::MAX - 1)
}

/// The version byte that starts `jsonb`'s binary form (the JSON text follows).
const JSONB_VERSION: u8 = 1;

/// A field of `bytes` as they are (`text`).
fn field(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), Failure> {
    out.extend_from_slice(&field_len(bytes.len())?.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// A `jsonb` field: the version byte, then the JSON text.
fn jsonb_field(out: &mut Vec<u8>, json: &[u8]) -> Result<(), Failure> {
    out.extend_from_slice(&field_len(json.len() + 1)?.to_be_bytes());
    out.push(JSONB_VERSION);
    out.extend_from_slice(json);
    Ok(())
}

fn field_len(len: usize) -> Result<i32, Failure> {
    if len > MAX_FIELD {
        return Err(Failure::Data(format!(
            "PostgreSQL: a value of {len} bytes is longer than a field holds (1 GiB)"
        )));
    }
    Ok(len as i32)
}

/// A binary one-dimensional `text[]` field (the event's purposes): dimensions, no-NULL flag,
/// element type, then (length, lower bound 1) and each element as a field.
fn text_array<'a>(out: &mut Vec<u8>, items: impl Iterator<Item = &'a str>) -> Result<(), Failure> {
    let at = out.len();
    // The field's length, the dimensions and the element count are set once known.
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&TEXT_OID.to_be_bytes());
    let dim = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&1i32.to_be_bytes());
    let mut n = 0i32;
    for id in items {
        field(out, id.as_bytes())?;
        n += 1;
    }
    if n == 0 {
        // No dimensions at all: PostgreSQL's empty array.
        out.truncate(dim);
    } else {
        out[dim..dim + 4].copy_from_slice(&n.to_be_bytes());
        out[at + 4..at + 8].copy_from_slice(&1i32.to_be_bytes());
    }
    let len = field_len(out.len() - at - 4)?;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// `[{"kind":…,"key":…,"id":…}, …]`.
fn groups_json(out: &mut Vec<u8>, groups: &[GroupRef]) {
    out.push(b'[');
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"kind\":");
        write_json_str(out, g.kind);
        out.extend_from_slice(b",\"key\":");
        write_json_str(out, g.key);
        out.extend_from_slice(b",\"id\":");
        out.extend_from_slice(g.id.as_bytes());
        out.push(b'}');
    }
    out.push(b']');
}

/// Logs one profile, group, join or link message in `updates` and applies it when it is new.
fn write_update(
    tx: &mut Transaction<'_>,
    schema: &str,
    e: &Envelope,
) -> Result<(), postgres::Error> {
    let purposes: Vec<&str> = e.plan.purpose_ids(e.purposes).collect();
    let (op, group, anonymous) = match &e.message {
        Message::Profile { op } => (Some(op.key()), None, None),
        Message::Group { group, op } => (Some(op.key()), Some(group), None),
        Message::Join { group } => (None, Some(group), None),
        Message::Link { anonymous_id } => (None, None, Some(&**anonymous_id)),
        // Events are copied, not logged here; a kind added later is logged only.
        _ => (None, None, None),
    };
    let traits: &str = if e.properties.is_empty() {
        "{}"
    } else {
        &e.properties
    };
    let new = tx.execute(
        &format!(
            "INSERT INTO {schema}.updates (insert_id, kind, op, time, distinct_id, group_kind, \
             group_id, anonymous_id, plan, purposes, traits) \
             VALUES ($1, $2, $3, {}, $5, $6, $7::text::jsonb, $8, $9, $10, $11::text::jsonb) \
             ON CONFLICT (insert_id) DO NOTHING",
            at("$4")
        ),
        &[
            &e.insert_id,
            &e.message.kind(),
            &op,
            &e.time_ms,
            &&*e.distinct_id,
            &group.map(|g| g.kind),
            &group.map(|g| &*g.id),
            &anonymous,
            &e.plan.label,
            &purposes,
            &traits,
        ],
    )?;
    if new == 0 {
        return Ok(());
    }
    match &e.message {
        Message::Profile { op } => {
            let key = TraitKey::profile(schema);
            apply(tx, &key, *op, e.time_ms, traits, &[&&*e.distinct_id])?;
        }
        Message::Group { group, op } => {
            let key = TraitKey::group(schema);
            apply(
                tx,
                &key,
                *op,
                e.time_ms,
                traits,
                &[&group.kind, &&*group.id],
            )?;
        }
        Message::Join { group } => {
            tx.execute(
                &format!(
                    "INSERT INTO {schema}.memberships (distinct_id, group_kind, group_id, joined_at) \
                     VALUES ($1, $2, $3::text::jsonb, {}) \
                     ON CONFLICT (distinct_id, group_kind, group_id) \
                     DO UPDATE SET joined_at = EXCLUDED.joined_at",
                    at("$4")
                ),
                &[&&*e.distinct_id, &group.kind, &&*group.id, &e.time_ms],
            )?;
        }
        Message::Link { anonymous_id } => {
            tx.execute(
                &format!(
                    "INSERT INTO {schema}.links (anonymous_id, distinct_id, linked_at) \
                     VALUES ($1, $2, {}) ON CONFLICT (anonymous_id) \
                     DO UPDATE SET distinct_id = EXCLUDED.distinct_id, linked_at = EXCLUDED.linked_at",
                    at("$3")
                ),
                &[&&**anonymous_id, &&*e.distinct_id, &e.time_ms],
            )?;
        }
        _ => {}
    }
    Ok(())
}

/// A table of traits and the columns that name whose they are.
struct TraitKey {
    table: String,
    /// The key columns, comma-separated.
    columns: &'static str,
    /// Their values: parameters from `$3` on.
    values: &'static str,
    /// `t.col = value AND …` for the update and delete statements (table alias `t`).
    matches: &'static str,
}

impl TraitKey {
    fn profile(schema: &str) -> TraitKey {
        TraitKey {
            table: format!("{schema}.profiles"),
            columns: "distinct_id",
            values: "$3",
            matches: "t.distinct_id = $3",
        }
    }

    fn group(schema: &str) -> TraitKey {
        TraitKey {
            table: format!("{schema}.groups"),
            columns: "group_kind, group_id",
            values: "$3, $4::text::jsonb",
            matches: "t.group_kind = $3 AND t.group_id = $4::text::jsonb",
        }
    }
}

/// Applies a profile or group update: `$1` the time, `$2` the traits (an object; for `unset`
/// an array of names), `$3…` the key.
fn apply(
    tx: &mut Transaction<'_>,
    key: &TraitKey,
    op: ProfileOp,
    time_ms: i64,
    traits: &str,
    key_values: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<u64, postgres::Error> {
    let TraitKey {
        table,
        columns,
        values,
        matches,
    } = key;
    let updated = at("$1");
    let upsert = |on_conflict: &str| {
        format!(
            "INSERT INTO {table} AS t ({columns}, trait, value, updated_at) \
             SELECT {values}, j.key, j.value, {updated} FROM jsonb_each($2::text::jsonb) j \
             ON CONFLICT ({columns}, trait) {on_conflict}"
        )
    };
    let sql = match op {
        ProfileOp::Set => {
            upsert("DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at")
        }
        ProfileOp::SetOnce => upsert("DO NOTHING"),
        ProfileOp::Add => upsert(
            "DO UPDATE SET value = to_jsonb(t.value::numeric + EXCLUDED.value::numeric), \
             updated_at = EXCLUDED.updated_at",
        ),
        ProfileOp::Union => upsert(
            "DO UPDATE SET value = t.value || (SELECT coalesce(jsonb_agg(x), '[]'::jsonb) \
             FROM jsonb_array_elements(EXCLUDED.value) x \
             WHERE NOT t.value @> jsonb_build_array(x)), updated_at = EXCLUDED.updated_at",
        ),
        ProfileOp::Remove => format!(
            "UPDATE {table} AS t SET value = (SELECT coalesce(jsonb_agg(x), '[]'::jsonb) \
             FROM jsonb_array_elements(t.value) x WHERE NOT j.value @> jsonb_build_array(x)), \
             updated_at = {updated} FROM jsonb_each($2::text::jsonb) j \
             WHERE {matches} AND t.trait = j.key"
        ),
        ProfileOp::Unset => format!(
            "DELETE FROM {table} AS t WHERE {matches} AND $1::bigint IS NOT NULL \
             AND t.trait IN (SELECT jsonb_array_elements_text($2::text::jsonb))"
        ),
    };
    let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![&time_ms, &traits];
    params.extend_from_slice(key_values);
    tx.execute(&sql, &params)
}

impl Sink for Postgres {
    fn declaration(&self) -> SinkDeclaration {
        SinkDeclaration::first_party("postgres")
    }

    fn limits(&self) -> BatchLimits {
        self.limits
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        let all: Vec<&Envelope> = batch.iter().collect();
        match self.write(&all) {
            Ok(()) => Outcome::Delivered,
            Err(Failure::Transient(reason)) => Outcome::Retry {
                reason,
                after: None,
            },
            Err(Failure::Permanent(reason) | Failure::Duplicate(reason)) => {
                Outcome::Failed { reason }
            }
            // Some row is refused: find which, one transaction per row.
            Err(Failure::Data(_)) => {
                let mut failed = Vec::new();
                for (i, e) in batch.iter().enumerate() {
                    match self.write(&[e]) {
                        Ok(()) => {}
                        Err(Failure::Transient(reason)) => {
                            // Rows written so far are kept; the retry skips them by insert id.
                            return Outcome::Retry {
                                reason,
                                after: None,
                            };
                        }
                        Err(
                            Failure::Data(reason)
                            | Failure::Permanent(reason)
                            | Failure::Duplicate(reason),
                        ) => {
                            failed.push((i, reason));
                        }
                    }
                }
                if failed.is_empty() {
                    Outcome::Delivered
                } else {
                    Outcome::Partial { failed }
                }
            }
        }
    }

    /// Deletes the subjects' rows from every table (events, updates, profiles, memberships,
    /// links; as anonymous id too), in one transaction. Group profiles are the group's, not a
    /// subject's, and stay.
    fn erase(&mut self, distinct_ids: &[String]) -> Erasure {
        let result = self.in_transaction_again(|tx, s| {
            let mut n = 0;
            for sql in [
                format!("DELETE FROM {s}.events WHERE distinct_id = ANY($1)"),
                format!(
                    "DELETE FROM {s}.updates WHERE distinct_id = ANY($1) OR anonymous_id = ANY($1)"
                ),
                format!("DELETE FROM {s}.profiles WHERE distinct_id = ANY($1)"),
                format!("DELETE FROM {s}.memberships WHERE distinct_id = ANY($1)"),
                format!(
                    "DELETE FROM {s}.links WHERE distinct_id = ANY($1) OR anonymous_id = ANY($1)"
                ),
            ] {
                n += tx.execute(&sql, &[&distinct_ids])?;
            }
            Ok(n)
        });
        match result {
            Ok(_) => Erasure::Erased,
            Err(reason) => Erasure::Failed { reason },
        }
    }

    /// The subjects' rows of every table, each a JSON object with its `table`: events and
    /// updates by time, then profile traits, memberships and links.
    fn retrieve(&mut self, distinct_ids: &[String]) -> Access {
        let source = format!(
            "PostgreSQL {} schema {}",
            self.target
                .config
                .get_dbname()
                .unwrap_or("(default database)"),
            self.target.schema
        );
        let result = self.in_transaction_again(|tx, s| {
            let mut records = Vec::new();
            for (table, filter, order) in [
                ("events", "distinct_id = ANY($1)", "time, insert_id"),
                (
                    "updates",
                    "distinct_id = ANY($1) OR anonymous_id = ANY($1)",
                    "time, insert_id",
                ),
                ("profiles", "distinct_id = ANY($1)", "distinct_id, trait"),
                (
                    "memberships",
                    "distinct_id = ANY($1)",
                    "joined_at, group_kind, group_id",
                ),
                (
                    "links",
                    "distinct_id = ANY($1) OR anonymous_id = ANY($1)",
                    "linked_at, anonymous_id",
                ),
            ] {
                let sql = format!(
                    "SELECT (jsonb_build_object('table', '{table}') || to_jsonb(t))::text \
                     FROM {s}.{table} t WHERE {filter} ORDER BY {order}"
                );
                for row in tx.query(&sql, &[&distinct_ids])? {
                    records.push(row.try_get::<_, String>(0)?);
                }
            }
            Ok(records)
        });
        match result {
            Ok(records) => Access::Records {
                records,
                source: Some(source),
            },
            Err(reason) => Access::Failed { reason },
        }
    }

    /// Deletes every row whose time (`time`, `updated_at`, `joined_at`, `linked_at`) is
    /// before `before`, from every table, in one transaction.
    fn prune(&mut self, before: Timestamp) -> Pruned {
        let cutoff = before.unix_millis();
        let result = self.in_transaction_again(|tx, s| {
            let mut n = 0;
            for (table, column) in [
                ("events", "time"),
                ("updates", "time"),
                ("profiles", "updated_at"),
                ("groups", "updated_at"),
                ("memberships", "joined_at"),
                ("links", "linked_at"),
            ] {
                let sql = format!("DELETE FROM {s}.{table} WHERE {column} < {}", at("$1"));
                n += tx.execute(&sql, &[&cutoff])?;
            }
            Ok(n)
        });
        match result {
            Ok(records) => Pruned::Removed { records, before },
            Err(reason) => Pruned::Failed { reason },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_fields_are_postgresqls_wire_forms() {
        // 2000-01-01T00:00:00.001Z is 1000 µs after PostgreSQL's epoch; the Unix epoch before it.
        assert_eq!(pg_micros(946_684_800_001), 1000);
        assert_eq!(pg_micros(0), -946_684_800_000_000);
        assert_eq!(
            pg_micros(i64::MAX),
            i64::MAX - 1,
            "out of range, never infinity"
        );

        let mut out = Vec::new();
        text_array(&mut out, ["ab", "c"].into_iter()).expect("fits");
        let int = |n: i32| n.to_be_bytes().to_vec();
        let expected = [
            int(31), // the field's length: 5 headers, 2 + 4 and 1 + 4
            int(1),  // one dimension
            int(0),  // no NULLs
            int(25), // of text
            int(2),  // two elements
            int(1),  // from index 1
            int(2),
            b"ab".to_vec(),
            int(1),
            b"c".to_vec(),
        ]
        .concat();
        assert_eq!(out, expected);

        out.clear();
        text_array(&mut out, std::iter::empty()).expect("fits");
        assert_eq!(
            out,
            [int(12), int(0), int(0), int(25)].concat(),
            "the empty array"
        );

        out.clear();
        jsonb_field(&mut out, br#"{"a":1}"#).expect("fits");
        assert_eq!(out, [int(8), vec![1], br#"{"a":1}"#.to_vec()].concat());
        assert_eq!(BINARY_HEADER.len(), 19);
    }

    #[test]
    fn debug_and_errors_never_show_the_password() {
        let sink =
            Postgres::new("postgresql://app:s3cret-pw@127.0.0.1:5999/warehouse").expect("valid");
        let debug = format!("{sink:?}");
        assert!(!debug.contains("s3cret-pw"), "{debug}");
        assert!(debug.contains("warehouse"), "{debug}");
        let err = Postgres::new("postgresql://app:s3cret-pw@127.0.0.1:notaport/x")
            .expect_err("invalid port");
        assert!(!err.to_string().contains("s3cret-pw"), "{err}");
        assert!(matches!(
            Postgres::new("postgresql://127.0.0.1/x?sslmode=require"),
            Err(PostgresError::TlsRequired)
        ));
        assert!(matches!(
            Postgres::new("postgresql://127.0.0.1/x").and_then(|p| p.schema("no-dashes")),
            Err(PostgresError::InvalidSchema(_))
        ));
    }
}
