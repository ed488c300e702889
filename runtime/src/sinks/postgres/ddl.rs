//! The warehouse's tables, as SQL: one source for [`Postgres`](super::Postgres) (which creates
//! them on connect unless told not to) and for `trackplan schema --sql postgres` (which adds
//! the plan's typed views and retention notes).

/// Why a name cannot be a PostgreSQL schema of the warehouse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a plain PostgreSQL identifier (1 to 63 of a-z, 0-9 and _, not starting with a digit)"
)]
pub struct InvalidSchemaName(pub String);

/// Checks that `name` is a plain identifier (`[a-z_][a-z0-9_]{0,62}`), so it needs no quoting
/// and reads the same in every statement.
pub fn check_schema_name(name: &str) -> Result<(), InvalidSchemaName> {
    let mut chars = name.chars();
    let plain = matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && name.len() <= 63;
    if plain {
        Ok(())
    } else {
        Err(InvalidSchemaName(name.to_owned()))
    }
}

/// The SQL that creates the warehouse's tables in schema `schema` (idempotent: `IF NOT
/// EXISTS` throughout, so it runs on every connect).
///
/// - `events`: one row per event, typed common columns and the properties as `jsonb`;
///   the primary key is the insert id, so a retried or replayed batch adds nothing twice.
/// - `updates`: every profile, group, join and link message as received, by insert id; the
///   tables below are kept from it, each update applied once.
/// - `profiles` (one row per subject and trait), `groups` (per group and trait),
///   `memberships` (subject in group), `links` (anonymous id to identified subject).
///
/// Every table has a time column (`time`, `updated_at`, `joined_at`, `linked_at`) that the
/// retention prune deletes by, and every table about a subject has its `distinct_id`, which
/// erasure and access go by.
pub fn postgres_ddl(schema: &str) -> Result<String, InvalidSchemaName> {
    check_schema_name(schema)?;
    Ok(TEMPLATE.replace("{s}", schema))
}

const TEMPLATE: &str = "\
CREATE SCHEMA IF NOT EXISTS {s};

-- One row per event (insert id = Mixpanel $insert_id = Segment messageId).
-- The insert id compares bytewise (COLLATE \"C\"): equality is the same in every collation,
-- and the primary key's comparisons skip the database's locale rules.
CREATE TABLE IF NOT EXISTS {s}.events (
    insert_id   text        COLLATE \"C\" PRIMARY KEY,
    event       text        NOT NULL,
    time        timestamptz NOT NULL,
    distinct_id text        NOT NULL,
    plan        text        NOT NULL,
    purposes    text[]      NOT NULL,
    groups      jsonb,
    properties  jsonb       NOT NULL
);
-- Erasure and access go by subject (a btree: a hash index costs less per insert of a new
-- pseudonym, but walks a growing chain for each event of a subject it holds already);
-- retention by time. Rows arrive in time order, so a BRIN index (a few pages for millions of
-- rows) serves the prune at almost no cost per insert.
CREATE INDEX IF NOT EXISTS events_distinct_id ON {s}.events (distinct_id);
CREATE INDEX IF NOT EXISTS events_time ON {s}.events USING brin (time);

-- Every profile, group, join and link message as received; the tables below are kept from it.
CREATE TABLE IF NOT EXISTS {s}.updates (
    insert_id    text        COLLATE \"C\" PRIMARY KEY,
    kind         text        NOT NULL,
    op           text,
    time         timestamptz NOT NULL,
    distinct_id  text        NOT NULL,
    group_kind   text,
    group_id     jsonb,
    anonymous_id text,
    plan         text        NOT NULL,
    purposes     text[]      NOT NULL,
    traits       jsonb       NOT NULL
);
CREATE INDEX IF NOT EXISTS updates_distinct_id ON {s}.updates (distinct_id);
CREATE INDEX IF NOT EXISTS updates_anonymous_id ON {s}.updates (anonymous_id);
CREATE INDEX IF NOT EXISTS updates_time ON {s}.updates (time);

-- Each subject's traits, one row per trait.
CREATE TABLE IF NOT EXISTS {s}.profiles (
    distinct_id text        NOT NULL,
    trait       text        NOT NULL,
    value       jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (distinct_id, trait)
);
CREATE INDEX IF NOT EXISTS profiles_updated_at ON {s}.profiles (updated_at);

-- Each group's traits (group_id is the plan's key value as JSON: \"acme\" or 42).
CREATE TABLE IF NOT EXISTS {s}.groups (
    group_kind text        NOT NULL,
    group_id   jsonb       NOT NULL,
    trait      text        NOT NULL,
    value      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (group_kind, group_id, trait)
);
CREATE INDEX IF NOT EXISTS groups_updated_at ON {s}.groups (updated_at);

-- Which subject belongs to which group.
CREATE TABLE IF NOT EXISTS {s}.memberships (
    distinct_id text        NOT NULL,
    group_kind  text        NOT NULL,
    group_id    jsonb       NOT NULL,
    joined_at   timestamptz NOT NULL,
    PRIMARY KEY (distinct_id, group_kind, group_id)
);
CREATE INDEX IF NOT EXISTS memberships_joined_at ON {s}.memberships (joined_at);

-- Identity stitching: the anonymous id a subject had before it was identified.
CREATE TABLE IF NOT EXISTS {s}.links (
    anonymous_id text        PRIMARY KEY,
    distinct_id  text        NOT NULL,
    linked_at    timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS links_distinct_id ON {s}.links (distinct_id);
CREATE INDEX IF NOT EXISTS links_linked_at ON {s}.links (linked_at);
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        for ok in ["trackplan", "_x", "a1_b", &"a".repeat(63)] {
            assert_eq!(check_schema_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "1a",
            "A",
            "a-b",
            "a b",
            "a;drop",
            "\"q\"",
            &"a".repeat(64),
        ] {
            assert!(check_schema_name(bad).is_err(), "{bad}");
        }
        let ddl = postgres_ddl("analytics").expect("valid");
        assert!(ddl.contains("CREATE TABLE IF NOT EXISTS analytics.events ("));
        assert!(!ddl.contains("{s}"));
    }
}
