//! [`Completion`]: the future the `*_async` methods of the tracker return.
//!
//! The tracker's blocking calls (`flush`, `shutdown`, `forget`, `request_access`) wait for the
//! destinations' workers. Their async forms run that wait on a short-lived helper thread and
//! hand the result over through a one-shot slot: a mutex and the waker of the task polling.
//! No async runtime is assumed, so the futures work on tokio, async-std, smol or a plain
//! `block_on`, and never block the thread that polls them.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

/// The result of a tracker call that runs on a helper thread, as a future. Dropping it does not
/// cancel the call (a `forget` still completes); it only discards the result.
#[must_use = "a Completion does nothing useful unless awaited"]
pub struct Completion<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

enum Slot<T> {
    /// The call runs; the waker of the task that polled last.
    Waiting(Option<Waker>),
    Done(T),
    /// The result was handed out.
    Taken,
}

impl<T: Send + 'static> Completion<T> {
    /// Runs `call` on a new thread named `trackplan-{what}`. Should the thread not start (the
    /// system is out of threads), `call` runs on the calling thread instead: it then blocks,
    /// but the result is the same.
    pub(crate) fn run(what: &str, call: impl FnOnce() -> T + Send + 'static) -> Completion<T> {
        let slot = Arc::new(Mutex::new(Slot::Waiting(None)));
        let theirs = Arc::clone(&slot);
        // The call moves into the thread only if it starts; keep it reachable otherwise.
        let call = Arc::new(Mutex::new(Some(call)));
        let call_there = Arc::clone(&call);
        let started = std::thread::Builder::new()
            .name(format!("trackplan-{what}"))
            .spawn(move || {
                let call = call_there
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                if let Some(call) = call {
                    complete(&theirs, call());
                }
            });
        if started.is_err() {
            let call = call.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(call) = call {
                complete(&slot, call());
            }
        }
        Completion { slot }
    }
}

fn complete<T>(slot: &Mutex<Slot<T>>, value: T) {
    let previous = std::mem::replace(
        &mut *slot.lock().unwrap_or_else(PoisonError::into_inner),
        Slot::Done(value),
    );
    // Woken after the slot holds the value, outside the lock.
    if let Slot::Waiting(Some(waker)) = previous {
        waker.wake();
    }
}

impl<T> Future for Completion<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Done(value) => Poll::Ready(value),
            Slot::Waiting(_) => {
                *slot = Slot::Waiting(Some(cx.waker().clone()));
                Poll::Pending
            }
            // Polled after it returned Ready: a misuse the `Future` contract allows us to
            // answer with pending forever rather than a panic.
            Slot::Taken => Poll::Pending,
        }
    }
}

impl<T> fmt::Debug for Completion<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match *self.slot.lock().unwrap_or_else(PoisonError::into_inner) {
            Slot::Waiting(_) => "waiting",
            Slot::Done(_) => "done",
            Slot::Taken => "taken",
        };
        // The result may hold a subject's data (an access report): never shown.
        f.debug_struct("Completion").field("state", &state).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    struct Flag(std::sync::atomic::AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn completes_with_the_calls_result_and_wakes_the_poller() {
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let mut completion = Completion::run("test", move || {
            let _ = wait.recv();
            42
        });
        let flag = Arc::new(Flag(false.into()));
        let waker = Waker::from(Arc::clone(&flag));
        let mut cx = Context::from_waker(&waker);
        assert_eq!(Pin::new(&mut completion).poll(&mut cx), Poll::Pending);
        go.send(()).unwrap_or_else(|e| panic!("{e}"));
        // Liveness, not timing: wait generously for the helper thread.
        for _ in 0..1000 {
            if flag.0.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst), "woken");
        assert_eq!(Pin::new(&mut completion).poll(&mut cx), Poll::Ready(42));
    }
}
