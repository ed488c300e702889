//! Newline-delimited JSON: a file ([`Ndjson`]) or standard output ([`Stdout`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::message::{GroupRef, Message};
use crate::retention::Pruned;
use crate::sink::{Access, Envelope, Erasure, Outcome, Sink, SinkDeclaration};
use crate::time::Timestamp;
use crate::value::write_json_str;

/// Appends one envelope as an NDJSON line (SPEC §6), newline included. Every record starts
/// with its `type`; an event's record is otherwise the SPEC's, with the event's groups (if
/// it carries any) before its properties:
///
/// ```text
/// {"type":"track","event":"Signup Completed","time":1795911124000,"insert_id":"…",
///  "distinct_id":"…","plan":"shop@3","purposes":["product_analytics"],
///  "groups":[{"kind":"company","key":"company_id","id":"acme"}],"properties":{…}}
/// {"type":"profile","op":"set","time":…,"insert_id":"…","distinct_id":"…","plan":"shop@3",
///  "purposes":[…],"traits":{"Plan Tier":"pro"}}
/// {"type":"profile","op":"unset",…,"traits":["Plan Tier"]}
/// {"type":"join",…,"group":{"kind":"company","key":"company_id","id":"acme"}}
/// {"type":"group","op":"set",…,"group":{…},"traits":{"Seats":40}}
/// {"type":"link",…,"distinct_id":"<identified>","anonymous_id":"<anonymous>"}
/// ```
pub(crate) fn write_ndjson_line(e: &Envelope, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(e.message.kind().as_bytes());
    out.push(b'"');
    match &e.message {
        Message::Track { .. } => {
            out.extend_from_slice(b",\"event\":");
            write_json_str(out, e.event);
        }
        Message::Profile { op } | Message::Group { op, .. } => {
            out.extend_from_slice(b",\"op\":\"");
            out.extend_from_slice(op.key().as_bytes());
            out.push(b'"');
        }
        Message::Join { .. } | Message::Link { .. } => {}
    }
    out.extend_from_slice(b",\"time\":");
    out.extend_from_slice(itoa::Buffer::new().format(e.time_ms).as_bytes());
    out.extend_from_slice(b",\"insert_id\":");
    write_json_str(out, &e.insert_id);
    out.extend_from_slice(b",\"distinct_id\":");
    write_json_str(out, &e.distinct_id);
    out.extend_from_slice(b",\"plan\":");
    write_json_str(out, e.plan.label);
    out.extend_from_slice(b",\"purposes\":[");
    for (i, id) in e.plan.purpose_ids(e.purposes).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_str(out, id);
    }
    out.push(b']');
    match &e.message {
        Message::Track { groups } => {
            if let Some(groups) = groups {
                out.extend_from_slice(b",\"groups\":[");
                for (i, g) in groups.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_group(out, g);
                }
                out.push(b']');
            }
            out.extend_from_slice(b",\"properties\":");
            out.extend_from_slice(e.properties.as_bytes());
        }
        Message::Profile { .. } => {
            out.extend_from_slice(b",\"traits\":");
            out.extend_from_slice(e.properties.as_bytes());
        }
        Message::Join { group } => {
            out.extend_from_slice(b",\"group\":");
            write_group(out, group);
        }
        Message::Group { group, .. } => {
            out.extend_from_slice(b",\"group\":");
            write_group(out, group);
            out.extend_from_slice(b",\"traits\":");
            out.extend_from_slice(e.properties.as_bytes());
        }
        Message::Link { anonymous_id } => {
            out.extend_from_slice(b",\"anonymous_id\":");
            write_json_str(out, anonymous_id);
        }
    }
    out.extend_from_slice(b"}\n");
}

/// `{"kind":…,"key":…,"id":…}`; the id is already JSON text.
fn write_group(out: &mut Vec<u8>, g: &GroupRef) {
    out.extend_from_slice(b"{\"kind\":");
    write_json_str(out, g.kind);
    out.extend_from_slice(b",\"key\":");
    write_json_str(out, g.key);
    out.extend_from_slice(b",\"id\":");
    out.extend_from_slice(g.id.as_bytes());
    out.push(b'}');
}

/// A file of NDJSON lines, one per event (SPEC §6).
///
/// Each batch is written with one `write` call; [`Sink::flush`] (run by `Tracker::flush`)
/// syncs the file to disk. [`Sink::erase`] rewrites the file without the subjects' lines (and
/// those of the anonymous ids its link records tie to them) into
/// a temporary file beside it, syncs it and renames it over the original, so a crash leaves
/// either the old or the new file, never a half-erased one. [`Sink::retrieve`] returns the
/// subjects' lines as they are in the file. A failed write is retried; if it
/// had written part of the batch, the retry can repeat those lines (with the same
/// `insert_id`, so consumers can deduplicate).
#[derive(Debug)]
pub struct Ndjson {
    path: PathBuf,
    file: File,
    line: Vec<u8>,
    /// Seals each line (an encrypted file, `TPNDJSE1`); `None`: plain NDJSON.
    #[cfg(feature = "encryption")]
    keys: Option<std::sync::Arc<crate::crypt::Keyring>>,
    /// The sealed records of a batch.
    #[cfg(feature = "encryption")]
    sealed: Vec<u8>,
}

impl Ndjson {
    /// Creates (or truncates) the file at `path`.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Ndjson> {
        let path = path.as_ref().to_path_buf();
        let file = File::create(&path)?;
        Ok(Ndjson::plain(path, file))
    }

    fn plain(path: PathBuf, file: File) -> Ndjson {
        Ndjson {
            path,
            file,
            line: Vec::new(),
            #[cfg(feature = "encryption")]
            keys: None,
            #[cfg(feature = "encryption")]
            sealed: Vec::new(),
        }
    }

    /// Creates (or truncates) an encrypted NDJSON file at `path`: each line is sealed with
    /// the keyring's current key (XChaCha20-Poly1305), one framed record per line after the
    /// magic `TPNDJSE1` (format in [`crate::crypt::SealedNdjson`]). `forget`, retention and
    /// access requests read it with the same keyring; `trackplan subject export|forget
    /// --key-env VAR` reads it with the key.
    #[cfg(feature = "encryption")]
    pub fn create_encrypted(
        path: impl AsRef<Path>,
        keys: crate::crypt::Keyring,
    ) -> io::Result<Ndjson> {
        let path = path.as_ref().to_path_buf();
        let mut file = File::create(&path)?;
        file.write_all(crate::crypt::sealed_ndjson::MAGIC)?;
        let mut out = Ndjson::plain(path, file);
        out.keys = Some(std::sync::Arc::new(keys));
        Ok(out)
    }

    /// Opens an encrypted NDJSON file for appending, creating it if needed. A plain NDJSON
    /// file at `path` is refused (`InvalidInput`) rather than mixed with sealed records.
    #[cfg(feature = "encryption")]
    pub fn append_encrypted(
        path: impl AsRef<Path>,
        keys: crate::crypt::Keyring,
    ) -> io::Result<Ndjson> {
        let path = path.as_ref().to_path_buf();
        let mut file = open_append(&path)?;
        if file.metadata()?.len() == 0 {
            file.write_all(crate::crypt::sealed_ndjson::MAGIC)?;
        } else if !crate::crypt::SealedNdjson::is_sealed(&path)? {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is not an encrypted NDJSON file; write encrypted events to a new file",
                    path.display()
                ),
            ));
        }
        let mut out = Ndjson::plain(path, file);
        out.keys = Some(std::sync::Arc::new(keys));
        Ok(out)
    }

    /// The file's lines (without newlines), opened with the keyring if it is encrypted.
    fn read_lines(&self) -> io::Result<Box<dyn Iterator<Item = io::Result<Vec<u8>>>>> {
        #[cfg(feature = "encryption")]
        if let Some(keys) = &self.keys {
            let sealed = crate::crypt::SealedNdjson::read(&self.path, keys)?;
            let lines: Vec<Vec<u8>> = sealed.lines().map(<[u8]>::to_vec).collect();
            return Ok(Box::new(lines.into_iter().map(Ok)));
        }
        Ok(Box::new(
            BufReader::new(File::open(&self.path)?).split(b'\n'),
        ))
    }

    /// Opens the file at `path` for appending, creating it if needed.
    pub fn append(path: impl AsRef<Path>) -> io::Result<Ndjson> {
        let path = path.as_ref().to_path_buf();
        let file = open_append(&path)?;
        Ok(Ndjson::plain(path, file))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `ids` and the anonymous ids the file's link records tie to one of them: the file keeps
    /// the stitches it received, so `forget` and `request_access` of an identified subject
    /// cover its anonymous past here even after the tracker that made the stitch is gone.
    fn with_linked(&self, ids: &[String]) -> io::Result<Vec<String>> {
        let mut all = ids.to_vec();
        for line in self.read_lines()? {
            let line = line?;
            if !line.starts_with(b"{\"type\":\"link\"") {
                continue;
            }
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&line) else {
                continue;
            };
            let field = |name: &str| v.get(name).and_then(serde_json::Value::as_str);
            if let (Some(who), Some(anonymous)) = (field("distinct_id"), field("anonymous_id"))
                && ids.iter().any(|i| i == who)
                && !all.iter().any(|a| a == anonymous)
            {
                all.push(anonymous.to_owned());
            }
        }
        Ok(all)
    }

    /// Rewrites the file without the lines for which `doomed` holds; returns how many lines
    /// were removed (`forget` removes a subject's lines, retention the old ones).
    pub(crate) fn rewrite_without(
        &mut self,
        mut doomed: impl FnMut(&[u8]) -> bool,
    ) -> io::Result<usize> {
        self.file.sync_data()?;
        #[cfg(feature = "encryption")]
        if let Some(keys) = &self.keys {
            // Every line is opened first: a line the keyring cannot open fails the rewrite,
            // and the file stays as it was.
            let removed = crate::crypt::SealedNdjson::read(&self.path, keys)?
                .rewrite(&self.path, |line| !doomed(line))?;
            self.file = open_append(&self.path)?;
            return Ok(removed);
        }
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "events.ndjson".into());
        let tmp = self.path.with_file_name(format!(".{name}.trackplan-erase"));
        let mut out = io::BufWriter::new(File::create(&tmp)?);
        let mut removed = 0;
        let reader = BufReader::new(File::open(&self.path)?);
        for line in reader.split(b'\n') {
            let line = line?;
            if line.is_empty() {
                continue;
            }
            // Lines that do not parse are kept: erasing only what is known to match.
            if doomed(&line) {
                removed += 1;
            } else {
                out.write_all(&line)?;
                out.write_all(b"\n")?;
            }
        }
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            // Persist the rename; not every platform can open a directory, so best effort.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        // The old handle points at the replaced file.
        self.file = open_append(&self.path)?;
        Ok(removed)
    }

    /// The lines of `ids` (and of the anonymous ids linked to them), in file order.
    fn lines_of(&mut self, ids: &[String]) -> io::Result<Vec<String>> {
        let ids = &self.with_linked(ids)?;
        let mut lines = Vec::new();
        for line in self.read_lines()? {
            let line = line?;
            if is_about(&line, ids) {
                // `is_about` parsed it as JSON, so it is UTF-8.
                lines.push(String::from_utf8_lossy(&line).into_owned());
            }
        }
        Ok(lines)
    }
}

/// Whether an NDJSON line is a record of one of `ids`: its distinct id, or the anonymous id
/// a link names.
fn is_about(line: &[u8], ids: &[String]) -> bool {
    if line.is_empty() {
        return false;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
        return false;
    };
    ["distinct_id", "anonymous_id"].iter().any(|field| {
        v.get(field)
            .and_then(serde_json::Value::as_str)
            .is_some_and(|d| ids.iter().any(|i| i == d))
    })
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Sink for Ndjson {
    fn declaration(&self) -> SinkDeclaration {
        SinkDeclaration::first_party("ndjson")
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        self.line.clear();
        for e in batch {
            write_ndjson_line(e, &mut self.line);
        }
        #[cfg(feature = "encryption")]
        if let Some(keys) = &self.keys {
            self.sealed.clear();
            crate::crypt::sealed_ndjson::seal_lines(keys, &self.line, &mut self.sealed);
            std::mem::swap(&mut self.line, &mut self.sealed);
        }
        match self.file.write_all(&self.line) {
            Ok(()) => Outcome::Delivered,
            Err(e) => Outcome::Retry {
                reason: format!("writing the NDJSON file failed: {}", e.kind()),
                after: None,
            },
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn erase(&mut self, distinct_ids: &[String]) -> Erasure {
        let erased = self
            .with_linked(distinct_ids)
            .and_then(|ids| self.rewrite_without(|line| is_about(line, &ids)));
        match erased {
            Ok(_) => Erasure::Erased,
            Err(e) => Erasure::Failed {
                reason: format!("rewriting the NDJSON file failed: {}", e.kind()),
            },
        }
    }

    /// Removes the lines older than the retention of the destination's purposes.
    fn prune(&mut self, before: Timestamp) -> Pruned {
        crate::retention::prune_ndjson(self, before)
    }

    /// The subjects' lines, read back from the file.
    fn retrieve(&mut self, distinct_ids: &[String]) -> Access {
        match self.lines_of(distinct_ids) {
            Ok(records) => Access::Records {
                records,
                source: Some(self.path.display().to_string()),
            },
            Err(e) => Access::Failed {
                reason: format!("reading the NDJSON file failed: {}", e.kind()),
            },
        }
    }
}

/// NDJSON lines on standard output, for development and piping into other tools.
#[derive(Debug, Default)]
pub struct Stdout {
    line: Vec<u8>,
}

impl Stdout {
    /// A sink writing to standard output.
    pub fn new() -> Stdout {
        Stdout::default()
    }
}

impl Sink for Stdout {
    fn declaration(&self) -> SinkDeclaration {
        SinkDeclaration::first_party("ndjson")
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        self.line.clear();
        for e in batch {
            write_ndjson_line(e, &mut self.line);
        }
        match io::stdout().lock().write_all(&self.line) {
            Ok(()) => Outcome::Delivered,
            Err(e) => Outcome::Failed {
                reason: format!("writing to standard output failed: {}", e.kind()),
            },
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stdout().lock().flush()
    }

    /// What was printed is out of reach.
    fn erase(&mut self, _: &[String]) -> Erasure {
        Erasure::NotSupported
    }
}
