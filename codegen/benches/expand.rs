//! Parse + validate + generate for a synthetic plan of 1000 events × 10 properties.
//!
//! ```text
//! cargo bench -p trackplan-codegen --bench expand
//! ```
//!
//! The stages run side by side in the same run, so the cost of generation reads against the
//! model's own work:
//!
//! - `parse + validate`: the model's `check`.
//! - `generate text`: `plan_expansion`, the Rust source of the items, which is what `plan!`
//!   computes before handing the text to the compiler's lexer.
//! - `text → proc_macro2 tokens`: lexing that text with proc_macro2's fallback lexer, the
//!   only lexer available outside a compiler. Inside rustc, `plan!` uses rustc's lexer instead
//!   (`scripts/build_time.sh` measures that end to end), so this is an upper bound on a cost
//!   the macro does not pay here.
//! - the two totals: up to the text (what the macro itself does), and with the fallback
//!   lexing on top.
//!
//! Outputs are not dropped inside the timing (`iter_with_large_drop`): a proc macro hands
//! them to the compiler, which owns them from then on.

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use proc_macro2::{Span, TokenStream};
use trackplan_codegen::{LoadedPlan, expand_plan, plan_expansion};
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
    let items = plan_expansion(&loaded, Span::call_site()).items;
    let lexed: TokenStream = items.parse().expect("the generated code lexes");
    eprintln!(
        "generated {} bytes of source, {} tokens",
        items.len(),
        count(lexed)
    );

    let mut group = c.benchmark_group("plan_1000x10");
    group.sample_size(30);
    group.bench_function("parse + validate", |b| {
        b.iter(|| trackplan_model::check(&SourceFile::new("synthetic.toml", text.as_str())))
    });
    group.bench_function("generate text", |b| {
        b.iter_with_large_drop(|| plan_expansion(&loaded, Span::call_site()))
    });
    group.bench_function("text → proc_macro2 tokens", |b| {
        b.iter_with_large_drop(|| items.parse::<TokenStream>())
    });
    group.bench_function("parse + validate + generate text", |b| {
        b.iter_with_large_drop(|| plan_expansion(&load(&text), Span::call_site()))
    });
    group.bench_function(
        "parse + validate + generate text + proc_macro2 lexing",
        |b| b.iter_with_large_drop(|| expand_plan(&load(&text), Span::call_site())),
    );
    group.finish();
}

/// Tokens in `tokens`, counting each group's delimiters as one.
fn count(tokens: TokenStream) -> usize {
    tokens
        .into_iter()
        .map(|t| match t {
            proc_macro2::TokenTree::Group(g) => 1 + count(g.stream()),
            _ => 1,
        })
        .sum()
}

criterion_group!(benches, bench);
criterion_main!(benches);
