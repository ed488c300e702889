//! Per-thread tallies of the counters `track` bumps on every call (accepted, refused by
//! consent, skipped).
//!
//! An atomic increment is a locked instruction: on the refusal path it was most of the cost
//! (7.7 ns of CPU per refused `track_with`, 5.4 ns with a plain store). Each thread that tracks
//! through a tracker gets its own row of cells, which only it writes, with a plain load and
//! store; a snapshot adds up the rows of every thread. A row outlives its thread: when the
//! thread exits, its counts are folded into the tracker's retired row at the next
//! registration, so nothing counted is lost and the rows stay as many as the live threads.
//!
//! Visibility: a row's store is sequenced before the queue push (a mutex release) that hands
//! the event to the worker, and a snapshot reads the settled counters before the tallies, so a
//! snapshot never shows more settled than accepted (see `StatsCells::snapshot`).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::plan::DestinationSet;

/// The counters a thread tallies on its own.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Tally {
    Accepted,
    Refused,
    Skipped,
}

const TALLIES: usize = 3;

/// One destination's tallies in one row, on a cache line of their own so that two threads'
/// rows never share one.
#[repr(align(128))]
#[derive(Default)]
struct Cell([AtomicU64; TALLIES]);

/// One thread's row: a cell per destination.
struct Row(Box<[Cell]>);

impl Row {
    fn new(destinations: usize) -> Arc<Row> {
        Arc::new(Row((0..destinations).map(|_| Cell::default()).collect()))
    }

    fn get(&self, destination: usize, tally: Tally) -> u64 {
        self.0
            .get(destination)
            .map_or(0, |c| c.0[tally as usize].load(Ordering::Acquire))
    }
}

/// Gives every tracker an owner id no other tracker of the process has had.
static NEXT_OWNER: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's rows, by owner id; the one used last first.
    static ROWS: RefCell<Vec<(u64, Arc<Row>)>> = const { RefCell::new(Vec::new()) };
}

/// A tracker's tallies: the rows of every thread that tracked through it.
pub(crate) struct Tallies {
    owner: u64,
    rows: Mutex<Rows>,
    /// Used when this thread's rows are gone (a `track` from another thread-local's
    /// destructor at thread exit).
    fallback: Arc<Row>,
}

struct Rows {
    live: Vec<Arc<Row>>,
    /// The counts of rows whose threads exited.
    retired: Vec<[u64; TALLIES]>,
}

impl Tallies {
    pub(crate) fn new(destinations: usize) -> Self {
        Tallies {
            owner: NEXT_OWNER.fetch_add(1, Ordering::Relaxed),
            rows: Mutex::new(Rows {
                live: Vec::new(),
                retired: vec![[0; TALLIES]; destinations],
            }),
            fallback: Row::new(destinations),
        }
    }

    /// Adds one to `tally` of every destination in `set`, in this thread's row.
    #[inline]
    pub(crate) fn bump_each(&self, set: DestinationSet, tally: Tally) {
        let bumped = ROWS.try_with(|rows| {
            let Ok(mut rows) = rows.try_borrow_mut() else {
                return false;
            };
            let row = match rows.first() {
                Some((owner, row)) if *owner == self.owner => row,
                _ => self.row_of_this_thread(&mut rows),
            };
            for d in set {
                if let Some(cell) = row.0.get(d) {
                    // Only this thread writes its row: no locked instruction needed.
                    let c = &cell.0[tally as usize];
                    c.store(c.load(Ordering::Relaxed).wrapping_add(1), Ordering::Release);
                }
            }
            true
        });
        if !bumped.unwrap_or(false) {
            for d in set {
                if let Some(cell) = self.fallback.0.get(d) {
                    cell.0[tally as usize].fetch_add(1, Ordering::AcqRel);
                }
            }
        }
    }

    /// This thread's row for this tracker, moved to the front; made and registered on the
    /// thread's first `track`.
    #[cold]
    #[inline(never)]
    fn row_of_this_thread<'r>(&self, rows: &'r mut Vec<(u64, Arc<Row>)>) -> &'r Arc<Row> {
        if let Some(i) = rows.iter().position(|(owner, _)| *owner == self.owner) {
            rows.swap(0, i);
        } else {
            // Rows of trackers that are gone are held by this thread alone: let them go.
            rows.retain(|(_, row)| Arc::strong_count(row) > 1);
            let row = Row::new(self.fallback.0.len());
            let mut all = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
            all.retire_exited();
            all.live.push(Arc::clone(&row));
            drop(all);
            rows.insert(0, (self.owner, row));
        }
        &rows[0].1
    }

    /// `tally` of `destination`, summed over every thread's row.
    pub(crate) fn sum(&self, destination: usize, tally: Tally) -> u64 {
        let rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        let retired = rows
            .retired
            .get(destination)
            .map_or(0, |r| r[tally as usize]);
        rows.live
            .iter()
            .chain(std::iter::once(&self.fallback))
            .fold(retired, |sum, row| {
                sum.wrapping_add(row.get(destination, tally))
            })
    }
}

impl Rows {
    /// Folds the rows whose threads exited (held by this registry alone) into `retired`.
    fn retire_exited(&mut self) {
        let retired = &mut self.retired;
        self.live.retain(|row| {
            if Arc::strong_count(row) > 1 {
                return true;
            }
            for (sums, cell) in retired.iter_mut().zip(row.0.iter()) {
                for (sum, c) in sums.iter_mut().zip(&cell.0) {
                    *sum = sum.wrapping_add(c.load(Ordering::Acquire));
                }
            }
            false
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(bits: u64) -> DestinationSet {
        DestinationSet::from_bits(bits)
    }

    #[test]
    fn every_thread_s_bumps_are_summed_also_after_the_thread_exits() {
        let tallies = Arc::new(Tallies::new(2));
        tallies.bump_each(set(0b11), Tally::Accepted);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let t = Arc::clone(&tallies);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        t.bump_each(set(0b01), Tally::Accepted);
                        t.bump_each(set(0b10), Tally::Refused);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("a tallying thread panicked");
        }
        // A new thread's registration retires the exited threads' rows.
        let t = Arc::clone(&tallies);
        std::thread::spawn(move || t.bump_each(set(0b10), Tally::Skipped))
            .join()
            .expect("the last thread panicked");
        assert_eq!(tallies.sum(0, Tally::Accepted), 4001);
        assert_eq!(tallies.sum(1, Tally::Accepted), 1);
        assert_eq!(tallies.sum(1, Tally::Refused), 4000);
        assert_eq!(tallies.sum(0, Tally::Refused), 0);
        assert_eq!(tallies.sum(1, Tally::Skipped), 1);
        let rows = tallies.rows.lock().unwrap_or_else(PoisonError::into_inner);
        assert!(
            rows.live.len() <= 2,
            "rows of exited threads are retired: {} live",
            rows.live.len()
        );
    }

    #[test]
    fn two_trackers_on_one_thread_keep_their_own_counts() {
        let a = Tallies::new(1);
        let b = Tallies::new(1);
        for _ in 0..3 {
            a.bump_each(set(1), Tally::Accepted);
            b.bump_each(set(1), Tally::Accepted);
            b.bump_each(set(1), Tally::Accepted);
        }
        assert_eq!(
            (a.sum(0, Tally::Accepted), b.sum(0, Tally::Accepted)),
            (3, 6)
        );
    }
}
