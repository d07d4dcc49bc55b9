#!/usr/bin/env bash
# Issue 14's benchmark: calibration plus SparseGPT (sequential, 50% unstructured, every Linear weight
# including the LM head) by Lopper against the reference algorithm run in PyTorch on this machine's
# CPU with the same number of threads, on a GPT-style decoder of 12 blocks of width 768. Run by hand
# (not in CI); results and the machine's load go in docs/benchmarks.md, "SparseGPT on a 12-block
# decoder: Lopper against the PyTorch reference".
#
#   bench/sparsegpt-vs-pytorch.sh                     # all: make (or reuse), then per round PyTorch and Lopper, compare
#   bench/sparsegpt-vs-pytorch.sh make                # the model and data only (about 4 minutes)
#   bench/sparsegpt-vs-pytorch.sh torch --rounds 3    # the PyTorch runs only
#   bench/sparsegpt-vs-pytorch.sh lopper --rounds 3   # Lopper's runs only
#   bench/sparsegpt-vs-pytorch.sh compare             # equality and the tables of what the work directory holds
#
# Options: --work DIR (/tmp/lopper-sgpt-bench) --fresh (make the model and data again)
#          model and data (make; recorded in DIR/data/lm.json): --layers N (12) --width N (768)
#          --heads N (12) --mlp-width N (3072) --sequence N (128) --rows N (32: the calibration rows,
#          all of the data) --train-steps N (0) --seed N (0)
#          --batch N (8): rows per chunk, Lopper's data.batch-size and the rows of PyTorch's block passes
#          --threads "1 2": thread counts tried on both sides, T: PyTorch torch.set_num_threads(T) with
#          OpenBLAS at T threads; Lopper --master local[T] (T tasks of one thread each)
#          --precisions "float64 float32": the PyTorch variants (bench/sparsegpt_reference.py --precision)
#          --rounds N (1): torch/lopper/all repeat their runs N times
#          --later-threads "T ..." (default --threads): the thread counts of rounds 2 and later
#          --lopper-set "KEY=VALUE ..." (extra --set options for Lopper's runs)
#          --quiet-wait MINUTES (60): before each timed run, wait up to this long for the machine's
#          CPUs to be under 10% busy over 10 s (0: do not wait)
#
# Steps:
#   make    bench/make_lm_bench.py --out DIR/data: lm.onnx, lm.safetensors, tokens.csv, tokens.parquet,
#           lm.json. Reused when present unless --fresh.
#   torch   per round, thread count and precision: bench/sparsegpt_reference.py prune (opt_sequential's
#           loop: hooks gather each Linear's Gram over the block's dense pass, fasterprune per Linear,
#           the pruned block's outputs feed the next block; then the LM head), with OpenBLAS's own
#           kernel choice (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for that command alone, see
#           docs/benchmarks.md). Timed: the loop (printed and in DIR/torch-<precision>-t<T>-r<r>.json,
#           with its forward, Gram and prune phases and the two perplexity evaluations after it) and
#           the whole process (/usr/bin/time). The float64 runs write their weights and masks
#           (DIR/torch-float64-t<T>-r<r>.safetensors), the reference for compare.
#   lopper  an untimed warm-up (bin/lopper help builds the jar; a sample run records the class-data
#           archive), then per round and thread count `bin/lopper prune --model lm.onnx --data
#           tokens.parquet --metric perplexity --set sweep.criterion=sparsegpt --set
#           allocation.policy=uniform --set allocation.target=0.5 --set calibration.sequential=true
#           --set calibration.rows=R --set data.batch-size=B --set gate.max-drop=null --master local[T]`
#           under /usr/bin/time (the whole process: JVM, Spark's start, the model's checks, calibration,
#           pruning, writing and verifying the model), with Spark's event log in DIR/events for the
#           calibration jobs' durations.
#   compare per Lopper run: bench/sparsegpt_reference.py compare against the float64 reference
#           (weights and masks), then for the first run check (the same comparison from the same state,
#           group by group; see that script); the perplexities; per round the ratios of Lopper's whole
#           run to PyTorch's loop, and Lopper's CPU time at local[2] over local[1].
# Everything is logged to DIR/results.txt (appended).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
step=all
case "${1:-}" in make|torch|lopper|compare|all) step="$1"; shift ;; esac
work=/tmp/lopper-sgpt-bench fresh=0 layers=12 width=768 heads=12 mlp_width=3072 sequence=128 rows=32
train_steps=0 seed=0 batch=8 threads="1 2" later_threads="" precisions="float64 float32" rounds=1 lopper_set=""
quiet_wait=60
while [[ $# -gt 0 ]]; do
  case "$1" in
    --work) work="$2"; shift 2 ;;
    --fresh) fresh=1; shift ;;
    --layers) layers="$2"; shift 2 ;;
    --width) width="$2"; shift 2 ;;
    --heads) heads="$2"; shift 2 ;;
    --mlp-width) mlp_width="$2"; shift 2 ;;
    --sequence) sequence="$2"; shift 2 ;;
    --rows) rows="$2"; shift 2 ;;
    --train-steps) train_steps="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --later-threads) later_threads="$2"; shift 2 ;;
    --precisions) precisions="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --lopper-set) lopper_set="$2"; shift 2 ;;
    --quiet-wait) quiet_wait="$2"; shift 2 ;;
    *) echo "unknown option $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done
later_threads="${later_threads:-$threads}"
threads_of() { if [[ "$1" == 1 ]]; then echo "$threads"; else echo "$later_threads"; fi; }

py=/usr/bin/python3
ref="$root/bench/sparsegpt_reference.py"
mkdir -p "$work"
work="$(cd "$work" && pwd)"
data="$work/data"
results="$work/results.txt"
log() { echo "$*" | tee -a "$results"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
# Maven offline unless the caller says otherwise (bin/lopper builds the jar when it is stale).
export LOPPER_MVN_OPTS="${LOPPER_MVN_OPTS:--o -ntp}"

# wait_quiet: before a timed run, wait (up to --quiet-wait minutes) until the machine's CPUs were
# less than 10% busy over 10 s: other sessions' builds and tests share this machine, and a run
# beside them measures them too (PyTorch at two threads slowed fivefold beside a Maven build).
wait_quiet() {
  local waited=0 busy
  while :; do
    busy="$(awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat; sleep 10; awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat)"
    busy="$(echo $busy | awk '{b = $3 - $1; i = $4 - $2; printf "%d", 100 * b / (b + i)}')"
    if (( busy < 10 )); then
      (( waited > 0 )) && log "machine quiet again after ${waited} s of waiting"
      return 0
    fi
    if (( waited >= quiet_wait * 60 )); then
      log "machine still ${busy}% busy after ${quiet_wait} minutes of waiting; running anyway"
      return 0
    fi
    (( waited == 0 )) && log "machine ${busy}% busy (other sessions: $(ps -eo pcpu,comm --sort=-pcpu | sed -n 2,3p | tr -s ' ' | paste -sd ';')); waiting"
    sleep 50
    waited=$((waited + 60))
  done
}

time_to() {  # time_to FILE CMD...: "wall user sys" of CMD into FILE
  local file="$1"; shift
  /usr/bin/time -f "%e %U %S" -o "$file" "$@"
}
cpu_of() { awk '{printf "%.1f", $2 + $3}' "$1"; }
wall_of() { awk '{printf "%.1f", $1}' "$1"; }
# The PyTorch peer runs with OpenBLAS's own kernel choice: some of these machines pin it to Haswell's
# AVX2 kernels through these variables (STACK-NOTES); unset for that command alone.
torch_env=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)

log "# bench/sparsegpt-vs-pytorch.sh $step, $(date -u +%FT%TZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"

# ---------------------------------------------------------------- make
make_data() {
  if [[ "$fresh" == 0 && -f "$data/tokens.parquet" && -f "$data/lm.json" ]]; then
    log "model and data: reusing $data (--fresh makes them again): $("$py" -c 'import json, sys
m = json.load(open(sys.argv[1])); s = m["shape"]
print("%d blocks, width %d, %d heads, MLP %d, %d rows of %d tokens, %d train steps; dense perplexity %.4f"
      % (s["layers"], s["width"], s["heads"], s["mlp_width"], m["rows"], m["sequence"], m["train_steps"],
         m["dense"]["perplexity"]))' "$data/lm.json")"
    return
  fi
  rm -rf "$data"
  log "making the model and data in $data (load $(load))"
  "$py" "$root/bench/make_lm_bench.py" --out "$data" --layers "$layers" --width "$width" --heads "$heads" \
    --mlp-width "$mlp_width" --sequence "$sequence" --rows "$rows" --train-steps "$train_steps" --seed "$seed" \
    | tee -a "$results"
}
data_rows() { "$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["rows"])' "$data/lm.json"; }

# ---------------------------------------------------------------- torch
# run_torch PRECISION THREADS ROUND
run_torch() {
  local p="$1" t="$2" r="$3" name="torch-$1-t$2-r$3" out=()
  [[ "$p" == float64 ]] && out=(--out "$work/$name.safetensors")
  wait_quiet
  log "load before PyTorch $p t=$t (round $r): $(load)"
  time_to "$work/$name.time" "${torch_env[@]}" "$py" "$ref" prune --dir "$data" --rows "$(data_rows)" \
    --threads "$t" --precision "$p" --batch "$batch" --json "$work/$name.json" ${out[@]+"${out[@]}"} \
    > "$work/$name.log"
  log "$(tail -n 1 "$work/$name.log") (whole process: wall $(wall_of "$work/$name.time") s, cpu $(cpu_of "$work/$name.time") s; load after $(load))"
}
torch_round() {
  local r="$1" t p
  for t in $(threads_of "$r"); do
    for p in $precisions; do run_torch "$p" "$t" "$r"; done
  done
}

# ---------------------------------------------------------------- lopper
lopper_warm_up() {
  # The fat jar, built here so that no build is timed, and bin/lopper's class-data archive, which
  # the first Spark run after a build records (untimed too: once per installation).
  "$root/bin/lopper" help > /dev/null
  (cd "$root" && bin/lopper sensitivity --config conf/digits-cnn.yaml --out "$work/warm-up" \
    --set output.overwrite=true --quiet > "$work/warm-up.log" 2>&1) || { cat "$work/warm-up.log" >&2; return 1; }
}
# lopper_run THREADS ROUND: one timed local run; 0 if it finished.
lopper_run() {
  local t="$1" r="$2" name="lopper-t$1-r$2" extra=() kv
  local out="$work/runs/$name"
  for kv in $lopper_set; do extra+=(--set "$kv"); done
  rm -rf "$out" "$work/events/$name"
  mkdir -p "$work/events/$name"
  wait_quiet
  log "load before Lopper local[$t] (round $r): $(load)"
  if ! time_to "$work/$name.time" "$root/bin/lopper" prune --model "$data/lm.onnx" --data "$data/tokens.parquet" \
      --metric perplexity --set sweep.criterion=sparsegpt --set allocation.policy=uniform \
      --set allocation.target=0.5 --set calibration.sequential=true --set "calibration.rows=$(data_rows)" \
      --set "data.batch-size=$batch" --set gate.max-drop=null --set spark.conf.spark.eventLog.enabled=true \
      --set spark.conf.spark.eventLog.compress=false --set "spark.conf.spark.eventLog.dir=$work/events/$name" \
      --master "local[$t]" ${extra[@]+"${extra[@]}"} \
      --out "$out" > "$work/$name.log" 2>&1; then
    log "lopper local[$t] round $r FAILED; last lines of $work/$name.log:"
    tail -n 5 "$work/$name.log" | sed 's/^/  /' | tee -a "$results"
    rm -f "$work/$name.time"
    return 1
  fi
  log "lopper local[$t] (round $r): wall $(wall_of "$work/$name.time") s, cpu $(cpu_of "$work/$name.time") s" \
    "(whole run; load after $(load)); $(grep -o 'perplexity [0-9.]* -> [0-9.]*' "$work/$name.log" | tail -n 1)"
  log "  stages (manifest timings_millis): $("$py" -c 'import json, sys
t = json.load(open(sys.argv[1])).get("timings_millis", {})
print(", ".join("%s %.1f s" % (k, v / 1000) for k, v in t.items()))' "$out/manifest.json")"
  # The calibration passes' Spark jobs, from the event log: what each group's pass cost.
  log "  calibration jobs (Spark event log), one per group: $("$py" -c 'import glob, json, sys
start, group, out = {}, {}, []
for path in glob.glob(sys.argv[1] + "/*/events_*") + glob.glob(sys.argv[1] + "/app*"):
    for line in open(path):
        e = json.loads(line)
        if e.get("Event") == "SparkListenerJobStart":
            start[e["Job ID"]] = e["Submission Time"]
            group[e["Job ID"]] = e.get("Properties", {}).get("spark.jobGroup.id")
        elif e.get("Event") == "SparkListenerJobEnd" and group.get(e["Job ID"]) == "lopper-calibration":
            out.append((e["Completion Time"] - start[e["Job ID"]]) / 1000)
print(" ".join("%.1f" % v for v in out) + " s, sum %.1f s" % sum(out))' "$work/events/$name")"
  # The untimed part before the stages: the model's checks (Inspect), from the log's timestamps.
  log "  model checks before the data stage (log timestamps, data stage included): $("$py" -c 'import re, sys
times = [l[:8] for l in open(sys.argv[1]) if re.match(r"\d\d:\d\d:\d\d INFO (OnnxModel: Loaded|CalibrationJob: Starting)", l)]
s = [int(t[:2]) * 3600 + int(t[3:5]) * 60 + int(t[6:8]) for t in times[:2]]
print("%d s" % (s[1] - s[0]) if len(s) == 2 else "?")' "$work/$name.log")"
}
lopper_round() {
  local r="$1" t
  for t in $(threads_of "$r"); do lopper_run "$t" "$r" || return 1; done
}

# ---------------------------------------------------------------- compare
compare_all() {
  local status=0 run reference checked=0 r t
  reference="$(ls "$work"/torch-float64-t*-r*.safetensors 2>/dev/null | head -n 1 || true)"
  [[ -n "$reference" ]] || { log "compare: no float64 PyTorch run in $work; run the torch step first"; return 1; }
  for run in "$work"/runs/lopper-*/; do
    [[ -f "$run/model/pruned.safetensors" ]] || continue
    "$py" "$ref" compare --reference "$reference" --lopper "$run" --json "$run/compare.json" | tee -a "$results" \
      || status=1
    if [[ "$checked" == 0 ]]; then
      "${torch_env[@]}" "$py" "$ref" check --dir "$data" --lopper "$run" --rows "$(data_rows)" --batch "$batch" \
        --json "$run/check.json" > "$run/check.log" && tail -n 1 "$run/check.log" | tee -a "$results" || status=1
      checked=1
    fi
  done
  # The float64 references of other thread counts and rounds against the first: PyTorch's own
  # spread (its kernels sum in other orders at other thread counts).
  for run in "$work"/torch-float64-t*-r*.safetensors; do
    [[ "$run" == "$reference" ]] && continue
    "$py" -c 'import sys; sys.path.insert(0, sys.argv[3]); import numpy as np, sparsegpt_reference as s
a, b = s.read_safetensors(sys.argv[1]), s.read_safetensors(sys.argv[2])
if all((a[k] == b[k]).all() for k in a):
    print("%s against %s: bitwise equal" % (sys.argv[2], sys.argv[1]))
else:
    masks = sum(int((a[k] != b[k]).sum()) for k in a if k.startswith("mask/"))
    rel = max(float(np.abs(a[k].astype(np.float64) - b[k]).max() / np.abs(a[k]).max()) for k in a if not k.startswith("mask/"))
    print("%s against %s: masks differ at %d positions, weights within %.3g of the tensor max |w|" % (sys.argv[2], sys.argv[1], masks, rel))' \
      "$reference" "$run" "$root/bench" | tee -a "$results"
  done
  "$py" - "$work" <<'EOF' | tee -a "$results"
import glob, json, os, re, sys
work = sys.argv[1]
def times(path):
    wall, user, system = open(path).read().split()
    return float(wall), float(user) + float(system)
rows = {}
for path in glob.glob(os.path.join(work, "torch-*-t*-r*.json")):
    p, t, r = re.match(r"torch-(\w+)-t(\d+)-r(\d+)\.json", os.path.basename(path)).groups()
    j = json.load(open(path))
    wall, cpu = times(path[:-5] + ".time")
    rows.setdefault(int(r), {})[f"torch-{p}-t{t}"] = (j["loop_wall"], j["loop_cpu"], j["loop_wall"] + j.get("eval_pruned_wall", 0) + j.get("eval_dense_wall", 0), wall, cpu, j["pruned_metrics"]["perplexity"])
for path in glob.glob(os.path.join(work, "lopper-t*-r*.time")):
    t, r = re.match(r"lopper-t(\d+)-r(\d+)\.time", os.path.basename(path)).groups()
    wall, cpu = times(path)
    rows.setdefault(int(r), {})[f"lopper-t{t}"] = (wall, cpu)
print("round | run | times")
ratios = {}
for r in sorted(rows):
    for k in sorted(rows[r]):
        v = rows[r][k]
        if k.startswith("torch"):
            print(f"{r} | {k} | loop wall {v[0]:.1f} s (cpu {v[1]:.1f}), loop + both evaluations {v[2]:.1f} s, whole process {v[3]:.1f} s (cpu {v[4]:.1f}); pruned perplexity {v[5]:.6f}")
        else:
            print(f"{r} | {k} | whole run wall {v[0]:.1f} s (cpu {v[1]:.1f})")
    for t in ("1", "2"):
        l = rows[r].get(f"lopper-t{t}")
        for p in ("float64", "float32"):
            q = rows[r].get(f"torch-{p}-t{t}")
            if l and q:
                print(f"{r} | ratio t={t} | Lopper whole run / PyTorch {p} loop: {l[0] / q[0]:.3f}; / loop + evaluations: {l[0] / q[2]:.3f}; / whole process: {l[0] / q[3]:.3f} (target <= 1.2)")
                ratios.setdefault(f"Lopper local[{t}] / PyTorch {p} t={t} loop", []).append(l[0] / q[0])
                ratios.setdefault(f"Lopper local[{t}] / PyTorch {p} t={t} loop + evaluations", []).append(l[0] / q[2])
    if rows[r].get("lopper-t1") and rows[r].get("lopper-t2"):
        print(f"{r} | cpu local[2] / local[1] | {rows[r]['lopper-t2'][1] / rows[r]['lopper-t1'][1]:.3f} (target <= 1.15)")
        ratios.setdefault("Lopper CPU local[2] / local[1]", []).append(rows[r]['lopper-t2'][1] / rows[r]['lopper-t1'][1])
for k, v in ratios.items():
    v = sorted(v)
    median = v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
    print(f"median of {len(v)} | {k} | {median:.3f} ({', '.join('%.3f' % x for x in v)})")
EOF
  return "$status"
}

# ---------------------------------------------------------------- steps
lopper_failed=0
case "$step" in
  make) make_data ;;
  torch)
    [[ -f "$data/lm.json" ]] || make_data
    for r in $(seq "$rounds"); do torch_round "$r"; done ;;
  lopper)
    [[ -f "$data/tokens.parquet" ]] || make_data
    rm -rf "$work"/lopper-t*-r*.time "$work/runs"
    lopper_warm_up
    for r in $(seq "$rounds"); do lopper_round "$r" || { lopper_failed=1; break; }; done ;;
  compare) compare_all || exit 1 ;;
  all)
    # Per round PyTorch, then Lopper, so that each round's ratios compare runs made close in time.
    make_data
    rm -rf "$work"/torch-*-r*.* "$work"/lopper-t*-r*.time "$work/runs"
    lopper_warm_up || lopper_failed=1
    for r in $(seq "$rounds"); do
      torch_round "$r"
      if [[ "$lopper_failed" == 0 ]]; then lopper_round "$r" || lopper_failed=1; fi
    done
    if [[ "$lopper_failed" == 0 ]]; then compare_all || exit 1; fi ;;
esac
log "load at the end: $(load)"
if [[ "$lopper_failed" == 1 ]]; then
  log "Lopper's step failed; see the logs in $work"
  exit 1
fi
echo "results in $results" >&2
