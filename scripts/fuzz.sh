#!/usr/bin/env bash
# Runs one cargo-fuzz target for a bounded time: scripts/fuzz.sh TARGET SECONDS [libFuzzer args…]
#
# Targets (fuzz/fuzz_targets/): plan_text, plan_struct (the plan path, which is also the
# compile-time path of `plan!`), derive_input, spool_record, http_response. Needs the nightly
# toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`). The corpus grows in
# fuzz/corpus/TARGET (git-ignored), starting from the seeds in fuzz/corpus-seed/TARGET; crashes
# land in fuzz/artifacts/TARGET. Keep a crash as fuzz/regressions/TARGET/NAME once it is fixed:
# `cargo test -p trackplan-codegen --test fuzz_regressions` replays those of the plan targets.
#
# The build uses no sanitizer: every crate of trackplan forbids `unsafe`, so what the fuzzer can
# find is panics, overflows (debug assertions stay on) and broken expansions, and without
# AddressSanitizer it finds them several times faster. FUZZ_SANITIZER=address turns it back on.
# The run is niced: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

if [ $# -lt 2 ]; then
  echo "usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer args…]" >&2
  echo "targets: $(ls fuzz_targets | sed 's/\.rs$//' | tr '\n' ' ')" >&2
  exit 2
fi
target=$1 seconds=$2
shift 2
if [ ! -f "fuzz_targets/$target.rs" ]; then
  echo "no fuzz target \`$target\` (fuzz/fuzz_targets/$target.rs)" >&2
  exit 2
fi

sanitizer=${FUZZ_SANITIZER:-none}
# Plan text costs time in proportion to its length, and 4 KiB holds a plan of every section
# (plans/edge_cases.toml); the other targets' inputs are small anyway.
#
# Comparison tracing (libFuzzer learning the operands of `==`, which is how it gets past the
# spool's CRC or finds keywords) costs the plan targets 2.9x the instructions (callgrind over
# 300 plan_struct inputs: 4.83 G with it, 1.65 G without). Their seeds and the generator
# already hold every keyword of the format, so they run without it by default, in a target
# directory of their own so the two builds do not evict each other. FUZZ_TRACE_COMPARES=1
# or =0 overrides.
case $target in
  plan_text) max_len=4096 trace=${FUZZ_TRACE_COMPARES:-0} ;;
  plan_struct) max_len=8192 trace=${FUZZ_TRACE_COMPARES:-0} ;;
  *) max_len=8192 trace=${FUZZ_TRACE_COMPARES:-1} ;;
esac
build=()
if [ "$trace" = 0 ]; then
  build=(--no-trace-compares --target-dir target/no-trace-compares)
fi
mkdir -p "corpus/$target" "artifacts/$target"
exec nice -n 19 cargo +nightly fuzz run --sanitizer "$sanitizer" --debug-assertions "${build[@]}" \
  "$target" "corpus/$target" "corpus-seed/$target" -- \
  -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 "$@"
