//! `trackplan`: check, review, document and convert tracking plans.
//!
//! Exit codes: 0 success; 1 the plan has errors, `fmt --check` found unformatted files, or a
//! `diff --fail-on` condition was met; 2 the command could not run (bad arguments, unreadable
//! files, git errors).
#![forbid(unsafe_code)]

mod consent;
mod coverage;
mod diagnostics;
mod diff_html;
mod docs;
mod fides;
mod fmt;
mod json;
mod load;
mod manifest;
mod map;
mod prune;
mod report;
mod schema;
mod segment;
mod stores;
mod subject;
mod topics;
mod warehouse;

use clap::{Parser, Subcommand, ValueEnum};
use diagnostics::ColorChoice;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use trackplan_model::{Plan, SourceFile};

/// Check, review, document and convert trackplan tracking plans.
///
/// PLAN arguments are optional where shown as [PLAN]: the default is the `plan` of
/// `[package.metadata.trackplan]` in ./Cargo.toml, else ./trackplan.toml.
#[derive(Parser, Debug)]
#[command(name = "trackplan", version, about, long_about)]
struct Cli {
    /// When to colour diagnostics.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    color: ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validates a plan and shows every problem with its source line.
    ///
    /// Exits with 1 when the plan has errors (warnings alone pass).
    #[command(after_help = "\
Examples:
  trackplan check                          the plan named in ./Cargo.toml
  trackplan check plans/shop.toml
  trackplan check plans/shop.toml --format json | jq '.diagnostics[].code'")]
    Check {
        /// The plan file.
        plan: Option<PathBuf>,
        /// `text` (rustc-style, on standard error) or `json` (on standard output).
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
    /// Reports what changed between two versions of a plan, for review.
    ///
    /// BASE and HEAD are files or `git:REV[:PATH]` (read with `git show`; PATH defaults to the
    /// other argument's path, or the default plan). Each change is classified and given a
    /// privacy impact (none, low, needs review, high) with a reason.
    #[command(after_help = "\
Examples:
  trackplan diff git:origin/main plans/shop.toml
  trackplan diff old.toml new.toml --format json
  trackplan diff git:main:plans/shop.toml plans/shop.toml --fail-on breaking --fail-on privacy
  trackplan diff git:origin/main plans/shop.toml --format html -o review.html

--fail-on:
  breaking  exit 1 when a breaking change comes without a higher [plan] version
  privacy   exit 1 when a change has impact `needs review` or `high`
  never     always exit 0 after a successful comparison (the default)")]
    Diff {
        /// The plan before the change.
        base: String,
        /// The plan after the change.
        head: String,
        /// `md` (a review report), `json` (stable fields for tools) or `html` (the report with
        /// the data map of the change, one self-contained page).
        #[arg(long, value_enum, default_value_t = DiffFormat::Md)]
        format: DiffFormat,
        /// Where CI publishes the HTML review (`--format html`): the Markdown report links to
        /// it.
        #[arg(long, value_name = "URL")]
        map_url: Option<String>,
        /// When to exit with 1; may be repeated.
        #[arg(long, value_enum)]
        fail_on: Vec<FailOn>,
        /// Write the report here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Writes the data inventory, the end-user notice and the GDPR Art. 30 record.
    #[command(after_help = "\
Examples:
  trackplan docs plans/shop.toml > PRIVACY.md
  trackplan docs plans/shop.toml --format html -o docs/tracking.html
  trackplan docs plans/shop.toml --format svg -o docs/data-map.svg")]
    Docs {
        /// The plan file.
        plan: Option<PathBuf>,
        /// `md`, `html` (one self-contained page, with the data map) or `svg` (the data map
        /// alone).
        #[arg(long, value_enum, default_value_t = DocsFormat::Md)]
        format: DocsFormat,
        /// Categories of data subjects for the Art. 30 record.
        #[arg(long, default_value = "users of the service (customers and visitors)")]
        data_subjects: String,
        /// Write here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Prints the JSON Schema of the plan format, or of each event's payload.
    #[command(after_help = "\
Examples:
  trackplan schema > plans/trackplan.schema.json
  trackplan schema --events plans/shop.toml > lexicon.json   (body for Mixpanel's Lexicon Schemas API)
  trackplan schema --sql postgres plans/warehouse.toml > warehouse.sql   (tables and typed views)")]
    Schema {
        /// Instead of the plan format: one JSON Schema per event of this plan, as a Mixpanel
        /// Lexicon Schemas API upload body.
        #[arg(long, value_name = "PLAN")]
        events: Option<PathBuf>,
        /// Instead of the plan format: the SQL of the plan's warehouse tables and per-event
        /// views, for this database.
        #[arg(long, value_enum, value_name = "DATABASE")]
        sql: Option<SqlDialect>,
        /// The plan, with --sql.
        #[arg(requires = "sql")]
        plan: Option<PathBuf>,
        /// The PostgreSQL schema of the tables, with --sql (the sink's `Postgres::schema`).
        #[arg(
            long,
            value_name = "NAME",
            default_value = "trackplan",
            requires = "sql"
        )]
        sql_schema: String,
        /// Write here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Exports a plan to other tools.
    #[command(subcommand)]
    Export(Export),
    /// Converts other tracking-plan formats into a trackplan plan.
    #[command(subcommand)]
    Import(Import),
    /// Enforces the plan's retention on stores of a stopped application: NDJSON files and
    /// the spool lose every record older than the shortest `retention_days` of its
    /// destination's purposes. A running application calls `Tracker::prune` instead.
    #[command(after_help = "\
Examples:
  trackplan prune plans/shop.toml --ndjson warehouse=events.ndjson --ndjson security_log=security.ndjson
  trackplan prune plans/shop.toml --spool /var/lib/shop/spool")]
    Prune {
        /// The plan file.
        plan: Option<PathBuf>,
        /// An NDJSON store of one destination (repeatable).
        #[arg(long, value_name = "DESTINATION=FILE")]
        ndjson: Vec<String>,
        /// The application's spool directory.
        #[arg(long, value_name = "DIR")]
        spool: Option<PathBuf>,
    },
    /// A data subject's access and erasure requests on an NDJSON store.
    #[command(subcommand)]
    Subject(SubjectCommand),
    /// The consent ledger an application records (`consent::Ledger`): check its chain, show
    /// what one person agreed to, count choices.
    #[command(subcommand)]
    Consent(ConsentCommand),
    /// Lists the plan's events that a crate never constructs: a CI gate for instrumentation.
    #[command(after_help = "\
Reads every .rs file under the crate's src/ with a Rust parser and looks for struct literals of
the generated event types (`LoginFailed { .. }`, also inside closures and vec![..]). No build
and no nightly compiler needed. Exit 1 when an event is never constructed and not --allow'ed.

Examples:
  trackplan coverage                                  the crate in ., its plan from Cargo.toml
  trackplan coverage --crate services/shop --allow password_reset_requested")]
    Coverage {
        /// The crate's directory; its src/ is read.
        #[arg(long = "crate", value_name = "DIR", default_value = ".")]
        crate_dir: PathBuf,
        /// The plan file; default: the crate's `[package.metadata.trackplan] plan`.
        #[arg(long)]
        plan: Option<PathBuf>,
        /// An event id that may stay unconstructed (repeatable).
        #[arg(long, value_name = "EVENT")]
        allow: Vec<String>,
    },
    /// Formats plan files canonically (stable key order), keeping comments.
    #[command(after_help = "\
Examples:
  trackplan fmt plans/shop.toml            rewrite the file in place
  trackplan fmt --check plans/*.toml       exit 1 and print a diff of what fmt would change")]
    Fmt {
        /// Plan files to format.
        #[arg(required = true)]
        plans: Vec<PathBuf>,
        /// Don't write; print a unified diff of what would change and exit with 1 if a file
        /// is not formatted.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Subcommand, Debug)]
enum Export {
    /// A Fides manifest: a system with one privacy declaration per purpose, a system per
    /// destination, the plan's policies; loadable by fideslang, usable with `fides evaluate`.
    #[command(after_help = "\
Example:
  trackplan export fides plans/shop.toml -o .fides/shop.yml && fides evaluate")]
    Fides {
        /// The plan file.
        plan: Option<PathBuf>,
        /// `yaml` or `json`.
        #[arg(long, value_enum, default_value_t = ManifestFormat::Yaml)]
        format: ManifestFormat,
        /// fideslang data subject keys of the people tracked; may be repeated.
        #[arg(long = "data-subject", default_value = "customer")]
        data_subjects: Vec<String>,
        /// Write here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum SubjectCommand {
    /// Prints every event of one person (GDPR Art. 15 access), one JSON object per line.
    #[command(after_help = "\
Example:
  TRACKPLAN_KEY=… trackplan subject export --key-env TRACKPLAN_KEY --id user-42 events.ndjson > user-42.ndjson")]
    Export(SubjectArgs),
    /// Removes every event of one person from the store (GDPR Art. 17 erasure), atomically.
    ///
    /// Stop the process that appends to the store first (or call `Tracker::forget` in it):
    /// lines appended while the store is rewritten would be lost.
    #[command(after_help = "\
Example:
  TRACKPLAN_KEY=… trackplan subject forget --key-env TRACKPLAN_KEY --id user-42 events.ndjson")]
    Forget(SubjectArgs),
}

#[derive(Subcommand, Debug)]
enum ConsentCommand {
    /// Checks the hash chain: every record intact and linked to the one before. Exit 1 names
    /// the first broken entry (number, byte offset, why).
    #[command(after_help = "\
Examples:
  trackplan consent verify /var/lib/app/consent
  trackplan consent verify postgres://app@db/app     (built with --features postgres)")]
    Verify {
        #[command(flatten)]
        keys: StoreKeys,
        /// The ledger: its directory, or a PostgreSQL URL.
        #[arg(value_name = "DIR|URL")]
        store: String,
    },
    /// What one person agreed to, when, how, and the texts they were shown (GDPR Art. 7(1)).
    ///
    /// The id is pseudonymized with the key from --key-env as the tracker does; neither the
    /// raw id nor the key is printed.
    #[command(after_help = "\
Example:
  TRACKPLAN_KEY=… trackplan consent export --key-env TRACKPLAN_KEY --id user-42 /var/lib/app/consent")]
    Export {
        /// Environment variable holding the tracker's secret key (hex).
        #[arg(long, value_name = "VAR")]
        key_env: String,
        /// The person's id as the application knows it (before pseudonymization).
        #[arg(long)]
        id: String,
        /// `text` (default) or `json`.
        #[arg(long, value_enum, default_value_t = ExportFormat::Text)]
        format: ExportFormat,
        /// A plan file (any version; may be repeated): for each entry recorded under it (same
        /// content hash), the texts are recomputed from it and compared with those recorded.
        #[arg(long = "plan", value_name = "FILE")]
        plans: Vec<PathBuf>,
        /// Environment variable holding key material an encrypted ledger was sealed with,
        /// besides the --key-env key (a separate or an older key); may be repeated.
        #[arg(long = "encryption-key-env", value_name = "VAR")]
        encryption_key_env: Vec<String>,
        /// The ledger: its directory, or a PostgreSQL URL.
        #[arg(value_name = "DIR|URL")]
        store: String,
    },
    /// Counts entries per method and, per purpose, the subjects' current choices.
    Stats {
        #[command(flatten)]
        keys: StoreKeys,
        /// The ledger: its directory, or a PostgreSQL URL.
        #[arg(value_name = "DIR|URL")]
        store: String,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ExportFormat {
    Text,
    Json,
}

/// The keys an encrypted ledger is read with (`verify`, `stats`).
#[derive(clap::Args, Debug)]
struct StoreKeys {
    /// Environment variable holding the tracker's secret key (hex), when the ledger was
    /// encrypted with the key derived from it (`SealKey::derive`).
    #[arg(long, value_name = "VAR")]
    key_env: Option<String>,
    /// Environment variable holding separate or older key material the ledger was sealed
    /// with; may be repeated.
    #[arg(long = "encryption-key-env", value_name = "VAR")]
    encryption_key_env: Vec<String>,
}

#[derive(clap::Args, Debug)]
struct SubjectArgs {
    /// Environment variable holding the tracker's secret key (hex), as the application reads
    /// it with `Key::from_env`. Required with the `hmac` identity.
    #[arg(long, value_name = "VAR")]
    key_env: Option<String>,
    /// The person's id as the application knows it (before pseudonymization).
    #[arg(long)]
    id: String,
    /// The plan's `[identity] transform`: `hmac` (default) or `none` (ids stored as they are).
    #[arg(long, value_enum, default_value_t = IdentityArg::Hmac)]
    identity: IdentityArg,
    /// Environment variable holding key material an encrypted store was sealed with, besides
    /// the --key-env key (a separate or an older key); may be repeated.
    #[arg(long = "encryption-key-env", value_name = "VAR")]
    encryption_key_env: Vec<String>,
    /// The NDJSON store (plain, or encrypted by `Ndjson::create_encrypted`).
    file: PathBuf,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum IdentityArg {
    Hmac,
    None,
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

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum SqlDialect {
    Postgres,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum CheckFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum DiffFormat {
    Md,
    Json,
    /// One self-contained page: the data map of the change and the report.
    Html,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum DocsFormat {
    Md,
    Html,
    /// The data map alone.
    Svg,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ManifestFormat {
    Yaml,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum FailOn {
    /// A breaking change without a higher plan version.
    Breaking,
    /// A change whose privacy impact is `needs review` or `high`.
    Privacy,
    /// Never.
    Never,
}

/// A failure that stops a command: printed as `error: …`, exit code 2. A plan with errors is
/// `Invalid` (its diagnostics are printed first), exit code 1.
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
    #[error("{0}")]
    Source(#[from] load::LoadError),
    #[error("{0} has errors (run `trackplan check` on it to see them all)")]
    Invalid(String),
    #[error("{0}")]
    Subject(#[from] subject::SubjectError),
    #[error("{0}")]
    Coverage(#[from] coverage::CoverageError),
    #[error("{0}")]
    Consent(#[from] consent::ConsentError),
    #[error("the tracker key: {0}")]
    Key(#[from] trackplan_runtime::error::KeyError),
    #[cfg(not(feature = "encryption"))]
    #[error("--encryption-key-env: this trackplan was built without the `encryption` feature")]
    NoEncryption,
    #[error("--key-env is required with the hmac identity (the default)")]
    NoKey,
    #[error("{0}")]
    Prune(#[from] prune::PruneError),
    #[error("--sql-schema: {0}")]
    SqlSchema(#[from] trackplan_runtime::sinks::InvalidSchemaName),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(CliError::Invalid(name)) => {
            eprintln!("error: {name} has errors");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let color = cli.color.for_stderr();
    match cli.command {
        Command::Check { plan, format } => check_command(plan, format, color),
        Command::Diff {
            base,
            head,
            format,
            map_url,
            fail_on,
            output,
        } => diff_command(
            &base,
            &head,
            format,
            map_url.as_deref(),
            &fail_on,
            output.as_deref(),
            color,
        ),
        Command::Docs {
            plan,
            format,
            data_subjects,
            output,
        } => {
            let (_, plan) = load_valid(plan, color)?;
            let opts = docs::Options { data_subjects };
            let text = match format {
                DocsFormat::Md => docs::markdown(&plan, &opts),
                DocsFormat::Html => docs::html(&plan, &opts),
                DocsFormat::Svg => map::standalone(&plan),
            };
            emit(output.as_deref(), &text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Schema {
            events,
            sql: Some(SqlDialect::Postgres),
            plan,
            sql_schema,
            output,
        } => {
            if events.is_some() {
                eprintln!("warning: --events is ignored with --sql");
            }
            let (_, plan) = load_valid(plan, color)?;
            emit(output.as_deref(), &warehouse::postgres(&plan, &sql_schema)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Schema { events, output, .. } => {
            let value = match events {
                Some(path) => {
                    let (_, plan) = load_valid(Some(path), color)?;
                    schema::lexicon(&plan)
                }
                None => trackplan_model::plan_schema(),
            };
            emit(output.as_deref(), &pretty(&value))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Export(Export::Fides {
            plan,
            format,
            data_subjects,
            output,
        }) => {
            let (_, plan) = load_valid(plan, color)?;
            let export = fides::export(&plan, &fides::Options { data_subjects });
            for w in &export.warnings {
                eprintln!("warning: {w}");
            }
            let text = match format {
                ManifestFormat::Yaml => export.manifest.to_yaml(),
                ManifestFormat::Json => export.manifest.to_json(),
            };
            emit(output.as_deref(), &text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(Import::Segment { file, output }) => {
            let json = read(&file)?;
            let imported = segment::import(&json)?;
            for w in &imported.warnings {
                eprintln!("warning: {w}");
            }
            emit(output.as_deref(), &imported.toml)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Fmt { plans, check } => fmt_command(&plans, check),
        Command::Prune {
            plan,
            ndjson,
            spool,
        } => {
            let (_, plan) = load_valid(plan, color)?;
            for line in prune::run(&plan, &ndjson, spool.as_deref())? {
                println!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Coverage {
            crate_dir,
            plan,
            allow,
        } => coverage_command(&crate_dir, plan, &allow, color),
        Command::Consent(command) => consent_command(command),
        Command::Subject(SubjectCommand::Export(args)) => {
            let id = distinct_id(&args)?;
            let mut out = std::io::stdout().lock();
            let keys = store_keys(args.key_env.as_deref(), &args.encryption_key_env)?;
            let summary = subject::export(&args.file, &id, keys.as_ref(), &mut out)?;
            out.flush().map_err(|source| CliError::Write {
                path: "standard output".to_owned(),
                source,
            })?;
            eprintln!(
                "{} event(s) of subject {id} in {}{}",
                summary.matched,
                args.file.display(),
                unreadable(summary.unreadable)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Subject(SubjectCommand::Forget(args)) => {
            let id = distinct_id(&args)?;
            let keys = store_keys(args.key_env.as_deref(), &args.encryption_key_env)?;
            let summary = subject::forget(&args.file, &id, keys.as_ref())?;
            eprintln!(
                "removed {} event(s) of subject {id} from {}; {} other event(s) kept{}",
                summary.matched,
                args.file.display(),
                summary.other,
                unreadable(summary.unreadable)
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn consent_command(command: ConsentCommand) -> Result<ExitCode, CliError> {
    let mut out = std::io::stdout().lock();
    let flush = |out: &mut std::io::StdoutLock<'_>| {
        out.flush().map_err(|source| CliError::Write {
            path: "standard output".to_owned(),
            source,
        })
    };
    match command {
        ConsentCommand::Verify { keys, store } => {
            let keys = store_keys(keys.key_env.as_deref(), &keys.encryption_key_env)?;
            let snapshot = consent::read(&store, keys.as_ref())?;
            let intact = consent::verify(&snapshot, &consent::redact_url(&store), &mut out)?;
            flush(&mut out)?;
            Ok(if intact {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        ConsentCommand::Export {
            key_env,
            id,
            format,
            plans,
            encryption_key_env,
            store,
        } => {
            let key = trackplan_runtime::Key::from_env(&key_env)?;
            let keys = store_keys(Some(&key_env), &encryption_key_env)?;
            let distinct_id = key.pseudonymize(&id);
            let mut texts = Vec::new();
            for path in &plans {
                let src = load::read_plan(path)?;
                let checked = trackplan_model::check(&src);
                let Some(plan) = checked.plan else {
                    return Err(CliError::Invalid(path.display().to_string()));
                };
                texts.push(consent::PlanTexts::of(
                    &path.display().to_string(),
                    &src.text,
                    &plan,
                ));
            }
            let snapshot = consent::read(&store, keys.as_ref())?;
            let n = consent::export(
                &snapshot,
                &distinct_id,
                &texts,
                format == ExportFormat::Json,
                &mut out,
            )?;
            flush(&mut out)?;
            eprintln!(
                "{n} entr{} of subject {distinct_id} in {}",
                if n == 1 { "y" } else { "ies" },
                consent::redact_url(&store)
            );
            Ok(ExitCode::SUCCESS)
        }
        ConsentCommand::Stats { keys, store } => {
            let keys = store_keys(keys.key_env.as_deref(), &keys.encryption_key_env)?;
            let snapshot = consent::read(&store, keys.as_ref())?;
            consent::stats(&snapshot, &mut out)?;
            flush(&mut out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The keys to open an encrypted store with: the one derived from the tracker key in
/// `key_env` (what `SealKey::derive` gives the app), then separate or older key material from
/// each of `extra`. `None` when neither is given.
#[cfg(feature = "encryption")]
fn store_keys(
    key_env: Option<&str>,
    extra: &[String],
) -> Result<Option<trackplan_runtime::crypt::Keyring>, CliError> {
    use trackplan_runtime::crypt::{Keyring, SealKey};
    let mut keys = Vec::new();
    if let Some(var) = key_env {
        keys.push(SealKey::from_env(var)?);
    }
    for var in extra {
        keys.push(SealKey::from_env(var)?);
    }
    let mut keys = keys.into_iter();
    Ok(keys
        .next()
        .map(|first| keys.fold(Keyring::new(first), Keyring::with_old)))
}

/// Without the `encryption` feature there are no keys; `--encryption-key-env` is refused.
#[cfg(not(feature = "encryption"))]
fn store_keys(_: Option<&str>, extra: &[String]) -> Result<Option<subject::NoKeys>, CliError> {
    if extra.is_empty() {
        Ok(None)
    } else {
        Err(CliError::NoEncryption)
    }
}

/// The distinct id the tracker sends for the subject. With the `hmac` identity the raw id is
/// never printed; only its pseudonym is.
fn distinct_id(args: &SubjectArgs) -> Result<String, CliError> {
    match args.identity {
        IdentityArg::None => Ok(args.id.clone()),
        IdentityArg::Hmac => {
            let var = args.key_env.as_deref().ok_or(CliError::NoKey)?;
            let key = trackplan_runtime::Key::from_env(var)?;
            Ok(key.pseudonymize(&args.id))
        }
    }
}

fn unreadable(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} line(s) that are not events were left untouched)")
    }
}

fn check_command(
    plan: Option<PathBuf>,
    format: CheckFormat,
    color: bool,
) -> Result<ExitCode, CliError> {
    let src = load::read_plan(&load::default_or(plan)?)?;
    let checked = trackplan_model::check(&src);
    match format {
        CheckFormat::Json => emit(
            None,
            &pretty(&diagnostics::json(&src, &checked.diagnostics)),
        )?,
        CheckFormat::Text => {
            for d in &checked.diagnostics {
                eprintln!("{}\n", diagnostics::render(d, &src, color));
            }
            // Lifted built-in policies are no problem, but a reviewer must see every one.
            for x in checked.plan.iter().flat_map(|p| &p.exceptions) {
                println!(
                    "note: built-in policy `{}` is lifted for this plan: {}",
                    x.policy.value, x.justification.value
                );
            }
            for note in checked.plan.iter().flat_map(stores::saas_notes) {
                eprintln!("note: {note}");
            }
            // Kafka topics are configured outside the app: say what the plan asks of them.
            for topic in checked.plan.iter().flat_map(topics::kafka_topics) {
                println!("{}", topic.note());
            }
            let line = diagnostics::summary(&src.name, &checked.diagnostics);
            if checked.has_errors() {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        }
    }
    Ok(if checked.has_errors() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn diff_command(
    base: &str,
    head: &str,
    format: DiffFormat,
    map_url: Option<&str>,
    fail_on: &[FailOn],
    output: Option<&Path>,
    color: bool,
) -> Result<ExitCode, CliError> {
    let (base_spec, head_spec) = load::pair(base, head)?;
    let base_src = load::read_spec(&base_spec)?;
    let head_src = load::read_spec(&head_spec)?;
    let base_plan = base_plan(&base_src, color)?;
    let head_plan = valid(&head_src, color)?;
    let diff = trackplan_model::diff::diff(&base_plan, &head_plan);
    let text = match format {
        DiffFormat::Md => {
            let md = report::markdown(&diff, &base_src.name, &head_src.name);
            match map_url {
                Some(url) => diff_html::with_map_link(&md, url),
                None => md,
            }
        }
        DiffFormat::Json => pretty(&report::json(&diff)),
        DiffFormat::Html => diff_html::page(
            &base_plan,
            &head_plan,
            &report::markdown(&diff, &base_src.name, &head_src.name),
        ),
    };
    emit(output, &text)?;
    let failed = fail_on.iter().any(|f| match f {
        FailOn::Breaking => diff.version_not_bumped(),
        FailOn::Privacy => diff.max_impact() >= trackplan_model::diff::Impact::NeedsReview,
        FailOn::Never => false,
    });
    if failed {
        let why: Vec<&str> = fail_on
            .iter()
            .filter_map(|f| match f {
                FailOn::Breaking if diff.version_not_bumped() => {
                    Some("a breaking change without a version bump")
                }
                FailOn::Privacy
                    if diff.max_impact() >= trackplan_model::diff::Impact::NeedsReview =>
                {
                    Some("changes that need a privacy review")
                }
                _ => None,
            })
            .collect();
        eprintln!("trackplan diff: failing because of {}", why.join(" and "));
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads and checks a plan; on errors prints them and fails with `Invalid`.
fn load_valid(plan: Option<PathBuf>, color: bool) -> Result<(SourceFile, Plan), CliError> {
    let src = load::read_plan(&load::default_or(plan)?)?;
    let plan = valid(&src, color)?;
    Ok((src, plan))
}

fn valid(src: &SourceFile, color: bool) -> Result<Plan, CliError> {
    let checked = trackplan_model::check(src);
    match checked.plan {
        Some(plan) => Ok(plan),
        None => {
            for d in checked.errors() {
                eprintln!("{}\n", diagnostics::render(d, src, color));
            }
            Err(CliError::Invalid(src.name.clone()))
        }
    }
}

/// The plan before the change. Validation rules tighten over time, so a base that parses but
/// no longer validates is still compared (with a warning); one that does not parse is not.
fn base_plan(src: &SourceFile, color: bool) -> Result<Plan, CliError> {
    let checked = trackplan_model::check(src);
    if let Some(plan) = checked.plan {
        return Ok(plan);
    }
    let (plan, parse_diagnostics) = trackplan_model::parse(src);
    match plan {
        Some(plan) if !parse_diagnostics.iter().any(|d| d.is_error()) => {
            eprintln!(
                "warning: {} does not pass validation ({} error(s)); compared as written",
                src.name,
                checked.errors().count()
            );
            Ok(plan)
        }
        _ => valid(src, color),
    }
}

fn pretty(value: &serde_json::Value) -> String {
    // Serializing a Value to a String cannot fail (no I/O, string keys only).
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

fn coverage_command(
    dir: &Path,
    plan: Option<PathBuf>,
    allow: &[String],
    color: bool,
) -> Result<ExitCode, CliError> {
    let path = plan
        .or_else(|| load::default_plan_in(dir))
        .ok_or(load::LoadError::NoDefault)?;
    let src = load::read_plan(&path)?;
    let plan = valid(&src, color)?;
    for id in allow {
        if plan.event(id).is_none() {
            eprintln!("warning: --allow {id}: the plan has no event with this id");
        }
    }
    let report = coverage::scan(dir, &plan)?;
    let (constructed, missing): (Vec<_>, Vec<_>) =
        report.iter().partition(|e| !e.constructed_in.is_empty());
    let (allowed, missing): (Vec<_>, Vec<_>) =
        missing.into_iter().partition(|e| allow.contains(&e.id));
    let mut out = format!(
        "{} of {} events of plan `{}` are constructed in {}.\n",
        constructed.len(),
        report.len(),
        plan.name.value,
        dir.join("src").display()
    );
    let line = |e: &coverage::EventCoverage| {
        format!("  - \"{}\" (`{}`, type `{}`)\n", e.name, e.id, e.type_name)
    };
    if !missing.is_empty() {
        out.push_str("Never constructed:\n");
        missing.iter().for_each(|e| out.push_str(&line(e)));
    }
    if !allowed.is_empty() {
        out.push_str("Never constructed, allowed with --allow:\n");
        allowed.iter().for_each(|e| out.push_str(&line(e)));
    }
    emit(None, &out)?;
    Ok(if missing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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
            let name = path.display().to_string();
            let mut out = fmt::unified_diff(&name, &text, &formatted);
            out.push_str(&format!(
                "{name} is not formatted (run `trackplan fmt {name}`)\n"
            ));
            emit(None, &out)?;
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
