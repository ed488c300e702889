#!/usr/bin/env bash
# Runs `cargo bench --bench track` several times and prints, per run, each variant's criterion
# median and its ratio to the baselines of the same run, then the median of each ratio across
# runs. On a shared or virtual machine, load drifts over minutes while a run measures its
# variants one after another; the median of per-run ratios is steadier than one run's.
#
#   scripts/track_ratios.sh            # 5 runs, 3 s of measurement per variant
#   RUNS=3 MEASURE=5 scripts/track_ratios.sh
set -euo pipefail
RUNS=${RUNS:-5}
MEASURE=${MEASURE:-3}
cd "$(dirname "$0")/.."
cargo bench --bench track --no-run >/dev/null 2>&1
out=$(mktemp -d)
for run in $(seq 1 "$RUNS"); do
    cargo bench --bench track -- --warm-up-time 1 --measurement-time "$MEASURE" \
        >"$out/run$run.txt" 2>&1
done
python3 - "$out" "$RUNS" <<'PY'
import re, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
def medians(path):
    result, name = {}, None
    unit = {"ps": 1e-3, "ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6}
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^track_6_properties/(\S+)", line)
        if m:
            name = m.group(1)
        m = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", line)
        if m and name:
            result[name] = float(m.group(1)) * unit[m.group(2)]
            name = None
    return result
ratios = {}
for run in range(1, runs + 1):
    m = medians(f"{out}/run{run}.txt")
    # The accepted path the refusals compare with: `track` with the worker delivering.
    track = m["trackplan_track"]
    row = {
        "track / (a) json!": track / m["a_json_macro"],
        "track / (c) derive(Serialize)": track / m["c_derive_serialize"],
        "track deferred / (c)": m["trackplan_track_deferred"] / m["c_derive_serialize"],
        "refused track / accepted": m["trackplan_refused"] / track,
        "refused track_with / accepted": m["trackplan_refused_track_with"] / track,
        "profile update / (c)": m["trackplan_profile_update"] / m["c_derive_serialize"],
        "profile update deferred / (c)": (
            m["trackplan_profile_update_deferred"] / m["c_derive_serialize"]
        ),
    }
    # Placement: tracking thread on the first CPU, workers on the same or another one,
    # against the floor measured pinned the same way (absent on a single-CPU machine).
    if "c_derive_serialize_pinned" in m:
        floor = m["c_derive_serialize_pinned"]
        for placement in ("same_cpu", "other_cpu"):
            row[f"track {placement} / (c) pinned"] = m[f"trackplan_track_{placement}"] / floor
            row[f"track deferred {placement} / (c) pinned"] = (
                m[f"trackplan_track_deferred_{placement}"] / floor
            )
    print(f"run {run}: " + ", ".join(f"{k} {v:.1f} ns" for k, v in m.items()))
    for k, v in row.items():
        ratios.setdefault(k, []).append(v)
print()
for k, v in ratios.items():
    print(f"{k:32s} median {statistics.median(v):.3f}  (runs: {', '.join(f'{x:.3f}' for x in v)})")
PY
