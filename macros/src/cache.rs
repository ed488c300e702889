//! Plans parsed once per compiler process, keyed by canonical path and modification time.
//!
//! A crate with one `plan!` and many derives reads and checks its plan once; an edited plan
//! (newer modification time) is read again, which matters to rust-analyzer's long-lived
//! proc-macro server.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use trackplan_codegen::{LoadError, LoadedPlan, Loader};

type Entry = (SystemTime, String, Arc<LoadedPlan>);

static PLANS: Mutex<Option<HashMap<PathBuf, Entry>>> = Mutex::new(None);

/// The calling crate's directory.
fn manifest_dir() -> Result<PathBuf, LoadError> {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or(LoadError::NoManifestDir)
}

/// The plan `written` (relative to the calling crate), from the cache when unchanged.
pub(crate) fn load(written: &str) -> Result<Arc<LoadedPlan>, LoadError> {
    let path = trackplan_codegen::resolve(&manifest_dir()?, written)?;
    let modified = modified(&path);
    // A panic while holding the lock cannot leave the map half-written (inserts are single
    // calls), so a poisoned lock is still usable.
    let mut plans = PLANS.lock().unwrap_or_else(PoisonError::into_inner);
    if let (Some(modified), Some((cached_at, name, loaded))) =
        (modified, plans.as_ref().and_then(|p| p.get(&path)))
        && *cached_at == modified
        && name == written
    {
        return Ok(Arc::clone(loaded));
    }
    let loaded = Arc::new(LoadedPlan::read(path.clone(), written)?);
    if let Some(modified) = modified {
        plans
            .get_or_insert_with(HashMap::new)
            .insert(path, (modified, written.to_owned(), Arc::clone(&loaded)));
    }
    Ok(loaded)
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The loader the derives use: cached plans, default plan from the crate's Cargo.toml.
pub(crate) struct CachedLoader;

impl Loader for CachedLoader {
    fn load(&self, written: &str) -> Result<Arc<LoadedPlan>, LoadError> {
        load(written)
    }

    fn default_plan(&self) -> Result<String, LoadError> {
        trackplan_codegen::default_plan(&manifest_dir()?)
    }
}
