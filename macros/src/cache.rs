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

/// `[package.metadata.trackplan] plan` per Cargo.toml, keyed by its modification time: every
/// derive without `plan = "…"` asks for it, and the manifest is read once, not per derive.
static DEFAULT_PLANS: Mutex<Option<HashMap<PathBuf, (SystemTime, String)>>> = Mutex::new(None);

/// The calling crate's directory.
fn manifest_dir() -> Result<PathBuf, LoadError> {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or(LoadError::NoManifestDir)
}

/// The plan `written` (relative to the calling crate), from the cache when unchanged.
pub(crate) fn load(written: &str) -> Result<Arc<LoadedPlan>, LoadError> {
    load_from(&manifest_dir()?, written)
}

fn load_from(manifest_dir: &Path, written: &str) -> Result<Arc<LoadedPlan>, LoadError> {
    let path = trackplan_codegen::resolve(manifest_dir, written)?;
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
        default_plan_of(&manifest_dir()?)
    }
}

fn default_plan_of(manifest_dir: &Path) -> Result<String, LoadError> {
    let manifest = manifest_dir.join("Cargo.toml");
    let modified = modified(&manifest);
    // As above: inserts are single calls, so a poisoned lock is still consistent.
    let mut cache = DEFAULT_PLANS.lock().unwrap_or_else(PoisonError::into_inner);
    if let (Some(modified), Some((cached_at, plan))) =
        (modified, cache.as_ref().and_then(|c| c.get(&manifest)))
        && *cached_at == modified
    {
        return Ok(plan.clone());
    }
    let plan = trackplan_codegen::default_plan(manifest_dir)?;
    if let Some(modified) = modified {
        cache
            .get_or_insert_with(HashMap::new)
            .insert(manifest, (modified, plan.clone()));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const PLAN: &str = "[plan]\nname = \"cached\"\nversion = 1\n";

    #[test]
    fn unchanged_plans_come_from_the_cache_and_edited_ones_are_read_again() {
        let dir = std::env::temp_dir().join(format!("trackplan-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("plan.toml");
        std::fs::write(&file, PLAN).unwrap();

        let first = load_from(&dir, "plan.toml").unwrap();
        let second = load_from(&dir, "plan.toml").unwrap();
        assert!(Arc::ptr_eq(&first, &second), "read twice");
        assert_eq!(first.plan.as_ref().unwrap().version.value, 1);

        // A newer modification time means the plan changed.
        std::fs::write(&file, PLAN.replace("version = 1", "version = 2")).unwrap();
        let later = SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(later)
            .unwrap();
        let third = load_from(&dir, "plan.toml").unwrap();
        assert!(!Arc::ptr_eq(&first, &third), "served a stale plan");
        assert_eq!(third.plan.as_ref().unwrap().version.value, 2);

        // The same file under another written name is named as written in messages.
        let renamed = load_from(&dir, "./plan.toml").unwrap();
        assert_eq!(renamed.source.name, "./plan.toml");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_manifest_plan_is_read_once_and_again_after_an_edit() {
        let dir = std::env::temp_dir().join(format!("trackplan-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = dir.join("Cargo.toml");
        let write = |plan: &str, at: SystemTime| {
            let text = format!(
                "[package]\nname = \"x\"\n\n[package.metadata.trackplan]\nplan = \"{plan}\"\n"
            );
            std::fs::write(&manifest, text).unwrap();
            std::fs::File::options()
                .write(true)
                .open(&manifest)
                .unwrap()
                .set_modified(at)
                .unwrap();
        };
        let at = SystemTime::now() - Duration::from_secs(60);
        write("plans/a.toml", at);
        assert_eq!(default_plan_of(&dir).unwrap(), "plans/a.toml");

        // Same modification time: served from the cache, the file is not read again.
        write("plans/b.toml", at);
        assert_eq!(default_plan_of(&dir).unwrap(), "plans/a.toml");

        // A newer modification time means the manifest changed.
        write("plans/b.toml", at + Duration::from_secs(30));
        assert_eq!(default_plan_of(&dir).unwrap(), "plans/b.toml");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
