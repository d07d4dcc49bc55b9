#!/usr/bin/env bash
# Lopper's sensitivity sweep of a language model against the same sweep done the PyTorch way, on a
# synthetic GPT-style decoder (the sample LM's architecture, larger). Run by hand (not in CI);
# results and the machine's load go in docs/benchmarks.md, "Language-model sweep against a PyTorch sweep".
#
#   bench/lm-sweep-vs-pytorch.sh                     # all: make (or reuse), then per round PyTorch and Lopper, compare
#   bench/lm-sweep-vs-pytorch.sh make                # the model and data only (about 4 minutes: training)
#   bench/lm-sweep-vs-pytorch.sh torch --rounds 3    # the PyTorch sweeps only
#   bench/lm-sweep-vs-pytorch.sh lopper --rounds 3   # Lopper's runs only (needs the data and, for compare, torch's)
#   bench/lm-sweep-vs-pytorch.sh compare             # the tables and the ratios of what the work directory holds
#
# Options: --work DIR (/tmp/lopper-lm-bench) --fresh (make the model and data again even if DIR has them)
#          model and data (make; recorded in DIR/data/lm.json): --layers N (4) --width N (256) --heads N (4)
#          --sequence N (128) --rows N (32) --train-steps N (200) --seed N (0)
#          --grid "0.1,...,0.9" (the sparsity grid, both sides) --batch N (16, PyTorch's rows per forward pass)
#          --threads "1 2" (PyTorch thread counts tried in round 1; the fastest loop counts)
#          --rounds N (1): torch/lopper/all repeat their runs N times; the ratio is taken per round
#          --local-cores N (2: Lopper's spark.master=local[N])
#          --lopper-set "KEY=VALUE ..." (extra --set options for Lopper's runs, e.g. data.batch-size=16)
#
# Steps:
#   make    bench/make_lm_bench.py --out DIR/data: lm.onnx, lm.safetensors, tokens.csv, tokens.parquet
#           (through Lopper's CsvToParquet), lm.json. Reused when present unless --fresh.
#   torch   bench/lm_sweep_reference.py sweep per round: for the dense model and every (Linear weight,
#           sparsity): copy.deepcopy, prune.l1_unstructured, evaluate all rows in batches of --batch;
#           at every --threads count in round 1 (the fastest loop wins), at that count later; with
#           OpenBLAS's own kernels (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for that command
#           alone, docs/benchmarks.md). Timed: the sweep loop alone (printed by the script; data
#           loading and Python's start left out, in PyTorch's favour) and the whole process
#           (/usr/bin/time). Table: DIR/data/pytorch-t<N>.csv; the fastest one copied to DIR/pytorch.csv.
#   lopper  an untimed warm-up (bin/lopper help builds the jar; a sample run records the class-data
#           archive), then per round `bin/lopper sensitivity --model lm.onnx --data tokens.parquet
#           --metric perplexity --set sweep.sparsities=[grid] --master local[N] --out DIR/runs/local-r<r>`
#           under /usr/bin/time: the whole process, Spark's start included.
#   compare every DIR/runs/*/sensitivity.csv against DIR/pytorch.csv (bench/lm_sweep_reference.py
#           compare: same (tensor, sparsity) rows, perplexity within 1e-4 relative), then per round
#           the speed-up = PyTorch's fastest loop / Lopper's whole run, and their median.
# Everything is logged to DIR/results.txt (appended).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
step=all
case "${1:-}" in make|torch|lopper|compare|all) step="$1"; shift ;; esac
work=/tmp/lopper-lm-bench fresh=0 layers=4 width=256 heads=4 sequence=128 rows=32 train_steps=200 seed=0
grid="0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9" batch=16 threads="1 2" rounds=1 local_cores=2 lopper_set=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --work) work="$2"; shift 2 ;;
    --fresh) fresh=1; shift ;;
    --layers) layers="$2"; shift 2 ;;
    --width) width="$2"; shift 2 ;;
    --heads) heads="$2"; shift 2 ;;
    --sequence) sequence="$2"; shift 2 ;;
    --rows) rows="$2"; shift 2 ;;
    --train-steps) train_steps="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --grid) grid="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --local-cores) local_cores="$2"; shift 2 ;;
    --lopper-set) lopper_set="$2"; shift 2 ;;
    *) echo "unknown option $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done

py=/usr/bin/python3
ref="$root/bench/lm_sweep_reference.py"
mkdir -p "$work"
work="$(cd "$work" && pwd)"
data="$work/data"
results="$work/results.txt"
log() { echo "$*" | tee -a "$results"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
# Maven offline unless the caller says otherwise (bin/lopper builds the jar when it is stale).
export LOPPER_MVN_OPTS="${LOPPER_MVN_OPTS:--o -ntp}"

time_to() {  # time_to FILE CMD...: "wall user sys peak-resident-kB" of CMD into FILE
  local file="$1"; shift
  /usr/bin/time -f "%e %U %S %M" -o "$file" "$@"
}
cpu_of() { awk '{printf "%.2f", $2 + $3}' "$1"; }
wall_of() { awk '{printf "%.2f", $1}' "$1"; }
# rss_of FILE: peak resident memory, GB (10^9 bytes), of the largest process /usr/bin/time waited for.
rss_of() { awk '{printf "%.2f", $4 * 1024 / 1e9}' "$1"; }
# The PyTorch peer runs with OpenBLAS's own kernel choice: these machines pin it to Haswell's AVX2
# kernels, about 0.6x the speed of its own choice here (STACK-NOTES); unset for that command alone.
torch_env=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)

log "# bench/lm-sweep-vs-pytorch.sh $step, $(date -u +%FT%TZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"

# ---------------------------------------------------------------- make
make_data() {
  if [[ "$fresh" == 0 && -f "$data/tokens.parquet" && -f "$data/lm.json" ]]; then
    log "model and data: reusing $data (--fresh makes them again): $("$py" -c 'import json, sys
m = json.load(open(sys.argv[1])); s = m["shape"]
print("%d blocks, width %d, %d heads, %d rows of %d tokens, %d train steps" % (s["layers"], s["width"], s["heads"], m["rows"], m["sequence"], m["train_steps"]))' "$data/lm.json")"
    return
  fi
  rm -rf "$data"
  log "making the model and data in $data (load $(load))"
  "$py" "$root/bench/make_lm_bench.py" --out "$data" --layers "$layers" --width "$width" --heads "$heads" \
    --sequence "$sequence" --rows "$rows" --train-steps "$train_steps" --seed "$seed" | tee -a "$results"
}

# ---------------------------------------------------------------- torch
# run_torch THREADS ROUND: one PyTorch sweep; its loop's wall seconds into $last_wall.
run_torch() {
  local t="$1" r="$2" line
  log "load before PyTorch t=$t (round $r): $(load)"
  time_to "$work/pytorch-t$t-r$r.time" "${torch_env[@]}" "$py" "$ref" sweep --dir "$data" --threads "$t" \
    --batch "$batch" --grid "$grid" > "$work/pytorch-t$t-r$r.log"
  line="$(tail -n 1 "$work/pytorch-t$t-r$r.log")"
  last_wall="$(sed -n 's/.* wall=\([0-9.]*\).*/\1/p' <<< "$line")"
  log "$line (whole process: wall $(wall_of "$work/pytorch-t$t-r$r.time") s, cpu $(cpu_of "$work/pytorch-t$t-r$r.time") s," \
    "peak resident $(rss_of "$work/pytorch-t$t-r$r.time") GB)"
}
# torch_round ROUND: round 1 tries every thread count and keeps the fastest, later rounds use it;
# the round's loop wall time goes to DIR/pytorch-r<round>.wall.
torch_round() {
  local r="$1" t best="" best_wall=""
  if [[ "$r" == 1 || ! -f "$work/pytorch-threads" ]]; then
    for t in $threads; do
      run_torch "$t" "$r"
      if [[ -z "$best" ]] || awk -v a="$last_wall" -v b="$best_wall" 'BEGIN{exit !(a < b)}'; then
        best="$t" best_wall="$last_wall"
      fi
    done
    echo "$best" > "$work/pytorch-threads"
    cp "$data/pytorch-t$best.csv" "$work/pytorch.csv"
    log "fastest PyTorch thread count: $best (loop $best_wall s); reference table $work/pytorch.csv"
  else
    best="$(cat "$work/pytorch-threads")"
    run_torch "$best" "$r"
    best_wall="$last_wall"
  fi
  echo "$best_wall" > "$work/pytorch-r$r.wall"
}

# ---------------------------------------------------------------- lopper
lopper_warm_up() {
  # The fat jar, built here so that no build is timed, and bin/lopper's class-data archive, which
  # the first Spark run after a build records (untimed too: once per installation).
  "$root/bin/lopper" help > /dev/null
  (cd "$root" && bin/lopper sensitivity --config conf/digits-cnn.yaml --out "$work/warm-up" \
    --set output.overwrite=true --quiet > "$work/warm-up.log" 2>&1) || { cat "$work/warm-up.log" >&2; return 1; }
}
# lopper_round ROUND: one timed local run; 0 if it wrote its table.
lopper_round() {
  local r="$1" out="$work/runs/local-r$r" extra=() kv
  for kv in $lopper_set; do extra+=(--set "$kv"); done
  rm -rf "$out"
  log "load before Lopper local[$local_cores] (round $r): $(load)"
  if ! time_to "$work/lopper-r$r.time" "$root/bin/lopper" sensitivity --model "$data/lm.onnx" \
      --data "$data/tokens.parquet" --metric perplexity --set "sweep.sparsities=[$grid]" \
      --master "local[$local_cores]" ${extra[@]+"${extra[@]}"} --out "$out" > "$work/lopper-r$r.log" 2>&1; then
    log "lopper round $r FAILED (exit $(sed -n 's/.*status \([0-9]*\).*/\1/p' "$work/lopper-r$r.time")); last lines of $work/lopper-r$r.log:"
    tail -n 5 "$work/lopper-r$r.log" | sed 's/^/  /' | tee -a "$results"
    rm -f "$work/lopper-r$r.time"
    return 1
  fi
  log "lopper local[$local_cores] (round $r): wall $(wall_of "$work/lopper-r$r.time") s, cpu $(cpu_of "$work/lopper-r$r.time") s," \
    "peak resident $(rss_of "$work/lopper-r$r.time") GB (model $(awk -v b="$(stat -c %s "$data/lm.onnx")" 'BEGIN{printf "%.3f", b / 1e9}') GB)" \
    "(whole run, Spark's start included)"
  overhead_of "$work/lopper-r$r.log"
  if [[ -f "$out/manifest.json" ]]; then
    log "  stages (manifest timings_millis): $("$py" -c 'import json, sys
t = json.load(open(sys.argv[1])).get("timings_millis", {})
print(", ".join("%s %.1f s" % (k, v / 1000) for k, v in t.items()))' "$out/manifest.json")"
  fi
}

# overhead_of LOG: per kind of weight, a variant's time (its share of the sweep units' "Sweep slice"
# lines) against the FLOPs of its suffix (the cut at the weight's input onwards, as prefix reuse
# evaluates it: q/k/v from their block's start, out_proj with the rest of its block, the MLP's up
# and down from theirs, the LM head alone) at ONNX Runtime's pre-packed GEMM rate for the model's
# width and the data's tokens per batch (dev.lopper.eval.GemmRate, local_cores tasks at once; the
# weights are below the fed route's 2^24 elements); and the sweep's FLOP
# floor (those FLOPs plus one dense pass) against the PyTorch loop's (a whole pass per variant).
overhead_of() {
  local rate tokens
  # A unit's rows go through in one batch when they are fewer than data.batch-size (256).
  tokens="$(sed -n 's/.*Sweep slice [0-9]*: [^ ]*: [0-9]* variants on \([0-9]*\) rows.*/\1/p' "$1" | head -n 1)"
  [[ -n "$tokens" ]] || { log "  (no per-item lines in $1: overhead not computed)"; return 0; }
  tokens=$(( (tokens < 256 ? tokens : 256) * sequence ))
  if [[ ! -f "$work/gemm-rate-$tokens" ]]; then
    (cd "$root" && mvn -B -q $LOPPER_MVN_OPTS -pl common test-compile dependency:build-classpath \
      -Dmdep.outputFile="$work/common-test-classpath.txt" -Dmdep.includeScope=test > /dev/null)
    CLASSPATH="$root/common/target/classes:$root/common/target/test-classes:$(cat "$work/common-test-classpath.txt")" \
      java dev.lopper.eval.GemmRate "$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["shape"]["width"])' "$data/lm.json")" \
      "$tokens" "$local_cores" packed | sed -n 's/gemm_gflops_per_task=\([0-9.]*\).*/\1/p' > "$work/gemm-rate-$tokens"
  fi
  rate="$(cat "$work/gemm-rate-$tokens")"
  log "  ONNX Runtime GEMM (pre-packed, the model's width, $tokens rows, $local_cores tasks at once): $rate GFLOP/s per task"
  "$py" - "$1" "$data/lm.json" "$rate" "$local_cores" <<'PY' | while read -r line; do log "  $line"; done
import json, re, sys
log, meta, rate, cores = sys.argv[1], json.load(open(sys.argv[2])), float(sys.argv[3]) * 1e9, int(sys.argv[4])
s, t = meta["shape"], meta["sequence"]
w, m, v, layers = s["width"], s["mlp_width"], s["vocab"], s["layers"]
# FLOPs per token (multiply-adds x 2): attention's projections, its two products over t positions
# (the mask is added, not skipped), the MLP, the head.
qkv, attn, out, up, down, head = 2 * 3 * w * w, 2 * 2 * t * w, 2 * w * w, 2 * w * m, 2 * m * w, 2 * w * v
block = qkv + attn + out + up + down
def suffix(name):
    if name == "lm_head.weight":
        return head
    b = int(name.split(".")[1])
    rest = (layers - b - 1) * block + head
    part = name.split(".")[-2]
    return rest + {"q_proj": block, "k_proj": block, "v_proj": block, "out_proj": out + up + down,
                   "up": up + down, "down": down}[part]
line = re.compile(r"Sweep slice \d+: (\S+): (\d+) variants on (\d+) rows, [a-z ]+, ([0-9.]+) s")
seconds, flops, count, slices, rows = {}, {}, {}, {}, {}
for g in line.finditer(open(log).read()):
    name, n, r, sec = g.group(1), int(g.group(2)), int(g.group(3)), float(g.group(4))
    kind = name.split(".")[-2] if name != "lm_head.weight" else "lm_head"
    seconds[kind] = seconds.get(kind, 0) + sec
    flops[kind] = flops.get(kind, 0) + n * r * t * suffix(name)
    count[kind] = count.get(kind, 0) + n
    slices[name] = slices.get(name, 0) + 1
    rows[name] = rows.get(name, 0) + r
for kind in sorted(seconds):
    a = flops[kind] / rate
    print(f"overhead per variant, {kind}: {100 * (1 - a / seconds[kind]):.0f}%"
          f" ({seconds[kind] / count[kind]:.3f} s a variant-slice, arithmetic {a / count[kind]:.3f} s)")
total_s, total_f = sum(seconds.values()), sum(flops.values())
print(f"overhead per variant, all weights: {100 * (1 - total_f / rate / total_s):.0f}%"
      f" ({total_s:.1f} s in the units' variants, arithmetic {total_f / rate:.1f} s)")
n_rows = max(rows.values())
dense = n_rows * t * (layers * block + head)
variants = sum(count.values()) / max(slices.values())
print(f"FLOP floor: {(total_f + dense) / 1e12:.2f} TFLOP with prefix reuse, {(total_f + dense) / rate / cores:.1f} s"
      f" at the measured rate on {cores} cores; the PyTorch loop's {variants * dense / 1e12:.2f} TFLOP"
      f" (the whole model per variant)")
PY
}

# ---------------------------------------------------------------- compare
compare_all() {
  local status=0 run r ratios="" median
  [[ -f "$work/pytorch.csv" ]] || { log "compare: no $work/pytorch.csv; run the torch step first"; return 1; }
  compgen -G "$work/runs/*/sensitivity.csv" > /dev/null \
    || { log "compare: no Lopper table in $work/runs; run the lopper step first"; return 1; }
  for run in "$work"/runs/*/; do
    [[ -f "$run/sensitivity.csv" ]] || continue
    "$py" "$ref" compare --reference "$work/pytorch.csv" --lopper "$run/sensitivity.csv" | tee -a "$results" \
      || status=1
  done
  for r in $(ls "$work" | sed -n 's/^lopper-r\([0-9]*\)\.time$/\1/p' | sort -n); do
    [[ -f "$work/pytorch-r$r.wall" ]] || continue
    ratios="$ratios $(awk -v a="$(cat "$work/pytorch-r$r.wall")" -v b="$(wall_of "$work/lopper-r$r.time")" 'BEGIN{printf "%.3f", a / b}')"
  done
  if [[ -n "$ratios" ]]; then
    median="$(tr ' ' '\n' <<< "$ratios" | sed '/^$/d' | sort -g \
      | awk '{v[NR]=$1} END{if (NR % 2) printf "%.3f", v[(NR+1)/2]; else printf "%.3f", (v[NR/2]+v[NR/2+1])/2}')"
    log "speed-up per round, fastest PyTorch loop (t=$(cat "$work/pytorch-threads")) / Lopper local whole run:" \
      "${ratios# } (median $median; target >= 1.8)"
  fi
  return "$status"
}

# ---------------------------------------------------------------- steps
lopper_failed=0
case "$step" in
  make) make_data ;;
  torch)
    [[ -f "$data/lm.json" ]] || make_data
    rm -f "$work"/pytorch-r*.wall
    for r in $(seq "$rounds"); do torch_round "$r"; done ;;
  lopper)
    [[ -f "$data/tokens.parquet" ]] || make_data
    rm -rf "$work"/lopper-r*.time "$work/runs"
    lopper_warm_up
    for r in $(seq "$rounds"); do lopper_round "$r" || { lopper_failed=1; break; }; done ;;
  compare) compare_all || exit 1 ;;
  all)
    # Per round PyTorch, then Lopper, one after the other, so that each ratio compares two runs
    # made at nearly the same time (the machine's speed drifts). A failing Lopper run stops
    # Lopper's rounds but not PyTorch's.
    make_data
    rm -rf "$work"/pytorch-r*.wall "$work"/lopper-r*.time "$work/runs"
    lopper_warm_up || lopper_failed=1
    for r in $(seq "$rounds"); do
      torch_round "$r"
      if [[ "$lopper_failed" == 0 ]]; then lopper_round "$r" || lopper_failed=1; fi
    done
    if [[ "$lopper_failed" == 0 ]]; then compare_all || exit 1; fi ;;
esac
log "load at the end: $(load)"
if [[ "$lopper_failed" == 1 ]]; then
  log "Lopper's step failed; once bin/lopper runs LM sweeps: $0 lopper --work $work --rounds $rounds, then $0 compare --work $work --rounds $rounds"
  exit 1
fi
echo "results in $results" >&2
