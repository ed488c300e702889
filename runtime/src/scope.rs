//! Purpose scopes: handles that may only track events the plan declares for one purpose,
//! checked at compile time. [`TrackerScope`] hands out subjects ([`Tracker::scoped`]);
//! [`SubjectScope`] restricts one subject ([`Subject::scoped`]).

use std::fmt;
use std::marker::PhantomData;

use crate::consent::Consent;
use crate::event::{DeclaredFor, Purpose};
use crate::id::NoRandomness;
use crate::subject::Subject;
use crate::tracker::Tracker;

/// A subject handle restricted to events declared for purpose `P`
/// ([`Subject::scoped`], [`TrackerScope::subject`]).
///
/// The restriction is at compile time: tracking an event the plan does not collect for `P`
/// does not compile. Routing and consent are as for [`Subject::track`].
pub struct SubjectScope<P> {
    subject: Subject,
    purpose: PhantomData<fn() -> P>,
}

impl<P> Clone for SubjectScope<P> {
    fn clone(&self) -> Self {
        SubjectScope {
            subject: self.subject.clone(),
            purpose: PhantomData,
        }
    }
}

impl<P> fmt::Debug for SubjectScope<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubjectScope")
            .field("purpose", &std::any::type_name::<P>())
            .field("subject", &self.subject)
            .finish()
    }
}

impl<P: Purpose> SubjectScope<P> {
    pub(crate) fn new(subject: Subject) -> SubjectScope<P> {
        SubjectScope {
            subject,
            purpose: PhantomData,
        }
    }

    /// Tracks an event declared for `P`.
    pub fn track<E: DeclaredFor<P>>(&self, event: E) {
        self.subject.track(event);
    }

    /// Tracks an event declared for `P`, built only when some destination will receive it
    /// (see [`Subject::track_with`]).
    pub fn track_with<E: DeclaredFor<P>>(&self, build: impl FnOnce() -> E) {
        self.subject.track_with(build);
    }

    /// The subject behind the handle.
    pub fn subject(&self) -> &Subject {
        &self.subject
    }
}

/// Hands out subjects restricted to purpose `P` ([`Tracker::scoped`]): give a module a
/// `TrackerScope<purpose::Marketing>` and it cannot track events collected for anything else.
pub struct TrackerScope<P> {
    tracker: Tracker,
    purpose: PhantomData<fn() -> P>,
}

impl<P> Clone for TrackerScope<P> {
    fn clone(&self) -> Self {
        TrackerScope {
            tracker: self.tracker.clone(),
            purpose: PhantomData,
        }
    }
}

impl<P> fmt::Debug for TrackerScope<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackerScope")
            .field("purpose", &std::any::type_name::<P>())
            .finish_non_exhaustive()
    }
}

impl<P: Purpose> TrackerScope<P> {
    pub(crate) fn new(tracker: Tracker) -> TrackerScope<P> {
        TrackerScope {
            tracker,
            purpose: PhantomData,
        }
    }

    /// A subject handle restricted to `P` (see [`Tracker::subject`]).
    pub fn subject(&self, subject_id: &str, consent: Consent) -> SubjectScope<P> {
        self.tracker.subject(subject_id, consent).scoped()
    }

    /// An anonymous subject handle restricted to `P` (see [`Tracker::anonymous`]).
    pub fn anonymous(&self, consent: Consent) -> Result<SubjectScope<P>, NoRandomness> {
        Ok(self.tracker.anonymous(consent)?.scoped())
    }
}
