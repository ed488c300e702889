//! What the runtime's behaviour tests share: the events, markers and `PLAN` that `plan!`
//! generates from the fixture plans (`tests/fixture`), a few ready-made events, the gated test
//! sink and small helpers.
//!
//! A test crate that declares `mod common;` also declares `mod fixture;` and, because the
//! generated code names `::trackplan::…`, `extern crate trackplan_runtime as trackplan;` at its
//! root.
#![allow(dead_code)] // each test binary uses its own part

mod down;
mod gated;

use std::time::Duration;

use trackplan_runtime::Key;

/// The shop plan: `PLAN`, its events and enums, `purpose` and `destination`.
pub use crate::fixture::shop::*;
#[allow(unused_imports)] // not every test binary has a destination that is down
pub use down::Down;
pub use gated::Gated;

/// Another plan, to check that mixing plans is refused; its purpose and destination have the
/// ids and indices of the shop's first ones.
#[allow(unused_imports)]
pub use crate::fixture::blog;
#[allow(unused_imports)]
pub use crate::fixture::blog::{BlogRead, PLAN as OTHER_PLAN};

pub fn key() -> Key {
    Key::from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        .unwrap_or_else(|e| panic!("{e}"))
}

pub fn product(id: &str) -> ProductViewed {
    ProductViewed {
        product_id: id.into(),
        price: 19.99,
        currency: Currency::Eur,
    }
}

pub fn login_failed(email: &str) -> LoginFailed {
    LoginFailed {
        email: email.to_string().into(),
        ip_address: "198.51.100.23".to_string().into(),
        attempt: 1,
    }
}

/// A tracker with a `Gated` sink per destination, returned in plan order.
pub fn gated_tracker(
    configure: impl FnOnce(trackplan_runtime::TrackerBuilder) -> trackplan_runtime::TrackerBuilder,
) -> (trackplan_runtime::Tracker, [Gated; 5]) {
    let sinks: [Gated; 5] = Default::default();
    let builder = trackplan_runtime::Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, sinks[0].clone())
        .sink(destination::Mixpanel, sinks[1].clone())
        .sink(destination::Ads, sinks[2].clone())
        .sink(destination::SecurityLog, sinks[3].clone())
        .sink(destination::SupportDesk, sinks[4].clone())
        // Short batching delays keep the tests quick; events still queue while a gate is closed.
        .max_delay(Duration::from_millis(5));
    let tracker = configure(builder).build().unwrap_or_else(|e| panic!("{e}"));
    (tracker, sinks)
}

/// A fresh path in a per-test directory under the system temp dir.
pub fn temp_path(test: &str, file: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("trackplan-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir.join(file)
}

pub trait OrPanic<T> {
    fn or_panic(self) -> T;
}

impl<T, E: std::fmt::Display> OrPanic<T> for Result<T, E> {
    #[track_caller]
    fn or_panic(self) -> T {
        self.unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A tracker of the shop plan whose only destination is the support desk, delivering to
/// `sink`, patient enough for a server restarted under it (the Kafka and PostgreSQL tests),
/// with `spool` if given.
pub fn support_desk_tracker(
    sink: impl trackplan_runtime::Sink,
    spool: Option<&std::path::Path>,
) -> trackplan_runtime::Tracker {
    let mut b = trackplan_runtime::Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::SupportDesk, sink)
        .skip(destination::Warehouse)
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .skip(destination::SecurityLog)
        .max_delay(Duration::from_millis(5))
        .queue_capacity(1_000_000)
        .flush_timeout(Duration::from_secs(120));
    if let Some(dir) = spool {
        let spool = trackplan_runtime::spool::Spool::open(dir)
            .unwrap_or_else(|e| panic!("open the spool: {e}"));
        b = b.spool(spool);
    }
    b.build().unwrap_or_else(|e| panic!("tracker: {e}"))
}
