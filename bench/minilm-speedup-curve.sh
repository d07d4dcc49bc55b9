#!/usr/bin/env bash
# Issue 17's MiniLM curve: speed-up against fidelity for allocation.min-speedup without a target, at
# batch 32 x 128 tokens on ONNX Runtime CPU (one thread), with and without structure.compensate.
# Prints one line per run: min-speedup, criterion, compensate, exit code, measured speed-up with its
# standard error and the pairs behind it, the plans measured, predicted speed-up, parameters removed,
# MAC ratio, mean cosine (1 - the verified drop) and the predicted one, seconds, and the load average
# before the run. Timings need a quiet machine: record the load, rerun where it was high.
#
#   data/get_minilm.sh                                  # once: data/minilm/ (model, tokens)
#   bench/minilm-speedup-curve.sh OUTDIR [SPEEDUPS...]  # default 1.1 1.25 1.5 1.75 2.0
#   CRITERIA="channel-fluctuation" bench/minilm-speedup-curve.sh OUTDIR   # default channel-l2 channel-fluctuation
#   COMPENSATE=true REPEAT=3 bench/minilm-speedup-curve.sh OUTDIR 1.5     # one setting, three runs
# Each run takes about 8-12 minutes on this machine (sweep 1.5 min, latency 4 min, the plans'
# measurements 1-6 min, verification).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out=${1:?usage: bench/minilm-speedup-curve.sh OUTDIR [SPEEDUPS...]}
shift
speedups=("$@")
[ ${#speedups[@]} -eq 0 ] && speedups=(1.1 1.25 1.5 1.75 2.0)
mkdir -p "$out"
cd "$here" || exit 2
# conf/minilm.yaml names allocation.target 0.5; without a named target the speed-up alone decides
config="$out/minilm-no-target.yaml"
sed '/^  target:/d' conf/minilm.yaml >"$config"
printf 'min_speedup\tcriterion\tcompensate\texit\tmeasured\terror\tpairs\tplans\tpredicted\tremoved\tmac_ratio\tcosine\tpredicted_cosine\tseconds\tloadavg\n'
repeat=${REPEAT:-1}
for criterion in ${CRITERIA:-channel-l2 channel-fluctuation}; do
  for compensate in ${COMPENSATE:-false true}; do
    for s in "${speedups[@]}"; do
      for ((k = 1; k <= repeat; k++)); do
        run="$out/$criterion-$compensate-$s"
        [ "$repeat" -gt 1 ] && run="$run-r$k"
        load=$(cut -d' ' -f1-3 /proc/loadavg)
        start=$(date +%s)
        nice -n 19 bin/lopper prune --config "$config" \
          --set sweep.criterion="$criterion" --set sweep.sparsities='[0.25,0.5,0.75]' \
          --set allocation.min-speedup="$s" \
          --set allocation.latency-batch=32 --set allocation.latency-sequence=128 \
          --set structure.compensate="$compensate" --set gate.max-drop=null \
          --set output.overwrite=true --out "$run" >"$run.log" 2>&1
        code=$?
        seconds=$(($(date +%s) - start))
        python3 - "$run/manifest.json" "$s" "$criterion" "$compensate" "$code" "$seconds" "$load" <<'PY'
import json, sys
path, s, criterion, compensate, code, seconds, load = sys.argv[1:]
try:
    r = json.load(open(path))["results"]
except Exception as e:  # no manifest: the run failed before writing one
    print("\t".join([s, criterion, compensate, code] + ["-"] * 9 + [seconds, load]))
    sys.exit(0)
def cosine(drop):
    return None if drop is None else round(1 - drop, 4)
def rounded(x):
    return None if x is None else round(x, 3)
print("\t".join(str(x) for x in [s, criterion, compensate, code, rounded(r.get("measured_speedup")),
      rounded(r.get("measured_speedup_error")), r.get("latency_pairs"), r.get("latency_attempts"),
      rounded(r.get("predicted_speedup")), rounded(r.get("removed_fraction")), rounded(r.get("mac_ratio")),
      cosine(r.get("measured_drop")), cosine(r.get("predicted_drop")), seconds, load]))
PY
      done
    done
  done
done
