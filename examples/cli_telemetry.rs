//! `cargo run --example cli_telemetry --features cli-telemetry -- [build|telemetry status|telemetry enable|telemetry disable]`
//!
//! A command-line tool's usage telemetry with `trackplan::cli_telemetry`:
//!
//! - the first run on a terminal shows a notice made from `examples/cli_telemetry.toml`'s
//!   purposes and asks once; the answer is stored, and recorded in the consent ledger, in
//!   `SHOPTOOL_CONFIG_DIR` (default: the platform's config directory for `shoptool`);
//! - `DO_NOT_TRACK=1`, `SHOPTOOL_TELEMETRY=0`, `CI=true` or no terminal: nothing is sent;
//! - `telemetry status|enable|disable` are the helpers a tool exposes as a subcommand.
//!
//! Events go to `<config dir>/telemetry.ndjson` (a real tool would send them to its
//! collector).

use std::error::Error;
use std::time::Instant;

use trackplan::cli_telemetry::CliTelemetry;
use trackplan::sinks::Ndjson;
use trackplan::{Key, Tracker};

trackplan::plan!("examples/cli_telemetry.toml");

fn main() -> Result<(), Box<dyn Error>> {
    let telemetry = match std::env::var_os("SHOPTOOL_CONFIG_DIR") {
        Some(dir) => CliTelemetry::with_config_dir("shoptool", &PLAN, dir),
        None => CliTelemetry::new("shoptool", &PLAN)?,
    };
    std::fs::create_dir_all(telemetry.config_dir())?;
    // The key pseudonymizes the install id; a real tool embeds its own (`openssl rand -hex 32`).
    let key = Key::from_hex(&"5a".repeat(32))?;
    let tracker = Tracker::builder(&PLAN)
        .key(key)
        .sink(
            destination::Telemetry,
            Ndjson::append(telemetry.config_dir().join("telemetry.ndjson"))?,
        )
        .build()?;

    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["telemetry", "status"] => println!("{}", telemetry.status()?),
        ["telemetry", "enable"] => println!("{}", telemetry.enable(&tracker)?),
        ["telemetry", "disable"] => println!("{}", telemetry.disable(&tracker)?),
        [] | ["build"] => {
            // Asks on the first run (on a terminal only), otherwise decides silently.
            let user = telemetry.start(&tracker)?;
            let started = Instant::now();
            println!("building…");
            user.track(CommandRun {
                command: CommandRunCommand::Build,
                duration_ms: started.elapsed().as_millis() as i64,
                success: true,
            });
        }
        other => return Err(format!("unknown command {other:?}").into()),
    }
    // Deliver what is queued before the process exits.
    tracker.shutdown()?;
    Ok(())
}
