#!/usr/bin/env bash
# Does a change leave Lopper's outputs as they were? Runs ten sample runs with a checkout's bin/lopper
# and compares two sets of them file by file, so that a refactoring or a speed-up can show that every
# table, mask, model, manifest and report is what it was (docs/benchmarks.md, "Same outputs").
#
#   bench/same-outputs.sh runs CHECKOUT OUTDIR     # the ten runs (builds CHECKOUT's jar when stale)
#   bench/same-outputs.sh compare OUTDIR_A OUTDIR_B
#
# compare: every file byte for byte, except Parquet files (compared by schema and values: parquet-mr
# lists a column's encodings in identity-hash order, which differs between JVMs), safetensors files
# (header as JSON, then the data bytes) and manifest.json / report.html (after removing run ids,
# times, timings, paths and versions). Exit 0 and "IDENTICAL" when all agree.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

runs() {
  local checkout out
  checkout=$(cd "$1" && pwd); out=$2
  rm -rf "$out"; mkdir -p "$out"; out=$(cd "$out" && pwd)
  cd "$checkout" || exit 2
  run() { local name=$1; shift
    LOPPER_CDS=0 bin/lopper "$@" --out "$out/$name" --quiet > "$out/$name.stdout" 2> "$out/$name.stderr"
    echo "$name exit $?" >> "$out/exits.txt"; }
  run sens-cnn sensitivity --config conf/digits-cnn.yaml
  run prune-cnn prune --config conf/digits-cnn.yaml
  run prune-cnn-gm prune --config conf/digits-cnn.yaml --set allocation.policy=global-magnitude
  run prune-cnn-uniform prune --config conf/digits-cnn.yaml --set allocation.policy=uniform
  run prune-cnn-tol prune --config conf/digits-cnn.yaml --set allocation.policy=tolerance --set allocation.tolerance=0.01
  run prune-cnn-flops prune --config conf/digits-cnn.yaml --set allocation.unit=flops
  run prune-mlp prune --config conf/digits-cnn.yaml --set model.onnx=data/digits-mlp.onnx \
      --set model.weights=data/digits-mlp.safetensors --set data.input-shape=[64]
  run prune-resnet-struct prune --config conf/digits-resnet-structured.yaml
  run sens-resnet-struct sensitivity --config conf/digits-resnet-structured.yaml
  run prune-cnn-channel prune --config conf/digits-cnn.yaml --set sweep.criterion=channel-l2 --set allocation.target=0.3
  cat "$out/exits.txt"
}

normalised() { /usr/bin/env python3 - "$1" "$2" <<'PY'
import sys, re, json
path, root = sys.argv[1], sys.argv[2]
t = open(path).read().replace(root, "OUT")
if path.endswith(".json"):
    d = json.loads(t)
    for k in ("timings_millis", "versions", "started", "finished", "spark_application_id", "run_id", "output", "command_line"):
        d.pop(k, None)
    d["outputs"] = [o for o in d.get("outputs", []) if not o.get("path", "").endswith("report.html")]
    print(json.dumps(d, indent=1))
else:
    t = re.sub(r"[0-9]{8}T[0-9]{6}Z?-[0-9a-f]+", "RUNID", t)
    t = re.sub(r"local-[0-9]+", "APPID", t)
    t = re.sub(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z", "TIME", t)
    t = re.sub(r"[0-9]+(\.[0-9]+)? ?(ms|s|min)\b", "T", t)
    t = re.sub(r'(<tr><td[^>]*>[a-z-]+</td><td class="num">)[^<]*(</td></tr>)', r"\1T\2", t)
    print("\n".join(l for l in t.split("\n") if 'class="timing"' not in l and "Total of the stages" not in l))
PY
}

same_safetensors() { /usr/bin/env python3 - "$1" "$2" <<'PY'
import sys, json, struct
def load(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]
sys.exit(0 if load(sys.argv[1]) == load(sys.argv[2]) else 1)
PY
}

compare() {
  local a b status=0 parquet=()
  a=$(cd "$1" && pwd); b=$(cd "$2" && pwd)
  files() { (cd "$1" && find . -type f ! -name '*.crc' ! -name '*.stdout' ! -name '*.stderr' ! -name exits.txt | sort); }
  diff <(files "$a") <(files "$b") || status=1
  for f in $(files "$a"); do
    [ -f "$b/$f" ] || continue
    case "$f" in
      *.parquet) parquet+=("$a/$f" "$b/$f") ;;
      *.safetensors) same_safetensors "$a/$f" "$b/$f" || { echo "DIFF $f"; status=1; } ;;
      *manifest.json|*report.html)
        cmp -s <(normalised "$a/$f" "$a") <(normalised "$b/$f" "$b") \
          || { echo "DIFF (normalised) $f"; diff <(normalised "$a/$f" "$a") <(normalised "$b/$f" "$b") | head -10; status=1; } ;;
      *) cmp -s "$a/$f" "$b/$f" || { echo "DIFF $f"; status=1; } ;;
    esac
  done
  local root; root="$(dirname "$here")"
  local cp="$root/common/target/classes:$(cat "$root/jobs/target/classpath.txt")"
  local result; result=$(java -cp "$cp" "$here/ParquetEq.java" "${parquet[@]}" 2>/dev/null)
  echo "$result"; echo "$result" | grep -q "different: 0" || status=1
  diff "$a/exits.txt" "$b/exits.txt" || status=1
  [ $status = 0 ] && echo "IDENTICAL"
  return $status
}

case "${1:-}" in
  runs) [ $# = 3 ] || { echo "usage: $0 runs CHECKOUT OUTDIR" >&2; exit 2; }; runs "$2" "$3" ;;
  compare) [ $# = 3 ] || { echo "usage: $0 compare OUTDIR_A OUTDIR_B" >&2; exit 2; }; compare "$2" "$3" ;;
  *) sed -n 2,12p "$0" >&2; exit 2 ;;
esac
