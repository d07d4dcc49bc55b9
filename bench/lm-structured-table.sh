#!/usr/bin/env bash
# Issue 17's table: the sample LM (data/tiny-lm.onnx) with 10%, 20% and 30% of the WHOLE model's
# parameters removed as attention heads and FFN neurons (allocation.policy=target over the head and
# neuron groups), for channel-l2, channel-fluctuation (FLAP-like) and channel-wanda (Wanda-sp), each
# with structure.compensate true and false: 18 runs. The perplexity is the verified one of each
# run's shrunk model on all 112 rows of data/tiny-lm-val.parquet, read from its manifest (and
# checked against verification.csv). Perplexities, not timings: machine load does not change them.
#
#   bench/lm-structured-table.sh              # every run, then the table
#   bench/lm-structured-table.sh --table      # the table of DIR/results.csv only
#   bench/lm-structured-table.sh --only 'channel-wanda-*'
#   bench/lm-structured-table.sh --table --merge DIR1 DIR2 ...   # one table of several work dirs' results
#
# The runs of one criterion do not depend on another's: on a busy machine, run the three criteria in
# three work dirs at once (--only 'channel-l2-*' --work A, ...) and merge their results with --merge.
# Options: --work DIR (/tmp/lopper-lm-structured) --master URL (local[2])
#          --lopper-set "KEY=VALUE ..." (extra --set options for every run)
# Each run: bin/lopper prune --config conf/tiny-lm.yaml --set sweep.criterion=C
#   --set allocation.target=T --set structure.compensate=B --set gate.max-drop=null --out DIR/runs/<id>
# (calibration: the conf's defaults, i.e. the validation rows themselves, as the other tiny-LM runs).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work=/tmp/lopper-lm-structured master="local[2]" lopper_set="" only="*" table_only=0 merge=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --work) work="$2"; shift 2 ;;
    --master) master="$2"; shift 2 ;;
    --lopper-set) lopper_set="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --table) table_only=1; shift ;;
    --merge) shift; merge=("$@"); break ;;
    *) echo "unknown option $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done
py=/usr/bin/python3
mkdir -p "$work/runs" "$work/logs"
work="$(cd "$work" && pwd)"
results="$work/results.csv"
export LOPPER_MVN_OPTS="${LOPPER_MVN_OPTS:--o -ntp}"

plan() {
  local c t b
  for c in channel-l2 channel-fluctuation channel-wanda; do
    for t in 0.1 0.2 0.3; do
      for b in false true; do
        echo "$c-$t-$b $c $t $b"
      done
    done
  done
}

run_one() {
  local id="$1" criterion="$2" target="$3" compensate="$4"
  local out="$work/runs/$id" log="$work/logs/$id.log" args=() kv status=0
  args=(--config conf/tiny-lm.yaml --set gate.max-drop=null --set "sweep.criterion=$criterion"
    --set allocation.policy=target --set "allocation.target=$target" --set "structure.compensate=$compensate"
    --master "$master" --out "$out" --overwrite --quiet)
  for kv in $lopper_set; do args+=(--set "$kv"); done
  echo "bin/lopper prune ${args[*]}" > "$log"
  (cd "$root" && bin/lopper prune "${args[@]}") >> "$log" 2>&1 || status=$?
  "$py" - "$id" "$criterion" "$target" "$compensate" "$status" "$out" >> "$results" <<'EOF'
import csv, json, os, sys
id_, criterion, target, compensate, status, out = sys.argv[1:]
removed = perplexity = dense = blocked = ""
manifest = os.path.join(out, "manifest.json")
if status == "0" and os.path.exists(manifest):
    r = json.load(open(manifest))["results"]
    # parameters_pruned: the pruned model's parameters (all float initializers), not the removed ones.
    removed = "%.6f" % (1 - r["parameters_pruned"] / r["parameters"]) if "parameters_pruned" in r else ""
    with open(os.path.join(out, "verification.csv")) as f:
        rows = {row["model"]: row for row in csv.DictReader(f)}
    perplexity, dense = rows["pruned"]["perplexity"], rows["dense"]["perplexity"]
    assert abs(float(perplexity) - r["pruned"]["perplexity"]) <= 1e-12 * float(perplexity), (id_, perplexity)
    blocked = str(len(r.get("compensation_blocked") or {}))
csv.writer(sys.stdout, lineterminator="\n").writerow(
    [id_, criterion, target, compensate, removed, perplexity, dense, blocked, status, out])
EOF
  echo "$id: $(tail -n 1 "$results")" >&2
}

table() {
  "$py" - "$results" <<'EOF'
import csv, sys
runs = {r["id"]: r for r in csv.DictReader(open(sys.argv[1]))}
dense = sorted({r["dense_perplexity"] for r in runs.values() if r["dense_perplexity"]})
names = [("channel-l2", "L2"), ("channel-fluctuation", "fluctuation (FLAP)"), ("channel-wanda", "Wanda-sp")]
head = [f"{n}, {'compensated' if b == 'true' else 'plain'}" for _, n in names for b in ("false", "true")]
print("| parameters removed | " + " | ".join(head) + " |")
print("|---|" + "---:|" * len(head))
if dense:
    print("| dense | " + " | ".join(["%.3f" % float(dense[0])] + [""] * (len(head) - 1)) + " |")
for t in ("0.1", "0.2", "0.3"):
    cells = []
    for c, _ in names:
        for b in ("false", "true"):
            r = runs.get(f"{c}-{t}-{b}")
            if r is None:
                cells.append("")
            elif r["exit_code"] != "0":
                cells.append(f"failed ({r['exit_code']})")
            else:
                cells.append("%.3f (%.3f)" % (float(r["perplexity"]), float(r["removed"])))
    print(f"| {int(float(t) * 100)}% | " + " | ".join(cells) + " |")
print("\nVerified perplexity of the shrunk model on all 112 rows of data/tiny-lm-val.parquet; in brackets the"
      " share of the whole model's parameters removed (1 - manifest parameters_pruned / parameters).")
EOF
}

if [[ ${#merge[@]} -gt 0 ]]; then
  head -n 1 "${merge[0]}/results.csv" > "$results"
  for d in "${merge[@]}"; do tail -n +2 "$d/results.csv" >> "$results"; done
fi
if [[ "$table_only" == 1 ]]; then table; exit 0; fi
"$root/bin/lopper" help > /dev/null
header="id,criterion,target,compensate,removed,perplexity,dense_perplexity,compensation_blocked,exit_code,run"
kept="$(mktemp)"; trap 'rm -f "$kept"' EXIT
echo "$header" > "$kept"
if [[ -f "$results" ]]; then
  tail -n +2 "$results" | while IFS= read -r line; do
    # shellcheck disable=SC2053
    [[ "${line%%,*}" == $only ]] || echo "$line"
  done >> "$kept"
fi
cp "$kept" "$results"
failed=0
while read -r id criterion target compensate; do
  # shellcheck disable=SC2053
  [[ "$id" == $only ]] || continue
  run_one "$id" "$criterion" "$target" "$compensate"
  [[ "$(tail -n 1 "$results" | cut -d, -f9)" == 0 ]] || failed=1
done < <(plan)
table
exit "$failed"
