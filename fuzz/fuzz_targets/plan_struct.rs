//! Structure-aware plans: the fuzzer's bytes are the choices of the random plan generator
//! (`trackplan_codegen::synth::random`, the same one the stable property test seeds), so most
//! inputs are valid plans that reach code generation. Some get a few bytes of the plan text
//! replaced too, for plans one typo away from valid.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use trackplan_codegen::synth::random::{self, Choices};

/// Choices read from the fuzzer's bytes; zeros once they run out.
struct Fuzzed<'a, 'b>(&'b mut Unstructured<'a>);

impl Choices for Fuzzed<'_, '_> {
    fn below(&mut self, n: usize) -> usize {
        self.0.choose_index(n).unwrap_or(0)
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut text = random::plan(&mut Fuzzed(&mut u));
    // Splice: replace bytes at positions the fuzzer picks, keeping the text UTF-8.
    let edits = u.int_in_range(0..=3u8).unwrap_or(0);
    for _ in 0..edits {
        let Ok(at) = u.choose_index(text.len().max(1)) else {
            break;
        };
        let Ok(replacement) = u.arbitrary::<char>() else {
            break;
        };
        if let Some(ch) = text.get(at..).and_then(|rest| rest.chars().next()) {
            text.replace_range(at..at + ch.len_utf8(), replacement.encode_utf8(&mut [0; 4]));
        }
    }
    if let Err(problem) = random::exercise(&text, random::Depth::of(data)) {
        panic!("{problem}\n--- plan ---\n{text}");
    }
});
