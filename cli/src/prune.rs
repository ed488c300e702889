//! `trackplan prune`: the plan's retention on the stores of a stopped application (NDJSON
//! files, the spool), through the runtime's own prune (`Sink::prune`, `Spool::prune`), so the
//! CLI and `Tracker::prune` remove exactly the same records.

use std::path::{Path, PathBuf};

use trackplan_model::Plan;
use trackplan_runtime::retention::{Pruned, cutoff};
use trackplan_runtime::sinks::Ndjson;
use trackplan_runtime::spool::Spool;
use trackplan_runtime::{Sink, Timestamp};

use crate::stores;

/// Why a prune could not run.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    #[error("--ndjson {0}: expected DESTINATION=FILE")]
    Argument(String),
    #[error("--ndjson {0}: the plan has no destination `{0}`")]
    NoDestination(String),
    #[error("cannot read {0}: no such file")]
    Missing(PathBuf),
    #[error("{path}: {reason}")]
    Failed { path: String, reason: String },
    #[error("the spool {path}: {source}")]
    Spool {
        path: String,
        source: trackplan_runtime::error::SpoolError,
    },
    #[error("nothing to prune: give --ndjson DESTINATION=FILE or --spool DIR")]
    Nothing,
}

/// The cutoff of destination `id` as of `now`; `None` without retention.
fn cutoff_of(plan: &Plan, id: &str, now: Timestamp) -> Option<Timestamp> {
    let d = plan.destinations.iter().find(|d| d.id.value == id)?;
    stores::retention_days(plan, d).map(|days| cutoff(days, now))
}

/// Prunes each `DESTINATION=FILE` and the spool; returns one line per store.
pub fn run(
    plan: &Plan,
    ndjson: &[String],
    spool: Option<&Path>,
) -> Result<Vec<String>, PruneError> {
    if ndjson.is_empty() && spool.is_none() {
        return Err(PruneError::Nothing);
    }
    let now = Timestamp::now();
    let mut lines = Vec::new();
    for arg in ndjson {
        let (id, file) = arg
            .split_once('=')
            .ok_or_else(|| PruneError::Argument(arg.clone()))?;
        let d = plan
            .destinations
            .iter()
            .find(|d| d.id.value == id)
            .ok_or_else(|| PruneError::NoDestination(id.to_owned()))?;
        let path = PathBuf::from(file);
        if !path.is_file() {
            return Err(PruneError::Missing(path));
        }
        let Some(days) = stores::retention_days(plan, d) else {
            lines.push(format!(
                "{id}: {file} kept whole (no purpose of the destination declares retention_days)"
            ));
            continue;
        };
        let before = cutoff(days, now);
        let mut store = Ndjson::append(&path).map_err(|e| PruneError::Failed {
            path: file.to_owned(),
            reason: e.to_string(),
        })?;
        match store.prune(before) {
            Pruned::Removed { records, .. } => lines.push(format!(
                "{id}: removed {records} record(s) tracked before {} ({days} days) from {file}",
                before.iso8601().as_str()
            )),
            Pruned::Failed { reason } => {
                return Err(PruneError::Failed {
                    path: file.to_owned(),
                    reason,
                });
            }
            other => lines.push(format!("{id}: {file}: {other:?}")),
        }
    }
    if let Some(dir) = spool {
        let path = dir.display().to_string();
        let opened = Spool::open(dir).map_err(|source| PruneError::Spool {
            path: path.clone(),
            source,
        })?;
        let removed = opened
            .prune(|id| cutoff_of(plan, id, now))
            .map_err(|source| PruneError::Spool {
                path: path.clone(),
                source,
            })?;
        lines.push(format!(
            "spool {path}: removed {removed} pending event(s) older than their destination's retention"
        ));
    }
    Ok(lines)
}
