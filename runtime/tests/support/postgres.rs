//! A throwaway PostgreSQL server for the tests: `initdb` into a temporary directory, `pg_ctl
//! start` on a free loopback port with a socket directory of its own, stopped and deleted on
//! drop. Run as root (CI), the server's commands run as the `postgres` user (`initdb` refuses
//! root). Without the server binaries the test fails, naming `scripts/setup`; it never skips.
//!
//! Included with `#[path = "support/postgres.rs"] mod pg;` by the tests and the bench that need
//! it (it uses the `postgres` crate, so it is not part of `support`).
#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const MISSING: &str = "PostgreSQL server binaries (initdb, pg_ctl) not found in \
$TRACKPLAN_PG_BIN or /usr/lib/postgresql/*/bin: run scripts/setup (it installs Debian's \
`postgresql` package)";

/// A running throwaway server.
pub struct PgServer {
    root: PathBuf,
    data: PathBuf,
    bin: PathBuf,
    port: u16,
    /// Run the server's commands through `runuser -u postgres` (we are root).
    as_postgres: bool,
    options: String,
}

/// The server's settings: fast and not durable (a test cluster), or the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `fsync=off`, `synchronous_commit=off`, `full_page_writes=off`: for tests.
    Throwaway,
    /// PostgreSQL's defaults (every commit flushed): for the bench.
    Default,
}

fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRACKPLAN_PG_BIN") {
        let dir = PathBuf::from(dir);
        assert!(dir.join("initdb").exists(), "{MISSING}");
        return dir;
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").exists() && bin.join("pg_ctl").exists()).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).expect(MISSING)
}

fn is_root() -> bool {
    // /proc/self belongs to the process's effective user.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

static SERVERS: AtomicUsize = AtomicUsize::new(0);

impl PgServer {
    /// A fresh throwaway server (not durable, fast).
    pub fn start() -> PgServer {
        PgServer::start_with(Durability::Throwaway)
    }

    /// A fresh server with the given durability.
    pub fn start_with(durability: Durability) -> PgServer {
        let bin = bin_dir();
        let as_postgres = is_root();
        let n = SERVERS.fetch_add(1, Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("trackplan-pg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("create the server's directory");
        if as_postgres {
            let out = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&root)
                .output()
                .expect("run chown");
            assert!(
                out.status.success(),
                "chown postgres {}: {} (as root, the server runs as the `postgres` user, which \
                 Debian's `postgresql` package creates: run scripts/setup)",
                root.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let data = root.join("data");
        let port = free_port();
        let mut options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c max_connections=40",
            root.display()
        );
        if durability == Durability::Throwaway {
            options.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        let server = PgServer {
            root,
            data,
            bin,
            port,
            as_postgres,
            options,
        };
        let data = server.data.display().to_string();
        server.run_ok(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        server.start_again();
        server
    }

    /// `postgresql://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .current_dir(&self.root)
            .output()
            .unwrap_or_else(|e| panic!("running {program}: {e} ({MISSING})"))
    }

    fn run_ok(&self, program: &str, args: &[&str]) {
        let out = self.run(program, args);
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    /// The server's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("log")).unwrap_or_default()
    }

    /// Starts the (stopped) server on its port; waits until it accepts connections.
    pub fn start_again(&self) {
        let data = self.data.display().to_string();
        let log = self.root.join("log").display().to_string();
        self.run_ok(
            "pg_ctl",
            &[
                "-D",
                &data,
                "-l",
                &log,
                "-o",
                &self.options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Stops the server (`-m fast`: open connections are closed); connections are refused
    /// until [`PgServer::start_again`].
    pub fn stop(&self) {
        let data = self.data.display().to_string();
        self.run_ok(
            "pg_ctl",
            &["-D", &data, "-m", "fast", "-w", "-t", "60", "stop"],
        );
    }

    /// Stops and starts the server.
    pub fn restart(&self) {
        self.stop();
        self.start_again();
    }

    /// A client connection (fails the test if none can be made within 30 s).
    pub fn client(&self) -> postgres::Client {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match postgres::Client::connect(&self.url(), postgres::NoTls) {
                Ok(c) => return c,
                Err(e) if Instant::now() > deadline => {
                    panic!("connecting to the test server: {e}\n{}", self.log())
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
