//! Parse + validate + generate for a synthetic plan of 1000 events × 10 properties.
//!
//! ```text
//! cargo bench -p trackplan-codegen --bench expand
//! ```
//!
//! The stages run side by side in the same run, so the cost of generation reads against the
//! model's own work. The generated token stream is not dropped inside the timing
//! (`iter_with_large_drop`): a proc macro hands it to the compiler, which owns it from then on.

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use trackplan_codegen::{LoadedPlan, expand_plan};
use trackplan_model::SourceFile;

fn load(text: &str) -> LoadedPlan {
    LoadedPlan::from_source(
        PathBuf::from("/synthetic.toml"),
        SourceFile::new("synthetic.toml", text),
    )
}

fn bench(c: &mut Criterion) {
    let text = trackplan_codegen::synth::plan(1000, 10);
    let loaded = load(&text);
    assert!(loaded.is_valid(), "the synthetic plan is valid");

    let mut group = c.benchmark_group("plan_1000x10");
    group.sample_size(30);
    group.bench_function("parse + validate", |b| {
        b.iter(|| trackplan_model::check(&SourceFile::new("synthetic.toml", text.as_str())))
    });
    group.bench_function("generate", |b| {
        b.iter_with_large_drop(|| expand_plan(&loaded, proc_macro2::Span::call_site()))
    });
    group.bench_function("parse + validate + generate", |b| {
        b.iter_with_large_drop(|| expand_plan(&load(&text), proc_macro2::Span::call_site()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
