//! Telemetry for command-line and desktop tools, following their conventions (feature
//! `cli-telemetry`).
//!
//! [`CliTelemetry`] decides whether a tool's usage events leave the machine:
//!
//! 1. `DO_NOT_TRACK` set (to anything but empty, `0` or `false`): off, always.
//! 2. The tool's own variable, `<TOOL>_TELEMETRY` (`0`/`false`/`off` or `1`/`true`/`on`).
//! 3. `CI` set: off (a build machine is nobody's consent).
//! 4. The person's stored answer, in the platform's config directory.
//! 5. Not answered yet and no terminal on stdin or stderr: off, and asked another time.
//! 6. Not answered yet on a terminal: [`CliTelemetry::start`] shows a notice made from the
//!    plan's purposes and asks once; the answer is stored and recorded in the consent
//!    ledger (method `cli_prompt`).
//!
//! Events are tracked through the [`Subject`] `start` returns, whose distinct id comes from
//! a random install id kept next to the answer. When telemetry is off the subject has opted
//! out of everything: the tool tracks as usual and nothing is delivered.
//! [`CliTelemetry::disable`] withdraws, which drops the subject's queued events.
//!
//! See `docs/cli-telemetry.md` and `examples/cli_telemetry.rs`.

mod status;

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

pub use status::{Reason, Status};

use crate::consent::{Collection, Ledger, LedgerError, Method, Surface};
use crate::id::NoRandomness;
use crate::plan::{LegalBasis, PlanInfo};
use crate::{Consent, Subject, Tracker};

const CHOICE_FILE: &str = "telemetry";
const INSTALL_ID_FILE: &str = "install_id";
const LEDGER_DIR: &str = "consent";

/// Why the telemetry kit could not do what was asked. Nothing half-done: a choice that could
/// not be stored or recorded is not applied as a grant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// The platform has no per-user config directory (no home directory).
    #[error("no config directory for {tool}: set one with CliTelemetry::with_config_dir")]
    NoConfigDir {
        /// The tool's name.
        tool: String,
    },
    /// Reading or writing the config directory failed.
    #[error("telemetry settings in {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The stored install id is not one the kit wrote (edited by hand?).
    #[error("{} does not hold an install id; delete it to get a new one", path.display())]
    BadInstallId {
        /// The file.
        path: PathBuf,
    },
    /// The operating system gave no random bytes for a new install id.
    #[error(transparent)]
    NoRandomness(#[from] NoRandomness),
    /// Recording the choice in the consent ledger failed.
    #[error("recording the telemetry choice: {0}")]
    Ledger(#[from] LedgerError),
}

/// Where the environment comes from: the process's, or a test's.
type EnvFn = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The telemetry kit of one tool: see the [module documentation](self).
pub struct CliTelemetry {
    tool: String,
    plan: &'static PlanInfo,
    dir: PathBuf,
    env: Box<EnvFn>,
    terminal: Option<bool>,
    started: Mutex<Option<Subject>>,
}

impl std::fmt::Debug for CliTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CliTelemetry")
            .field("tool", &self.tool)
            .field("plan", &self.plan.label)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn truthy(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Some(true),
        "0" | "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

impl CliTelemetry {
    /// The kit for `tool` (its name, as typed on the command line) under `plan`, keeping its
    /// settings in the platform's config directory for `tool` (`~/.config/<tool>/` on Linux,
    /// `~/Library/Application Support/<tool>/` on macOS, `%APPDATA%\<tool>\config\` on
    /// Windows).
    pub fn new(tool: &str, plan: &'static PlanInfo) -> Result<CliTelemetry, TelemetryError> {
        let dirs = directories::ProjectDirs::from("", "", tool).ok_or_else(|| {
            TelemetryError::NoConfigDir {
                tool: tool.to_owned(),
            }
        })?;
        Ok(CliTelemetry::with_config_dir(tool, plan, dirs.config_dir()))
    }

    /// The kit keeping its settings in `dir` (a tool's `--config-dir`, or a test's temporary
    /// directory).
    pub fn with_config_dir(
        tool: &str,
        plan: &'static PlanInfo,
        dir: impl AsRef<Path>,
    ) -> CliTelemetry {
        CliTelemetry {
            tool: tool.to_owned(),
            plan,
            dir: dir.as_ref().to_owned(),
            env: Box::new(|name| std::env::var(name).ok()),
            terminal: None,
            started: Mutex::new(None),
        }
    }

    /// Reads environment variables through `env` instead of the process environment.
    pub fn env(mut self, env: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.env = Box::new(env);
        self
    }

    /// Whether a person is at a terminal, instead of checking that stdin and stderr are
    /// terminals (a desktop app with its own dialog says `true` and passes the dialog's
    /// answer to [`CliTelemetry::start_with`]).
    pub fn terminal(mut self, terminal: bool) -> Self {
        self.terminal = Some(terminal);
        self
    }

    /// The tool's own variable: `<TOOL>_TELEMETRY`, upper case, `-` and `.` as `_`.
    pub fn variable(&self) -> String {
        let mut name: String = self
            .tool
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        name.push_str("_TELEMETRY");
        name
    }

    /// The directory holding the answer, the install id and the consent ledger.
    pub fn config_dir(&self) -> &Path {
        &self.dir
    }

    fn is_terminal(&self) -> bool {
        self.terminal
            .unwrap_or_else(|| std::io::stdin().is_terminal() && std::io::stderr().is_terminal())
    }

    fn stored(&self) -> Result<Option<bool>, TelemetryError> {
        let path = self.dir.join(CHOICE_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(match text.trim() {
                "enabled" => Some(true),
                "disabled" => Some(false),
                _ => None,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(TelemetryError::Io { path, source }),
        }
    }

    /// Whether telemetry is on and why, without asking anything or writing any file.
    pub fn status(&self) -> Result<Status, TelemetryError> {
        let off = |reason| Status {
            enabled: false,
            reason,
        };
        if let Some(value) = (self.env)("DO_NOT_TRACK")
            && !value.trim().is_empty()
            && truthy(&value) != Some(false)
        {
            return Ok(off(Reason::DoNotTrack));
        }
        if let Some(on) = (self.env)(&self.variable()).as_deref().and_then(truthy) {
            return Ok(Status {
                enabled: on,
                reason: Reason::ToolVariable,
            });
        }
        if let Some(value) = (self.env)("CI")
            && !value.trim().is_empty()
            && truthy(&value) != Some(false)
        {
            return Ok(off(Reason::Ci));
        }
        if let Some(on) = self.stored()? {
            return Ok(Status {
                enabled: on,
                reason: Reason::Stored,
            });
        }
        Ok(off(if self.is_terminal() {
            Reason::NotAsked
        } else {
            Reason::NoTerminal
        }))
    }

    /// The first-run notice: what the tool collects and why, from the plan's purposes (their
    /// descriptions and legal bases), and how to change the answer.
    pub fn notice(&self) -> String {
        let mut text = format!(
            "{tool} can send anonymous usage telemetry (plan {label}).\n",
            tool = self.tool,
            label = self.plan.label
        );
        for purpose in self.plan.purposes {
            let basis = match purpose.basis {
                LegalBasis::Consent => "only if you agree".to_owned(),
                other => format!("legal basis: {}", other.name()),
            };
            text.push_str(&format!(
                "  - {}: {} ({basis})\n",
                purpose.id, purpose.description
            ));
        }
        text.push_str(&format!(
            "Events carry a random install id, never your name or files. Change your answer any \
             time with `{tool} telemetry enable|disable`, or set DO_NOT_TRACK=1 or {var}=0.\n",
            tool = self.tool,
            var = self.variable()
        ));
        text
    }

    fn install_id(&self, create: bool) -> Result<Option<String>, TelemetryError> {
        let path = self.dir.join(INSTALL_ID_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let id = text.trim();
                let uuid = id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
                if !uuid {
                    return Err(TelemetryError::BadInstallId { path });
                }
                return Ok(Some(id.to_owned()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(TelemetryError::Io { path, source }),
        }
        if !create {
            return Ok(None);
        }
        let id = crate::id::anonymous_id(crate::id::random_uuid())?;
        let id = id.trim_start_matches("anon-").to_owned();
        self.write(INSTALL_ID_FILE, &id)?;
        Ok(Some(id))
    }

    /// Writes `name` in the config directory atomically (a temporary file, renamed).
    fn write(&self, name: &str, content: &str) -> Result<(), TelemetryError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| TelemetryError::Io { path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let path = self.dir.join(name);
        let temp = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&temp, format!("{content}\n")).map_err(io(&temp))?;
        std::fs::rename(&temp, &path).map_err(io(&path))
    }

    /// Every purpose of the plan granted: what "yes" to the notice means.
    fn granted(&self) -> Consent {
        let ids = self
            .plan
            .purposes
            .iter()
            .filter(|p| p.basis == LegalBasis::Consent)
            .map(|p| p.id);
        // Ids straight from the plan: always known to it.
        Consent::from_ids(self.plan, ids).unwrap_or_else(|_| Consent::none())
    }

    /// The subject of this install (its id created when `on`), tracking under `on`'s
    /// consent when `apply`, else opted out until a recorded choice applies.
    fn subject_for(
        &self,
        tracker: &Tracker,
        on: bool,
        apply: bool,
    ) -> Result<Subject, TelemetryError> {
        let subject = match self.install_id(on)? {
            Some(id) => tracker.anonymous_with_id(&id, Consent::none()),
            // Off and never on: no id is written; a throwaway one tracks nothing anyway.
            None => tracker.anonymous(Consent::none())?,
        };
        let consent = if on && apply {
            self.granted()
        } else {
            Consent::none().opt_out_all()
        };
        subject.set_consent(consent);
        *self.started.lock().unwrap_or_else(PoisonError::into_inner) = Some(subject.clone());
        Ok(subject)
    }

    /// Decides (asking on stdin and stderr when the rules above say so) and returns the
    /// subject to track the tool's events with. When telemetry is off it has opted out of
    /// everything: nothing it tracks is delivered.
    pub fn start(&self, tracker: &Tracker) -> Result<Subject, TelemetryError> {
        let stdin = std::io::stdin();
        self.start_with(tracker, &mut stdin.lock(), &mut std::io::stderr())
    }

    /// [`CliTelemetry::start`], asking on `input` and `output`.
    pub fn start_with(
        &self,
        tracker: &Tracker,
        input: &mut dyn BufRead,
        output: &mut dyn Write,
    ) -> Result<Subject, TelemetryError> {
        let status = self.status()?;
        if status.reason != Reason::NotAsked {
            return self.subject_for(tracker, status.enabled, true);
        }
        let io = |source| TelemetryError::Io {
            path: PathBuf::from("<terminal>"),
            source,
        };
        write!(output, "{}Send usage telemetry? [y/N] ", self.notice()).map_err(io)?;
        output.flush().map_err(io)?;
        let mut answer = String::new();
        let read = input.read_line(&mut answer).map_err(io)?;
        if read == 0 {
            // No answer (input closed): off this time, asked again next time.
            writeln!(output).map_err(io)?;
            return self.subject_for(tracker, false, true);
        }
        let on = matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes");
        // Opted out until the answer is recorded: a grant that cannot be proven is not acted on.
        let subject = self.subject_for(tracker, on, false)?;
        self.choose(tracker, &subject, on, Method::CliPrompt)?;
        let state = if on { "on" } else { "off" };
        writeln!(output, "Telemetry is {state}.").map_err(io)?;
        Ok(subject)
    }

    /// Records the choice in the ledger (the tracker's, or the kit's own in the config
    /// directory), applies it, then stores it.
    fn choose(
        &self,
        tracker: &Tracker,
        subject: &Subject,
        on: bool,
        method: Method,
    ) -> Result<(), TelemetryError> {
        let consent = if on {
            self.granted()
        } else {
            Consent::none().opt_out_all()
        };
        let how = Collection::new(method, Surface::CliPrompt);
        if tracker.ledger().is_some() {
            subject.record_consent(consent, how)?;
        } else {
            let ledger = Ledger::open(self.dir.join(LEDGER_DIR));
            let recorded =
                ledger.and_then(|l| l.record(subject.distinct_id(), self.plan, &consent, &how));
            if let Err(error) = recorded {
                // A grant that cannot be proven is not acted on; a withdrawal still is.
                if !on {
                    subject.set_consent(consent);
                }
                return Err(error.into());
            }
            subject.set_consent(consent);
        }
        self.write(CHOICE_FILE, if on { "enabled" } else { "disabled" })
    }

    fn current(&self, tracker: &Tracker, on: bool) -> Result<Subject, TelemetryError> {
        let started = self
            .started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match started {
            Some(subject) => Ok(subject),
            None => {
                let id = self.install_id(on)?;
                Ok(match id {
                    Some(id) => tracker.anonymous_with_id(&id, Consent::none()),
                    None => tracker.anonymous(Consent::none())?,
                })
            }
        }
    }

    /// `<tool> telemetry enable`: stores and records the opt-in (method `accept`). The
    /// environment still wins: under `DO_NOT_TRACK` or in CI [`CliTelemetry::status`] stays
    /// off.
    pub fn enable(&self, tracker: &Tracker) -> Result<Status, TelemetryError> {
        let subject = self.current(tracker, true)?;
        self.choose(tracker, &subject, true, Method::Accept)?;
        self.status()
    }

    /// `<tool> telemetry disable`: stores and records the opt-out (method `reject`) and
    /// applies it to the subject [`CliTelemetry::start`] returned: its events still queued
    /// are dropped, and nothing it tracks later is delivered.
    pub fn disable(&self, tracker: &Tracker) -> Result<Status, TelemetryError> {
        let subject = self.current(tracker, false)?;
        self.choose(tracker, &subject, false, Method::Reject)?;
        self.status()
    }
}
