//! The `*_async` methods from a tokio current-thread runtime: while a flush, forget or
//! shutdown waits for a destination, the runtime's one thread keeps running other tasks.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod common;
mod fixture;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use trackplan_runtime::Consent;

/// Runs `ticks` on the runtime's only thread until `n` ticks happened, then opens `gate`: if
/// an awaited call blocked the thread, no tick would run, the gate would stay closed and the
/// call would only end at its timeout.
async fn open_after_ticks(gate: Gated, ticks: Arc<AtomicUsize>, n: usize) {
    while ticks.load(Ordering::SeqCst) < n {
        tokio::time::sleep(Duration::from_millis(1)).await;
        ticks.fetch_add(1, Ordering::SeqCst);
    }
    gate.open();
}

#[test]
fn flush_forget_and_shutdown_do_not_block_a_current_thread_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .or_panic();
    runtime.block_on(async {
        let (tracker, sinks) = gated_tracker(|b| b.flush_timeout(Duration::from_secs(60)));
        let user = tracker.subject("a", Consent::none());
        sinks[3].close();
        user.track(login_failed("x@example.com"));

        let ticks = Arc::new(AtomicUsize::new(0));
        let opener = tokio::spawn(open_after_ticks(sinks[3].clone(), ticks.clone(), 20));
        let report = tracker.flush_async().await.or_panic();
        assert!(
            ticks.load(Ordering::SeqCst) >= 20,
            "the runtime kept running"
        );
        assert_eq!(
            report.destination("security_log").map(|c| c.delivered),
            Some(1)
        );
        opener.await.or_panic();

        // forget waits for every destination's erase; the closed gate holds security_log's.
        sinks[3].close();
        user.track(login_failed("x@example.com"));
        assert!(sinks[3].wait_until_blocked());
        let ticks = Arc::new(AtomicUsize::new(0));
        let opener = tokio::spawn(open_after_ticks(sinks[3].clone(), ticks.clone(), 20));
        let report = tracker.forget_async("a").await.or_panic();
        assert!(
            ticks.load(Ordering::SeqCst) >= 20,
            "the runtime kept running"
        );
        assert_eq!(report.destinations.len(), 5);
        opener.await.or_panic();

        let access = tracker.request_access_async("a").await;
        assert!(access.is_ok(), "{access:?}");

        sinks[3].close();
        user.track(login_failed("x@example.com"));
        assert!(sinks[3].wait_until_blocked());
        let ticks = Arc::new(AtomicUsize::new(0));
        let opener = tokio::spawn(open_after_ticks(sinks[3].clone(), ticks.clone(), 20));
        tracker.shutdown_async().await.or_panic();
        assert!(
            ticks.load(Ordering::SeqCst) >= 20,
            "the runtime kept running"
        );
        opener.await.or_panic();
        assert_eq!(tracker.stats().total.pending(), 0);
    });
}
