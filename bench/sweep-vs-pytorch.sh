#!/usr/bin/env bash
# Lopper's sensitivity sweep against the reference PyTorch sweep, on one synthetic MLP and data set.
# Run by hand (not in CI); results and the machine's load go in docs/benchmarks.md.
#
#   bench/sweep-vs-pytorch.sh                                  # 6 x 1024 MLP, 16384 samples
#   bench/sweep-vs-pytorch.sh --width 512 --samples 8192       # smaller
#   bench/sweep-vs-pytorch.sh --skip-cluster --threads "1"     # local mode and PyTorch on one thread only
#
# Options: --layers N (6) --width N (1024) --classes N (10) --samples N (16384) --seed N (0)
#          --threads "1 2" (PyTorch thread counts tried; the fastest counts) --local-cores N (2)
#          --executor-memory 2g --work DIR (/tmp/lopper-bench) --skip-cluster --keep (reuse DIR's model/data)
#          --skip-local, --skip-pytorch (reuse DIR's PyTorch tables and times from an earlier run; with --keep)
#          --executor-opts "..." (spark.executor.extraJavaOptions for the cluster runs)
#          --thread-cpu (cluster runs: the executors' CPU by thread kind, bench/thread_cpu.py, into
#          <work>/threads-<n>-r<round>.json)
#          --rounds N (3): steps 2-4 are repeated N times; each ratio is taken per round (two runs made
#          one after the other) and the median of the rounds is reported
#          cluster_sizes="1" (environment): cluster runs with one executor only (no ratio)
#
# In one run it
#   1. makes the model (bench/sweep_reference.py make: ONNX exported like data/make_samples.py, the
#      weights as hand-written safetensors) and the data (CSV -> Parquet with Lopper's own writer,
#      dev.lopper.fixtures.CsvToParquet, as data/make_samples.sh does);
#   2. times (per round) `bin/lopper sensitivity` in local mode (local[N], Spark's start included), wall and CPU
#      seconds by /usr/bin/time;
#   3. times the PyTorch sweep (per tensor and sparsity: deepcopy, prune.l1_unstructured, evaluate the
#      whole set) at each thread count in round 1, at the fastest in later rounds: the sweep loop alone (data loading and Python's start left out,
#      which favours PyTorch) and the whole process;
#   4. starts a standalone cluster on 127.0.0.1 (one master, one worker of 2 cores, from the Spark jars
#      in jobs/target/spark-classpath.txt) and submits the same sweep with one executor of one core and
#      with two executors of one core each, per round; CPU time = the driver's (/usr/bin/time) + the executors'
#      (the worker's reaped-children time from /proc/<worker>/stat, before and after);
#   5. checks every Lopper table against the PyTorch one (accuracy exact, loss within 1e-5) and
#      prints the ratios.
# After each local run it reports the overhead per variant (overhead_of): a variant's share of the
# sweep units' time against its suffix's FLOPs at ONNX Runtime's measured GEMM rate.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
layers=6 width=1024 classes=10 samples=16384 seed=0 threads="1 2" local_cores=2
executor_memory=2g work=/tmp/lopper-bench skip_cluster=0 skip_local=0 skip_pytorch=0 keep=0 rounds=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --layers) layers="$2"; shift 2 ;;
    --width) width="$2"; shift 2 ;;
    --classes) classes="$2"; shift 2 ;;
    --samples) samples="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --local-cores) local_cores="$2"; shift 2 ;;
    --executor-memory) executor_memory="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --skip-cluster) skip_cluster=1; shift ;;
    --skip-local) skip_local=1; shift ;;
    --skip-pytorch) skip_pytorch=1; shift ;;
    --executor-opts) executor_opts="$2"; shift 2 ;;
    --thread-cpu) thread_cpu=1; shift ;;
    --keep) keep=1; shift ;;
    --rounds) rounds="$2"; shift 2 ;;
    *) echo "unknown option $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done

py=/usr/bin/python3
ref="$root/bench/sweep_reference.py"
mkdir -p "$work"
work="$(cd "$work" && pwd)"
results="$work/results.txt"
: > "$results"
log() { echo "$*" | tee -a "$results"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
ticks="$(getconf CLK_TCK)"

log "# bench/sweep-vs-pytorch.sh: ${layers} x ${width} MLP, ${classes} classes, ${samples} samples, $(date -u +%FT%TZ)"
log "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"

# ---------------------------------------------------------------- 1. model and data
data="$work/data"
if [[ "$keep" == 0 || ! -f "$data/val.parquet" ]]; then
  rm -rf "$data"
  "$py" "$ref" make --out "$data" --layers "$layers" --width "$width" --classes "$classes" \
    --samples "$samples" --seed "$seed"
  (cd "$root" && mvn -o -q -B -pl common test-compile \
    && mvn -o -q -B -pl common dependency:build-classpath -Dmdep.outputFile="$work/common-test-classpath.txt" \
      -Dmdep.includeScope=test) >&2
  # CLASSPATH, not -cp: see data/make_samples.sh.
  CLASSPATH="$root/common/target/classes:$root/common/target/test-classes:$(cat "$work/common-test-classpath.txt")" \
    java dev.lopper.fixtures.CsvToParquet "$data/val.csv" "$data/val.parquet" id:INT label:INT features:FLOAT_LIST
fi

# The fat jar, built once here so that no build is timed, and bin/lopper's class-data archive, which
# the first Spark run after a build records (untimed too: like the build, once per installation).
"$root/bin/lopper" help > /dev/null
(cd "$root" && bin/lopper sensitivity --config conf/digits-cnn.yaml --out "$work/warm-up" \
  --set output.overwrite=true --quiet > "$work/warm-up.log" 2>&1) || { cat "$work/warm-up.log" >&2; exit 1; }
cat > "$work/bench.yaml" <<YAML
model:
  onnx: $data/mlp.onnx
  weights: $data/mlp.safetensors
data:
  path: $data/val.parquet
sweep:
  sparsities: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
output:
  overwrite: true
YAML

# time_to FILE CMD...: runs CMD under /usr/bin/time, "wall user sys peak-resident-kB" into FILE.
time_to() {
  local file="$1"; shift
  /usr/bin/time -f "%e %U %S %M" -o "$file" "$@"
}
# stages_of MANIFEST: the run's stage timings, e.g. "spark-start 1.4 s, data 2.5 s, sweep 35.1 s".
stages_of() {
  "$py" -c 'import json, sys
t = json.load(open(sys.argv[1]))["timings_millis"]
print(", ".join("%s %.1f s" % (k, v / 1000) for k, v in t.items()))' "$1"
}
cpu_of() { awk '{printf "%.2f", $2 + $3}' "$1"; }
wall_of() { awk '{printf "%.2f", $1}' "$1"; }
# rss_of FILE: peak resident memory in GB (10^9 bytes) of the largest process /usr/bin/time waited for:
# the JVM (bin/lopper execs it, or waits for it), or Python.
rss_of() { awk '{printf "%.2f", $4 * 1024 / 1e9}' "$1"; }

# ratios NUMERATORS DENOMINATORS: "a/b" per round and their median, e.g. "1.81 1.86 1.79 (median 1.81)".
ratios() {
  local -n num="$1" den="$2"
  local r out="" median
  for r in "${!num[@]}"; do
    out="$out $(awk -v a="${num[$r]}" -v b="${den[$r]}" 'BEGIN{printf "%.3f", a / b}')"
  done
  median="$(tr ' ' '\n' <<< "$out" | sed '/^$/d' | sort -g \
    | awk '{v[NR]=$1} END{if (NR % 2) printf "%.3f", v[(NR+1)/2]; else printf "%.3f", (v[NR/2]+v[NR/2+1])/2}')"
  echo "${out# } (median $median)"
}

# ---------------------------------------------------------------- 2. and 3. Lopper local mode and PyTorch, in rounds
# Round 1: Lopper, then PyTorch at every thread count (the fastest counts); later rounds: Lopper, then
# PyTorch at that count. Each round's ratio compares two runs made one after the other; the machine's
# speed drifts (other tenants), so the median of the rounds is the result. With --skip-pytorch every
# round reuses the earlier run's PyTorch time.
rm -rf "$work/runs"
# Issue 18's memory bound for a local sweep: twice the model's file plus 1.5 GB.
rss_bound="$(awk -v b="$(stat -c %s "$data/mlp.onnx")" 'BEGIN{printf "%.2f", (2 * b + 1.5e9) / 1e9}')"
declare -a local_wall=() pytorch_wall=()
best_threads=""
run_local() {
  local r="$1"
  log "load before local run (round $r): $(load)"
  time_to "$work/local-r$r.time" "$root/bin/lopper" sensitivity --config "$work/bench.yaml" \
    --out "$work/runs/local-r$r" --set "spark.master=local[$local_cores]" > "$work/local-r$r.log" 2>&1 \
    || { cat "$work/local-r$r.log" >&2; exit 1; }
  local_wall[$r]="$(wall_of "$work/local-r$r.time")"
  log "lopper local[$local_cores] (round $r): wall ${local_wall[$r]} s, cpu $(cpu_of "$work/local-r$r.time") s," \
    "peak resident $(rss_of "$work/local-r$r.time") GB (bound 2 x model + 1.5 GB = $rss_bound GB)" \
    "(whole run, Spark's start included)"
  log "  stages (manifest timings_millis): $(stages_of "$work/runs/local-r$r/manifest.json")"
  overhead_of "$work/local-r$r.log"
}
# overhead_of LOG: per tensor, a variant's time (its share of the sweep units' "Sweep slice" lines:
# choosing and writing its weights, building and running its suffix) against its suffix's FLOPs at
# ONNX Runtime's GEMM rate (dev.lopper.eval.GemmRate: the Gemm as the sweep runs it, fed and unpacked
# for weights of 2^24 elements or more, else pre-packed, at the data's batch of 256 rows, one thread
# per task, local_cores tasks at once), and the overhead: 1 - arithmetic / time.
gemm_rate=""
overhead_of() {
  if [[ -z "$gemm_rate" ]]; then
    # The GEMM the sweep runs: weights of 2^24 elements or more are fed unpacked
    # (EvaluatorOptions.fedFromElements), smaller ones pre-packed in a session per variant.
    local kind=packed
    (( width * width >= 1 << 24 )) && kind=fed
    gemm_rate="$(CLASSPATH="$root/common/target/classes:$root/common/target/test-classes:$(cat "$work/common-test-classpath.txt")" \
      java dev.lopper.eval.GemmRate "$width" 256 "$local_cores" "$kind" | sed -n 's/gemm_gflops_per_task=\([0-9.]*\).*/\1/p')"
    log "  ONNX Runtime GEMM ($kind, ${width} wide, 256 rows, ${local_cores} tasks at once): ${gemm_rate} GFLOP/s per task"
  fi
  "$py" - "$1" "$data/mlp.json" "$gemm_rate" "$local_cores" <<'PY' | while read -r line; do log "  $line"; done
import json, re, sys
log, meta, rate = sys.argv[1], json.load(open(sys.argv[2])), float(sys.argv[3]) * 1e9
dims = [meta["width"]] * meta["layers"] + [meta["classes"]]
per_row = {}  # a variant's suffix FLOPs per row, by tensor
for i in range(meta["layers"]):
    per_row[f"fcs.{i}.weight"] = sum(2 * dims[j] * dims[j + 1] for j in range(i, meta["layers"]))
line = re.compile(r"Sweep slice \d+: (\S+): (\d+) variants on (\d+) rows, [a-z ]+, ([0-9.]+) s")
seconds, flops, variants, slices = {}, {}, {}, {}
for m in line.finditer(open(log).read()):
    name, n, rows, s = m.group(1), int(m.group(2)), int(m.group(3)), float(m.group(4))
    seconds[name] = seconds.get(name, 0) + s
    flops[name] = flops.get(name, 0) + n * rows * per_row[name]
    variants[name] = variants.get(name, 0) + n
    slices[name] = slices.get(name, 0) + 1
total_s = sum(seconds.values())
total_a = sum(f / rate for f in flops.values())
for name in sorted(seconds):
    a = flops[name] / rate
    print(f"overhead per variant, {name}: {100 * (1 - a / seconds[name]):.0f}%"
          f" ({seconds[name] / variants[name]:.2f} s a variant-slice, arithmetic {a / variants[name]:.2f} s)")
print(f"overhead per variant, all tensors: {100 * (1 - total_a / total_s):.0f}%"
      f" ({total_s:.1f} s in the units' variants, arithmetic {total_a:.1f} s)")
# The floor: the variants' suffix FLOPs plus one dense pass of the rows, at the measured rate, over
# the cores; and the FLOPs of the PyTorch loop, which runs the whole model for every variant.
rows = sum(int(m.group(3)) for m in line.finditer(open(log).read()) if m.group(1) == "fcs.0.weight")
dense = rows * per_row["fcs.0.weight"]
suffix = sum(flops.values())
print(f"FLOP floor: {(suffix + dense) / 1e12:.2f} TFLOP with prefix reuse, {(suffix + dense) / rate / int(sys.argv[4]):.1f} s"
      f" at the measured rate on {sys.argv[4]} cores;"
      f" the PyTorch loop's {sum(variants[k] / slices[k] for k in variants) * dense / 1e12:.2f} TFLOP (the whole model per variant)")
PY
}
# run_pytorch THREADS ROUND: the PyTorch sweep's wall time (its loop alone) into $last_wall.
run_pytorch() {
  local t="$1" r="$2" line
  if [[ "$skip_pytorch" == 0 || ! -f "$work/pytorch-t$t.log" ]]; then
    log "load before PyTorch t=$t (round $r): $(load)"
    time_to "$work/pytorch-t$t-r$r.time" "$py" "$ref" sweep --out "$data" --threads "$t" > "$work/pytorch-t$t-r$r.log"
    cp "$work/pytorch-t$t-r$r.log" "$work/pytorch-t$t.log"
    cp "$work/pytorch-t$t-r$r.time" "$work/pytorch-t$t.time"
  else
    log "PyTorch t=$t: from the earlier run in $work"
  fi
  line="$(tail -n 1 "$work/pytorch-t$t.log")"
  last_wall="$(sed -n 's/.* wall=\([0-9.]*\).*/\1/p' <<< "$line")"
  log "$line (whole process: wall $(wall_of "$work/pytorch-t$t.time") s, cpu $(cpu_of "$work/pytorch-t$t.time") s," \
    "peak resident $(rss_of "$work/pytorch-t$t.time") GB)"
}
for r in $(seq "$rounds"); do
  [[ "$skip_local" == 0 ]] && run_local "$r"
  if [[ "$r" == 1 ]]; then
    for t in $threads; do
      run_pytorch "$t" 1
      if [[ -z "${pytorch_wall[1]:-}" ]] || awk -v a="$last_wall" -v b="${pytorch_wall[1]}" 'BEGIN{exit !(a < b)}'; then
        pytorch_wall[1]="$last_wall"; best_threads="$t"
      fi
    done
  else
    run_pytorch "$best_threads" "$r"
    pytorch_wall[$r]="$last_wall"
  fi
done
reference="$data/pytorch-t$best_threads.csv"

# ---------------------------------------------------------------- 4. standalone cluster
declare -a cpu_one=() cpu_two=()
if [[ "$skip_cluster" == 0 ]]; then
  home="$work/spark-home"
  rm -rf "$home" "$work/cluster"
  mkdir -p "$home/jars" "$home/conf" "$work/cluster/logs" "$work/cluster/local" "$work/cluster/worker"
  { tr ":" "\n" < "$root/jobs/target/spark-classpath.txt"; echo; } | while read -r jar; do
    [[ -n "$jar" ]] || continue
    link="$home/jars/$(basename "$jar")"
    n=2; while [[ -e "$link" ]]; do link="$home/jars/$n-$(basename "$jar")"; n=$((n + 1)); done
    ln -s "$jar" "$link"
  done
  touch "$home/RELEASE"
  printf '%s\n' 'rootLogger.level = warn' 'rootLogger.appenderRef.stderr.ref = console' \
    'appender.console.type = Console' 'appender.console.name = console' 'appender.console.target = SYSTEM_ERR' \
    'appender.console.layout.type = PatternLayout' 'appender.console.layout.pattern = %d{HH:mm:ss.SSS} %p %c{1}: %m%n%ex' \
    'logger.deploy.name = org.apache.spark.deploy' 'logger.deploy.level = info' \
    > "$home/conf/log4j2.properties"
  printf '%s\n' 'spark.master.rest.enabled false' 'spark.ui.showConsoleProgress false' > "$home/conf/spark-defaults.conf"
  free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  mport="$(free_port)"
  daemon_env=(env -u CLASSPATH SPARK_HOME="$home" SPARK_CONF_DIR="$home/conf" SPARK_LOCAL_IP=127.0.0.1
    SPARK_LOCAL_DIRS="$work/cluster/local" SPARK_SCALA_VERSION=2.13 OMP_NUM_THREADS=1)
  daemon_java=(java @"$root/jobs/target/launcher/jvm.args" -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
    -cp "$home/conf:$home/jars/*")
  "${daemon_env[@]}" "${daemon_java[@]}" org.apache.spark.deploy.master.Master --host 127.0.0.1 --port "$mport" \
    --webui-port "$(free_port)" > "$work/cluster/logs/master.log" 2>&1 &
  master_pid=$!
  "${daemon_env[@]}" "${daemon_java[@]}" org.apache.spark.deploy.worker.Worker "spark://127.0.0.1:$mport" \
    --host 127.0.0.1 --cores 2 --memory 6g --work-dir "$work/cluster/worker" --webui-port "$(free_port)" \
    > "$work/cluster/logs/worker.log" 2>&1 &
  worker_pid=$!
  trap 'kill $worker_pid $master_pid 2>/dev/null || true' EXIT
  for _ in $(seq 120); do
    grep -q "Successfully registered with master" "$work/cluster/logs/worker.log" 2>/dev/null && break
    sleep 1
  done
  grep -q "Successfully registered with master" "$work/cluster/logs/worker.log" \
    || { echo "the worker did not register; see $work/cluster/logs" >&2; exit 1; }
  children_cpu() {  # the worker's reaped children (executors), user + system seconds
    sed 's/.*) //' "/proc/$worker_pid/stat" | awk -v t="$ticks" '{printf "%.2f", ($14 + $15) / t}'
  }
  # The worker logs "Executor ... finished with state" once it has reaped an executor's process.
  executors_reaped() { grep -c "finished with state" "$work/cluster/logs/worker.log" || true; }
  for r in $(seq "$rounds"); do
    for n in ${cluster_sizes:-1 2}; do
      log "load before cluster run with $n executor(s) (round $r): $(load)"
      before="$(children_cpu)"
      reaped="$(executors_reaped)"
      if [[ "${thread_cpu:-0}" == 1 ]]; then
        "$py" "$root/bench/thread_cpu.py" "$work/threads-$n-r$r.json" & sampler_pid=$!
      fi
      LOPPER_SUBMIT=1 SPARK_HOME="$home" SPARK_CONF_DIR="$home/conf" SPARK_LOCAL_IP=127.0.0.1 \
        LOPPER_SUBMIT_ARGS="--master spark://127.0.0.1:$mport --deploy-mode client
          --conf spark.driver.host=127.0.0.1 --conf spark.driver.bindAddress=127.0.0.1 --conf spark.ui.enabled=false
          --conf spark.executor.cores=1 --conf spark.cores.max=$n --conf spark.executor.memory=$executor_memory
          ${executor_opts:+--conf spark.executor.extraJavaOptions=$executor_opts}" \
        time_to "$work/cluster-$n-r$r.time" "$root/bin/lopper" sensitivity --config "$work/bench.yaml" \
          --out "$work/runs/cluster-$n-r$r" > "$work/cluster-$n-r$r.log" 2>&1 \
          || { cat "$work/cluster-$n-r$r.log" >&2; exit 1; }
      for _ in $(seq 120); do [[ "$(executors_reaped)" -ge $((reaped + n)) ]] && break; sleep 0.5; done
      [[ "$(executors_reaped)" -ge $((reaped + n)) ]] || log "warning: the worker did not report $n executor(s) finished"
      after="$(children_cpu)"
      if [[ -n "${sampler_pid:-}" ]]; then
        kill "$sampler_pid"; wait "$sampler_pid" || true; sampler_pid=
        log "executors' cpu by thread kind ($n executor(s), round $r): $(tr -d ' \n' < "$work/threads-$n-r$r.json")"
      fi
      driver_cpu="$(cpu_of "$work/cluster-$n-r$r.time")"
      executors_cpu="$(awk -v a="$after" -v b="$before" 'BEGIN{printf "%.2f", a - b}')"
      cpu="$(awk -v a="$driver_cpu" -v b="$executors_cpu" 'BEGIN{printf "%.2f", a + b}')"
      if [[ "$n" == 1 ]]; then cpu_one[$r]="$cpu"; else cpu_two[$r]="$cpu"; fi
      log "lopper standalone, $n executor(s) of 1 core (round $r): wall $(wall_of "$work/cluster-$n-r$r.time") s," \
        "cpu $cpu s (driver $driver_cpu + executors $executors_cpu)"
    done
  done
fi

# ---------------------------------------------------------------- 5. agreement and ratios
status=0
for run in "$work"/runs/*/; do
  "$py" "$ref" compare --reference "$reference" --lopper "$run/sensitivity.csv" | tee -a "$results" || status=1
done
if [[ "$skip_local" == 0 ]]; then
  log "speed-up per round, fastest PyTorch sweep (t=$best_threads) / Lopper local whole run:" \
    "$(ratios pytorch_wall local_wall) (target >= 1.8)"
fi
if [[ "$skip_cluster" == 0 && -z "${cluster_sizes:-}" ]]; then
  log "cpu time per round, two executors / one executor: $(ratios cpu_two cpu_one) (target <= 1.15)"
fi
log "load at the end: $(load)"
echo "results in $results" >&2
exit "$status"
