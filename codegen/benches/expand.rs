//! Parse + validate + generate for a synthetic 1000-event × 10-property plan.
//!
//! Run: `cargo bench -p trackplan-codegen --bench expand`. The stages are measured side by side
//! in the same run, so the cost of code generation reads against the model's own work.

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use trackplan_codegen::{LoadedPlan, expand_plan};
use trackplan_model::SourceFile;

fn bench(c: &mut Criterion) {
    let text = trackplan_codegen::synth::plan(1000, 10);
    let mut group = c.benchmark_group("plan_1000x10");
    group.sample_size(20);
    group.bench_function("check (parse + validate)", |b| {
        b.iter(|| trackplan_model::check(&SourceFile::new("synthetic.toml", text.as_str())))
    });
    group.bench_function("check + generate", |b| {
        b.iter(|| {
            let loaded = LoadedPlan::from_source(
                PathBuf::from("/synthetic.toml"),
                SourceFile::new("synthetic.toml", text.as_str()),
            );
            expand_plan(&loaded, proc_macro2::Span::call_site())
        })
    });
    group.bench_function("check + generate + to_string", |b| {
        b.iter(|| {
            let loaded = LoadedPlan::from_source(
                PathBuf::from("/synthetic.toml"),
                SourceFile::new("synthetic.toml", text.as_str()),
            );
            expand_plan(&loaded, proc_macro2::Span::call_site()).to_string()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
