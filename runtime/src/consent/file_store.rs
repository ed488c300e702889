//! The local-file ledger store: one append-only file, `consent.ledger`, in a directory of its
//! own, framed like the spool's segments.
//!
//! ```text
//! file   = "TPLEDGR1" | record*
//! record = length: u32 LE | crc32(body): u32 LE | body          (crate::frame)
//! body   = kind: u8 | form: u8 | seq: u64 LE | prev: [u8; 32] | hash: [u8; 32]
//!          | payload (form 0: the JSON payload)
//!          | digest: [u8; 32] (form 1: a deleted entry, only its SHA-256 left)
//! ```
//!
//! Every record reaches the operating system in one `write` (a notice and the entry that
//! first uses it in the same one) under the store's lock, so records of concurrent threads
//! never interleave and each links to the one written before it.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::Consent;
use super::chain::{self, Break, ENTRY, GENESIS, NOTICE};
use super::entry::EntryId;
use super::ledger::{Collection, ForgetProof};
use super::ledger_error::LedgerError;
use super::notice::Notice;
use super::payload::{self, NewEntry};
use super::snapshot::{Raw, Snapshot};
use super::store::Store;
use crate::crypt::{CryptError, Keys};
use crate::frame::{self, Bad, Reader};
use crate::plan::PlanInfo;
use crate::spool::SyncPolicy;

const MAGIC: &[u8; 8] = b"TPLEDGR1";
/// The magic of a ledger whose record bodies are sealed (feature `encryption`).
const MAGIC_SEALED: &[u8; 8] = b"TPLEDGRE";
/// Associated data of the ledger's sealed records.
const AAD: &[u8] = b"trackplan ledger";
const FILE: &str = "consent.ledger";

/// Body forms.
const WHOLE: u8 = 0;
const DELETED: u8 = 1;

pub(crate) struct FileStore {
    dir: PathBuf,
    path: PathBuf,
    policy: SyncPolicy,
    inner: Mutex<Inner>,
    _lock: File,
    /// Seals what is written; `None`: a plain file.
    keys: Keys,
}

struct Inner {
    file: File,
    len: u64,
    seq: u64,
    head: [u8; 32],
    /// Hashes of the notices the file holds.
    notices: HashSet<String>,
    /// Per plan (by address): its notice hash, computed once, and whether the file has it.
    plan_notices: HashMap<usize, (Arc<str>, bool)>,
    /// The buffer records are encoded into, kept between calls.
    buf: Vec<u8>,
    /// Each subject's last entry.
    last: HashMap<String, EntryId>,
    dirty: bool,
    last_sync: Instant,
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> LedgerError + '_ {
    move |source| LedgerError::Io {
        path: path.to_owned(),
        source,
    }
}

impl FileStore {
    pub(crate) fn open(
        dir: &Path,
        policy: SyncPolicy,
        keys: Keys,
    ) -> Result<FileStore, LedgerError> {
        fs::create_dir_all(dir).map_err(io_at(dir))?;
        let lock_path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_at(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(LedgerError::Locked {
                    path: dir.to_owned(),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_at(&lock_path)(e)),
        }
        let path = dir.join(FILE);
        if !path.exists() {
            let tmp = dir.join(format!("{FILE}.new"));
            let mut f = File::create(&tmp).map_err(io_at(&tmp))?;
            f.write_all(magic(&keys))
                .and_then(|()| f.sync_all())
                .map_err(io_at(&tmp))?;
            fs::rename(&tmp, &path).map_err(io_at(&path))?;
            sync_dir(dir);
        }
        let (raws, tail) = read_raw(&path, &keys)?;
        let end = tail.and_then(|(offset, bad)| (bad == Bad::Truncated).then_some(offset));
        let snapshot = Snapshot::from_raw(raws, tail.map(|(offset, bad)| frame_break(offset, bad)));
        let verification = snapshot.verification();
        if let Some(b) = &verification.broken {
            // A record torn at the very end (the crash of a write that was never
            // acknowledged) is moved aside; any other break is refused.
            let torn_tail = end.is_some_and(|o| Some(o) == b.offset);
            if !torn_tail {
                return Err(LedgerError::Broken {
                    entry: b.entry,
                    reason: b.reason.clone(),
                });
            }
        }
        if let Some(offset) = end {
            move_torn_tail(&path, offset)?;
        }
        if keys.is_some() && !is_sealed(&path)? {
            // A plain ledger opened with a keyring: its records are sealed in place (the
            // chain hashes cover payloads, not framing, so the chain is unchanged).
            let mut buf = Vec::new();
            for raw in snapshot_raws(&path, &keys)? {
                push_raw(&mut buf, &raw);
            }
            replace_file(dir, &path, &keys, &buf)?;
        }
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_at(&path))?;
        let len = file.metadata().map_err(io_at(&path))?.len();
        let mut last = HashMap::new();
        for e in snapshot.entries() {
            last.insert(e.pii_principal_id.clone(), e.id);
        }
        let head = match &verification.head {
            Some(hex) => unhex32(hex),
            None => GENESIS,
        };
        let inner = Inner {
            file,
            len,
            seq: verification.records,
            head,
            notices: snapshot_notices(&snapshot),
            plan_notices: HashMap::new(),
            buf: Vec::with_capacity(1024),
            last,
            dirty: false,
            last_sync: Instant::now(),
        };
        Ok(FileStore {
            dir: dir.to_owned(),
            path,
            policy,
            inner: Mutex::new(inner),
            _lock: lock,
            keys,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the file as the last complete write left it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `buf` (whole records) in one call; on failure cuts the file back so no partial
    /// record stays.
    fn write(&self, inner: &mut Inner, buf: &[u8]) -> Result<(), LedgerError> {
        let sealed;
        let buf = match &self.keys {
            Some(keys) => {
                sealed = crate::crypt::seal_frames(keys, AAD, buf);
                sealed.as_slice()
            }
            None => buf,
        };
        if let Err(e) = inner.file.write_all(buf) {
            let _ = inner.file.set_len(inner.len);
            return Err(io_at(&self.path)(e));
        }
        inner.len += buf.len() as u64;
        inner.dirty = true;
        match self.policy {
            SyncPolicy::EveryEvent => self.sync_inner(inner),
            SyncPolicy::Interval(every) if inner.last_sync.elapsed() >= every => {
                self.sync_inner(inner)
            }
            _ => Ok(()),
        }
    }

    fn sync_inner(&self, inner: &mut Inner) -> Result<(), LedgerError> {
        if inner.dirty {
            inner.file.sync_data().map_err(io_at(&self.path))?;
            inner.dirty = false;
        }
        inner.last_sync = Instant::now();
        Ok(())
    }
}

/// Appends record `seq` with the payload `write` writes to `buf`; returns its chain hash.
fn push_record(
    buf: &mut Vec<u8>,
    kind: u8,
    seq: u64,
    prev: &[u8; 32],
    write: impl FnOnce(&mut Vec<u8>),
) -> [u8; 32] {
    let start = frame::begin(buf);
    buf.extend_from_slice(&[kind, WHOLE]);
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(prev);
    let hash_at = buf.len();
    buf.extend_from_slice(&[0; 32]);
    let payload_at = buf.len();
    write(buf);
    let hash = chain::link(seq, prev, kind, &chain::digest(&buf[payload_at..]));
    buf[hash_at..payload_at].copy_from_slice(&hash);
    frame::finish(buf, start);
    hash
}

fn push_deleted(buf: &mut Vec<u8>, raw: &Raw) {
    let start = frame::begin(buf);
    buf.extend_from_slice(&[raw.kind, DELETED]);
    buf.extend_from_slice(&raw.seq.to_le_bytes());
    buf.extend_from_slice(&raw.prev);
    buf.extend_from_slice(&raw.hash);
    buf.extend_from_slice(&raw.digest);
    frame::finish(buf, start);
}

fn push_raw(buf: &mut Vec<u8>, raw: &Raw) {
    let Some(payload) = &raw.payload else {
        return push_deleted(buf, raw);
    };
    let start = frame::begin(buf);
    buf.extend_from_slice(&[raw.kind, WHOLE]);
    buf.extend_from_slice(&raw.seq.to_le_bytes());
    buf.extend_from_slice(&raw.prev);
    buf.extend_from_slice(&raw.hash);
    buf.extend_from_slice(payload);
    frame::finish(buf, start);
}

impl Store for FileStore {
    fn record(
        &self,
        principal: &str,
        plan: &'static PlanInfo,
        consent: &Consent,
        how: &Collection,
    ) -> Result<EntryId, LedgerError> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let notices = &inner.notices;
        let (notice_hash, written) = {
            let (hash, written) = inner
                .plan_notices
                .entry(std::ptr::from_ref(plan) as usize)
                .or_insert_with(|| {
                    let hash = Notice::of(plan).hash();
                    let written = notices.contains(&hash);
                    (hash.into(), written)
                });
            (Arc::clone(hash), *written)
        };
        let mut buf = std::mem::take(&mut inner.buf);
        buf.clear();
        let (mut seq, mut head) = (inner.seq, inner.head);
        if !written {
            seq += 1;
            let notice = payload::encode_notice(&Notice::of(plan));
            head = push_record(&mut buf, NOTICE, seq, &head, |b| {
                b.extend_from_slice(&notice)
            });
        }
        seq += 1;
        // The subject's last entry becomes this one now (one lookup of the distinct id), and
        // goes back to what it was if the write fails.
        let supersedes = inner
            .last
            .get_mut(principal)
            .map(|last| std::mem::replace(last, EntryId(seq)));
        let entry = NewEntry {
            principal,
            plan,
            consent,
            how,
            notice_hash: &notice_hash,
            supersedes,
        };
        head = push_record(&mut buf, ENTRY, seq, &head, |b| {
            payload::encode_entry(&entry, b)
        });
        let written_now = self.write(inner, &buf);
        inner.buf = buf;
        if let Err(e) = written_now {
            if let (Some(before), Some(last)) = (supersedes, inner.last.get_mut(principal)) {
                *last = before;
            }
            return Err(e);
        }
        if supersedes.is_none() {
            inner.last.insert(principal.to_owned(), EntryId(seq));
        }
        inner.seq = seq;
        inner.head = head;
        if !written {
            if let Some(state) = inner
                .plan_notices
                .get_mut(&(std::ptr::from_ref(plan) as usize))
            {
                state.1 = true;
            }
            inner.notices.insert(notice_hash.to_string());
        }
        Ok(EntryId(seq))
    }

    fn forget(&self, principal: &str, proof: ForgetProof) -> Result<usize, LedgerError> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        // Everything before was written by this store under the lock: read it back whole.
        self.sync_inner(inner)?;
        let (raws, _) = read_raw(&self.path, &self.keys)?;
        let mine: Vec<bool> = raws
            .iter()
            .map(|r| {
                r.kind == ENTRY
                    && r.payload
                        .as_deref()
                        .is_some_and(|p| payload_principal(p).as_deref() == Some(principal))
            })
            .collect();
        let count = mine.iter().filter(|&&m| m).count();
        if count == 0 {
            return Ok(0);
        }
        match proof {
            ForgetProof::Keep => {
                let notices: HashMap<String, Notice> = raws
                    .iter()
                    .filter(|r| r.kind == NOTICE)
                    .filter_map(|r| payload::decode_notice(r.payload.as_deref()?).ok())
                    .map(|n| (n.hash(), n))
                    .collect();
                let last = raws
                    .iter()
                    .zip(&mine)
                    .filter(|&(_, &m)| m)
                    .filter_map(|(r, _)| {
                        let payload = r.payload.as_deref()?;
                        payload::decode_entry(r.seq, payload, String::new(), &notices).ok()
                    })
                    .next_back();
                let Some(last) = last else { return Ok(count) };
                let seq = inner.seq + 1;
                let mut buf = Vec::new();
                let head = push_record(&mut buf, ENTRY, seq, &inner.head, |b| {
                    payload::write_erasure(b, payload::now_ms(), principal, &last)
                });
                self.write(inner, &buf)?;
                self.sync_inner(inner)?;
                inner.seq = seq;
                inner.head = head;
                inner.last.insert(principal.to_owned(), EntryId(seq));
            }
            ForgetProof::Delete => {
                let mut buf = Vec::with_capacity(inner.len as usize);
                for (raw, &m) in raws.iter().zip(&mine) {
                    if m {
                        push_deleted(&mut buf, raw);
                    } else {
                        push_raw(&mut buf, raw);
                    }
                }
                let written = replace_file(&self.dir, &self.path, &self.keys, &buf)?;
                inner.file = OpenOptions::new()
                    .append(true)
                    .open(&self.path)
                    .map_err(io_at(&self.path))?;
                inner.len = written;
                inner.last.remove(principal);
                // Torn tails moved aside at open may hold the subject's unacknowledged writes.
                for torn in torn_files(&self.dir) {
                    let _ = fs::remove_file(torn);
                }
            }
        }
        Ok(count)
    }

    fn sync(&self) -> Result<(), LedgerError> {
        let mut inner = self.lock();
        self.sync_inner(&mut inner)
    }

    fn snapshot(&self) -> Result<Snapshot, LedgerError> {
        // Under the lock: no write is half done while reading.
        let _inner = self.lock();
        let (raws, tail) = read_raw(&self.path, &self.keys)?;
        Ok(Snapshot::from_raw(
            raws,
            tail.map(|(offset, bad)| frame_break(offset, bad)),
        ))
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        let mut inner = self.lock();
        if let Err(e) = self.sync_inner(&mut inner) {
            tracing::warn!(error = %e, "consent ledger: final sync failed");
        }
    }
}

fn payload_principal(payload: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
    Some(v.get("pii_principal_id")?.as_str()?.to_owned())
}

fn snapshot_notices(snapshot: &Snapshot) -> HashSet<String> {
    snapshot.notices.keys().cloned().collect()
}

fn frame_break(offset: u64, bad: Bad) -> Break {
    Break {
        entry: 0,
        offset: Some(offset),
        reason: bad.reason().to_owned(),
    }
}

/// The ledger file in `dir`, read without a lock (`trackplan consent verify` on a live app's
/// directory): the records that frame correctly, and where framing stopped.
pub(crate) fn read_file(dir: &Path, keys: &Keys) -> Result<(Vec<Raw>, Option<Break>), LedgerError> {
    let path = dir.join(FILE);
    let (raws, tail) = read_raw(&path, keys)?;
    Ok((raws, tail.map(|(offset, bad)| frame_break(offset, bad))))
}

/// The records that frame correctly, and the offset where framing stopped and why.
type Framed = (Vec<Raw>, Option<(u64, Bad)>);

fn read_raw(path: &Path, keys: &Keys) -> Result<Framed, LedgerError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(io_at(path))?;
    let mut raws = Vec::new();
    let sealed = bytes.get(..MAGIC.len()) == Some(MAGIC_SEALED.as_slice());
    if !sealed && bytes.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
        return Ok((raws, Some((0, Bad::Checksum))));
    }
    let mut at = MAGIC.len();
    while at < bytes.len() {
        let (taken, body) = match frame::split(&bytes[at..]) {
            Ok(split) => split,
            Err(bad) => return Ok((raws, Some((at as u64, bad)))),
        };
        let opened;
        let body = if sealed {
            match crate::crypt::open_with(keys, AAD, body) {
                Ok(plain) => {
                    opened = plain;
                    opened.as_slice()
                }
                // Altered after sealing: a break at this entry, as a bad checksum is.
                Err(CryptError::NotAuthentic { .. } | CryptError::Malformed { .. }) => {
                    return Ok((raws, Some((at as u64, Bad::Checksum))));
                }
                // No key, or not the key it was sealed with: nothing can be said about the
                // chain, and nothing may be changed.
                Err(source) => {
                    return Err(LedgerError::Crypt {
                        path: path.to_owned(),
                        source,
                    });
                }
            }
        } else {
            body
        };
        let Some(raw) = parse_body(body, at as u64) else {
            return Ok((raws, Some((at as u64, Bad::Checksum))));
        };
        raws.push(raw);
        at += taken;
    }
    Ok((raws, None))
}

fn parse_body(body: &[u8], offset: u64) -> Option<Raw> {
    let mut r = Reader(body);
    let [kind, form] = r.array::<2>()?;
    let seq = u64::from_le_bytes(r.array::<8>()?);
    let prev = r.array::<32>()?;
    let hash = r.array::<32>()?;
    let (digest, payload) = match form {
        WHOLE => {
            let payload = r.rest().to_vec();
            (chain::digest(&payload), Some(payload))
        }
        DELETED => (r.array::<32>()?, None),
        _ => return None,
    };
    Some(Raw {
        seq,
        kind,
        prev,
        digest,
        hash,
        payload,
        offset: Some(offset),
    })
}

fn magic(keys: &Keys) -> &'static [u8; 8] {
    if keys.is_some() { MAGIC_SEALED } else { MAGIC }
}

fn is_sealed(path: &Path) -> Result<bool, LedgerError> {
    let mut head = [0u8; 8];
    let read = File::open(path).and_then(|mut f| f.read_exact(&mut head));
    Ok(read.is_ok() && &head == MAGIC_SEALED)
}

fn snapshot_raws(path: &Path, keys: &Keys) -> Result<Vec<Raw>, LedgerError> {
    Ok(read_raw(path, keys)?.0)
}

/// Replaces the ledger file with the magic and the records framed in `plain` (sealed if
/// `keys`): a temporary file, synced, renamed over it. Returns the new file's length.
fn replace_file(dir: &Path, path: &Path, keys: &Keys, plain: &[u8]) -> Result<u64, LedgerError> {
    let mut buf = Vec::with_capacity(plain.len() + 8);
    buf.extend_from_slice(magic(keys));
    match keys {
        Some(keys) => buf.extend_from_slice(&crate::crypt::seal_frames(keys, AAD, plain)),
        None => buf.extend_from_slice(plain),
    }
    let tmp = dir.join(format!("{FILE}.new"));
    let mut f = File::create(&tmp).map_err(io_at(&tmp))?;
    f.write_all(&buf)
        .and_then(|()| f.sync_all())
        .map_err(io_at(&tmp))?;
    fs::rename(&tmp, path).map_err(io_at(path))?;
    sync_dir(dir);
    Ok(buf.len() as u64)
}

/// Moves the bytes from `offset` on to `ledger.torn-<offset>` and cuts the file there.
fn move_torn_tail(path: &Path, offset: u64) -> Result<(), LedgerError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(io_at(path))?;
    let Some(tail) = usize::try_from(offset).ok().and_then(|o| bytes.get(o..)) else {
        return Ok(());
    };
    let aside = path.with_file_name(format!("{FILE}.torn-{offset}"));
    fs::write(&aside, tail).map_err(io_at(&aside))?;
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_at(path))?;
    f.set_len(offset)
        .and_then(|()| f.sync_all())
        .map_err(io_at(path))?;
    tracing::warn!(
        ledger = %path.display(),
        offset,
        "consent ledger: a record torn by a crash (never acknowledged) was moved aside"
    );
    Ok(())
}

fn torn_files(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{FILE}.torn-")))
        })
        .collect()
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn unhex32(hex: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, pair) in hex.as_bytes().chunks(2).take(32).enumerate() {
        let s = std::str::from_utf8(pair).unwrap_or("00");
        out[i] = u8::from_str_radix(s, 16).unwrap_or(0);
    }
    out
}
