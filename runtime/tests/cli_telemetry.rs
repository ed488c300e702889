//! The CLI telemetry kit: DO_NOT_TRACK and CI send nothing, the first run prompts once (in a
//! real pseudo-terminal: this test binary runs itself as the tool), `disable` stops delivery
//! and drops the queued events, and every answer lands in the consent ledger.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod common;
mod fixture;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use trackplan_runtime::cli_telemetry::{CliTelemetry, Reason};
use trackplan_runtime::consent::{Method, Snapshot};
use trackplan_runtime::testing::Recorder;
use trackplan_runtime::{Consent, Tracker};

const CHILD: &str = "TRACKPLAN_TELEMETRY_CHILD_DIR";

/// A fresh config directory.
fn config_dir(test: &str) -> PathBuf {
    let dir = temp_path(test, "config");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A tracker delivering to `recorder`, holding events for an hour unless flushed.
fn tracker(recorder: &Recorder) -> Tracker {
    Tracker::builder(&PLAN)
        .key(key())
        .record_all(recorder)
        .max_delay(Duration::from_secs(3600))
        .build()
        .unwrap()
}

/// The kit for the tool `shoptool` in `dir`, reading only `vars` as its environment.
fn kit(dir: &Path, vars: &'static [(&'static str, &'static str)], terminal: bool) -> CliTelemetry {
    CliTelemetry::with_config_dir("shoptool", &PLAN, dir)
        .env(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .terminal(terminal)
}

/// Starts the kit with "y" typed at a prompt (should it ask), tracks two events and
/// flushes; returns what was delivered and what was shown.
fn run(kit: &CliTelemetry, recorder: &Recorder) -> (usize, String) {
    let tracker = tracker(recorder);
    let mut shown = Vec::new();
    let subject = kit
        .start_with(&tracker, &mut &b"y\n"[..], &mut shown)
        .unwrap();
    subject.track(product("sku-1"));
    subject.track(product("sku-2"));
    tracker.flush().unwrap();
    (mixpanel(recorder), String::from_utf8(shown).unwrap())
}

/// Events the Mixpanel destination received (a product view also goes to the warehouse and,
/// with advertising consent, to the ads collector).
fn mixpanel(recorder: &Recorder) -> usize {
    recorder
        .events()
        .iter()
        .filter(|event| event.destination == Some("mixpanel"))
        .count()
}

#[test]
fn do_not_track_and_ci_send_nothing_and_ask_nothing() {
    for (test, vars, reason) in [
        ("dnt", &[("DO_NOT_TRACK", "1")][..], Reason::DoNotTrack),
        // DO_NOT_TRACK wins over the tool's own opt-in.
        (
            "dnt-tool",
            &[("DO_NOT_TRACK", "1"), ("SHOPTOOL_TELEMETRY", "1")][..],
            Reason::DoNotTrack,
        ),
        ("ci", &[("CI", "true")][..], Reason::Ci),
        (
            "tool-off",
            &[("SHOPTOOL_TELEMETRY", "0")][..],
            Reason::ToolVariable,
        ),
    ] {
        let dir = config_dir(&format!("telemetry-{test}"));
        // Even with a stored "yes" from an earlier run.
        kit(&dir, &[], true)
            .enable(&tracker(&Recorder::new()))
            .unwrap();
        let kit = kit(&dir, vars, true);
        assert_eq!(kit.status().unwrap().reason(), reason, "{test}");
        let recorder = Recorder::new();
        let (delivered, shown) = run(&kit, &recorder);
        assert_eq!(delivered, 0, "{test}: {:?}", recorder.events());
        assert_eq!(shown, "", "{test}: nothing is asked");
    }
    // In CI the tool's variable can turn it on (a project that wants its CI counted): the
    // same run then delivers, so the assertions above can fail.
    let dir = config_dir("telemetry-ci-on");
    let kit = kit(&dir, &[("CI", "1"), ("SHOPTOOL_TELEMETRY", "1")], false);
    assert!(kit.status().unwrap().enabled());
    assert_eq!(run(&kit, &Recorder::new()).0, 2);
}

#[test]
fn without_a_terminal_nothing_is_asked_nor_written() {
    let dir = config_dir("telemetry-no-tty");
    let kit = kit(&dir, &[], false);
    assert_eq!(kit.status().unwrap().reason(), Reason::NoTerminal);
    let (delivered, shown) = run(&kit, &Recorder::new());
    assert_eq!((delivered, shown.as_str()), (0, ""));
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "no install id, no answer"
    );
}

#[test]
fn disable_stops_delivery_and_drops_queued_events() {
    let dir = config_dir("telemetry-disable");
    let kit = kit(&dir, &[], true);
    let recorder = Recorder::new();
    let tracker = tracker(&recorder);
    let subject = kit
        .start_with(&tracker, &mut &b"yes\n"[..], &mut Vec::new())
        .unwrap();
    for n in 0..3 {
        subject.track(product(&format!("sku-{n}")));
    }
    // Held by the hour-long batching delay: queued, not delivered.
    assert_eq!(recorder.events().len(), 0);
    let status = kit.disable(&tracker).unwrap();
    assert!(
        !status.enabled() && status.reason() == Reason::Stored,
        "{status}"
    );
    subject.track(product("sku-after"));
    tracker.flush().unwrap();
    assert_eq!(recorder.events().len(), 0, "{:?}", recorder.events());
    assert!(
        tracker.stats().total.dropped_consent >= 3,
        "{:?}",
        tracker.stats()
    );

    // Enabled again, the same install id delivers.
    assert!(kit.enable(&tracker).unwrap().enabled());
    let again = kit
        .start_with(&tracker, &mut &b""[..], &mut Vec::new())
        .unwrap();
    assert_eq!(again.distinct_id(), subject.distinct_id());
    again.track(product("sku-back"));
    tracker.flush().unwrap();
    assert_eq!(mixpanel(&recorder), 1);

    // The ledger holds each answer under the install's pseudonymous id.
    let snapshot = Snapshot::read_dir(dir.join("consent")).unwrap();
    let methods: Vec<Method> = snapshot
        .history(subject.distinct_id())
        .iter()
        .map(|entry| entry.collection_method)
        .collect();
    assert_eq!(methods, [Method::CliPrompt, Method::Reject, Method::Accept]);
}

/// Runs this test binary as the tool in a pseudo-terminal, types `answer` when asked, and
/// returns everything the terminal showed.
#[cfg(unix)]
fn in_pty(dir: &Path, answer: &str) -> String {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};

    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("a pseudo-terminal");
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().unwrap())
        .unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "tool_process", "--nocapture", "--test-threads=1"])
        .env(CHILD, dir)
        .env_remove("CI")
        .env_remove("DO_NOT_TRACK")
        .env_remove("SHOPTOOL_TELEMETRY")
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    let mut reader = std::fs::File::from(master);
    let mut writer = reader.try_clone().unwrap();
    let (chunks, received) = std::sync::mpsc::channel::<Vec<u8>>();
    let pump = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Ends with an error (EIO) once the child and its terminal are gone.
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            if chunks.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut shown = Vec::new();
    let mut answered = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        match received.recv_timeout(Duration::from_millis(200)) {
            Ok(chunk) => shown.extend(chunk),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        let text = String::from_utf8_lossy(&shown);
        if !answered && text.contains("[y/N]") {
            writer.write_all(answer.as_bytes()).unwrap();
            answered = true;
        }
        if text.contains("tool done") || child.try_wait().unwrap().is_some() {
            // Drain what is left, then stop.
            while let Ok(chunk) = received.recv_timeout(Duration::from_millis(300)) {
                shown.extend(chunk);
            }
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the tool did not finish in the pseudo-terminal; it showed:\n{text}"
        );
    }
    let status = child.wait().unwrap();
    drop(writer);
    drop(received);
    let _ = pump.join();
    let shown = String::from_utf8_lossy(&shown).into_owned();
    assert!(status.success(), "the tool failed:\n{shown}");
    shown
}

/// The tool, when this binary runs as one ([`in_pty`]): real stdin and stderr, real TTY
/// detection, the real environment.
#[test]
fn tool_process() {
    let Some(dir) = std::env::var_os(CHILD) else {
        return;
    };
    let recorder = Recorder::new();
    let tracker = tracker(&recorder);
    let kit = CliTelemetry::with_config_dir("shoptool", &PLAN, PathBuf::from(dir));
    let subject = kit.start(&tracker).unwrap();
    subject.track(product("sku-1"));
    tracker.flush().unwrap();
    let delivered = recorder
        .events()
        .iter()
        .filter(|event| event.destination == Some("mixpanel"))
        .count();
    println!("delivered {delivered} events; {}", kit.status().unwrap());
    println!("tool done");
}

#[cfg(unix)]
#[test]
fn the_first_run_prompts_once_in_a_terminal() {
    let dir = config_dir("telemetry-pty");
    let first = in_pty(&dir, "y\n");
    // The notice is the plan's: each purpose's description and basis.
    for purpose in PLAN.purposes {
        assert!(first.contains(purpose.description), "{first}");
    }
    assert!(
        first.contains("only if you agree") && first.contains("legitimate interests"),
        "{first}"
    );
    assert!(first.contains("SHOPTOOL_TELEMETRY=0"), "{first}");
    assert_eq!(first.matches("[y/N]").count(), 1, "{first}");
    assert!(
        first.contains("delivered 1 events; telemetry is on (your saved choice)"),
        "{first}"
    );

    // The second run asks nothing and remembers.
    let second = in_pty(&dir, "n\n");
    assert!(!second.contains("[y/N]"), "{second}");
    assert!(second.contains("delivered 1 events"), "{second}");

    // One answer, recorded once, from the prompt.
    let snapshot = Snapshot::read_dir(dir.join("consent")).unwrap();
    let entries = snapshot.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].collection_method, Method::CliPrompt);
    assert!(
        entries[0]
            .purposes
            .iter()
            .any(|p| p.purpose == "product_analytics" && p.permitted)
    );
    let _ = Consent::none();
}
