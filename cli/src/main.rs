//! `trackplan`: check, review, document and convert tracking plans.
//!
//! Exit codes: 0 success; 1 the plan has errors, `fmt --check` found unformatted files, or a
//! `diff --fail-on` condition was met; 2 the command could not run (bad arguments, unreadable
//! files, git errors).
#![forbid(unsafe_code)]

mod diagnostics;
mod docs;
mod fides;
mod fmt;
mod json;
mod manifest;
mod report;
mod schema;
mod segment;

use clap::{Parser, Subcommand};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Check, review, document and convert trackplan tracking plans.
#[derive(Parser, Debug)]
#[command(name = "trackplan", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Formats plan files canonically (stable key order), keeping comments.
    #[command(after_help = "\
Examples:
  trackplan fmt plans/shop.toml            rewrite the file in place
  trackplan fmt --check plans/*.toml       exit 1 and list files that are not formatted")]
    Fmt {
        /// Plan files to format.
        #[arg(required = true)]
        plans: Vec<PathBuf>,
        /// Don't write; exit with 1 if a file is not formatted.
        #[arg(long)]
        check: bool,
    },
    /// Converts other tracking-plan formats into a trackplan plan.
    #[command(subcommand)]
    Import(Import),
}

#[derive(Subcommand, Debug)]
enum Import {
    /// Turns a Segment Protocols / Typewriter `plan.json` into a plan skeleton.
    ///
    /// Events, properties, types, required flags and enum values carry over. Purposes and
    /// sensitivity are set to the placeholder `needs_review`, so `trackplan check` fails until
    /// a person has decided them.
    #[command(after_help = "\
Example:
  trackplan import segment plan.json -o plans/app.toml && trackplan check plans/app.toml")]
    Segment {
        /// The Segment plan (JSON).
        file: PathBuf,
        /// Write the plan here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

/// A failure that stops a command; printed as `error: …` with exit code 2.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("{0}")]
    Import(#[from] segment::ImportError),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Fmt { plans, check } => fmt_command(&plans, check),
        Command::Import(Import::Segment { file, output }) => {
            let json = read(&file)?;
            let imported = segment::import(&json)?;
            for w in &imported.warnings {
                eprintln!("warning: {w}");
            }
            emit(output.as_deref(), &imported.toml)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn fmt_command(plans: &[PathBuf], check: bool) -> Result<ExitCode, CliError> {
    let mut unformatted = 0;
    for path in plans {
        let text = read(path)?;
        let formatted = fmt::format(&text).map_err(|e| CliError::Syntax {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        if formatted == text {
            continue;
        }
        if check {
            println!(
                "{} is not formatted (run `trackplan fmt {0}`)",
                path.display()
            );
            unformatted += 1;
        } else {
            write_file(path, &formatted)?;
            println!("formatted {}", path.display());
        }
    }
    Ok(if unformatted > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text).map_err(|source| CliError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// Writes to `output`, or to standard output when none is given.
fn emit(output: Option<&Path>, text: &str) -> Result<(), CliError> {
    match output {
        Some(path) => write_file(path, text),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|source| CliError::Write {
                    path: "standard output".to_owned(),
                    source,
                })
        }
    }
}
