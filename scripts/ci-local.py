#!/usr/bin/env python3
"""Runs a GitHub Actions job's steps locally, as the runner would, against a checked-out repository.

    .venv/bin/python scripts/ci-local.py WORKFLOW --repo DIR --out DIR [--job ID] [--fork]
        [--base-ref main] [--pr 7] [--repository owner/app] [--bin PATH]

Made for examples/ci/plan-review.yml and tested by cli/tests/workflow.rs. DIR is a clone whose
`origin` has the base branch (the state `actions/checkout` with `fetch-depth: 0` leaves).

- `run:` steps run with `bash --noprofile --norc -eo pipefail` in DIR, with the workflow's,
  job's and step's `env:` (their `${{ }}` expressions evaluated), GITHUB_OUTPUT,
  GITHUB_STEP_SUMMARY and GITHUB_WORKSPACE. A `${{ }}` inside `run:` is refused: the workflow
  must pass values through `env:`.
- `if:` conditions: `A == B`, `A != B` on contexts and quoted strings, `always()`, `success()`,
  `failure()`. Anything else is refused, so the script never guesses.
- `uses:` steps are stood in for: actions/checkout (checks `persist-credentials: false`;
  the repository is already checked out), actions/cache (a miss), actions/upload-artifact (a copy
  to OUT/artifacts, its `artifact-url` output a file:// URL). Any other action is refused.
- `gh` is a stand-in on PATH that keeps PR comments in OUT/comments/ (`gh api` list, POST,
  PATCH), so posting and updating the review comment is checked too.
- With `--bin PATH` or TRACKPLAN_BIN=PATH (the test suite passes its freshly built
  `trackplan`), a step named
  "Install trackplan" is replaced by putting PATH's binary first on PATH: no `cargo install`.
  Without it the step runs as written.

Writes OUT/result.json: every step's name, outcome (success, failure, skipped) and outputs, and
the job's conclusion. Exits 0 when the job succeeded, 1 when it failed, 2 on a usage error.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys

import yaml

FAKE_GH = r"""#!/usr/bin/env bash
# Stand-in for `gh api` on issue comments; state in $FAKE_GH_DIR.
set -euo pipefail
dir="$FAKE_GH_DIR"
mkdir -p "$dir"
echo "gh $*" >> "$dir/calls.log"
[ "${1:-}" = api ] || { echo "fake gh: only 'gh api' is supported" >&2; exit 2; }
shift
method=GET body=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --method|-X) method="$2"; shift 2 ;;
    --paginate) shift ;;
    --jq|-q) shift 2 ;;
    -F|-f|--field|--raw-field) body="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
path="${args[0]}"
[ -n "${GH_TOKEN:-}" ] || { echo "fake gh: GH_TOKEN is not set" >&2; exit 4; }
case "$method $path" in
  "GET repos/"*"/issues/"*"/comments")
    # The workflow's --jq prints the id of the comment that starts with the marker.
    for f in "$dir"/comment-*.md; do
      [ -e "$f" ] || continue
      if head -n 1 "$f" | grep -q '^<!-- trackplan-review -->'; then
        basename "$f" .md | sed 's/^comment-//'
      fi
    done ;;
  "POST repos/"*"/issues/"*"/comments")
    n=1
    while [ -e "$dir/comment-$n.md" ]; do n=$((n + 1)); done
    cp "${body#body=@}" "$dir/comment-$n.md"
    echo "{\"id\": $n}" ;;
  "PATCH repos/"*"/issues/comments/"*)
    id="${path##*/}"
    [ -e "$dir/comment-$id.md" ] || { echo "fake gh: no comment $id" >&2; exit 1; }
    cp "${body#body=@}" "$dir/comment-$id.md"
    echo "{\"id\": $id}" ;;
  *) echo "fake gh: unsupported: $method $path" >&2; exit 2 ;;
esac
"""

EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class Refused(Exception):
    """The workflow uses something this runner does not stand in for."""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workflow")
    ap.add_argument("--repo", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--job", default=None)
    ap.add_argument("--fork", action="store_true", help="the PR comes from a fork")
    ap.add_argument("--base-ref", default="main")
    ap.add_argument("--pr", default="7")
    ap.add_argument("--repository", default="owner/app")
    ap.add_argument(
        "--bin",
        default=os.environ.get("TRACKPLAN_BIN") or None,
        help="use this trackplan binary instead of installing (default: $TRACKPLAN_BIN)",
    )
    a = ap.parse_args()
    try:
        ok = run(a)
    except Refused as e:
        print(f"ci-local: {e}", file=sys.stderr)
        return 2
    return 0 if ok else 1


def run(a):
    with open(a.workflow, encoding="utf-8") as f:
        wf = yaml.safe_load(f)
    jobs = wf.get("jobs") or {}
    job_id = a.job or next(iter(jobs))
    job = jobs[job_id]
    repo = os.path.abspath(a.repo)
    out = os.path.abspath(a.out)
    for d in ("artifacts", "comments", "bin", "outputs"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    summary = os.path.join(out, "summary.md")
    open(summary, "w").close()
    gh = os.path.join(out, "bin", "gh")
    with open(gh, "w") as f:
        f.write(FAKE_GH)
    os.chmod(gh, 0o755)

    head_repo = "someone/app" if a.fork else a.repository
    ctx = {
        "github.base_ref": a.base_ref,
        "github.repository": a.repository,
        "github.token": "fake-token-read-only" if a.fork else "fake-token",
        "github.event.pull_request.number": a.pr,
        "github.event.pull_request.head.repo.full_name": head_repo,
        "runner.os": "Linux",
        "runner.arch": "X64",
    }
    steps_ctx = {}
    env = {}
    for scope in (wf.get("env") or {}, job.get("env") or {}):
        for k, v in scope.items():
            env[k] = expand(str(v), ctx, env, steps_ctx)
    results = []
    failed = False
    for n, step in enumerate(job.get("steps") or []):
        name = step.get("name") or step.get("uses") or f"step {n + 1}"
        cond = step.get("if")
        if not condition(cond, ctx, env, steps_ctx, failed):
            results.append({"name": name, "outcome": "skipped"})
            print(f"--- {name}: skipped")
            continue
        print(f"--- {name}")
        outputs = {}
        if "uses" in step:
            ok = stand_in(step, repo, out, outputs)
        elif "run" in step:
            script = step["run"]
            if "${{" in script:
                raise Refused(f"step {name!r}: a ${{{{ }}}} expression inside run: (pass it through env:)")
            step_env = dict(env)
            for k, v in (step.get("env") or {}).items():
                step_env[k] = expand(str(v), ctx, env, steps_ctx)
            if a.bin and name.startswith("Install trackplan"):
                shutil.copy(a.bin, os.path.join(out, "bin", "trackplan"))
                print(f"    (replaced: trackplan from {a.bin})")
                ok = True
            else:
                ok = shell(script, repo, out, step_env, summary, outputs, n)
        else:
            raise Refused(f"step {name!r} has neither run: nor uses:")
        if step.get("id"):
            steps_ctx[step["id"]] = outputs
        results.append({"name": name, "outcome": "success" if ok else "failure", "outputs": outputs})
        if not ok:
            print(f"--- {name}: FAILED")
            failed = True
    conclusion = "failure" if failed else "success"
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump({"job": job_id, "conclusion": conclusion, "steps": results}, f, indent=2)
    print(f"--- job {job_id}: {conclusion}")
    return not failed


def shell(script, repo, out, step_env, summary, outputs, n):
    output_file = os.path.join(out, "outputs", f"step-{n}.txt")
    open(output_file, "w").close()
    env = {
        "PATH": os.path.join(out, "bin") + os.pathsep + os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": repo,
        "GITHUB_OUTPUT": output_file,
        "GITHUB_STEP_SUMMARY": summary,
        "FAKE_GH_DIR": os.path.join(out, "comments"),
        "NO_COLOR": "1",
    }
    env.update(step_env)
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=repo,
        env=env,
    )
    outputs.update(read_outputs(output_file))
    return proc.returncode == 0


def read_outputs(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^([A-Za-z0-9_-]+)<<(.+)$", line)
        if m:
            key, delim, value = m.group(1), m.group(2), []
            i += 1
            while i < len(lines) and lines[i] != delim:
                value.append(lines[i])
                i += 1
            out[key] = "\n".join(value)
        elif "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
        i += 1
    return out


def stand_in(step, repo, out, outputs):
    uses = step["uses"]
    action, _, ref = uses.partition("@")
    if not re.fullmatch(r"[0-9a-f]{40}", ref):
        raise Refused(f"{uses}: not pinned to a full commit SHA")
    w = step.get("with") or {}
    if action == "actions/checkout":
        if str(w.get("persist-credentials")).lower() != "false":
            raise Refused("actions/checkout must set persist-credentials: false")
        return True
    if action == "actions/cache":
        outputs["cache-hit"] = "false"
        return True
    if action == "actions/upload-artifact":
        src = os.path.join(repo, w["path"])
        if not os.path.isfile(src):
            print(f"    upload-artifact: {w['path']} not found", file=sys.stderr)
            return False
        dst = os.path.join(out, "artifacts", os.path.basename(src))
        shutil.copy(src, dst)
        outputs["artifact-url"] = "file://" + dst
        outputs["artifact-id"] = "1"
        return True
    raise Refused(f"no stand-in for action {action}")


def value(token, ctx, env, steps_ctx):
    token = token.strip()
    if len(token) >= 2 and token[0] == token[-1] == "'":
        return token[1:-1]
    if token.startswith("env."):
        return env.get(token[4:], "")
    m = re.fullmatch(r"steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)", token)
    if m:
        return steps_ctx.get(m.group(1), {}).get(m.group(2), "")
    if token in ctx:
        return ctx[token]
    raise Refused(f"unknown expression {token!r}")


def expand(s, ctx, env, steps_ctx):
    return EXPR.sub(lambda m: value(m.group(1), ctx, env, steps_ctx), s)


def condition(cond, ctx, env, steps_ctx, failed):
    if cond is None:
        return not failed
    c = EXPR.sub(lambda m: m.group(1), str(cond)).strip()
    if c == "always()":
        return True
    if c == "success()":
        return not failed
    if c == "failure()":
        return failed
    m = re.fullmatch(r"(.+?)\s*(==|!=)\s*(.+)", c)
    if not m:
        raise Refused(f"unsupported if: {cond!r}")
    left = value(m.group(1), ctx, env, steps_ctx)
    right = value(m.group(3), ctx, env, steps_ctx)
    # Like GitHub: a condition without a status function implies success().
    return not failed and ((left == right) == (m.group(2) == "=="))


if __name__ == "__main__":
    sys.exit(main())
