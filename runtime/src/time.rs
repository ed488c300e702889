//! Timestamps: milliseconds since the Unix epoch, UTC, and their ISO-8601 text.
//!
//! The calendar arithmetic is the proleptic Gregorian calendar done on day numbers (the
//! "days from civil" algorithm): small enough to own, and it keeps a date library out of every
//! application binary.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::plan::Granularity;

const MS_PER_SECOND: i64 = 1_000;
const MS_PER_HOUR: i64 = 3_600_000;
const MS_PER_DAY: i64 = 86_400_000;

/// A point in time, in milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        precise_now()
    }

    /// From milliseconds since the epoch.
    pub const fn from_unix_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    /// Milliseconds since the epoch.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// From a UTC calendar date and time of day. `None` when a field is out of range
    /// (month 1–12, day within the month, hour < 24, minute and second < 60, millisecond < 1000).
    pub fn from_utc(
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        milli: u32,
    ) -> Option<Self> {
        if !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(i64::from(year), month)
            || hour >= 24
            || minute >= 60
            || second >= 60
            || milli >= 1000
        {
            return None;
        }
        let days = days_from_civil(i64::from(year), month, day);
        let ms = days * MS_PER_DAY
            + i64::from(hour) * MS_PER_HOUR
            + i64::from(minute) * 60_000
            + i64::from(second) * MS_PER_SECOND
            + i64::from(milli);
        Some(Timestamp(ms))
    }

    /// Truncated to the start of its UTC hour, day or month.
    pub fn coarsen(self, to: Granularity) -> Self {
        match to {
            Granularity::Hour => Timestamp(self.0 - self.0.rem_euclid(MS_PER_HOUR)),
            Granularity::Day => Timestamp(self.0 - self.0.rem_euclid(MS_PER_DAY)),
            Granularity::Month => {
                let (y, m, _) = civil_from_days(self.0.div_euclid(MS_PER_DAY));
                Timestamp(days_from_civil(y, m, 1) * MS_PER_DAY)
            }
        }
    }

    /// The ISO-8601 UTC text with milliseconds, e.g. `2026-11-29T00:12:04.000Z`. Years outside
    /// 0000–9999 use the expanded form with a sign and six digits.
    pub fn iso8601(self) -> Iso8601 {
        let days = self.0.div_euclid(MS_PER_DAY);
        let in_day = self.0.rem_euclid(MS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let mut text = Iso8601 {
            buf: [0; 31],
            len: 0,
        };
        if (0..=9999).contains(&y) {
            text.digits(y.unsigned_abs(), 4);
        } else {
            text.push(if y < 0 { b'-' } else { b'+' });
            text.digits(y.unsigned_abs(), 6);
        }
        let fields = [
            (b'-', u64::from(m), 2),
            (b'-', u64::from(d), 2),
            (b'T', (in_day / MS_PER_HOUR).unsigned_abs(), 2),
            (b':', (in_day % MS_PER_HOUR / 60_000).unsigned_abs(), 2),
            (b':', (in_day % 60_000 / MS_PER_SECOND).unsigned_abs(), 2),
            (b'.', (in_day % MS_PER_SECOND).unsigned_abs(), 3),
        ];
        for (sep, value, width) in fields {
            text.push(sep);
            text.digits(value, width);
        }
        text.push(b'Z');
        text
    }
}

/// ISO-8601 text of a [`Timestamp`], formatted on the stack.
#[derive(Clone, Copy)]
pub struct Iso8601 {
    // "+" + up to 20 year digits + "-MM-DDTHH:MM:SS.mmmZ" never exceeds 41; years of an i64
    // millisecond count have at most 9 digits, so 31 bytes suffice.
    buf: [u8; 31],
    len: usize,
}

impl Iso8601 {
    fn push(&mut self, b: u8) {
        if self.len < self.buf.len() {
            self.buf[self.len] = b;
            self.len += 1;
        }
    }

    fn digits(&mut self, value: u64, width: usize) {
        let mut tmp = [b'0'; 20];
        let mut v = value;
        let mut n = 0;
        while v > 0 || n < width {
            tmp[19 - n] = b'0' + (v % 10) as u8; // v % 10 < 10: the cast is exact
            v /= 10;
            n += 1;
        }
        for &b in &tmp[20 - n..] {
            self.push(b);
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever pushed.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Display for Iso8601 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Iso8601 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// How `track` timestamps events (`TrackerBuilder::timestamps`).
///
/// Every event carries the wall-clock time of its `track` call in milliseconds. The precise
/// clock costs about 9 ns where it is read through the CPU's time-stamp counter (x86-64 Linux
/// with the kernel keeping time by it), else a `clock_gettime` of 20–40 ns on a virtual
/// machine; the coarse clock is a memory read of a few nanoseconds whose value advances once
/// per scheduler tick. The default is the precise clock: event times to the millisecond, in the
/// order they were tracked, are what analytics users expect (funnels and activity feeds order
/// by time). Choose [`Timestamps::Coarse`] where `track`'s throughput matters more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Timestamps {
    /// The kernel's coarse real-time clock where there is one (Linux and Android:
    /// `CLOCK_REALTIME_COARSE`), else the same as [`Timestamps::Precise`]. Resolution: one
    /// scheduler tick (1–10 ms, 4 ms on most distributions' kernels); the time is that of the
    /// last tick, so it lags by less than one tick. Events less than a tick apart get the same
    /// time, which destinations then order arbitrarily. Accuracy is the system clock's (it
    /// follows NTP adjustments like the precise clock).
    Coarse,
    /// The system clock, to the millisecond (the default). On x86-64 Linux whose kernel keeps
    /// time with the CPU's time-stamp counter, it is read through that counter and re-read
    /// from the system every 200 ms per thread: the same time within well under a millisecond
    /// (a step of the system clock shows within 200 ms), for about half the cost of a
    /// `clock_gettime`.
    #[default]
    Precise,
}

impl Timestamp {
    /// The current time as `track` reads it under `mode`.
    pub(crate) fn now_for_events(mode: Timestamps) -> Self {
        match mode {
            Timestamps::Coarse => coarse_now(),
            Timestamps::Precise => event_clock::now(),
        }
    }
}

/// The precise clock of `track`: the system clock, read through the CPU's time-stamp counter
/// where the kernel's own clock source is that counter (so the kernel has checked that it is
/// stable and in step across CPUs); else the system clock itself. Should `quanta` not find the
/// counter invariant, it reads the kernel's monotonic clock instead: the same times, at the
/// cost of a `clock_gettime`.
///
/// `clock_gettime(CLOCK_REALTIME)` costs about 20 ns through the vDSO on a virtual machine, a
/// fifth of a `track` call; the counter alone about half of that. Each thread reads the system
/// clock once and adds the counter's time since; it reads the system clock again after
/// [`event_clock::ANCHOR_NS`] (and when the counter goes back, e.g. on a CPU whose counter is
/// not in step with another's), so a step of the system clock (NTP, an operator) shows within
/// that time, and the counter's drift against the system clock cannot add up past it: well
/// under a millisecond.
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    target_arch = "x86_64"
))]
mod event_clock {
    use std::cell::Cell;
    use std::sync::OnceLock;

    use super::Timestamp;

    /// How long a thread's anchor (a system-clock reading and the counter then) is used.
    pub(super) const ANCHOR_NS: u64 = 200_000_000;

    /// The calibrated counter, or `None` where it is not the kernel's clock source.
    static CLOCK: OnceLock<Option<quanta::Clock>> = OnceLock::new();

    thread_local! {
        /// The counter and the system time in nanoseconds when this thread last read the
        /// system clock; `(0, 0)` before the first reading.
        static ANCHOR: Cell<(u64, i64)> = const { Cell::new((0, 0)) };
    }

    /// Calibrates the counter against the system clock (once per process): done when a tracker
    /// is built, so that no `track` call waits for it.
    pub(crate) fn calibrate() {
        CLOCK.get_or_init(counter);
    }

    /// The counter, calibrated (about 0.6 ms), when the kernel keeps time with it.
    fn counter() -> Option<quanta::Clock> {
        let source = std::fs::read_to_string(
            "/sys/devices/system/clocksource/clocksource0/current_clocksource",
        )
        .ok()?;
        (source.trim() == "tsc").then(quanta::Clock::new)
    }

    pub(super) fn now() -> Timestamp {
        let Some(clock) = CLOCK.get_or_init(counter) else {
            return Timestamp::now();
        };
        let raw = clock.raw();
        let (at, wall_ns) = ANCHOR.with(Cell::get);
        if at != 0 && raw >= at {
            let since = clock.delta_as_nanos(at, raw);
            if since < ANCHOR_NS {
                // `since` is below ANCHOR_NS, far from overflowing an i64.
                return Timestamp((wall_ns + since as i64).div_euclid(1_000_000));
            }
        }
        anchor(clock)
    }

    /// Reads the system clock, remembers it with the counter, and returns it.
    #[cold]
    #[inline(never)]
    fn anchor(clock: &quanta::Clock) -> Timestamp {
        let raw = clock.raw();
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
        let wall_ns = t
            .tv_sec
            .saturating_mul(1_000_000_000)
            .saturating_add(t.tv_nsec);
        ANCHOR.with(|a| a.set((raw.max(1), wall_ns)));
        Timestamp(wall_ns.div_euclid(1_000_000))
    }
}

/// Elsewhere, the precise clock is the system clock read each time.
#[cfg(not(all(
    any(target_os = "linux", target_os = "android"),
    target_arch = "x86_64"
)))]
mod event_clock {
    use super::Timestamp;

    pub(crate) fn calibrate() {}

    pub(super) fn now() -> Timestamp {
        Timestamp::now()
    }
}

pub(crate) use event_clock::calibrate as calibrate_event_clock;

#[cfg(any(target_os = "linux", target_os = "android"))]
fn coarse_now() -> Timestamp {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
    // `tv_nsec` is below 10⁹, so the sum cannot overflow past the saturated seconds.
    Timestamp(t.tv_sec.saturating_mul(1000) + t.tv_nsec / 1_000_000)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn coarse_now() -> Timestamp {
    Timestamp::now()
}

/// The system clock read directly: the same clock as `SystemTime::now`, without its `Duration`
/// arithmetic (a third of the cost of a `track` timestamp on Linux).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn precise_now() -> Timestamp {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
    Timestamp(t.tv_sec.saturating_mul(1000) + t.tv_nsec / 1_000_000)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn precise_now() -> Timestamp {
    SystemTime::now().into()
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        // Seconds and sub-second millis instead of `as_millis`: no 128-bit division on the
        // `track` path.
        let millis = |d: std::time::Duration| -> i64 {
            i64::try_from(d.as_secs())
                .ok()
                .and_then(|s| s.checked_mul(1000))
                .and_then(|ms| ms.checked_add(i64::from(d.subsec_millis())))
                .unwrap_or(i64::MAX)
        };
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(millis(d)),
            Err(e) => Timestamp(-millis(e.duration())),
        }
    }
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date. Works on 400-year eras, which repeat
/// exactly, with years starting in March so the leap day is the last day of the year.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let mp = i64::from((m + 9) % 12); // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month 1–12, day 1–31).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    // The casts are exact: d is in 1..=31 and m in 1..=12 by the ranges above.
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_get_millisecond_times_unless_the_coarse_clock_is_chosen() {
        assert_eq!(Timestamps::default(), Timestamps::Precise);
    }

    #[test]
    fn the_coarse_clock_is_the_wall_clock_within_a_tick() {
        for _ in 0..100 {
            let before = Timestamp::now().unix_millis();
            let coarse = Timestamp::now_for_events(Timestamps::Coarse).unix_millis();
            let after = Timestamp::now().unix_millis();
            // The coarse clock shows the last tick: never ahead, behind by less than a tick
            // (at most 10 ms on any common kernel configuration, plus scheduling slack).
            assert!(coarse <= after, "{coarse} > {after}");
            assert!(before - coarse < 50, "{before} - {coarse}");
        }
    }

    #[test]
    fn the_event_clock_is_the_system_clock_to_the_millisecond_across_anchors() {
        let millis = |t: SystemTime| Timestamp::from(t).unix_millis();
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(700);
        let mut checked = 0;
        // Past three anchors of the calling thread (200 ms each).
        while std::time::Instant::now() < deadline {
            let before = millis(SystemTime::now());
            let now = Timestamp::now_for_events(Timestamps::Precise).unix_millis();
            let after = millis(SystemTime::now());
            // The counter's estimate may round to the next millisecond at a boundary.
            assert!(
                before - 1 <= now && now <= after + 1,
                "{before} <= {now} <= {after}"
            );
            checked += 1;
            std::thread::sleep(std::time::Duration::from_micros(300));
        }
        assert!(checked > 100, "only {checked} readings in 700 ms");
    }

    #[test]
    fn the_precise_clock_is_the_system_clock_to_the_millisecond() {
        let millis = |t: SystemTime| Timestamp::from(t).unix_millis();
        for _ in 0..100 {
            let before = millis(SystemTime::now());
            let now = Timestamp::now().unix_millis();
            let after = millis(SystemTime::now());
            assert!(
                before <= now && now <= after,
                "{before} <= {now} <= {after}"
            );
        }
    }

    fn iso(ms: i64) -> String {
        Timestamp::from_unix_millis(ms).iso8601().to_string()
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_764_375_124_000), "2025-11-29T00:12:04.000Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
        assert_eq!(iso(253_402_300_800_000), "+010000-01-01T00:00:00.000Z");
        assert_eq!(iso(-62_167_219_200_000), "0000-01-01T00:00:00.000Z");
        assert_eq!(iso(-62_167_219_200_001), "-000001-12-31T23:59:59.999Z");
    }

    #[test]
    fn from_utc_agrees_with_known_instants_and_rejects_bad_fields() {
        let t = Timestamp::from_utc(2026, 11, 29, 0, 12, 4, 0).map(Timestamp::unix_millis);
        assert_eq!(t, Some(1_795_911_124_000));
        assert_eq!(iso(1_795_911_124_000), "2026-11-29T00:12:04.000Z");
        assert_eq!(Timestamp::from_utc(1900, 2, 29, 0, 0, 0, 0), None);
        assert!(Timestamp::from_utc(2000, 2, 29, 0, 0, 0, 0).is_some());
        assert_eq!(Timestamp::from_utc(2024, 13, 1, 0, 0, 0, 0), None);
        assert_eq!(Timestamp::from_utc(2024, 4, 31, 0, 0, 0, 0), None);
        assert_eq!(Timestamp::from_utc(2024, 4, 30, 24, 0, 0, 0), None);
    }

    #[test]
    fn day_numbers_round_trip_over_many_eras() {
        // Every day from 1600 to 2400 plus the edges of the i32 year range map back exactly.
        for z in days_from_civil(1600, 1, 1)..=days_from_civil(2400, 12, 31) {
            let (y, m, d) = civil_from_days(z);
            assert!(d >= 1 && d <= days_in_month(y, m), "{y}-{m}-{d}");
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn coarsens_to_hour_day_and_month() {
        let t = Timestamp::from_utc(2024, 2, 29, 13, 45, 12, 345).unwrap_or(Timestamp(0));
        assert_eq!(
            t.coarsen(Granularity::Hour).iso8601().to_string(),
            "2024-02-29T13:00:00.000Z"
        );
        assert_eq!(
            t.coarsen(Granularity::Day).iso8601().to_string(),
            "2024-02-29T00:00:00.000Z"
        );
        assert_eq!(
            t.coarsen(Granularity::Month).iso8601().to_string(),
            "2024-02-01T00:00:00.000Z"
        );
        // Before the epoch truncation goes down, not towards zero.
        let before = Timestamp(-1);
        assert_eq!(
            before.coarsen(Granularity::Hour).iso8601().to_string(),
            "1969-12-31T23:00:00.000Z"
        );
        assert_eq!(
            before.coarsen(Granularity::Day).iso8601().to_string(),
            "1969-12-31T00:00:00.000Z"
        );
        assert_eq!(
            before.coarsen(Granularity::Month).iso8601().to_string(),
            "1969-12-01T00:00:00.000Z"
        );
    }
}
