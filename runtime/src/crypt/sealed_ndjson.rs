//! The sealed NDJSON file: `TPNDJSE1`, then one framed, sealed record per NDJSON line.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;

use super::Keyring;
use crate::frame;

/// The magic of a sealed NDJSON file.
pub(crate) const MAGIC: &[u8; 8] = b"TPNDJSE1";
/// Associated data of its records.
pub(crate) const AAD: &[u8] = b"trackplan ndjson";

/// An encrypted NDJSON file, read with its keyring: each line in order, with the sealed
/// bytes it is stored as (so a rewrite keeps the other lines byte for byte, under the key
/// that sealed them).
///
/// The file is the 8 bytes `TPNDJSE1`, then per line
/// `length: u32 LE | crc32: u32 LE | key id: 4 | nonce: 24 | ciphertext | tag: 16`, the
/// plaintext being the JSON line without its newline (see `docs/encryption.md`). Written by
/// [`Ndjson::create_encrypted`](crate::sinks::Ndjson::create_encrypted); read here by
/// `trackplan subject export|forget --key-env`.
#[derive(Debug)]
pub struct SealedNdjson {
    bytes: Vec<u8>,
    /// Plaintext line and the range of its framed record in `bytes`.
    lines: Vec<(Vec<u8>, std::ops::Range<usize>)>,
}

impl SealedNdjson {
    /// Whether the file at `path` is a sealed NDJSON file (by its magic).
    pub fn is_sealed(path: &Path) -> io::Result<bool> {
        let mut head = [0u8; 8];
        let mut file = File::open(path)?;
        let mut n = 0;
        while n < head.len() {
            match file.read(&mut head[n..])? {
                0 => break,
                m => n += m,
            }
        }
        Ok(n == head.len() && &head == MAGIC)
    }

    /// Reads and opens every line. A line sealed with a key `keys` lacks, or altered, is an
    /// error naming the key id; a record torn at the end (a crash mid-write) ends the file.
    pub fn read(path: &Path, keys: &Keyring) -> io::Result<SealedNdjson> {
        let mut bytes = Vec::new();
        File::open(path)?.read_to_end(&mut bytes)?;
        if bytes.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not an encrypted NDJSON file (it does not start with TPNDJSE1)",
            ));
        }
        let mut lines = Vec::new();
        let mut at = MAGIC.len();
        while at < bytes.len() {
            let Ok((taken, sealed)) = frame::split(&bytes[at..]) else {
                tracing::warn!(
                    file = %path.display(),
                    offset = at,
                    "ndjson: torn or corrupt sealed record; the records after it are not read"
                );
                break;
            };
            let plain = keys
                .open(AAD, sealed)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            lines.push((plain, at..at + taken));
            at += taken;
        }
        Ok(SealedNdjson { bytes, lines })
    }

    /// The lines (JSON text without the newline), in file order.
    pub fn lines(&self) -> impl Iterator<Item = &[u8]> {
        self.lines.iter().map(|(line, _)| line.as_slice())
    }

    /// Replaces the file at `path` with the lines `keep` accepts, their sealed bytes as they
    /// were: a temporary file in the same directory, synced, renamed over `path`. Returns how
    /// many lines were left out.
    pub fn rewrite(&self, path: &Path, mut keep: impl FnMut(&[u8]) -> bool) -> io::Result<usize> {
        let mut out = Vec::with_capacity(self.bytes.len());
        out.extend_from_slice(MAGIC);
        let mut removed = 0;
        for (line, range) in &self.lines {
            if keep(line) {
                out.extend_from_slice(&self.bytes[range.clone()]);
            } else {
                removed += 1;
            }
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "events.ndjson".into());
        let tmp = path.with_file_name(format!(".{name}.trackplan-erase"));
        let mut file = File::create(&tmp)?;
        file.write_all(&out)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(removed)
    }
}

/// Seals each line of `plain` (newline-terminated) as one framed record, appended to `out`.
pub(crate) fn seal_lines(keys: &Keyring, plain: &[u8], out: &mut Vec<u8>) {
    for line in plain.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let start = frame::begin(out);
        keys.seal(AAD, line, out);
        frame::finish(out, start);
    }
}
