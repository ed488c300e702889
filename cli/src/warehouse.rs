//! `trackplan schema --sql postgres PLAN`: the PostgreSQL warehouse's tables (the runtime's own
//! DDL, which `sinks::Postgres` also runs on connect) and, from the plan, one view per event
//! with its properties as typed columns, and comments naming each table's retention.
//!
//! One `events` table with typed common columns and the properties as `jsonb`, rather than a
//! table per event: a plan's events change with every version (added, renamed, properties
//! added), and a table per event would need a migration for each change and a `DELETE` per
//! table for every erasure and prune. The views give each event its typed columns without
//! fixing the storage to one plan version.

use trackplan_model::{DestinationKind, Plan, Property, PropertyType, Transform};
use trackplan_runtime::sinks::{InvalidSchemaName, postgres_ddl};

use crate::stores;

/// The SQL for `plan`'s warehouse in PostgreSQL schema `schema`.
pub fn postgres(plan: &Plan, schema: &str) -> Result<String, InvalidSchemaName> {
    let tables = postgres_ddl(schema)?;
    let label = format!("{}@{}", plan.name.value, plan.version.value);
    let mut out = format!(
        "-- The PostgreSQL warehouse of plan {label}, written by `trackplan schema --sql postgres`.\n\
         -- Idempotent: safe to apply again after the plan changes (the views are replaced).\n\n"
    );
    out.push_str(&tables);
    let retention: Vec<String> = plan
        .destinations
        .iter()
        .filter(|d| d.kind.value == DestinationKind::Postgres)
        .map(|d| format!("{}: {}", d.id.value, stores::enforcement(plan, d)))
        .collect();
    let note = if retention.is_empty() {
        format!("trackplan events of plan {label}")
    } else {
        format!(
            "trackplan events of plan {label}; retention per destination: {}",
            retention.join("; ")
        )
    };
    out.push_str(&format!(
        "\nCOMMENT ON TABLE {schema}.events IS {};\n",
        literal(&note)
    ));
    out.push_str("\n-- One view per event: its properties as typed columns.\n");
    let warehouses: Vec<_> = plan
        .destinations
        .iter()
        .filter(|d| d.kind.value == DestinationKind::Postgres)
        .collect();
    // The events a `postgres` destination receives; every event when the plan names none.
    let stored = plan
        .events
        .iter()
        .filter(|e| warehouses.is_empty() || warehouses.iter().any(|d| stores::routed(e, d)));
    for e in stored {
        let view = ident(&format!("event_{}", e.id.value));
        out.push_str(&format!(
            "CREATE OR REPLACE VIEW {schema}.{view} AS\nSELECT insert_id, time, distinct_id, plan, purposes"
        ));
        for p in &e.properties {
            out.push_str(&format!(",\n    {} AS {}", column(p), ident(&p.id.value)));
        }
        out.push_str(&format!(
            "\nFROM {schema}.events WHERE event = {};\n",
            literal(&e.name.value)
        ));
        if let Some(d) = &e.description {
            out.push_str(&format!(
                "COMMENT ON VIEW {schema}.{view} IS {};\n",
                literal(&d.value)
            ));
        }
    }
    Ok(out)
}

/// The typed column of a property, from the `jsonb` properties, as the destination receives
/// it (after its transform: an HMAC or a bucket label is text).
fn column(p: &Property) -> String {
    let key = literal(&p.name.value);
    match (&p.transform.value, &p.ty.value) {
        (Transform::Hmac | Transform::Bucket { .. }, _) => format!("properties->>{key}"),
        (_, PropertyType::Integer) => format!("(properties->>{key})::bigint"),
        (_, PropertyType::Number) => format!("(properties->>{key})::double precision"),
        (_, PropertyType::Boolean) => format!("(properties->>{key})::boolean"),
        (_, PropertyType::Timestamp) => format!("(properties->>{key})::timestamptz"),
        (_, PropertyType::List { .. }) => format!("properties->{key}"),
        (_, PropertyType::String | PropertyType::Enum { .. }) => format!("properties->>{key}"),
    }
}

/// A SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_identifiers_are_quoted() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
    }
}
