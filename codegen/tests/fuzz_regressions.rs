//! Replays the inputs the plan fuzz targets (and the property test) once broke, kept in
//! `fuzz/regressions/plan_text/` and `fuzz/regressions/plan_struct/` as plan files: each must
//! now go through the whole plan path at full depth without a panic or a broken expansion.

use std::path::Path;

use trackplan_codegen::synth::random::{self, Depth};

#[test]
fn every_kept_fuzz_input_goes_through_the_plan_path() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/regressions"));
    let mut replayed = 0;
    for target in ["plan_text", "plan_struct"] {
        let dir = root.join(target);
        // Git keeps no empty directories: a target without kept inputs has none.
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a readable directory entry").path();
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // The plan targets only look at UTF-8; a kept input is one of those.
            let text = String::from_utf8(bytes)
                .unwrap_or_else(|_| panic!("{} is not UTF-8", path.display()));
            if let Err(problem) = random::exercise(&text, Depth::Parse) {
                panic!("{}: {problem}", path.display());
            }
            replayed += 1;
        }
    }
    assert!(
        replayed > 0,
        "no regression inputs found under {}",
        root.display()
    );
}
