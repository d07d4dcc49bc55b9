#!/usr/bin/python3
"""The PyTorch half of bench/lm-sweep-vs-pytorch.sh: a language model's sensitivity sweep the way
existing tools run it, its check against the sample's reference table, and the comparison of two
tables.

    lm_sweep_reference.py sweep   --dir DIR --threads N [--batch 16] [--grid 0.1,...,0.9] [--out CSV]
    lm_sweep_reference.py check-sample [--threads 1] [--batch 16]
    lm_sweep_reference.py compare --reference CSV --lopper RUN/sensitivity.csv [--tolerance 1e-4]

sweep loads DIR/lm.json, DIR/lm.safetensors and DIR/tokens.csv (bench/make_lm_bench.py makes them)
and, for the dense model and then for every Linear weight (state-dict order, the LM head included)
and every sparsity of the grid: copy.deepcopy of the model, torch.nn.utils.prune.l1_unstructured on
that weight alone, and an evaluation of all rows in batches of --batch rows. Position t predicts
input token t + 1 and the last position predicts nothing; per batch, log_softmax in float64 of the
float32 logits, NLL summed in float64; perplexity = exp(total NLL / target tokens); a prediction
is the first argmax of the float32 logits. It prints the wall and CPU seconds of the sweep alone
(the dense baseline included; loading and Python's start not) as its last line and writes
DIR/pytorch-t<N>.csv (or --out): tensor,sparsity,pruned,kept,mask_sha256,nll_sum,tokens,loss,
perplexity,correct,accuracy, the dense row first with tensor "(dense)", as Lopper names it.

check-sample runs the same sweep code on the sample language model (data/tiny-lm.safetensors and
the validation rows data/make_lm_sample.py cuts from its text, which are tiny-lm-val.parquet's) and
checks it against data/reference/tiny-lm-sensitivity.csv: counts and mask digests exactly, NLL sum,
loss and perplexity within 1e-6 relative, so that the benchmark's reference is trustworthy.

compare reads two tables by (tensor, sparsity): the same rows in both, and every perplexity within
--tolerance (1e-4) relative; it also reports the largest loss and accuracy differences, how many
variants lie within the tolerance of the dense perplexity (where the check cannot see a wrong
mask) and how many losses differ by more than 1e-6 relative, and checks the pruned counts when both
tables have them. Exit 0 when they agree, 1 otherwise.
"""

import argparse
import copy
import csv
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.utils.prune as prune

BENCH = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(os.path.dirname(BENCH), "data")
sys.path.insert(0, DATA)
import make_lm_sample as lm  # noqa: E402  (the decoder and its shape)
import make_samples as samples  # noqa: E402  (safetensors reader, CSV writer)

GRID = [k / 10 for k in range(1, 10)]
BATCH = 16
COLUMNS = ["tensor", "sparsity", "pruned", "kept", "mask_sha256", "nll_sum", "tokens", "loss",
           "perplexity", "correct", "accuracy"]
DENSE = "(dense)"


def read_tokens(path):
    """id,input_ids CSV (ids space-separated) -> int64 [rows, length]; every row of one length."""
    with open(path) as f:
        rows = [np.array(r["input_ids"].split(" "), dtype=np.int64) for r in csv.DictReader(f)]
    lengths = {len(r) for r in rows}
    if len(lengths) != 1:
        sys.exit(f"{path}: rows of lengths {sorted(lengths)}; this sweep needs rows of one length")
    return np.stack(rows)


def evaluate(model, ids, batch):
    """nll_sum, tokens, loss, perplexity, correct, accuracy of the model on the rows ids [R, T]."""
    nll_sum, tokens, correct = 0.0, 0, 0
    with torch.no_grad():
        for i in range(0, len(ids), batch):
            x = ids[i:i + batch]
            logits = model(x)[:, :-1]
            targets = x[:, 1:]
            logp = torch.log_softmax(logits.double(), dim=-1)
            nll_sum += float(-logp.gather(-1, targets.unsqueeze(-1)).sum())
            correct += int((logits.argmax(dim=-1) == targets).sum())
            tokens += targets.numel()
    loss = nll_sum / tokens
    return {"nll_sum": nll_sum, "tokens": tokens, "loss": loss, "perplexity": math.exp(loss),
            "correct": correct, "accuracy": correct / tokens}


def mask_facts(module):
    mask = module.weight_mask.detach().numpy().astype(np.uint8)
    pruned = int(mask.size - mask.sum())
    return {"pruned": pruned, "kept": int(mask.size - pruned),
            "mask_sha256": hashlib.sha256(mask.tobytes(order="C")).hexdigest()}


def sweep_rows(model, ids, grid, batch):
    """The table's rows: the dense model, then for every Linear weight and sparsity the model
    deep-copied with that weight l1_unstructured-pruned, each evaluated on all rows."""
    out = [dict(tensor=DENSE, sparsity=0.0, pruned=0, kept="", mask_sha256="", **evaluate(model, ids, batch))]
    for tensor, _ in lm.prunable(model):
        module_name = tensor[:-len(".weight")]
        for s in grid:
            variant = copy.deepcopy(model)
            module = dict(variant.named_modules())[module_name]
            prune.l1_unstructured(module, "weight", amount=s)
            out.append(dict(tensor=tensor, sparsity=s, **mask_facts(module), **evaluate(variant, ids, batch)))
    return out


def timed_sweep(model, ids, grid, batch, threads):
    torch.set_num_threads(threads)
    wall, cpu = time.perf_counter(), time.process_time()
    rows = sweep_rows(model, ids, grid, batch)
    return rows, time.perf_counter() - wall, time.process_time() - cpu


def sweep(args):
    with open(os.path.join(args.dir, "lm.json")) as f:
        meta = json.load(f)
    model = lm.load_model(os.path.join(args.dir, "lm.safetensors"), lm.DecoderShape(**meta["shape"]))
    ids = torch.from_numpy(read_tokens(os.path.join(args.dir, "tokens.csv")))
    grid = [float(s) for s in args.grid.split(",")]
    rows, wall, cpu = timed_sweep(model, ids, grid, args.batch, args.threads)
    path = args.out or os.path.join(args.dir, f"pytorch-t{args.threads}.csv")
    samples.write_csv(path, COLUMNS, rows)
    print(f"dense perplexity {rows[0]['perplexity']:.6f}; {ids.shape[0]} rows of {ids.shape[1]} tokens,"
          f" batch {args.batch}; wrote {path}")
    print(f"pytorch threads={args.threads} batch={args.batch} variants={len(rows) - 1} wall={wall:.2f} cpu={cpu:.2f}")


def check_sample(args):
    model = lm.load_model(os.path.join(DATA, "tiny-lm.safetensors"))
    _, rows = lm.split(lm.read_text())
    ids = torch.from_numpy(np.ascontiguousarray(rows))
    got, wall, cpu = timed_sweep(model, ids, lm.SPARSITIES, args.batch, args.threads)
    reference = os.path.join(DATA, "reference", "tiny-lm-sensitivity.csv")
    with open(reference) as f:
        ref = list(csv.DictReader(f))
    problems, worst = [], 0.0
    if len(ref) != len(got):
        problems.append(f"{len(got)} rows, the reference has {len(ref)}")
    for a, b in zip(ref, got):
        key = (a["tensor"] or DENSE, float(a["sparsity"]))
        if key != (b["tensor"], b["sparsity"]):
            problems.append(f"row {key} against {(b['tensor'], b['sparsity'])}")
            continue
        for c in ["pruned", "kept", "mask_sha256", "tokens", "correct"]:
            if a[c] != str(b[c]):
                problems.append(f"{key}: {c} reference {a[c]!r}, here {b[c]!r}")
        for c in ["nll_sum", "loss", "perplexity"]:
            rel = abs(float(a[c]) - b[c]) / abs(float(a[c]))
            worst = max(worst, rel)
            if rel > 1e-6:
                problems.append(f"{key}: {c} reference {a[c]}, here {b[c]!r} (relative {rel:.3g})")
    print(f"check-sample: {len(got)} rows against {os.path.relpath(reference)} (batch {args.batch},"
          f" threads {args.threads}, {wall:.1f} s): largest relative difference of nll_sum, loss,"
          f" perplexity {worst:.3g}; {len(problems)} problems")
    for p in problems[:20]:
        print("  " + p)
    sys.exit(1 if problems else 0)


def compare(args):
    def read(path):
        with open(path) as f:
            return {(r["tensor"], round(float(r["sparsity"]), 6)): r for r in csv.DictReader(f)}
    ref, got = read(args.reference), read(args.lopper)
    problems = []
    if set(ref) != set(got):
        problems.append(f"rows differ: only PyTorch {sorted(set(ref) - set(got))[:5]},"
                        f" only Lopper {sorted(set(got) - set(ref))[:5]}")
    worst = {"perplexity": 0.0, "loss": 0.0, "accuracy": 0.0}
    # Rows whose perplexity is within the tolerance of the dense model's: a wrong mask there would
    # pass the check, so the loss is also reported against a far tighter bound (not a failure).
    dense = float(ref[(DENSE, 0.0)]["perplexity"]) if (DENSE, 0.0) in ref else None
    blind = sum(1 for k, r in ref.items() if k[0] != DENSE and dense is not None
                and abs(float(r["perplexity"]) - dense) / dense <= args.tolerance)
    loose = 0
    for key in sorted(set(ref) & set(got)):
        a, b = ref[key], got[key]
        for c in ["perplexity", "loss"]:
            if c not in b:
                problems.append(f"{key}: no column {c} in {args.lopper}")
                continue
            rel = abs(float(a[c]) - float(b[c])) / abs(float(a[c]))
            worst[c] = max(worst[c], rel)
            if c == "loss" and rel > 1e-6:
                loose += 1
            if c == "perplexity" and rel > args.tolerance:
                problems.append(f"{key}: perplexity PyTorch {a[c]} Lopper {b[c]} (relative {rel:.3g})")
        if "accuracy" in b:
            worst["accuracy"] = max(worst["accuracy"], abs(float(a["accuracy"]) - float(b["accuracy"])))
        if "pruned" in b and a["pruned"] != "" and b["pruned"] != "" and int(a["pruned"]) != int(b["pruned"]):
            problems.append(f"{key}: pruned PyTorch {a['pruned']} Lopper {b['pruned']}")
    run = os.path.basename(os.path.dirname(os.path.abspath(args.lopper)))
    print(f"compare {run} vs {os.path.basename(args.reference)}: {len(ref)} rows; largest relative difference:"
          f" perplexity {worst['perplexity']:.3g} (tolerance {args.tolerance:g}), loss {worst['loss']:.3g};"
          f" largest accuracy difference {worst['accuracy']:.3g}; {len(problems)} problems")
    print(f"  {blind} of {len(ref) - 1} variants are within the tolerance of the dense perplexity;"
          f" rows whose loss differs by more than 1e-6 relative: {loose}")
    for p in problems[:20]:
        print("  " + p)
    sys.exit(1 if problems else 0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sweep")
    s.add_argument("--dir", required=True, help="bench/make_lm_bench.py's output directory")
    s.add_argument("--threads", type=int, required=True, help="torch.set_num_threads")
    s.add_argument("--batch", type=int, default=BATCH, help="rows per forward pass")
    s.add_argument("--grid", default=",".join(str(g) for g in GRID))
    s.add_argument("--out", help="the table (default DIR/pytorch-t<threads>.csv)")
    c = sub.add_parser("check-sample")
    c.add_argument("--threads", type=int, default=1)
    c.add_argument("--batch", type=int, default=BATCH)
    m = sub.add_parser("compare")
    m.add_argument("--reference", required=True)
    m.add_argument("--lopper", required=True)
    m.add_argument("--tolerance", type=float, default=1e-4, help="largest relative perplexity difference")
    args = p.parse_args()
    {"sweep": sweep, "check-sample": check_sample, "compare": compare}[args.command](args)


if __name__ == "__main__":
    main()
