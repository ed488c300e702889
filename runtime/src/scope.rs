//! Purpose scopes: handles that may only track events the plan declares for one purpose,
//! checked at compile time. [`TrackerScope`] hands out subjects ([`Tracker::scoped`]);
//! [`SubjectScope`] restricts one subject ([`Subject::scoped`]).

use std::fmt;
use std::marker::PhantomData;

use crate::consent::Consent;
use crate::event::{DeclaredFor, Purpose};
use crate::id::NoRandomness;
use crate::options::TrackOptions;
use crate::subject::Subject;
use crate::time::Timestamp;
use crate::tracker::Tracker;

/// A subject handle restricted to events declared for purpose `P`
/// ([`Subject::scoped`], [`TrackerScope::subject`]).
///
/// The restriction is at compile time: tracking an event the plan does not collect for `P`
/// does not compile. Routing and consent are as for [`Subject::track`].
///
/// The scope covers events (`track`, `track_with`, `track_at`, `track_with_options`) and
/// carries over a stitch ([`SubjectScope::identify`]). Profile and group updates
/// (`update_profile`, `join`, `update_group`) and `set_context` are not offered: one update
/// touches traits of several purposes, each routed by its own, so "declared for `P`" has no
/// single answer for it; reach them through [`SubjectScope::subject`], where each trait's
/// purposes and the consent decide as always.
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

    /// Tracks an event declared for `P` as having happened at `time` (see
    /// [`Subject::track_at`]).
    pub fn track_at<E: DeclaredFor<P>>(&self, event: E, time: Timestamp) {
        self.subject.track_at(event, time);
    }

    /// Tracks an event declared for `P` with an explicit time or insert id (see
    /// [`Subject::track_with_options`]).
    pub fn track_with_options<E: DeclaredFor<P>>(&self, event: E, options: &TrackOptions) {
        self.subject.track_with_options(event, options);
    }

    /// The identified subject this anonymous one becomes, restricted to `P` as well (see
    /// [`Subject::identify`]: both ids are linked at every destination).
    pub fn identify(&self, subject_id: &str) -> SubjectScope<P> {
        SubjectScope::new(self.subject.identify(subject_id))
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
