//! `trackplan subject export|forget`: a data subject's access (GDPR Art. 15) and erasure
//! (Art. 17) requests on the embedded NDJSON store.
//!
//! The store holds one event per line with the subject's *distinct id*, never the raw id. The
//! command recomputes the distinct id from the raw id exactly as the tracker does
//! ([`trackplan_runtime::Key::pseudonymize`]) and matches the `distinct_id` field of each line.
//!
//! An encrypted store (`Ndjson::create_encrypted`, magic `TPNDJSE1`) is read with the keys
//! given (`--key-env`, `--encryption-key-env`); `forget` rewrites it keeping the other
//! lines' sealed records byte for byte. A line sealed with a key not given is an error, and
//! the file is left as it was.
//!
//! `forget` rewrites the store atomically: the kept lines, byte for byte, go to a temporary file
//! in the same directory, which is synced and renamed over the original, so a crash leaves
//! either the old or the new file, never a half-written one. Lines that are not JSON are kept
//! (and counted): nothing is deleted that could not be read. Stop the process that appends to
//! the store first (or use `Tracker::forget` in it): lines appended during the rewrite would be
//! lost.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// The keys an encrypted store is opened with.
#[cfg(feature = "encryption")]
pub type Keys = trackplan_runtime::crypt::Keyring;
/// The keys an encrypted store is opened with: none in a build without `encryption`.
#[cfg(not(feature = "encryption"))]
pub type Keys = NoKeys;

/// Stands in for the keyring without the `encryption` feature: never built.
#[cfg(not(feature = "encryption"))]
#[derive(Debug)]
pub enum NoKeys {}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum SubjectError {
    /// The store is encrypted and no key was given (or this build cannot decrypt).
    #[error(
        "{path} is an encrypted NDJSON store: give the key it was sealed with (--key-env,          --encryption-key-env); nothing was changed"
    )]
    Encrypted {
        /// The file.
        path: String,
    },
    /// Reading or writing the store failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: io::Error,
    },
}

/// What a request found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Lines of the subject.
    pub matched: usize,
    /// Lines of other subjects.
    pub other: usize,
    /// Lines that are not JSON objects with a `distinct_id` (kept by `forget`).
    pub unreadable: usize,
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> SubjectError + '_ {
    move |source| SubjectError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Whether a line is an event of `distinct_id`; `None` when it cannot be read.
fn belongs(line: &[u8], distinct_id: &str) -> Option<bool> {
    let text = std::str::from_utf8(line).ok()?.trim();
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    Some(v.get("distinct_id")?.as_str()? == distinct_id)
}

/// Whether the file is an encrypted store (magic `TPNDJSE1`).
fn is_sealed(path: &Path) -> Result<bool, SubjectError> {
    let mut head = [0u8; 8];
    let mut file = File::open(path).map_err(io_err(path))?;
    let read = io::Read::read_exact(&mut file, &mut head);
    Ok(read.is_ok() && &head == b"TPNDJSE1")
}

/// The opened encrypted store at `path`, or `None` for a plain one.
#[cfg(feature = "encryption")]
fn sealed(
    path: &Path,
    keys: Option<&Keys>,
) -> Result<Option<trackplan_runtime::crypt::SealedNdjson>, SubjectError> {
    if !is_sealed(path)? {
        return Ok(None);
    }
    let keys = keys.ok_or_else(|| SubjectError::Encrypted {
        path: path.display().to_string(),
    })?;
    trackplan_runtime::crypt::SealedNdjson::read(path, keys)
        .map(Some)
        .map_err(io_err(path))
}

/// Without the `encryption` feature an encrypted store is refused.
#[cfg(not(feature = "encryption"))]
fn sealed(path: &Path, _: Option<&Keys>) -> Result<Option<std::convert::Infallible>, SubjectError> {
    if is_sealed(path)? {
        return Err(SubjectError::Encrypted {
            path: path.display().to_string(),
        });
    }
    Ok(None)
}

/// Lines of the file, each with its line ending as stored.
fn lines(path: &Path) -> Result<Vec<Vec<u8>>, SubjectError> {
    let file = File::open(path).map_err(io_err(path))?;
    let mut reader = BufReader::new(file);
    let mut out = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = reader.read_until(b'\n', &mut line).map_err(io_err(path))?;
        if n == 0 {
            return Ok(out);
        }
        out.push(line);
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Writes the subject's events to `out`, one JSON object per line, as stored.
pub fn export(
    path: &Path,
    distinct_id: &str,
    keys: Option<&Keys>,
    out: &mut dyn Write,
) -> Result<Summary, SubjectError> {
    let mut summary = Summary::default();
    #[cfg_attr(not(feature = "encryption"), allow(unused_mut))]
    let mut all = None;
    #[cfg(feature = "encryption")]
    if let Some(store) = sealed(path, keys)? {
        all = Some(store.lines().map(<[u8]>::to_vec).collect::<Vec<_>>());
    }
    #[cfg(not(feature = "encryption"))]
    if let Some(never) = sealed(path, keys)? {
        match never {}
    }
    let all = match all {
        Some(all) => all,
        None => lines(path)?,
    };
    for line in all {
        if is_blank(&line) {
            continue;
        }
        match belongs(&line, distinct_id) {
            Some(true) => {
                summary.matched += 1;
                out.write_all(&line)
                    .and_then(|()| {
                        if line.ends_with(b"\n") {
                            Ok(())
                        } else {
                            out.write_all(b"\n")
                        }
                    })
                    .map_err(io_err(Path::new("standard output")))?;
            }
            Some(false) => summary.other += 1,
            None => summary.unreadable += 1,
        }
    }
    Ok(summary)
}

/// Removes the subject's events from the store, atomically.
pub fn forget(
    path: &Path,
    distinct_id: &str,
    keys: Option<&Keys>,
) -> Result<Summary, SubjectError> {
    let mut summary = Summary::default();
    #[cfg(feature = "encryption")]
    if let Some(store) = sealed(path, keys)? {
        for line in store.lines() {
            match belongs(line, distinct_id) {
                Some(true) => summary.matched += 1,
                Some(false) => summary.other += 1,
                None => summary.unreadable += 1,
            }
        }
        if summary.matched > 0 {
            store
                .rewrite(path, |line| belongs(line, distinct_id) != Some(true))
                .map_err(io_err(path))?;
        }
        return Ok(summary);
    }
    #[cfg(not(feature = "encryption"))]
    if let Some(never) = sealed(path, keys)? {
        match never {}
    }
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for line in lines(path)? {
        if is_blank(&line) {
            kept.push(line);
            continue;
        }
        match belongs(&line, distinct_id) {
            Some(true) => summary.matched += 1,
            Some(false) => {
                summary.other += 1;
                kept.push(line);
            }
            None => {
                summary.unreadable += 1;
                kept.push(line);
            }
        }
    }
    if summary.matched == 0 {
        return Ok(summary);
    }

    let temp = temp_path(path);
    let result = write_replacement(path, &temp, &kept);
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result.map(|()| summary)
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.trackplan-forget-{}", std::process::id()))
}

fn write_replacement(path: &Path, temp: &Path, kept: &[Vec<u8>]) -> Result<(), SubjectError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temp)
        .map_err(io_err(temp))?;
    for line in kept {
        file.write_all(line).map_err(io_err(temp))?;
    }
    file.sync_all().map_err(io_err(temp))?;
    let permissions = fs::metadata(path).map_err(io_err(path))?.permissions();
    fs::set_permissions(temp, permissions).map_err(io_err(temp))?;
    fs::rename(temp, path).map_err(io_err(path))?;
    // Make the rename itself durable where the platform allows syncing a directory.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_matched_on_distinct_id_only() {
        assert_eq!(
            belongs(br#"{"distinct_id":"k:ab","event":"x"}"#, "k:ab"),
            Some(true)
        );
        assert_eq!(
            belongs(
                br#"{"distinct_id":"k:cd","properties":{"distinct_id":"k:ab"}}"#,
                "k:ab"
            ),
            Some(false),
            "a property that happens to hold the id is not the subject"
        );
        assert_eq!(belongs(b"not json", "k:ab"), None);
        assert_eq!(belongs(br#"{"event":"x"}"#, "k:ab"), None);
    }
}
