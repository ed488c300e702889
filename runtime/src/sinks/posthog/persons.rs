//! PostHog's persons API (private, authorized by a personal API key): erasure and access for
//! data subjects, paced per project and retried by the one backoff rule.
//!
//! For each distinct id: `GET /api/projects/{project}/persons/?distinct_id=…` finds the person;
//! erasure then calls `DELETE /api/projects/{project}/persons/{id}/?delete_events=true` for each
//! person found (once, however many of the ids it holds), access returns the persons as
//! PostHog stores them. Persons endpoints count against PostHog's analytics rate limit, so
//! calls are spaced by the sink's interval per project across the process.

use super::*;
use crate::http::{self, Client, Response, TransportError};
use crate::sinks::privacy_call::{self, GaveUp, Try};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// The persons API of one project, with an HTTP client of its own.
#[derive(Debug)]
pub(super) struct Persons {
    /// Base URL of the private API.
    pub(super) base: String,
    pub(super) project_id: String,
    pub(super) key: Secret,
    pub(super) interval: Duration,
    pub(super) retry: RetryPolicy,
    pub(super) client: Client,
}

/// Why a persons-API call gave no usable answer. Never holds an id.
#[derive(Debug)]
enum CallError {
    Refused { status: u16, what: &'static str },
    Unavailable { attempts: u32, reason: String },
    Malformed,
}

impl CallError {
    fn reason(&self) -> String {
        match self {
            CallError::Refused { status, what } => {
                format!("PostHog's persons API refused the call ({status}): {what}")
            }
            CallError::Unavailable { attempts, reason } => {
                format!("PostHog's persons API was unavailable after {attempts} attempts: {reason}")
            }
            CallError::Malformed => {
                "PostHog's persons API answered something that is not a persons list".into()
            }
        }
    }
}

/// One person as the persons API returns it: its id for the `DELETE`, and the record.
struct Person {
    id: String,
    record: serde_json::Value,
}

impl Persons {
    fn persons_url(&self) -> String {
        format!(
            "{}/api/projects/{}/persons/",
            self.base,
            http::query_value(&self.project_id)
        )
    }

    /// The persons that hold `distinct_id` (none, or one).
    fn find(&self, distinct_id: &str) -> Result<Vec<Person>, CallError> {
        let url = format!(
            "{}?distinct_id={}",
            self.persons_url(),
            http::query_value(distinct_id)
        );
        let response = self.call("find", |client, auth| {
            client.get(
                &url,
                &[("Authorization", auth), ("Accept", "application/json")],
            )
        })?;
        if response.status == 404 {
            return Err(CallError::Refused {
                status: 404,
                what: "check the project id",
            });
        }
        let body: serde_json::Value =
            serde_json::from_slice(&response.body).map_err(|_| CallError::Malformed)?;
        let results = body["results"].as_array().ok_or(CallError::Malformed)?;
        results
            .iter()
            .map(|record| {
                let id = match &record["id"] {
                    serde_json::Value::String(s) if !s.is_empty() => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    _ => return Err(CallError::Malformed),
                };
                Ok(Person {
                    id,
                    record: record.clone(),
                })
            })
            .collect()
    }

    /// Deletes one person and queues the deletion of its events. A person already gone
    /// (404) counts as deleted.
    fn delete(&self, person_id: &str) -> Result<(), CallError> {
        let url = format!(
            "{}{}/?delete_events=true",
            self.persons_url(),
            http::query_value(person_id)
        );
        self.call("delete", |client, auth| {
            client.delete(&url, &[("Authorization", auth)])
        })
        .map(drop)
    }

    /// The distinct persons of `distinct_ids`, in the order first found.
    fn persons_of(&self, distinct_ids: &[String]) -> Result<Vec<Person>, CallError> {
        let mut persons: Vec<Person> = Vec::new();
        for id in distinct_ids {
            for person in self.find(id)? {
                if !persons.iter().any(|p| p.id == person.id) {
                    persons.push(person);
                }
            }
        }
        Ok(persons)
    }

    /// Makes one call, paced, retried while PostHog is unavailable (408, 429, 5xx, no
    /// connection). Returns a 2xx or 404 response.
    fn call(
        &self,
        what: &'static str,
        call: impl Fn(&Client, &str) -> Result<Response, TransportError>,
    ) -> Result<Response, CallError> {
        let authorization = format!("Bearer {}", self.key.expose());
        privacy_call::retried(
            &self.retry,
            || turn(&self.base, &self.project_id, self.interval),
            || match call(&self.client, &authorization) {
                Ok(r) if (200..300).contains(&r.status) || r.status == 404 => Try::Done(r),
                Ok(r) if matches!(r.status, 408 | 429) || r.status >= 500 => {
                    Try::Again(format!("PostHog answered {}", r.status), r.retry_after)
                }
                Ok(r) => Try::Stop(CallError::Refused {
                    status: r.status,
                    what: match r.status {
                        401 => "check the personal API key",
                        403 => {
                            "the personal API key needs the person:read and person:write scopes on this project"
                        }
                        _ => "see PostHog's persons API documentation",
                    },
                }),
                Err(error) => Try::Again(error.to_string(), None),
            },
            |attempt, wait, failure| {
                tracing::warn!(
                    call = what,
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "PostHog persons API unavailable, retrying: {failure}"
                );
            },
        )
        .map_err(|gave_up| match gave_up {
            GaveUp::Stopped(refusal) => refusal,
            GaveUp::Unavailable { attempts, reason } => CallError::Unavailable { attempts, reason },
        })
    }
}

impl PrivacyApi for Persons {
    fn erase(&mut self, distinct_ids: &[String]) -> Erasure {
        let persons = match self.persons_of(distinct_ids) {
            Ok(persons) => persons,
            Err(e) => return Erasure::Failed { reason: e.reason() },
        };
        if persons.is_empty() {
            // PostHog ingests asynchronously: events sent moments ago may not have made a
            // person yet. Say so rather than claim an erasure.
            tracing::warn!(
                ids = distinct_ids.len(),
                "PostHog holds no person for these distinct ids (yet: ingestion can lag)"
            );
            return Erasure::NothingStored;
        }
        let mut deleted = Vec::with_capacity(persons.len());
        for person in &persons {
            if let Err(e) = self.delete(&person.id) {
                return Erasure::Failed { reason: e.reason() };
            }
            deleted.push(person.id.as_str());
        }
        Erasure::Requested {
            reference: Some(format!(
                "PostHog persons {} deleted; their events are queued for deletion",
                deleted.join(",")
            )),
        }
    }

    fn retrieve(&mut self, distinct_ids: &[String]) -> Access {
        match self.persons_of(distinct_ids) {
            Ok(persons) => Access::Records {
                records: persons.iter().map(|p| p.record.to_string()).collect(),
                source: Some(format!("PostHog persons API, project {}", self.project_id)),
            },
            Err(e) => Access::Failed { reason: e.reason() },
        }
    }
}

/// Reserves the next slot of the project's persons-API pacing (one call per `interval` per
/// project, across every PostHog sink of the process) and returns how long to wait for it.
fn turn(base: &str, project_id: &str, interval: Duration) -> Duration {
    static NEXT_CALL: Mutex<Option<HashMap<String, Instant>>> = Mutex::new(None);
    let now = Instant::now();
    let mut next = NEXT_CALL.lock().unwrap_or_else(PoisonError::into_inner);
    let slot = next
        .get_or_insert_with(HashMap::new)
        .entry(format!("{base} {project_id}"))
        .or_insert(now);
    let at = (*slot).max(now);
    *slot = at + interval;
    at - now
}
