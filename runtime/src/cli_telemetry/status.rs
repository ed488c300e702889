//! Whether a CLI tool's telemetry is on, and why.

use std::fmt;

/// Why telemetry is on or off ([`Status::reason`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// `DO_NOT_TRACK` is set (to anything but empty, `0` or `false`): off, whatever else says.
    DoNotTrack,
    /// The tool's own variable (`<TOOL>_TELEMETRY=0` or `=1`) said so.
    ToolVariable,
    /// A CI environment (`CI` set): off unless the tool's variable turns it on.
    Ci,
    /// The person's stored answer (the first-run prompt, `enable` or `disable`).
    Stored,
    /// Neither stdin nor stderr is a terminal and nobody answered yet: off, and asked when a
    /// terminal is there.
    NoTerminal,
    /// Nobody answered yet and a terminal is there: [`CliTelemetry::start`] asks.
    ///
    /// [`CliTelemetry::start`]: super::CliTelemetry::start
    NotAsked,
}

/// Whether telemetry is on and why: what `<tool> telemetry status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub(crate) enabled: bool,
    pub(crate) reason: Reason,
}

impl Status {
    /// Telemetry is on: events are delivered.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Why.
    pub fn reason(&self) -> Reason {
        self.reason
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.enabled { "on" } else { "off" };
        let why = match self.reason {
            Reason::DoNotTrack => "DO_NOT_TRACK is set",
            Reason::ToolVariable => "set by the tool's telemetry variable",
            Reason::Ci => "CI is set",
            Reason::Stored => "your saved choice",
            Reason::NoTerminal => "not asked yet: no terminal to ask on",
            Reason::NotAsked => "not asked yet",
        };
        write!(f, "telemetry is {state} ({why})")
    }
}
