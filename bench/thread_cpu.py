#!/usr/bin/python3
"""CPU seconds of Spark executor JVMs by thread kind, sampled from /proc while they run.

    bench/thread_cpu.py OUT.json [MARK]   # samples until SIGTERM/SIGINT, then writes OUT.json

Every 0.2 s it reads /proc/<pid>/task/<tid>/stat of every process whose command line names
CoarseGrainedExecutorBackend (or MARK) and keeps each thread's latest user+system time. A thread
that ends between two samples loses at most 0.2 s. Used by bench/sweep-vs-pytorch.sh --thread-cpu
to say where a second executor's CPU goes (JIT compilers, GC, task threads, the rest).
"""
import json
import os
import re
import signal
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")
KINDS = [
    ("jit-c2", re.compile(r"^C2 CompilerThre")),
    ("jit-c1", re.compile(r"^C1 CompilerThre")),
    ("gc", re.compile(r"^(GC Thread|G1 |VM Periodic|Parallel GC|Concurrent)")),
    ("tasks", re.compile(r"^Executor task")),
    ("main", re.compile(r"^java$")),
]


def kind(name):
    for k, pattern in KINDS:
        if pattern.search(name):
            return k
    return "other"


def executors(mark):
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if mark in f.read():
                    yield int(pid)
        except OSError:
            pass


def main():
    out = sys.argv[1]
    mark = (sys.argv[2] if len(sys.argv) > 2 else "CoarseGrainedExecutorBackend").encode()
    seen = {}  # (pid, tid) -> (name, seconds)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    while not stop:
        for pid in executors(mark):
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tids:
                try:
                    with open(f"/proc/{pid}/task/{tid}/stat") as f:
                        stat = f.read()
                except OSError:
                    continue
                name = stat[stat.index("(") + 1:stat.rindex(")")]
                fields = stat[stat.rindex(")") + 2:].split()
                seconds = (int(fields[11]) + int(fields[12])) / TICKS
                seen[(pid, int(tid))] = (name, seconds)
        time.sleep(0.2)
    kinds, names = {}, {}  # pid -> kind -> seconds; pid -> thread name without its number -> seconds
    for (pid, _), (name, seconds) in seen.items():
        per_kind = kinds.setdefault(str(pid), {})
        per_kind[kind(name)] = per_kind.get(kind(name), 0.0) + seconds
        per_name = names.setdefault(str(pid), {})
        key = re.sub(r"[#\-]?\d+$", "", name)
        per_name[key] = per_name.get(key, 0.0) + seconds
    report = {}
    for pid, per_kind in kinds.items():
        report[pid] = {k: round(v, 2) for k, v in per_kind.items()}
        report[pid]["total"] = round(sum(per_kind.values()), 2)
        top = sorted(names[pid].items(), key=lambda kv: -kv[1])[:12]
        report[pid]["threads"] = {k: round(v, 2) for k, v in top}
    with open(out, "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
