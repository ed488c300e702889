//! Headless Chromium screenshots, for the tests that check the HTML docs and the data maps
//! render. Included with `#[path = "support/chromium.rs"] mod chromium;`.

use std::path::Path;
use std::process::Command;

/// Where the tests expect Chromium (`scripts/setup` installs it).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Screenshots `url` in a `size` window (`"width,height"`) to `dir/<name>.png`, with a fresh
/// profile under `dir`; fails the test unless Chromium succeeds and writes a PNG. Keeps a copy
/// in `TRACKPLAN_SCREENSHOT_DIR` when that is set. Returns the PNG's bytes.
pub fn screenshot(dir: &Path, name: &str, url: &str, size: &str) -> Vec<u8> {
    let shot = dir.join(format!("{name}.png"));
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", dir.join("profile").display()),
            &format!("--screenshot={}", shot.display()),
            &format!("--window-size={size}"),
            url,
        ])
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed on {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("chromium wrote a screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}: a PNG");
    if let Ok(keep) = std::env::var("TRACKPLAN_SCREENSHOT_DIR") {
        std::fs::copy(&shot, Path::new(&keep).join(format!("{name}.png"))).unwrap();
    }
    png
}
