#!/usr/bin/env bash
# The workflow on a real SLURM: stand up a single-node cluster (.ci/slurm/start.sh), run the
# pre-flight check against it (a fitting DAG passes; a request larger than the node is refused
# naming the rule), run the reduced CI demo through workflow/profiles/slurm in a copy of the
# checkout, and assert its Table 1 equals the local run's (results/ci/table1.csv, made first when
# absent). The daemons are stopped by PID at the end (.ci/slurm/stop.sh), pass or fail.
#
# In CI (D2S_CI=1) every missing piece (root, packages, daemons) fails loudly; elsewhere the test
# is skipped with the reason. Prints the SLURM and local wall times.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
PY=${PYTHON:-.venv/bin/python}
[[ $PY == /* ]] || PY=$REPO/$PY # the test runs in a copy of the checkout
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export D2S_SLURM_STATE=${D2S_SLURM_STATE:-/tmp/d2s-ci-slurm}
DEMO=(--configfile workflow/config/demo.yaml workflow/config/ci.yaml)
CLUSTER=(--config slurm_account=d2s slurm_cpu_partition=cpu slurm_gpu_partition=gpu)
TARGET=(-- results/ci/table1.csv)

say() { printf '[slurm-test] %s\n' "$*"; }
skip_or_fail() {
    if [[ ${D2S_CI:-0} == 1 ]]; then
        say "FAIL: $*"
        exit 1
    fi
    say "SKIPPED: $* (outside CI; D2S_CI=1 makes this a failure)"
    exit 0
}

[[ $(id -u) == 0 ]] || skip_or_fail "needs root to start the SLURM daemons"
# A lone `$PY -m snakemake` needs the SLURM plugin (dev extras).
"$PY" -c "import snakemake_executor_plugin_slurm" 2>/dev/null ||
    skip_or_fail "snakemake-executor-plugin-slurm is not installed in $PY"

# The local reference run (CI has just made it; made here when the script runs alone).
if [[ ! -s results/ci/table1.csv ]]; then
    say "local reference run"
    start=$(date +%s)
    "$PY" -m snakemake --cores 2 "${DEMO[@]}" "${TARGET[@]}"
    say "local run: $(($(date +%s) - start)) s"
fi

trap '.ci/slurm/stop.sh' EXIT
set +e
env_lines=$(.ci/slurm/start.sh)
status=$?
set -e
case $status in
    0) eval "$env_lines" ;;
    3) skip_or_fail "SLURM cannot be stood up on this machine (reason above)" ;;
    *) skip_or_fail "the SLURM daemons did not start (exit $status; logs in $D2S_SLURM_STATE/log)" ;;
esac

# A copy of the checkout, so that the SLURM run makes every file itself (demo data, captions,
# features, runs) and writes nothing beside the local run's results.
WORK=$D2S_SLURM_STATE/checkout
rm -rf "$WORK" && mkdir -p "$WORK"
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$WORK"
cd "$WORK"

say "pre-flight: the demo DAG fits the node"
"$PY" -m d2s slurm preflight -- "${DEMO[@]}" "${CLUSTER[@]}" "${TARGET[@]}"
say "pre-flight: a train job asking more CPUs than the node has is refused, naming the rule"
node_cpus=$(sinfo -h -o %c | tr -d + | sort -n | tail -n 1)
printf 'compute:\n  train: {threads: %d}\n' "$((node_cpus + 1))" >"$D2S_SLURM_STATE/too-big.yaml"
set +e
refusal=$("$PY" -m d2s slurm preflight -- "${DEMO[@]}" "$D2S_SLURM_STATE/too-big.yaml" \
    "${CLUSTER[@]}" "${TARGET[@]}" 2>&1)
status=$?
set -e
[[ $status == 2 && $refusal == *"rule train asks CPUs="* ]] || {
    say "FAIL: expected exit 2 naming rule train, got $status: $refusal"
    exit 1
}

say "the reduced demo through workflow/profiles/slurm"
start=$(date +%s)
"$PY" -m snakemake --workflow-profile workflow/profiles/slurm "${DEMO[@]}" "${CLUSTER[@]}" \
    --slurm-init-seconds-before-status-checks 5 --slurm-keep-successful-logs "${TARGET[@]}" 2>&1 |
    tee "$D2S_SLURM_STATE/snakemake.log"
slurm_s=$(($(date +%s) - start))
run_id=$(sed -n 's/.*SLURM run ID: \([^ ]*\).*/\1/p' "$D2S_SLURM_STATE/snakemake.log" | head -n 1)

"$PY" - "$REPO/results/ci/table1.csv" "$WORK/results/ci/table1.csv" <<'PY'
import sys

import pandas as pd

local, slurm = (pd.read_csv(path) for path in sys.argv[1:])
pd.testing.assert_frame_equal(local, slurm)
print(f"[slurm-test] Table 1 through SLURM equals the local run's ({len(slurm)} rows)")
PY
# Every job of this run (its SLURM run ID is the jobs' name), training included, ran on the cpu
# partition with the demo's compute block: 1 CPU, 2000 MB.
sacct -n -X -P --name="$run_id" --format=JobID,Comment,Partition,ReqCPUS,ReqMem,State -S now-3hours \
    >"$D2S_SLURM_STATE/sacct.txt"
jobs=$(grep -c '|cpu|1|2000M|COMPLETED$' "$D2S_SLURM_STATE/sacct.txt" || true)
trains=$(grep -Ec '\|rule_train(_wildcards_[^|]*)?\|cpu\|1\|2000M\|COMPLETED$' "$D2S_SLURM_STATE/sacct.txt" || true)
say "sacct (run $run_id): $jobs jobs, $trains of them train, completed on cpu with 1 CPU, 2000M"
[[ $jobs == 16 && $trains == 12 && $(wc -l <"$D2S_SLURM_STATE/sacct.txt") == 16 ]] || {
    cat "$D2S_SLURM_STATE/sacct.txt"
    say "FAIL: expected the DAG's 16 jobs (12 train) there, and nothing else"
    exit 1
}
say "wall time through SLURM: ${slurm_s} s"
