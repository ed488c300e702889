//! Plan text → check → expansion: any UTF-8 text as a plan file, through what `plan!` does.
//! The model must never panic, a valid plan must expand without a `compile_error!`, and the
//! expansion (or the stub items of an invalid plan) must parse as Rust.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trackplan_codegen::synth::random;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(problem) = random::exercise(text, random::Depth::of(data)) {
        panic!("{problem}");
    }
});
