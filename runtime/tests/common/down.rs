//! A destination that is down.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use trackplan_runtime::config::{RetryPolicy, SinkDeclaration};
use trackplan_runtime::{Envelope, Outcome, Sink};

/// A destination that is down: records every batch it was offered and asks for a retry in an
/// hour, so its events stay pending (and spooled) until the tracker stops.
#[derive(Clone, Default)]
pub struct Down(Arc<Mutex<Vec<Envelope>>>);

impl Down {
    /// Every envelope offered so far, retries included.
    pub fn offered(&self) -> Vec<Envelope> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Sink for Down {
    fn declaration(&self) -> SinkDeclaration {
        SinkDeclaration::InProcess
    }

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            initial_backoff: Duration::from_secs(3600),
            max_backoff: Duration::from_secs(3600),
            max_retries: 100,
        }
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(batch);
        Outcome::Retry {
            reason: "503".into(),
            after: Some(Duration::from_secs(3600)),
        }
    }
}
