#!/usr/bin/env bash
# Regenerates everything in data/ from nothing: trains the sample models, exports them, writes the
# PyTorch reference tables, and converts the validation CSVs to Parquet with Lopper's own writer.
#
#   data/make_samples.sh                   # everything: the digits models and the language model
#   data/make_samples.sh --skip-training   # keep the committed safetensors, redo the rest
#   data/make_samples.sh --lm-only         # only the language model (make_lm_sample.py)
#
# --lm-only and --skip-training combine. Needs /usr/bin/python3 with torch, sklearn and onnx, and
# Maven with the project's dependencies.
set -euo pipefail
data="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$data")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

lm_only=false
py_args=()
for arg in "$@"; do
  case "$arg" in
    --lm-only) lm_only=true ;;
    *) py_args+=("$arg") ;;
  esac
done

if ! $lm_only; then
  /usr/bin/python3 "$data/make_samples.py" --out "$data" --val-csv "$tmp/digits-val.csv" "${py_args[@]}"
fi
/usr/bin/python3 "$data/make_lm_sample.py" --out "$data" --val-csv "$tmp/tiny-lm-val.csv" \
  --ragged-csv "$tmp/tiny-lm-val-ragged.csv" "${py_args[@]}"
/usr/bin/python3 "$data/make_calibration_references.py" --out "$data"
/usr/bin/python3 "$data/make_channel_activation_references.py" --out "$data"
/usr/bin/python3 "$data/make_pruning_unit_references.py"
/usr/bin/python3 "$data/make_pruning_references.py" --out "$data/reference"

cd "$root"
mvn -o -q -B -pl common test-compile
mvn -o -q -B -pl common dependency:build-classpath -Dmdep.outputFile="$tmp/classpath.txt" \
    -Dmdep.includeScope=test
# The classpath goes in CLASSPATH, not -cp: a long JVM command line breaks ONNX Runtime's
# environment, and the habit costs nothing here. parquet-mr lists each column chunk's encodings
# from a HashSet of enum constants, so their order in the footer follows identity hash codes and
# changes from run to run; -XX:hashCode=2 gives every object the same identity hash, which makes
# that order the insertion order and the Parquet file byte-for-byte reproducible.
to_parquet() {
  CLASSPATH="$root/common/target/classes:$root/common/target/test-classes:$(cat "$tmp/classpath.txt")" \
    java -XX:+UnlockExperimentalVMOptions -XX:hashCode=2 dev.lopper.fixtures.CsvToParquet "$@"
}
if ! $lm_only; then
  to_parquet "$tmp/digits-val.csv" "$data/digits-val.parquet" id:INT features:FLOAT_LIST label:INT
fi
/usr/bin/python3 "$data/make_sentences.py" --csv "$tmp/sentences.csv"
to_parquet "$tmp/sentences.csv" "$data/sentences.parquet" id:INT text:STRING
to_parquet "$tmp/tiny-lm-val.csv" "$data/tiny-lm-val.parquet" id:INT input_ids:LONG_LIST
to_parquet "$tmp/tiny-lm-val-ragged.csv" "$data/tiny-lm-val-ragged.parquet" id:INT input_ids:LONG_LIST
