#!/usr/bin/python3
"""The PyTorch half of bench/sweep-vs-pytorch.sh: a synthetic MLP and data set, the reference
sensitivity sweep the way existing tools run it, and the comparison with Lopper's table.

    sweep_reference.py make    --out DIR [--layers 6 --width 1024 --classes 10 --samples 16384 --seed 0
                                         --min-margin 1e-5]
    sweep_reference.py sweep   --out DIR --threads N [--grid 0.1,...,0.9]
    sweep_reference.py compare --reference DIR/pytorch-t1.csv --lopper RUN/sensitivity.csv

make writes DIR/mlp.onnx (exported like data/make_samples.py: opset 13, no constant folding,
TrainingMode.PRESERVE, initializers named as in the state dict), DIR/mlp.safetensors (written by
hand) and DIR/val.csv (id,label,features for dev.lopper.fixtures.CsvToParquet). Features are
multiples of 1/64 in [-2, 2], exact in float32 and short in text; labels are the dense model's own
predictions, so the dense accuracy is 1 and pruning lowers it. Two things that would leave the
reference table undefined are removed: weights of equal magnitude within a tensor are nudged apart
by float32 ulps (l1_unstructured's choice between equal magnitudes at a threshold is torch.topk's
unspecified internal order), and samples whose two largest logits lie closer than --min-margin
(1e-5, a hundred times the logit differences float32 rounding makes here) in the dense model or in
any variant of the sweep are left out (another engine's summation order may flip such a near-tie).

sweep loads the model back from the safetensors and, for every (tensor, sparsity): deep-copies the
model, applies torch.nn.utils.prune.l1_unstructured and evaluates the whole set in batches of 256;
it prints the wall and CPU seconds of the sweep alone (the dense baseline included, data loading
and Python's start not) and writes the accuracy and loss (mean cross-entropy, log-softmax in
float64 from the float32 logits, as data/make_samples.py computes it) of every variant.
"""

import argparse
import copy
import csv
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.utils.prune as prune

BATCH = 256
GRID = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


class Mlp(nn.Module):
    """layers Linear layers: width inputs -> width (ReLU) ... -> classes."""

    def __init__(self, layers, width, classes):
        super().__init__()
        dims = [width] * layers + [classes]
        self.fcs = nn.ModuleList(nn.Linear(dims[i], dims[i + 1]) for i in range(layers))

    def forward(self, x):
        for i, fc in enumerate(self.fcs):
            x = fc(x)
            if i + 1 < len(self.fcs):
                x = torch.relu(x)
        return x


# The sample-data script's safetensors reader and writer: one implementation of the format in Python.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data"))
from make_samples import float_state, read_safetensors, write_safetensors  # noqa: E402



def meta_path(out):
    return os.path.join(out, "mlp.json")


def load(out):
    with open(meta_path(out)) as f:
        meta = json.load(f)
    model = Mlp(meta["layers"], meta["width"], meta["classes"])
    model.load_state_dict(read_safetensors(os.path.join(out, "mlp.safetensors")))
    model.eval()
    with open(os.path.join(out, "val.csv")) as f:
        r = csv.reader(f)
        next(r)
        labels, rows = [], []
        for row in r:
            labels.append(int(row[1]))
            rows.append(np.array(row[2].split(" "), dtype=np.float32))
    return model, torch.from_numpy(np.stack(rows)), np.array(labels, dtype=np.int64)


def make(args):
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    model = Mlp(args.layers, args.width, args.classes).eval()
    with torch.no_grad():
        nudged = sum(distinct_magnitudes(m.weight) for m in model.fcs)
    print(f"{nudged} weights nudged by float32 ulps so that no two weights of a tensor have the same magnitude")
    rng = np.random.default_rng(args.seed)
    # Candidates: a few more than needed, for the near-ties left out below.
    candidates = args.samples + max(64, args.samples // 4)
    x = (rng.integers(-128, 129, size=(candidates, args.width)) / 64.0).astype(np.float32)
    x = x[smallest_gaps(model, torch.from_numpy(x), GRID) >= args.min_margin]
    print(f"{len(x)} of {candidates} candidate samples have a top-2 logit gap of at least {args.min_margin} in every variant")
    if len(x) < args.samples:
        sys.exit(f"only {len(x)} of {candidates} candidate samples have a top-2 logit gap of at least"
                 f" {args.min_margin} in every variant; lower --min-margin")
    x = x[:args.samples]
    with torch.no_grad():
        labels = torch.cat([model(torch.from_numpy(x[i:i + BATCH])) for i in range(0, len(x), BATCH)]).argmax(1).numpy()
    write_safetensors(os.path.join(args.out, "mlp.safetensors"), float_state(model))
    onnx_path = os.path.join(args.out, "mlp.onnx")
    torch.onnx.export(model, torch.zeros(1, args.width), onnx_path, opset_version=13, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    import onnx
    m = onnx.load(onnx_path)
    names = sorted(i.name for i in m.graph.initializer)
    assert names == sorted(model.state_dict().keys()), (names, list(model.state_dict().keys()))
    with open(os.path.join(args.out, "val.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "label", "features"])
        for i in range(len(x)):
            w.writerow([i, int(labels[i]), " ".join(repr(float(v)) for v in x[i])])
    with open(meta_path(args.out), "w") as f:
        json.dump({"layers": args.layers, "width": args.width, "classes": args.classes,
                   "samples": args.samples, "seed": args.seed}, f)
    print(f"made {args.layers}x{args.width} MLP ({sum(p.numel() for p in model.parameters())} parameters),"
          f" {args.samples} samples, {len(set(labels.tolist()))} classes used")


def variants(model, grid):
    """(tensor, sparsity, model) for the dense model (None, 0.0) and every swept variant, as sweep makes them."""
    yield None, 0.0, model
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            for s in grid:
                variant = copy.deepcopy(model)
                prune.l1_unstructured(dict(variant.named_modules())[name], "weight", amount=s)
                yield name + ".weight", s, variant


def distinct_magnitudes(weight):
    """Nudges weights of equal magnitude apart by float32 ulps (away from zero), in place; returns how
    many moved. Which of two equal magnitudes l1_unstructured prunes at a threshold is up to
    torch.topk's internal order, which is unspecified: with ties the mask, and so the table, is not
    defined by the criterion alone (the default model had such ties at two of its 54 thresholds)."""
    flat = weight.detach().numpy().reshape(-1)
    order = np.argsort(np.abs(flat), kind="stable")
    a = np.abs(flat[order])
    moved = 0
    for i in range(1, len(a)):
        if a[i] <= a[i - 1]:
            a[i] = np.nextafter(a[i - 1], np.float32(np.inf))
            moved += 1
    flat[order] = np.copysign(a, flat[order])
    return moved


def smallest_gaps(model, x, grid):
    """Per sample, the smallest gap between its two largest logits over the dense model and every variant."""
    gaps = np.full(len(x), np.inf)
    with torch.no_grad():
        for _, _, m in variants(model, grid):
            logits = torch.cat([m(x[i:i + BATCH]) for i in range(0, len(x), BATCH)]).numpy().astype(np.float64)
            top2 = np.sort(logits, axis=1)[:, -2:]
            gaps = np.minimum(gaps, top2[:, 1] - top2[:, 0])
    return gaps


def evaluate(model, x, labels):
    with torch.no_grad():
        logits = torch.cat([model(x[i:i + BATCH]) for i in range(0, len(x), BATCH)]).numpy()
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = len(labels)
    ordered = np.sort(logits.astype(np.float64), axis=1)
    return {"accuracy": float((logits.argmax(1) == labels).sum()) / n,
            "loss": float(-logp[np.arange(n), labels].mean()),
            "top_gap": float((ordered[:, -1] - ordered[:, -2]).min())}


def sweep(args):
    torch.set_num_threads(args.threads)
    model, x, labels = load(args.out)
    grid = [float(s) for s in args.grid.split(",")]
    rows = []
    wall, cpu = time.perf_counter(), time.process_time()
    for tensor, s, variant in variants(model, grid):
        rows.append(dict(tensor=tensor or "(dense)", sparsity=s, **evaluate(variant, x, labels)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    path = os.path.join(args.out, f"pytorch-t{args.threads}.csv")
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, ["tensor", "sparsity", "accuracy", "loss", "top_gap"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"pytorch threads={args.threads} variants={len(rows) - 1} wall={wall:.2f} cpu={cpu:.2f}")


def compare(args):
    def read(path):
        with open(path) as f:
            return {(r["tensor"], round(float(r["sparsity"]), 6)): r for r in csv.DictReader(f)}
    ref, got = read(args.reference), read(args.lopper)
    problems = []
    if set(ref) != set(got):
        problems.append(f"rows differ: only PyTorch {sorted(set(ref) - set(got))[:5]},"
                        f" only Lopper {sorted(set(got) - set(ref))[:5]}")
    worst = 0.0
    for key in sorted(set(ref) & set(got)):
        a, b = ref[key], got[key]
        if float(a["accuracy"]) != float(b["accuracy"]):
            problems.append(f"{key}: accuracy PyTorch {a['accuracy']} Lopper {b['accuracy']}"
                            f" (smallest top-2 logit gap {a['top_gap']})")
        d = abs(float(a["loss"]) - float(b["loss"]))
        worst = max(worst, d)
        if d > 1e-5:
            problems.append(f"{key}: loss PyTorch {a['loss']} Lopper {b['loss']}")
    print(f"compare {os.path.basename(os.path.dirname(os.path.abspath(args.lopper)))} vs {os.path.basename(args.reference)}: {len(ref)} rows,"
          f" largest loss difference {worst:.3g}, {len(problems)} problems")
    for p in problems[:20]:
        print("  " + p)
    sys.exit(1 if problems else 0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", required=True)
    m.add_argument("--layers", type=int, default=6)
    m.add_argument("--width", type=int, default=1024)
    m.add_argument("--classes", type=int, default=10)
    m.add_argument("--samples", type=int, default=16384)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--min-margin", type=float, default=1e-5)
    s = sub.add_parser("sweep")
    s.add_argument("--out", required=True)
    s.add_argument("--threads", type=int, required=True)
    s.add_argument("--grid", default=",".join(str(g) for g in GRID))
    c = sub.add_parser("compare")
    c.add_argument("--reference", required=True)
    c.add_argument("--lopper", required=True)
    args = p.parse_args()
    {"make": make, "sweep": sweep, "compare": compare}[args.command](args)


if __name__ == "__main__":
    main()
