#!/usr/bin/env bash
# The table of the pruning papers (Wanda, SparseGPT, OWL), measured on the sample LM
# (data/tiny-lm.onnx, verified on all 112 rows of data/tiny-lm-val.parquet), with Lopper's own
# `target` allocation beside them. Run by hand (not in CI); the table and the command go in
# docs/benchmarks.md, "Activation-aware pruning on the sample LM".
#
#   bench/lm-pruning-table.sh                         # every run, then the table (about 20 minutes on two cores)
#   bench/lm-pruning-table.sh --table                 # the table of what DIR/results.csv holds, no runs
#   bench/lm-pruning-table.sh --only 'sparsegpt-*'    # only the runs whose id matches the glob (others kept)
#   bench/lm-pruning-table.sh --calibration validation   # calibrate on the validation file's first rows
#   bench/lm-pruning-table.sh --lopper-set "model.exclude=[lm_head.weight]"   # e.g. keep the LM head dense
#
# Options: --work DIR (/tmp/lopper-lm-table) --rows N (64: calibration.rows)
#          --calibration train|validation (train): where the calibration rows come from:
#            train       bench/make_lm_calibration.py writes DIR/calibration/calibration.parquet, rows of
#                        the training part of the sample's text (none of it in the validation file),
#                        shuffled with seed 0; calibration.data points at it
#            validation  calibration.data unset: the first N rows of data/tiny-lm-val.parquet, which the
#                        verification also reads (calibration and validation overlap)
#          --grid "0.1,...,0.95" (policy target's sweep.sparsities; allocation.max-sparsity is its largest)
#          --master URL (local[2]) --lopper-set "KEY=VALUE ..." (extra --set options for every run)
#          --only GLOB (run ids, e.g. 'wanda-*' or '*-owl-*'; the other rows of results.csv are kept)
#          --table (print the table of DIR/results.csv only)
#
# Runs (each one `bin/lopper prune --model data/tiny-lm.onnx --data data/tiny-lm-val.parquet
# --metric perplexity --set gate.max-drop=null ...`, into DIR/runs/<id>), for each criterion
# magnitude, wanda and sparsegpt:
#   uniform    allocation.policy=uniform at 50%, 2:4, 4:8 (sweep.pattern) and 70%
#   owl        allocation.policy=owl at 50% and 70% (block sparsities from the dense model's Wanda
#              scores; the criterion prunes)
#   target     allocation.policy=target at 50% and 70% on curves swept under the criterion
#              (sweep.sparsities=[--grid], allocation.max-sparsity its largest)
# wanda and sparsegpt each twice: calibration.sequential=true (the default, as the references do)
# and false (one pass over the dense model), and their uniform runs also with
# calibration.sequential=cut (id suffix -cut: groups between single-value cuts, each block's
# attention and MLP); magnitude reads no statistics, so once.
#
# Output: DIR/results.csv (one row per run: id, criterion, policy, target, pattern, sequential,
# the pruned share of the prunable parameters, verified and dense perplexity, wall seconds, exit
# code, calibration ("train 64"), --lopper-set, run directory) and the markdown table on stdout; the log of each run in DIR/logs/<id>.log.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work=/tmp/lopper-lm-table rows=64 calibration=train grid="0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.95"
master="local[2]" lopper_set="" only="*" table_only=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --work) work="$2"; shift 2 ;;
    --rows) rows="$2"; shift 2 ;;
    --calibration) calibration="$2"; shift 2 ;;
    --grid) grid="$2"; shift 2 ;;
    --master) master="$2"; shift 2 ;;
    --lopper-set) lopper_set="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --table) table_only=1; shift ;;
    *) echo "unknown option $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done
case "$calibration" in train|validation) ;; *) echo "--calibration: train or validation, not $calibration" >&2; exit 2 ;; esac

py=/usr/bin/python3
mkdir -p "$work/runs" "$work/logs"
work="$(cd "$work" && pwd)"
results="$work/results.csv"
header="id,criterion,policy,target,pattern,sequential,sparsity,perplexity,dense_perplexity,wall_seconds,exit_code,calibration,extra_settings,run"
# Maven offline unless the caller says otherwise (bin/lopper builds the jar when it is stale).
export LOPPER_MVN_OPTS="${LOPPER_MVN_OPTS:--o -ntp}"

# ---------------------------------------------------------------- the runs
# One line per run: id criterion policy target pattern sequential
plan() {
  local c seq suffix
  for c in magnitude wanda sparsegpt; do
    for seq in true false cut; do
      [[ "$c" == magnitude && "$seq" != true ]] && continue
      suffix=""; [[ "$seq" == false ]] && suffix="-onepass"; [[ "$seq" == cut ]] && suffix="-cut"
      echo "$c-uniform-50$suffix $c uniform 0.5 unstructured $seq"
      echo "$c-uniform-2of4$suffix $c uniform 0.5 2:4 $seq"
      echo "$c-uniform-4of8$suffix $c uniform 0.5 4:8 $seq"
      echo "$c-uniform-70$suffix $c uniform 0.7 unstructured $seq"
      [[ "$seq" == cut ]] && continue  # cut groups: uniform only, against blocks
      echo "$c-owl-50$suffix $c owl 0.5 unstructured $seq"
      echo "$c-owl-70$suffix $c owl 0.7 unstructured $seq"
      echo "$c-target-50$suffix $c target 0.5 unstructured $seq"
      echo "$c-target-70$suffix $c target 0.7 unstructured $seq"
    done
  done
}

# run_one ID CRITERION POLICY TARGET PATTERN SEQUENTIAL: one prune run; its row into results.csv.
run_one() {
  local id="$1" criterion="$2" policy="$3" target="$4" pattern="$5" sequential="$6"
  local out="$work/runs/$id" log="$work/logs/$id.log" args=() kv status start end
  args=(--model data/tiny-lm.onnx --data data/tiny-lm-val.parquet --metric perplexity
    --set gate.max-drop=null --set "sweep.criterion=$criterion" --set "allocation.policy=$policy"
    --set "allocation.target=$target" --set "sweep.pattern=$pattern"
    --set "calibration.sequential=$sequential" --set "calibration.rows=$rows"
    --master "$master" --out "$out" --overwrite --quiet)
  [[ "$calibration" == train ]] && args+=(--set "calibration.data=$work/calibration/calibration.parquet")
  if [[ "$policy" == target ]]; then
    args+=(--set "sweep.sparsities=[$grid]" --set "allocation.max-sparsity=${grid##*,}")
  fi
  for kv in $lopper_set; do args+=(--set "$kv"); done
  echo "bin/lopper prune ${args[*]}" > "$log"
  start="$(date +%s.%N)"
  status=0
  (cd "$root" && bin/lopper prune "${args[@]}") >> "$log" 2>&1 || status=$?
  end="$(date +%s.%N)"
  "$py" - "$id" "$criterion" "$policy" "$target" "$pattern" "$sequential" "$status" \
      "$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b - a}')" "$calibration $rows" "$lopper_set" "$out" \
      >> "$results" <<'EOF'
import csv, json, os, sys
id_, criterion, policy, target, pattern, sequential, status, wall, calibration, extra, out = sys.argv[1:]
sparsity = perplexity = dense = ""
manifest = os.path.join(out, "manifest.json")
if status == "0" and os.path.exists(manifest):
    r = json.load(open(manifest))["results"]
    sparsity = "%.6f" % r["sparsity"]
    with open(os.path.join(out, "verification.csv")) as f:
        rows = {row["model"]: row for row in csv.DictReader(f)}
    perplexity, dense = rows["pruned"]["perplexity"], rows["dense"]["perplexity"]
    assert abs(float(perplexity) - r["pruned"]["perplexity"]) <= 1e-12 * float(perplexity), (id_, perplexity)
csv.writer(sys.stdout, lineterminator="\n").writerow(
    [id_, criterion, policy, target, pattern, sequential, sparsity, perplexity, dense, wall, status, calibration,
     extra, out])
EOF
  if [[ "$status" == 0 ]]; then
    echo "$id: $(tail -n 1 "$results" | "$py" -c 'import csv, sys
r = next(csv.reader(sys.stdin)); print("sparsity %.4f, perplexity %.4f (dense %.4f), %s s" % (float(r[6]), float(r[7]), float(r[8]), r[9]))')" >&2
  else
    echo "$id: FAILED (exit $status); last lines of $log:" >&2
    tail -n 5 "$log" | sed 's/^/  /' >&2
  fi
}

# ---------------------------------------------------------------- the table
table() {
  "$py" - "$results" <<'EOF'
import csv, sys
path = sys.argv[1]
runs = {r["id"]: r for r in csv.DictReader(open(path))}
dense = sorted({r["dense_perplexity"] for r in runs.values() if r["dense_perplexity"]})
if len(dense) > 1:
    print(f"warning: the runs' dense perplexities differ: {dense}", file=sys.stderr)
columns = [("magnitude", ""), ("wanda", ""), ("sparsegpt", ""), ("wanda", "-onepass"), ("sparsegpt", "-onepass")]
if any(i.endswith("-cut") for i in runs):
    columns += [("wanda", "-cut"), ("sparsegpt", "-cut")]
names = {"magnitude": "magnitude", "wanda": "Wanda", "sparsegpt": "SparseGPT"}
modes = {"": "", "-onepass": ", one pass", "-cut": ", cut groups"}
head = [names[c] + modes[s] for c, s in columns]
lines = [("50%, uniform", "uniform-50", 0.5), ("2:4, uniform", "uniform-2of4", 0.5),
         ("4:8, uniform", "uniform-4of8", 0.5), ("70%, uniform", "uniform-70", 0.7),
         ("50%, OWL", "owl-50", 0.5), ("70%, OWL", "owl-70", 0.7),
         ("50%, Lopper target", "target-50", 0.5), ("70%, Lopper target", "target-70", 0.7)]

def cell(run_id, nominal):
    r = runs.get(run_id)
    if r is None:
        return "—" if run_id.startswith("magnitude-") and (run_id.endswith("-onepass") or run_id.endswith("-cut")) else ""
    if r["exit_code"] != "0":
        return f"failed ({r['exit_code']})"
    text = "%.2f" % float(r["perplexity"])
    if abs(float(r["sparsity"]) - nominal) > 0.0005:
        text += " (%.1f%%)" % (100 * float(r["sparsity"]))
    return text

print("| sparsity, allocation | " + " | ".join(head) + " |")
print("|---|" + "---:|" * len(head))
if dense:
    print("| dense | " + " | ".join(["%.2f" % float(dense[0])] + [""] * (len(head) - 1)) + " |")
for label, key, nominal in lines:
    print(f"| {label} | " + " | ".join(cell(f"{c}-{key}{s}", nominal) for c, s in columns) + " |")
where = {"train": "the training part of the text (bench/make_lm_calibration.py)",
         "validation": "the validation file itself (its first rows)"}
setups = sorted({"%s rows of %s" % (r["calibration"].split()[1], where[r["calibration"].split()[0]])
                 for r in runs.values()})
extras = sorted({r["extra_settings"] for r in runs.values() if r["extra_settings"]})
print(f"\nVerified perplexity on all 112 rows of data/tiny-lm-val.parquet; calibration on {'; '.join(setups)}."
      + (f" Extra settings: {'; '.join(extras)}." if extras else "")
      + " A percentage in brackets is the pruned share of the prunable parameters where it differs from the"
      " nominal sparsity; one pass: calibration.sequential=false; cut groups: calibration.sequential=cut"
      " (a group per attention and per MLP, uniform allocation only).")
if len(setups) > 1 or len(extras) > 1 or (extras and len(extras) < len({r["extra_settings"] for r in runs.values()})):
    print("warning: the runs of this table differ in calibration or settings (see results.csv)", file=sys.stderr)
EOF
}

if [[ "$table_only" == 1 ]]; then
  [[ -f "$results" ]] || { echo "no $results; run without --table first" >&2; exit 1; }
  table
  exit 0
fi

echo "# bench/lm-pruning-table.sh, $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
  "calibration $calibration ($rows rows), master $master${lopper_set:+, --set $lopper_set}" >&2
"$root/bin/lopper" help > /dev/null   # builds the jar when stale, so that no run is timed with the build
if [[ "$calibration" == train && ! -f "$work/calibration/calibration.parquet" ]]; then
  "$py" "$root/bench/make_lm_calibration.py" --out "$work/calibration" >&2
fi

# Rows of runs not redone this time are kept.
kept="$(mktemp)"
trap 'rm -f "$kept"' EXIT
ids=()
while read -r id rest; do
  # shellcheck disable=SC2053  # $only is a glob
  [[ "$id" == $only ]] && ids+=("$id")
done < <(plan)
[[ ${#ids[@]} -gt 0 ]] || { echo "--only '$only' matches no run" >&2; exit 2; }
echo "$header" > "$kept"
if [[ -f "$results" ]]; then
  tail -n +2 "$results" | while IFS= read -r line; do
    # shellcheck disable=SC2053
    [[ "${line%%,*}" == $only ]] || echo "$line"
  done >> "$kept"
fi
cp "$kept" "$results"

started="$(date +%s)"
failed=0
while read -r id criterion policy target pattern sequential; do
  # shellcheck disable=SC2053
  [[ "$id" == $only ]] || continue
  run_one "$id" "$criterion" "$policy" "$target" "$pattern" "$sequential"
  [[ "$(tail -n 1 "$results" | "$py" -c 'import csv, sys; print(next(csv.reader(sys.stdin))[10])')" == 0 ]] || failed=1
done < <(plan)
echo "${#ids[@]} runs in $(( $(date +%s) - started )) s; load $(cut -d' ' -f1-3 /proc/loadavg); results in $results" >&2
table
exit "$failed"
