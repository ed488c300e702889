//! The on-disk spool: events accepted by `track` survive a crash of the process.
//!
//! A spool is a directory of append-only segment files. Every event accepted for a destination
//! is appended as one record before `track` returns; when the worker has settled it (delivered,
//! or failed for good, or dropped by consent or `forget`), a small "settled" record follows.
//! After a restart, [`Spool::open`] replays the events that were never settled, and the tracker
//! delivers them again. Replay is idempotent at the destination: each event keeps its insert id
//! (Mixpanel `$insert_id`, Segment `messageId`), which the destinations deduplicate by.
//!
//! # Format
//!
//! A segment starts with the 8-byte magic `TPSPOOL1`, then records:
//!
//! ```text
//! record  = length: u32 LE | crc32(body): u32 LE | body (length bytes)
//! body    = 3 | destination: u16 | time_ms: i64 | purposes: u64
//!             | insert_id: u8-prefixed | event: u16-prefixed | distinct_id: u16-prefixed
//!             | properties: u32-prefixed | plan_hash: u8-prefixed | plan_label: u8-prefixed
//!             | destination_id: u8-prefixed                          (an event)
//!         | 4 | (the fields of 3) | message: u16-prefixed             (another message)
//!         | 2 | destination: u16 | insert_id: u8-prefixed            (settled)
//! message = 0 | groups: u8 count | group*                            (an event with groups)
//!         | 1 | op: u8                                               (profile update)
//!         | 2 | group                                                (group membership)
//!         | 3 | group | op: u8                                       (group update)
//!         | 4 | anonymous_id: u16-prefixed                           (identity link)
//! group   = kind: u8-prefixed | key: u8-prefixed | id: u16-prefixed
//! op      = index in `ProfileOp::ALL`
//! ```
//!
//! Kind 3 is what events without groups are still written as, byte for byte as before, so a
//! spool of events only reads the same in earlier versions; kind 4 (added with profiles,
//! groups and identity links) carries the message kind, and replay restores it. Kind 1, an
//! event record of earlier versions without the plan and destination id, is still read, and
//! refused on replay like any event of another plan.
//!
//! # Replay after a plan change
//!
//! An event's record was routed, consented and transformed under the plan that was running
//! when it was tracked: which destinations got it, which properties a third party may see
//! (`redact` values go to first-party destinations only), which purposes it counts for. The
//! tracker replays a record only when it was spooled under the same plan (by hash) and for the
//! destination with the same id at the same position; every other record is refused, counted
//! in `Stats::replay_refused` and logged with the plans involved, never re-routed by guess.
//!
//! Replay stops at the first record whose length or checksum is wrong: a write torn by the
//! crash. Everything before it is intact.
//!
//! # Sync policies
//!
//! Each record reaches the operating system with one `write` before `track` returns, so a
//! crash of the *process* (panic, `SIGKILL`, OOM kill) loses nothing under any policy. The
//! policies differ in what survives a crash of the *machine* (power loss, kernel panic):
//!
//! | policy | `track` waits for | lost on power loss |
//! |---|---|---|
//! | [`SyncPolicy::EveryEvent`] | the disk (`fdatasync` per event) | nothing accepted |
//! | [`SyncPolicy::Interval`] (default, 200 ms) | the page cache; a sync at most every interval | up to one interval |
//! | [`SyncPolicy::OnFlush`] | the page cache; syncs on `flush`/`shutdown` only | everything since the last flush |
//!
//! Settled records are never synced on their own: losing one only means the event is sent
//! again after a restart, and the destination drops the duplicate by its insert id.
//!
//! # Compaction
//!
//! Appends go to the newest segment, which is sealed once it passes [`Spool::segment_bytes`].
//! A sealed segment whose events are all settled is deleted. At open, the live events of old
//! segments are copied into a fresh segment and the old files are deleted, so the directory
//! never grows past the pending events plus one segment of history. `forget` rewrites the
//! segments holding the subject's events, so their bytes leave the disk too.

use crate::crypt::{CryptError, Keys};
use crate::frame::{self, Reader, begin, finish, put};
use crate::message::{GroupRef, Message, ProfileOp};
use crate::plan::{DestinationSet, PlanInfo, PurposeSet};
use crate::sink::Envelope;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use trackplan_vocab::Keyword;

const MAGIC: &[u8; 8] = b"TPSPOOL1";
/// The magic of a segment whose record bodies are sealed (feature `encryption`).
const MAGIC_SEALED: &[u8; 8] = b"TPSPOOLE";
/// Associated data of the spool's sealed records.
const AAD: &[u8] = b"trackplan spool";
/// An event record without plan or destination id (earlier versions): refused on replay.
const EVENT_V1: u8 = 1;
const SETTLED: u8 = 2;
const EVENT: u8 = 3;
/// An event record with its message kind (profile and group updates, memberships, links,
/// events with groups).
const MESSAGE: u8 = 4;
const DEFAULT_SEGMENT_BYTES: u64 = 16 << 20;

/// When spooled records are forced to disk. Each record reaches the operating system before
/// `track` returns, so a crash of the process loses nothing under any policy; the policies
/// differ in what survives a crash of the machine (power loss, kernel panic), as each
/// variant says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// `fdatasync` after every event, before `track` returns.
    EveryEvent,
    /// `fdatasync` at most once per interval (on the next append or worker tick after it).
    Interval(Duration),
    /// `fdatasync` only on `Tracker::flush` and `shutdown`.
    OnFlush,
}

impl Default for SyncPolicy {
    fn default() -> Self {
        SyncPolicy::Interval(Duration::from_millis(200))
    }
}

/// Why the spool failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The directory could not be created or read.
    #[error("spool directory {path}: {source}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Another process (or tracker) has the spool open.
    #[error("spool {path} is in use by another process; give each process its own spool directory")]
    Locked {
        /// The directory.
        path: PathBuf,
    },
    /// Reading or writing a segment failed.
    #[error("spool segment {path}: {source}")]
    Io {
        /// The segment file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// An encrypted segment could not be opened (no key, a key the keyring lacks, or altered
    /// bytes). The spool is not opened and no file is changed.
    #[error("spool segment {path}: {source}")]
    Crypt {
        /// The segment file.
        path: PathBuf,
        /// Why it could not be opened.
        source: CryptError,
    },
}

/// One spooled event for one destination.
#[derive(Debug, Clone)]
pub(crate) struct Spooled {
    /// Index of the destination in the plan.
    pub destination: usize,
    /// The event, ready for that destination.
    pub envelope: Envelope,
}

/// One event for one destination, as `track` hands it to the spool.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'a> {
    /// The plan the event was routed and transformed under.
    pub plan: Stamp<'a>,
    pub destination: usize,
    pub insert_id: &'a str,
    pub event: &'a str,
    pub time_ms: i64,
    pub distinct_id: &'a Arc<str>,
    pub purposes: PurposeSet,
    /// The properties object (UTF-8 JSON text).
    pub properties: &'a [u8],
    /// What the record asks the destination to do.
    pub message: &'a Message,
}

/// Which plan and destination a record was written under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamp<'a> {
    pub plan_hash: &'a str,
    pub plan_label: &'a str,
    pub destination_id: &'a str,
}

impl Stamp<'static> {
    /// The stamp of destination `d` of `plan`.
    pub(crate) fn of(plan: &'static PlanInfo, d: usize) -> Stamp<'static> {
        Stamp {
            plan_hash: plan.hash,
            plan_label: plan.label,
            destination_id: plan.destinations.get(d).map_or("", |info| info.id),
        }
    }
}

/// What [`Spool::take_replayed`] found.
#[derive(Debug, Default)]
pub(crate) struct Replayed {
    /// Events of the running plan, to deliver again.
    pub events: Vec<Spooled>,
    /// Events refused because another plan (label, or "an earlier version" for records
    /// without one) spooled them: how many per plan.
    pub refused: Vec<(String, u64)>,
}

/// Where a pending event's record lives.
type Key = (u16, String);

/// The spool of one tracker. Appends are serialized by a mutex; `track` holds it for one
/// `write` (plus an `fdatasync` under [`SyncPolicy::EveryEvent`]).
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    policy: SyncPolicy,
    segment_bytes: u64,
    inner: Mutex<Inner>,
    /// Events found on open, handed to the tracker once.
    replayed: Mutex<Vec<(u16, Record)>>,
    /// The keyring records are sealed with; `None`: a plain spool.
    keys: Keys,
}

#[derive(Debug)]
struct Inner {
    /// The lock on `dir/LOCK`, held while the spool is open.
    _lock: File,
    active: Segment,
    sealed: HashMap<u64, Segment>,
    /// Segment of every pending event.
    /// Segment and distinct id of every pending event.
    pending: HashMap<Key, (u64, Arc<str>)>,
    last_sync: Instant,
    dirty: bool,
}

#[derive(Debug)]
struct Segment {
    seq: u64,
    path: PathBuf,
    file: Option<File>,
    len: u64,
    /// Pending events whose record is in this segment.
    live: usize,
    /// Seals what is appended (an encrypted segment).
    keys: Keys,
}

/// An event record as stored, before its plan strings are resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    time_ms: i64,
    purposes: u64,
    /// Empty in records of earlier versions.
    plan_hash: String,
    plan_label: String,
    destination_id: String,
    insert_id: String,
    event: String,
    distinct_id: String,
    properties: String,
    /// The message kind, encoded (see the format); empty for a plain event.
    message: Vec<u8>,
}

impl Spool {
    /// Opens (creating if needed) the spool in `dir`, with the default sync policy, and reads
    /// the events a previous run left unsettled: the tracker delivers them first.
    pub fn open(dir: impl AsRef<Path>) -> Result<Spool, SpoolError> {
        Self::open_with(
            dir.as_ref(),
            SyncPolicy::default(),
            DEFAULT_SEGMENT_BYTES,
            None,
        )
    }

    /// Opens the spool in `dir` encrypted: every record is sealed with the keyring's current
    /// key (XChaCha20-Poly1305, see [`crate::crypt`]); segments sealed with its old keys and
    /// plain segments of an earlier run are read and copied forward sealed. A segment sealed
    /// with a key the keyring lacks is a [`SpoolError::Crypt`], and nothing is changed.
    #[cfg(feature = "encryption")]
    pub fn open_encrypted(
        dir: impl AsRef<Path>,
        keys: crate::crypt::Keyring,
    ) -> Result<Spool, SpoolError> {
        Self::open_with(
            dir.as_ref(),
            SyncPolicy::default(),
            DEFAULT_SEGMENT_BYTES,
            Some(Arc::new(keys)),
        )
    }

    /// Whether records are sealed.
    pub fn is_encrypted(&self) -> bool {
        self.keys.is_some()
    }

    /// Sets the sync policy.
    pub fn sync_policy(mut self, policy: SyncPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Seals a segment once it is larger than this (default 16 MiB), so settled history can be
    /// deleted file by file.
    pub fn segment_bytes(mut self, bytes: u64) -> Self {
        self.segment_bytes = bytes.max(MAGIC.len() as u64 + 1);
        self
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The sync policy.
    pub fn policy(&self) -> SyncPolicy {
        self.policy
    }

    fn open_with(
        dir: &Path,
        policy: SyncPolicy,
        segment_bytes: u64,
        keys: Keys,
    ) -> Result<Spool, SpoolError> {
        let directory_error = |source| SpoolError::Directory {
            path: dir.to_owned(),
            source,
        };
        fs::create_dir_all(dir).map_err(directory_error)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("LOCK"))
            .map_err(directory_error)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(SpoolError::Locked {
                    path: dir.to_owned(),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(directory_error(e)),
        }

        let mut old: Vec<(u64, PathBuf)> = Vec::new();
        for entry in fs::read_dir(dir).map_err(directory_error)? {
            let path = entry.map_err(directory_error)?.path();
            let seq = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".spool"))
                .and_then(|n| u64::from_str_radix(n, 16).ok());
            if let Some(seq) = seq {
                old.push((seq, path));
            }
        }
        old.sort();

        // Later records win: a settled record removes its event, a duplicate event (copied
        // forward by an interrupted compaction) replaces nothing.
        let mut live: Vec<(Key, Record)> = Vec::new();
        let mut index: HashMap<Key, usize> = HashMap::new();
        for (_, path) in &old {
            for (destination, item) in read_segment(path, &keys)? {
                match item {
                    Item::Event(record) => {
                        let key = (destination, record.insert_id.clone());
                        if !index.contains_key(&key) {
                            index.insert(key.clone(), live.len());
                            live.push((key, record));
                        }
                    }
                    Item::Settled(insert_id) => {
                        index.remove(&(destination, insert_id));
                    }
                }
            }
        }
        let mut replayed: Vec<(u16, Record)> = live
            .into_iter()
            .enumerate()
            .filter(|(i, (key, _))| index.get(key) == Some(i))
            .map(|(_, ((destination, _), record))| (destination, record))
            .collect();
        replayed.sort_by_key(|(_, r)| r.time_ms);

        // Copy what is pending into a fresh segment, make it durable, then drop the old files.
        let seq = old.last().map_or(1, |(s, _)| s + 1);
        let mut active = Segment::create(dir, seq, &keys)?;
        let mut pending = HashMap::new();
        let mut buf = Vec::new();
        for (destination, record) in &replayed {
            buf.clear();
            encode_event(&mut buf, *destination, record);
            active.append(&buf)?;
            active.live += 1;
            pending.insert(
                (*destination, record.insert_id.clone()),
                (seq, Arc::from(record.distinct_id.as_str())),
            );
        }
        active.sync()?;
        for (_, path) in &old {
            fs::remove_file(path).map_err(|source| SpoolError::Io {
                path: path.clone(),
                source,
            })?;
        }
        sync_dir(dir);
        if !replayed.is_empty() {
            tracing::info!(
                spool = %dir.display(),
                events = replayed.len(),
                "spool: replaying events accepted before the last shutdown or crash"
            );
        }

        Ok(Spool {
            dir: dir.to_owned(),
            policy,
            segment_bytes,
            inner: Mutex::new(Inner {
                _lock: lock,
                active,
                sealed: HashMap::new(),
                pending,
                last_sync: Instant::now(),
                dirty: false,
            }),
            replayed: Mutex::new(replayed),
            keys,
        })
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves at worst a torn record, which replay skips.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the events replayed at open that `plan` may deliver: those spooled under the same
    /// plan hash, for the destination with the same id at the same index, of an event the plan
    /// declares. The others are settled (they will not be offered again) and counted per plan
    /// they were spooled under. Returns them once; later calls return none.
    pub(crate) fn take_replayed(&self, plan: &'static PlanInfo) -> Replayed {
        let replayed =
            std::mem::take(&mut *self.replayed.lock().unwrap_or_else(|e| e.into_inner()));
        let mut out = Replayed {
            events: Vec::with_capacity(replayed.len()),
            refused: Vec::new(),
        };
        for (destination, record) in replayed {
            let d = usize::from(destination);
            let same_plan = !record.plan_hash.is_empty() && record.plan_hash == plan.hash;
            let same_destination = plan
                .destinations
                .get(d)
                .is_some_and(|info| info.id == record.destination_id);
            let event = plan
                .events
                .iter()
                .find(|e| e.name == record.event)
                .map(|e| e.name)
                .or_else(|| MESSAGE_NAMES.iter().copied().find(|n| *n == record.event));
            let message = decode_message(&record.message, plan);
            match (event, message) {
                (Some(event), Some(message)) if same_plan && same_destination => {
                    out.events.push(Spooled {
                        destination: d,
                        envelope: Envelope {
                            message,
                            event,
                            insert_id: record.insert_id,
                            time_ms: record.time_ms,
                            distinct_id: record.distinct_id.into(),
                            plan,
                            purposes: PurposeSet::from_bits(record.purposes),
                            properties: record.properties.into(),
                        },
                    })
                }
                _ => {
                    let spooled_under = if record.plan_label.is_empty() {
                        "an earlier trackplan version (no plan recorded)".to_owned()
                    } else {
                        format!("{} (hash {})", record.plan_label, record.plan_hash)
                    };
                    match out.refused.iter_mut().find(|(p, _)| *p == spooled_under) {
                        Some((_, n)) => *n += 1,
                        None => out.refused.push((spooled_under, 1)),
                    }
                    let _ = self.settle(d, [record.insert_id.as_str()]);
                }
            }
        }
        out
    }

    /// Appends events (one write for all): call it before the events can be settled, i.e.
    /// while the queue lock is held, then [`sync_if_due`](Self::sync_if_due) after releasing
    /// it, so an `fdatasync` never holds up the worker.
    pub(crate) fn append(&self, entries: &[Entry<'_>]) -> Result<(), SpoolError> {
        let mut buf = Vec::with_capacity(entries.iter().map(|e| 96 + e.properties.len()).sum());
        for e in entries {
            let destination = u16::try_from(e.destination).unwrap_or(u16::MAX);
            encode_event_parts(&mut buf, destination, e);
        }
        let mut inner = self.inner();
        if inner.active.len >= self.segment_bytes {
            inner.rotate(&self.dir, &self.keys)?;
        }
        inner.active.append(&buf)?;
        inner.dirty = true;
        let seq = inner.active.seq;
        for e in entries {
            let destination = u16::try_from(e.destination).unwrap_or(u16::MAX);
            let key = (destination, e.insert_id.to_owned());
            if inner
                .pending
                .insert(key, (seq, Arc::clone(e.distinct_id)))
                .is_none()
            {
                inner.active.live += 1;
            }
        }
        Ok(())
    }

    /// Syncs what the policy says must be on disk now: everything under
    /// [`SyncPolicy::EveryEvent`], everything once the interval passed under
    /// [`SyncPolicy::Interval`]. The worker also calls it when idle, so the last events of a
    /// burst do not wait for the next one.
    pub(crate) fn sync_if_due(&self) -> Result<(), SpoolError> {
        let due = match self.policy {
            SyncPolicy::EveryEvent => true,
            SyncPolicy::Interval(every) => self.inner().last_sync.elapsed() >= every,
            SyncPolicy::OnFlush => false,
        };
        if due {
            let mut inner = self.inner();
            if inner.dirty {
                inner.sync()?;
            }
        }
        Ok(())
    }

    /// When [`sync_if_due`](Self::sync_if_due) next has work, under the interval policy.
    pub(crate) fn next_sync(&self) -> Option<Instant> {
        match self.policy {
            SyncPolicy::Interval(every) => {
                let inner = self.inner();
                inner.dirty.then(|| inner.last_sync + every)
            }
            SyncPolicy::EveryEvent | SyncPolicy::OnFlush => None,
        }
    }

    /// Settles the pending events of `distinct_id` for every destination not in `keep`:
    /// consent for them was withdrawn, so a restart must not deliver them.
    pub(crate) fn settle_subject(
        &self,
        distinct_id: &str,
        keep: DestinationSet,
    ) -> Result<(), SpoolError> {
        let keys: Vec<Key> = self
            .inner()
            .pending
            .iter()
            .filter(|((d, _), (_, who))| &**who == distinct_id && !keep.contains(usize::from(*d)))
            .map(|(key, _)| key.clone())
            .collect();
        let mut by_destination: HashMap<u16, Vec<String>> = HashMap::new();
        for (d, id) in keys {
            by_destination.entry(d).or_default().push(id);
        }
        for (d, ids) in by_destination {
            self.settle(usize::from(d), ids.iter().map(String::as_str))?;
        }
        Ok(())
    }

    /// Marks events of one destination settled (delivered, failed for good, or dropped): they
    /// are not replayed. Sealed segments left without pending events are deleted.
    pub(crate) fn settle<'a>(
        &self,
        destination: usize,
        insert_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), SpoolError> {
        let destination = u16::try_from(destination).unwrap_or(u16::MAX);
        let mut inner = self.inner();
        let mut buf = Vec::new();
        for insert_id in insert_ids {
            let Some((seq, _)) = inner.pending.remove(&(destination, insert_id.to_owned())) else {
                continue;
            };
            encode_settled(&mut buf, destination, insert_id);
            inner.release(seq);
        }
        if !buf.is_empty() {
            inner.active.append(&buf)?;
            inner.dirty = true;
        }
        Ok(())
    }

    /// Forces everything written so far to disk (`Tracker::flush`, `shutdown`).
    pub(crate) fn sync(&self) -> Result<(), SpoolError> {
        self.inner().sync()
    }

    /// Number of events not yet settled.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.inner().pending.len()
    }

    /// Erases the events whose distinct id is one of `distinct_ids` from the disk (and the
    /// identity links naming one of them as the anonymous id): they are settled, and every
    /// segment is rewritten without them (a settled record alone would leave the bytes in
    /// place until compaction). Returns how many events were erased.
    pub(crate) fn forget(&self, distinct_ids: &[&str]) -> Result<usize, SpoolError> {
        let about = |id: &str| distinct_ids.contains(&id);
        self.remove_where(|_, _, record| {
            about(&record.distinct_id) || linked_id(&record.message).is_some_and(|a| about(&a))
        })
    }

    /// Erases from the disk the pending events for which `doomed(destination id, time_ms,
    /// record)` holds, as [`Spool::forget`] does for subjects (retention uses it too).
    pub(crate) fn remove_where(
        &self,
        mut doomed: impl FnMut(&str, i64, &Record) -> bool,
    ) -> Result<usize, SpoolError> {
        let mut inner = self.inner();
        inner.sync()?;
        let mut paths: Vec<(u64, PathBuf)> = inner
            .sealed
            .values()
            .map(|s| (s.seq, s.path.clone()))
            .collect();
        paths.push((inner.active.seq, inner.active.path.clone()));
        paths.sort();

        let mut keep: Vec<(u16, Record)> = Vec::new();
        let mut erased = 0;
        for (_, path) in &paths {
            for (destination, item) in read_segment(path, &self.keys)? {
                if let Item::Event(record) = item {
                    let key = (destination, record.insert_id.clone());
                    if !inner.pending.contains_key(&key) {
                        continue;
                    }
                    if doomed(&record.destination_id, record.time_ms, &record) {
                        inner.pending.remove(&key);
                        erased += 1;
                    } else {
                        keep.push((destination, record));
                    }
                }
            }
        }
        if erased == 0 {
            return Ok(0);
        }
        let seq = inner.active.seq + 1;
        let mut fresh = Segment::create(&self.dir, seq, &self.keys)?;
        let mut buf = Vec::new();
        inner.pending.clear();
        for (destination, record) in &keep {
            buf.clear();
            encode_event(&mut buf, *destination, record);
            fresh.append(&buf)?;
            fresh.live += 1;
            inner.pending.insert(
                (*destination, record.insert_id.clone()),
                (seq, Arc::from(record.distinct_id.as_str())),
            );
        }
        fresh.sync()?;
        let old_active = std::mem::replace(&mut inner.active, fresh);
        let sealed = std::mem::take(&mut inner.sealed);
        for segment in sealed.into_values().chain([old_active]) {
            segment.delete()?;
        }
        sync_dir(&self.dir);
        inner.last_sync = Instant::now();
        inner.dirty = false;
        Ok(erased)
    }

    /// The segment files on disk, oldest first.
    #[cfg(test)]
    pub(crate) fn segments(&self) -> Vec<PathBuf> {
        let inner = self.inner();
        let mut segments: Vec<(u64, PathBuf)> = inner
            .sealed
            .values()
            .map(|s| (s.seq, s.path.clone()))
            .collect();
        segments.push((inner.active.seq, inner.active.path.clone()));
        segments.sort();
        segments.into_iter().map(|(_, p)| p).collect()
    }
}

impl Inner {
    fn sync(&mut self) -> Result<(), SpoolError> {
        if self.dirty {
            self.active.sync()?;
            self.dirty = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Seals the active segment and starts the next.
    fn rotate(&mut self, dir: &Path, keys: &Keys) -> Result<(), SpoolError> {
        self.active.sync()?;
        self.dirty = false;
        let next = Segment::create(dir, self.active.seq + 1, keys)?;
        sync_dir(dir);
        let mut sealed = std::mem::replace(&mut self.active, next);
        sealed.file = None;
        if sealed.live == 0 {
            sealed.delete()?;
        } else {
            self.sealed.insert(sealed.seq, sealed);
        }
        Ok(())
    }

    /// One pending event of segment `seq` was settled.
    fn release(&mut self, seq: u64) {
        if seq == self.active.seq {
            self.active.live = self.active.live.saturating_sub(1);
            return;
        }
        let Some(segment) = self.sealed.get_mut(&seq) else {
            return;
        };
        segment.live = segment.live.saturating_sub(1);
        if segment.live > 0 {
            return;
        }
        // Its settled records may not be synced yet: if the machine loses them, the deletion
        // can only lose events that were settled anyway, or be undone and resend duplicates
        // the destination drops by insert id.
        if let Some(segment) = self.sealed.remove(&seq)
            && let Err(e) = segment.delete()
        {
            tracing::warn!(error = %e, "spool: could not delete a settled segment");
        }
    }
}

impl Segment {
    fn create(dir: &Path, seq: u64, keys: &Keys) -> Result<Segment, SpoolError> {
        let path = dir.join(format!("{seq:016x}.spool"));
        let io_error = |source| SpoolError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io_error)?;
        let magic = if keys.is_some() { MAGIC_SEALED } else { MAGIC };
        file.write_all(magic).map_err(io_error)?;
        Ok(Segment {
            seq,
            path,
            file: Some(file),
            len: MAGIC.len() as u64,
            live: 0,
            keys: keys.clone(),
        })
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), SpoolError> {
        let Some(file) = self.file.as_mut() else {
            return Err(SpoolError::Io {
                path: self.path.clone(),
                source: io::Error::other("segment is sealed"),
            });
        };
        // Sealed: each record's body is replaced by its sealed form, framed again, so the
        // checksum covers the sealed bytes and a torn write is found as before.
        let sealed;
        let bytes = match &self.keys {
            Some(keys) => {
                sealed = crate::crypt::seal_frames(keys, AAD, bytes);
                sealed.as_slice()
            }
            None => bytes,
        };
        // One `write` per call: a record is never split across writes we issue, so only a
        // crash mid-syscall can tear it, and replay detects that.
        file.write_all(bytes).map_err(|source| SpoolError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), SpoolError> {
        match &self.file {
            Some(file) => file.sync_data().map_err(|source| SpoolError::Io {
                path: self.path.clone(),
                source,
            }),
            None => Ok(()),
        }
    }

    fn delete(self) -> Result<(), SpoolError> {
        drop(self.file);
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(SpoolError::Io {
                path: self.path,
                source,
            }),
        }
    }
}

/// Makes file creations and deletions in `dir` durable. Best effort: not every platform can
/// sync a directory.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn encode_event(buf: &mut Vec<u8>, destination: u16, r: &Record) {
    let distinct_id: Arc<str> = Arc::from(r.distinct_id.as_str());
    let entry = Entry {
        plan: Stamp {
            plan_hash: &r.plan_hash,
            plan_label: &r.plan_label,
            destination_id: &r.destination_id,
        },
        destination: usize::from(destination),
        insert_id: &r.insert_id,
        event: &r.event,
        time_ms: r.time_ms,
        distinct_id: &distinct_id,
        purposes: PurposeSet::from_bits(r.purposes),
        properties: r.properties.as_bytes(),
        message: &Message::TRACK,
    };
    encode_record(buf, destination, &entry, &r.message);
}

fn encode_event_parts(buf: &mut Vec<u8>, destination: u16, e: &Entry<'_>) {
    let mut message = Vec::new();
    encode_message(&mut message, e.message);
    encode_record(buf, destination, e, &message);
}

/// An event record: kind 3 when `message` is empty (a plain event), else kind 4.
fn encode_record(buf: &mut Vec<u8>, destination: u16, e: &Entry<'_>, message: &[u8]) {
    let start = begin(buf);
    buf.push(if message.is_empty() { EVENT } else { MESSAGE });
    buf.extend_from_slice(&destination.to_le_bytes());
    buf.extend_from_slice(&e.time_ms.to_le_bytes());
    buf.extend_from_slice(&e.purposes.bits().to_le_bytes());
    put(buf, e.insert_id.as_bytes(), 1);
    put(buf, e.event.as_bytes(), 2);
    put(buf, e.distinct_id.as_bytes(), 2);
    put(buf, e.properties, 4);
    put(buf, e.plan.plan_hash.as_bytes(), 1);
    put(buf, e.plan.plan_label.as_bytes(), 1);
    put(buf, e.plan.destination_id.as_bytes(), 1);
    if !message.is_empty() {
        put(buf, message, 2);
    }
    finish(buf, start);
}

/// The envelope `event` names of messages other than events.
const MESSAGE_NAMES: [&str; 4] = ["$profile", "$group", "$join", "$link"];

/// Encodes a message kind; nothing for a plain event (`Message::TRACK`).
fn encode_message(buf: &mut Vec<u8>, m: &Message) {
    let op = |op: ProfileOp| {
        ProfileOp::ALL
            .iter()
            .position(|o| *o == op)
            .and_then(|i| u8::try_from(i).ok())
            .unwrap_or(u8::MAX)
    };
    let group = |buf: &mut Vec<u8>, g: &GroupRef| {
        put(buf, g.kind.as_bytes(), 1);
        put(buf, g.key.as_bytes(), 1);
        put(buf, g.id.as_bytes(), 2);
    };
    match m {
        Message::Track { groups: None } => {}
        Message::Track {
            groups: Some(groups),
        } => {
            buf.push(0);
            buf.push(u8::try_from(groups.len()).unwrap_or(u8::MAX));
            for g in groups.iter().take(usize::from(u8::MAX)) {
                group(buf, g);
            }
        }
        Message::Profile { op: o } => {
            buf.push(1);
            buf.push(op(*o));
        }
        Message::Join { group: g } => {
            buf.push(2);
            group(buf, g);
        }
        Message::Group { group: g, op: o } => {
            buf.push(3);
            group(buf, g);
            buf.push(op(*o));
        }
        Message::Link { anonymous_id } => {
            buf.push(4);
            put(buf, anonymous_id.as_bytes(), 2);
        }
    }
}

/// The message an encoding names, with its group kinds resolved in `plan` (`None`: a kind
/// or operation `plan` does not have, or a torn encoding).
fn decode_message(bytes: &[u8], plan: &'static PlanInfo) -> Option<Message> {
    if bytes.is_empty() {
        return Some(Message::TRACK);
    }
    let mut r = Reader(bytes);
    let op = |r: &mut Reader<'_>| {
        let i = r.bytes(1)?[0];
        ProfileOp::ALL.get(usize::from(i)).copied()
    };
    let group = |r: &mut Reader<'_>| {
        let kind = r.string(1)?;
        let key = r.string(1)?;
        let id = r.string(2)?;
        let info = plan
            .groups
            .iter()
            .find(|g| g.id == kind && g.key.name == key)?;
        Some(GroupRef {
            kind: info.id,
            key: info.key.name,
            id: id.into(),
        })
    };
    let message = match r.bytes(1)?[0] {
        0 => {
            let n = r.bytes(1)?[0];
            let groups = (0..n)
                .map(|_| group(&mut r))
                .collect::<Option<Vec<GroupRef>>>()?;
            Message::Track {
                groups: Some(groups.into()),
            }
        }
        1 => Message::Profile { op: op(&mut r)? },
        2 => Message::Join {
            group: group(&mut r)?,
        },
        3 => {
            let g = group(&mut r)?;
            Message::Group {
                group: g,
                op: op(&mut r)?,
            }
        }
        4 => Message::Link {
            anonymous_id: r.string(2)?.into(),
        },
        _ => return None,
    };
    Some(message)
}

/// The anonymous id a record's encoded message links, if it is a link.
fn linked_id(message: &[u8]) -> Option<String> {
    let mut r = Reader(message);
    (r.bytes(1)?[0] == 4).then(|| r.string(2)).flatten()
}

fn encode_settled(buf: &mut Vec<u8>, destination: u16, insert_id: &str) {
    let start = begin(buf);
    buf.push(SETTLED);
    buf.extend_from_slice(&destination.to_le_bytes());
    put(buf, insert_id.as_bytes(), 1);
    finish(buf, start);
}

enum Item {
    Event(Record),
    Settled(String),
}

/// Reads the intact records of a segment, stopping at the first torn one. A sealed segment
/// needs `keys`; one that they cannot open is an error (nothing is skipped silently).
fn read_segment(path: &Path, keys: &Keys) -> Result<Vec<(u16, Item)>, SpoolError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|source| SpoolError::Io {
            path: path.to_owned(),
            source,
        })?;
    let mut items = Vec::new();
    if bytes.get(..MAGIC.len()) == Some(MAGIC_SEALED.as_slice()) {
        let mut at = MAGIC.len();
        while at < bytes.len() {
            let Ok((taken, sealed)) = frame::split(&bytes[at..]) else {
                tracing::warn!(
                    segment = %path.display(),
                    offset = at,
                    "spool: torn or corrupt record; the records after it are skipped"
                );
                break;
            };
            let plain =
                crate::crypt::open_with(keys, AAD, sealed).map_err(|source| SpoolError::Crypt {
                    path: path.to_owned(),
                    source,
                })?;
            let Some(item) = decode_body(&plain) else {
                break;
            };
            at += taken;
            items.push(item);
        }
        return Ok(items);
    }
    if bytes.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
        tracing::warn!(segment = %path.display(), "spool: not a spool segment, skipped");
        return Ok(items);
    }
    let mut at = MAGIC.len();
    while at < bytes.len() {
        let Some(item) = decode(&bytes[at..]) else {
            tracing::warn!(
                segment = %path.display(),
                offset = at,
                "spool: torn or corrupt record; the records after it are skipped"
            );
            break;
        };
        at += item.0;
        items.push(item.1);
    }
    Ok(items)
}

/// Decodes one record; `(bytes consumed, item)`.
fn decode(bytes: &[u8]) -> Option<(usize, (u16, Item))> {
    let (taken, body) = frame::split(bytes).ok()?;
    Some((taken, decode_body(body)?))
}

/// Decodes one record's body.
fn decode_body(body: &[u8]) -> Option<(u16, Item)> {
    let mut r = Reader(body);
    let kind = r.bytes(1)?[0];
    let destination = u16::from_le_bytes(r.bytes(2)?.try_into().ok()?);
    let item = match kind {
        EVENT | EVENT_V1 | MESSAGE => {
            let mut record = Record {
                time_ms: i64::from_le_bytes(r.bytes(8)?.try_into().ok()?),
                purposes: u64::from_le_bytes(r.bytes(8)?.try_into().ok()?),
                insert_id: r.string(1)?,
                event: r.string(2)?,
                distinct_id: r.string(2)?,
                properties: r.string(4)?,
                plan_hash: String::new(),
                plan_label: String::new(),
                destination_id: String::new(),
                message: Vec::new(),
            };
            if kind != EVENT_V1 {
                record.plan_hash = r.string(1)?;
                record.plan_label = r.string(1)?;
                record.destination_id = r.string(1)?;
            }
            if kind == MESSAGE {
                let mut len = [0u8; 2];
                len.copy_from_slice(r.bytes(2)?);
                record.message = r.bytes(usize::from(u16::from_le_bytes(len)))?.to_vec();
            }
            Item::Event(record)
        }
        SETTLED => Item::Settled(r.string(1)?),
        _ => return None,
    };
    Some((destination, item))
}

/// The records a segment's bytes after the magic decode to, as [`read_segment`] reads them:
/// `(records, bytes they take)`. The spool fuzz target's entry point (`crate::__fuzz`).
#[cfg(feature = "fuzzing")]
pub(crate) fn decode_records(bytes: &[u8]) -> (usize, usize) {
    let (mut records, mut at) = (0, 0);
    while let Some((len, _)) = bytes.get(at..).and_then(decode) {
        records += 1;
        at += len;
    }
    (records, at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use std::sync::LazyLock;

    static PLAN: LazyLock<&'static PlanInfo> = LazyLock::new(|| {
        fixture::plan("t")
            .purpose("analytics")
            .destination("a", "memory")
            .destination("b", "memory")
            .event("Thing Happened", [])
            .build()
    });

    /// A fresh directory under the target dir, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "trackplan-spool-{name}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = fs::remove_dir_all(&dir);
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn envelope(n: u32, who: &str) -> Envelope {
        Envelope {
            message: crate::Message::TRACK,
            event: "Thing Happened",
            insert_id: format!("00000000-0000-4000-8000-{n:012}"),
            time_ms: 1_700_000_000_000 + i64::from(n),
            distinct_id: who.into(),
            plan: &PLAN,
            purposes: PurposeSet::from_bits(1),
            properties: format!(r#"{{"n":{n},"s":"é\"x"}}"#).into(),
        }
    }

    /// Appends one envelope for one destination, as `track` would.
    fn add(spool: &Spool, destination: usize, e: &Envelope) {
        spool
            .append(&[Entry {
                plan: Stamp::of(e.plan, destination),
                destination,
                insert_id: &e.insert_id,
                event: e.event,
                time_ms: e.time_ms,
                distinct_id: &e.distinct_id,
                purposes: e.purposes,
                properties: e.properties.as_bytes(),
                message: &e.message,
            }])
            .expect("append");
        spool.sync_if_due().expect("sync");
    }

    fn ids(spooled: &[Spooled]) -> Vec<(usize, String)> {
        spooled
            .iter()
            .map(|s| (s.destination, s.envelope.insert_id.clone()))
            .collect()
    }

    #[test]
    fn replays_what_was_not_settled_after_reopening() {
        let dir = TempDir::new("replay");
        {
            let spool = Spool::open(&dir.0).expect("open");
            assert!(spool.take_replayed(&PLAN).events.is_empty());
            for n in 0..5 {
                add(&spool, 0, &envelope(n, "u1"));
            }
            add(&spool, 1, &envelope(0, "u1"));
            spool
                .settle(
                    0,
                    [
                        envelope(1, "").insert_id.as_str(),
                        envelope(3, "").insert_id.as_str(),
                    ],
                )
                .expect("settle");
            // Dropped without sync or shutdown, as a crash would leave it.
        }
        let spool = Spool::open(&dir.0).expect("reopen");
        let replayed = spool.take_replayed(&PLAN).events;
        let expect = |d, n| (d, envelope(n, "").insert_id);
        assert_eq!(
            ids(&replayed),
            [expect(0, 0), expect(1, 0), expect(0, 2), expect(0, 4)]
        );
        let first = &replayed[0].envelope;
        let original = envelope(0, "u1");
        assert_eq!(first.properties, original.properties);
        assert_eq!(&*first.distinct_id, "u1");
        assert_eq!(first.time_ms, original.time_ms);
        assert_eq!(first.event, "Thing Happened");
        assert!(
            spool.take_replayed(&PLAN).events.is_empty(),
            "replayed once"
        );
        assert_eq!(spool.segments().len(), 1, "old segments compacted away");
    }

    #[test]
    fn a_torn_tail_loses_only_the_torn_record() {
        let dir = TempDir::new("torn");
        let path = {
            let spool = Spool::open(&dir.0).expect("open");
            for n in 0..3 {
                add(&spool, 0, &envelope(n, "u"));
            }
            spool.segments().remove(0)
        };
        let len = fs::metadata(&path).expect("segment").len();
        let file = OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open segment");
        file.set_len(len - 5).expect("truncate");
        drop(file);
        let spool = Spool::open(&dir.0).expect("reopen");
        assert_eq!(spool.take_replayed(&PLAN).events.len(), 2);

        // A flipped byte inside a record is caught by its checksum.
        drop(spool);
        let path = fs::read_dir(&dir.0)
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "spool"))
            .expect("a segment");
        let mut bytes = fs::read(&path).expect("read");
        let at = bytes.len() - 3;
        bytes[at] ^= 0x40;
        fs::write(&path, bytes).expect("write");
        let spool = Spool::open(&dir.0).expect("reopen");
        assert_eq!(spool.take_replayed(&PLAN).events.len(), 1);
    }

    #[test]
    fn settled_segments_are_deleted() {
        let dir = TempDir::new("compact");
        let spool = Spool::open(&dir.0).expect("open").segment_bytes(400);
        let envelopes: Vec<Envelope> = (0..20).map(|n| envelope(n, "u")).collect();
        for e in &envelopes {
            add(&spool, 0, e);
        }
        let before = spool.segments().len();
        assert!(before > 3, "small segments rotate: {before}");
        spool
            .settle(0, envelopes[..15].iter().map(|e| e.insert_id.as_str()))
            .expect("settle");
        let after = spool.segments();
        assert!(after.len() < before, "{} → {}", before, after.len());
        assert!(after.iter().all(|p| p.exists()));
        let on_disk = fs::read_dir(&dir.0)
            .expect("dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "spool"))
            })
            .count();
        assert_eq!(on_disk, after.len());
        assert_eq!(spool.pending(), 5);
    }

    #[test]
    fn forget_removes_the_subjects_bytes_from_disk() {
        let dir = TempDir::new("forget");
        let spool = Spool::open(&dir.0).expect("open").segment_bytes(300);
        for n in 0..10 {
            let who = if n % 2 == 0 {
                "subject-to-forget"
            } else {
                "other"
            };
            add(&spool, 0, &envelope(n, who));
        }
        assert_eq!(spool.forget(&["subject-to-forget"]).expect("forget"), 5);
        assert_eq!(spool.pending(), 5);
        for entry in fs::read_dir(&dir.0).expect("dir") {
            let bytes = fs::read(entry.expect("entry").path()).expect("read");
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains("subject-to-forget"),
                "erased from every file"
            );
        }
        drop(spool);
        let spool = Spool::open(&dir.0).expect("reopen");
        let replayed = spool.take_replayed(&PLAN).events;
        assert_eq!(replayed.len(), 5);
        assert!(replayed.iter().all(|s| &*s.envelope.distinct_id == "other"));
    }

    #[test]
    fn one_process_at_a_time() {
        let dir = TempDir::new("lock");
        let first = Spool::open(&dir.0).expect("open");
        let second = Spool::open(&dir.0);
        assert!(
            matches!(second, Err(SpoolError::Locked { .. })),
            "{second:?}"
        );
        drop(first);
        Spool::open(&dir.0).expect("the lock is released with the spool");
    }

    #[test]
    fn events_the_plan_lost_are_dropped_on_replay() {
        let other = fixture::plan("t").version(2).build();
        let dir = TempDir::new("lost");
        {
            let spool = Spool::open(&dir.0).expect("open");
            add(&spool, 0, &envelope(1, "u"));
        }
        let spool = Spool::open(&dir.0).expect("reopen");
        assert!(spool.take_replayed(other).events.is_empty());
        assert_eq!(spool.pending(), 0, "settled, not replayed forever");
    }

    #[test]
    fn events_of_another_plan_are_refused_and_counted_not_rerouted() {
        // The same destinations in the other order, under a new hash.
        let reordered = fixture::plan("t")
            .version(2)
            .purpose("analytics")
            .destination("b", "memory")
            .destination("a", "memory")
            .event("Thing Happened", [])
            .build();
        let dir = TempDir::new("reordered");
        {
            let spool = Spool::open(&dir.0).expect("open");
            add(&spool, 0, &envelope(1, "u"));
            add(&spool, 1, &envelope(2, "u"));
        }
        let spool = Spool::open(&dir.0).expect("reopen");
        let replayed = spool.take_replayed(reordered);
        assert!(replayed.events.is_empty(), "nothing replayed by position");
        assert_eq!(
            replayed.refused,
            vec![(format!("t@1 (hash {})", PLAN.hash), 2)]
        );
        assert_eq!(spool.pending(), 0, "settled, not offered again");
    }

    #[test]
    fn sync_policies_sync() {
        let dir = TempDir::new("sync");
        let spool = Spool::open(&dir.0)
            .expect("open")
            .sync_policy(SyncPolicy::EveryEvent);
        add(&spool, 0, &envelope(1, "u"));
        assert!(!spool.inner().dirty, "synced before append returned");
        drop(spool);
        let spool = Spool::open(&dir.0)
            .expect("open")
            .sync_policy(SyncPolicy::OnFlush);
        add(&spool, 0, &envelope(2, "u"));
        spool.sync_if_due().expect("tick");
        assert!(spool.inner().dirty, "on-flush waits for a flush");
        spool.sync().expect("sync");
        assert!(!spool.inner().dirty);
    }
}
