#!/usr/bin/python3
"""The PyTorch side of bench/sparsegpt-vs-pytorch.sh: SparseGPT with sequential calibration on a
decoder of bench/make_lm_bench.py, run the way IST-DASLab/sparsegpt's opt_sequential runs it, timed.

    /usr/bin/python3 bench/sparsegpt_reference.py prune --dir DATA --rows 32 --threads 1 \\
        --precision float64 --batch 8 --out pytorch-float64.safetensors [--json result.json]
    /usr/bin/python3 bench/sparsegpt_reference.py compare --reference pytorch-float64.safetensors \\
        --lopper RUN_DIR [--json compare.json]

prune. The loop, as opt_sequential: the first --rows rows of DATA/tokens.csv are embedded (token
plus position embedding) once; then for every decoder block: forward hooks on its six Linears
gather each one's Gram matrix (q, k and v each their own, as the reference does: one SparseGPT
object per Linear) while the dense block runs over the rows in batches of --batch; the hooks are
removed; every Linear is pruned at --sparsity (fasterprune: blocks of 128 columns, dampening 1%);
the pruned block runs over the rows again and its outputs are the next block's inputs. Lopper also
prunes the LM head, so after the blocks lm_head is calibrated on ln_f of the last outputs and
pruned the same way (the reference repository leaves its LM head dense).

  --precision float64: the statistics XᵀX in float64 and data/pruning_reference.py's float64
      port of fasterprune (the maths Lopper implements; comparable with Lopper's weights).
  --precision float32: sparsegpt.py as the repository runs it: add_batch's running 2/n-scaled H
      in float32 and fasterprune in float32 (transcribed below, without the quantizer).

Threads: torch.set_num_threads(T), and OpenBLAS's own pool (Debian's torch multiplies on the
system OpenBLAS, whose threads torch.set_num_threads does not limit) set to T through
openblas_set_num_threads, so the peer uses exactly T threads; --blas-threads N overrides that
(0: leave OpenBLAS at its default). Timed with perf_counter and process CPU time: the loop
(embedding to the last prune) split into forward passes, hooks (the Gram matrices) and pruning;
then, outside the loop and timed apart, the perplexity of the pruned and of the dense model on the
same rows in batches of 16 (Lopper's verification evaluates both too; the reference repository's
script evaluates the pruned model after opt_sequential).

compare. The float64 reference's weights and masks against Lopper's model/pruned.safetensors and
masks.safetensors: per tensor and overall, the positions pruned by one and not the other, and the
largest |w_lopper - w_ref| relative to the tensor's largest |w_ref|.

check. Lopper's run step by step from the same state, which `compare` cannot do: two runs of
SparseGPT on activations that differ in float32 rounding (ONNX Runtime's kernels against PyTorch's)
choose different masks at a few near-threshold weights, and sequential pruning carries every such
difference into the later blocks. So per group, on the model whose earlier groups hold Lopper's
pruned weights (read from the run): PyTorch's float64 Gram of every tensor's input against the one
Lopper used (calibration/statistics.safetensors; max |ΔG_ij| / sqrt(G_ii G_jj)); the float64 port
run on Lopper's Gram against Lopper's weights and masks (the solver alone); and the port run on
PyTorch's Gram against Lopper's masks (how many mask choices the rounding of the activations
moves, from one and the same state).
"""

import argparse
import csv
import ctypes
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(ROOT, "data"))
import make_lm_sample as lm  # noqa: E402  (the decoder, its loading and metrics)
import pruning_reference as ref  # noqa: E402  (float64 fasterprune)
import make_samples as samples  # noqa: E402  (the safetensors reader and writer)


# ----------------------------------------------------------------------------- threads

def openblas():
    """The OpenBLAS that torch's BLAS calls reach (already loaded by torch), or None."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "libopenblas" in line}
    for path in sorted(paths):
        lib = ctypes.CDLL(path)
        if hasattr(lib, "openblas_set_num_threads"):
            return lib
    return None


def set_threads(threads, blas_threads):
    torch.set_num_threads(threads)
    torch.mm(torch.ones(2, 2), torch.ones(2, 2))  # loads the BLAS
    lib = openblas()
    if lib is not None and blas_threads > 0:
        lib.openblas_set_num_threads(blas_threads)
    return lib.openblas_get_num_threads() if lib is not None else None


# ----------------------------------------------------------------------------- data and model

def load(directory, rows):
    with open(os.path.join(directory, "lm.json")) as f:
        meta = json.load(f)
    shape = lm.DecoderShape(**meta["shape"])
    model = lm.load_model(os.path.join(directory, "lm.safetensors"), shape)
    with open(os.path.join(directory, "tokens.csv")) as f:
        ids = [[int(t) for t in r["input_ids"].split()] for r in csv.DictReader(f)]
    if rows > len(ids):
        sys.exit(f"--rows {rows}: {directory}/tokens.csv has only {len(ids)} rows")
    return meta, model, np.ascontiguousarray(np.array(ids[:rows], dtype=np.int64))


def perplexity(model, ids, batch=16):
    nll, tokens, correct = [], [], []
    for i in range(0, len(ids), batch):
        n, t, c, _ = lm.token_metrics(lm.forward(model, ids[i:i + batch]), ids[i:i + batch])
        nll.append(n), tokens.append(t), correct.append(c)
    s = lm.summary(np.concatenate(nll), np.concatenate(tokens), np.concatenate(correct), math.nan)
    return {"perplexity": s["perplexity"], "loss": s["loss"], "accuracy": s["accuracy"]}


# ----------------------------------------------------------------------------- statistics

class Gram64:
    """XᵀX of a Linear's inputs in float64 (raw sums; what Lopper's calibration computes)."""

    def __init__(self, columns):
        self.gram = torch.zeros((columns, columns), dtype=torch.float64)
        self.count = 0

    def add_batch(self, inp):
        x = inp.reshape(-1, inp.shape[-1]).to(torch.float64)
        self.count += x.shape[0]
        self.gram += x.T @ x

    def prune(self, module, sparsity):
        w = module.weight.detach().to(torch.float64).numpy()
        new, pruned = ref.sparsegpt_prune(w, self.gram.numpy(), sparsity, blocksize=128, percdamp=0.01)
        module.weight.data = torch.from_numpy(new.astype(np.float32))
        return pruned


class SparseGpt32:
    """IST-DASLab/sparsegpt sparsegpt.py's SparseGPT for an nn.Linear on the CPU, float32:
    add_batch and fasterprune (unstructured, no quantizer) transcribed; the mask is returned."""

    def __init__(self, columns):
        self.H = torch.zeros((columns, columns))
        self.nsamples = 0

    def add_batch(self, inp):
        if len(inp.shape) == 2:
            inp = inp.unsqueeze(0)
        tmp = inp.shape[0]
        if len(inp.shape) == 3:
            inp = inp.reshape((-1, inp.shape[-1]))
        inp = inp.t()
        self.H *= self.nsamples / (self.nsamples + tmp)
        self.nsamples += tmp
        inp = math.sqrt(2 / self.nsamples) * inp.float()
        self.H += inp.matmul(inp.t())

    def prune(self, module, sparsity, blocksize=128, percdamp=.01):
        W = module.weight.data.clone().float()
        rows, columns = W.shape
        H = self.H
        del self.H
        dead = torch.diag(H) == 0
        H[dead, dead] = 1
        W[:, dead] = 0
        Losses = torch.zeros(rows)
        damp = percdamp * torch.mean(torch.diag(H))
        diag = torch.arange(columns)
        H[diag, diag] += damp
        H = torch.linalg.cholesky(H)
        H = torch.cholesky_inverse(H)
        H = torch.linalg.cholesky(H, upper=True)
        Hinv = H
        pruned = torch.zeros((rows, columns), dtype=torch.bool)
        for i1 in range(0, columns, blocksize):
            i2 = min(i1 + blocksize, columns)
            count = i2 - i1
            W1 = W[:, i1:i2].clone()
            Q1 = torch.zeros_like(W1)
            Err1 = torch.zeros_like(W1)
            Losses1 = torch.zeros_like(W1)
            Hinv1 = Hinv[i1:i2, i1:i2]
            tmp = W1 ** 2 / (torch.diag(Hinv1).reshape((1, -1))) ** 2
            thresh = torch.sort(tmp.flatten())[0][int(tmp.numel() * sparsity)]
            mask1 = tmp <= thresh
            for i in range(count):
                w = W1[:, i]
                d = Hinv1[i, i]
                q = w.clone()
                q[mask1[:, i]] = 0
                Q1[:, i] = q
                Losses1[:, i] = (w - q) ** 2 / d ** 2
                err1 = (w - q) / d
                W1[:, i:] -= err1.unsqueeze(1).matmul(Hinv1[i, i:].unsqueeze(0))
                Err1[:, i] = err1
            W[:, i1:i2] = Q1
            pruned[:, i1:i2] = mask1
            Losses += torch.sum(Losses1, 1) / 2
            W[:, i2:] -= Err1.matmul(Hinv[i1:i2, i2:])
        module.weight.data = W.reshape(module.weight.shape).to(module.weight.data.dtype)
        return pruned.numpy()


# ----------------------------------------------------------------------------- the loop

class Clock:
    """Wall and process CPU seconds by phase."""

    def __init__(self):
        self.wall = {}
        self.cpu = {}

    def add(self, phase, wall, cpu):
        self.wall[phase] = self.wall.get(phase, 0.0) + wall
        self.cpu[phase] = self.cpu.get(phase, 0.0) + cpu


def timed(clock, phase, fn, *args):
    w, c = time.perf_counter(), time.process_time()
    out = fn(*args)
    clock.add(phase, time.perf_counter() - w, time.process_time() - c)
    return out


def calibrate(clock, stats_class, modules, run):
    """Gram statistics of each (name, module)'s input over run(); hook time is phase 'gram'."""
    stats = {name: stats_class(module.in_features) for name, module in modules}

    def hook(name):
        def add(_, inp, out):
            timed(clock, "gram", stats[name].add_batch, inp[0].data)
        return add

    handles = [module.register_forward_hook(hook(name)) for name, module in modules]
    run()
    for h in handles:
        h.remove()
    return stats


def sequential_prune(model, ids, stats_class, sparsity, batch, clock):
    """opt_sequential on the decoder, plus the LM head; returns {tensor: pruned mask}."""
    masks = {}
    positions = torch.arange(ids.shape[1])
    chunks = [torch.from_numpy(ids[i:i + batch]) for i in range(0, len(ids), batch)]
    inps = timed(clock, "forward", lambda: [model.tok_emb(c) + model.pos_emb(positions) for c in chunks])

    def forward_all(module):
        # The hooks' time is counted by `calibrate`; it is taken out of 'forward' afterwards.
        return [module(x) for x in inps]

    for b, block in enumerate(model.blocks):
        linears = [(f"blocks.{b}.{n}.weight", m) for n, m in block.named_modules() if isinstance(m, nn.Linear)]
        before = clock.wall.get("gram", 0.0), clock.cpu.get("gram", 0.0)
        stats = calibrate(clock, stats_class, linears, lambda: timed(clock, "forward", forward_all, block))
        clock.add("forward", before[0] - clock.wall["gram"], before[1] - clock.cpu["gram"])
        for name, module in linears:
            masks[name] = timed(clock, "prune", stats[name].prune, module, sparsity)
        inps = timed(clock, "forward", forward_all, block)
    head = [("lm_head.weight", model.lm_head)]
    before = clock.wall.get("gram", 0.0), clock.cpu.get("gram", 0.0)
    stats = calibrate(clock, stats_class, head,
                      lambda: timed(clock, "forward", lambda: [model.lm_head(model.ln_f(x)) for x in inps]))
    clock.add("forward", before[0] - clock.wall["gram"], before[1] - clock.cpu["gram"])
    masks["lm_head.weight"] = timed(clock, "prune", stats["lm_head.weight"].prune, model.lm_head, sparsity)
    return masks


# ----------------------------------------------------------------------------- safetensors

def write_safetensors(path, tensors):
    """F32 for float arrays, BOOL for bool arrays, in the given order."""
    samples.write_safetensors_arrays(path, {name: a if a.dtype == np.bool_ else a.astype("<f4")
                                            for name, a in tensors.items()},
                                     {"source": "bench/sparsegpt_reference.py"})


def read_safetensors(path):
    """{name: numpy array}: F32 as float32, BOOL and U8 (masks) as bool."""
    arrays, _ = samples.read_safetensors_arrays(path)
    return {name: a if a.dtype == np.float32 else a.astype(bool) for name, a in arrays.items()}


# ----------------------------------------------------------------------------- commands

def read_statistics(run):
    """{tensor: float64 Gram} from a Lopper run's calibration/statistics.safetensors."""
    arrays, metadata = samples.read_safetensors_arrays(os.path.join(run, "calibration", "statistics.safetensors"))
    return {key[len("gram."):]: arrays[entry] for key, entry in metadata.items() if key.startswith("gram.")}


def check_command(args):
    set_threads(args.threads, args.threads)
    torch.use_deterministic_algorithms(True)
    meta, model, ids = load(args.dir, args.rows)
    lopper_grams = read_statistics(args.lopper)
    lopper_weights = read_safetensors(os.path.join(args.lopper, "model", "pruned.safetensors"))
    lopper_masks = read_safetensors(os.path.join(args.lopper, "masks.safetensors"))
    positions = torch.arange(ids.shape[1])
    chunks = [torch.from_numpy(ids[i:i + args.batch]) for i in range(0, len(ids), args.batch)]
    clock = Clock()
    rows = []

    def check_group(modules, run):
        stats = calibrate(clock, Gram64, modules, run)
        for name, module in modules:
            g_torch = stats[name].gram.numpy()
            g_lopper = lopper_grams[name]
            scale = np.sqrt(np.outer(np.diag(g_torch), np.diag(g_torch)))
            scale[scale == 0] = 1.0
            gram_diff = float(np.max(np.abs(g_torch - g_lopper) / scale))
            w = module.weight.detach().to(torch.float64).numpy()
            kept = lopper_masks[name]
            w_lopper = lopper_weights[name].astype(np.float64)
            scale_w = float(np.abs(w_lopper).max()) or 1.0
            solved, pruned = ref.sparsegpt_prune(w, g_lopper, args.sparsity)
            solver_masks = int((pruned != ~kept).sum())
            solver_diff = float(np.abs(solved.astype(np.float32).astype(np.float64) - w_lopper).max()) / scale_w
            _, pruned_torch = ref.sparsegpt_prune(w, g_torch, args.sparsity)
            moved = int((pruned_torch != ~kept).sum())
            rows.append({"tensor": name, "gram_rel_diff": gram_diff, "solver_mask_differences": solver_masks,
                         "solver_rel_diff": solver_diff, "masks_moved_by_torch_gram": moved, "size": int(w.size)})
            print(f"{name}: Gram within {gram_diff:.2e}; port on Lopper's Gram: {solver_masks} mask differences,"
                  f" weights within {solver_diff:.2e}; port on PyTorch's Gram: {moved} of {w.size} masks differ",
                  flush=True)
            module.weight.data = torch.from_numpy(lopper_weights[name].copy())

    with torch.no_grad():
        inps = [model.tok_emb(c) + model.pos_emb(positions) for c in chunks]
        for b, block in enumerate(model.blocks):
            linears = [(f"blocks.{b}.{n}.weight", m) for n, m in block.named_modules() if isinstance(m, nn.Linear)]
            check_group(linears, lambda: [block(x) for x in inps])
            inps = [block(x) for x in inps]
        check_group([("lm_head.weight", model.lm_head)], lambda: [model.lm_head(model.ln_f(x)) for x in inps])
    summary = {"tensors": len(rows), "gram_rel_diff": max(r["gram_rel_diff"] for r in rows),
               "solver_mask_differences": sum(r["solver_mask_differences"] for r in rows),
               "solver_rel_diff": max(r["solver_rel_diff"] for r in rows),
               "masks_moved_by_torch_gram": sum(r["masks_moved_by_torch_gram"] for r in rows),
               "tensors_with_moved_masks": sum(1 for r in rows if r["masks_moved_by_torch_gram"]),
               "parameters": sum(r["size"] for r in rows)}
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary, "tensors": rows}, f, indent=1)
    print(f"check {args.lopper}: {summary['tensors']} tensors; Lopper's Grams within {summary['gram_rel_diff']:.2e}"
          f" of PyTorch's; the port on Lopper's Grams: {summary['solver_mask_differences']} mask differences,"
          f" weights within {summary['solver_rel_diff']:.2e} of max |w|; the port on PyTorch's Grams moves"
          f" {summary['masks_moved_by_torch_gram']} of {summary['parameters']} mask choices in"
          f" {summary['tensors_with_moved_masks']} tensors")


def prune_command(args):
    blas = set_threads(args.threads, args.threads if args.blas_threads is None else args.blas_threads)
    torch.use_deterministic_algorithms(True)
    meta, model, ids = load(args.dir, args.rows)
    stats_class = Gram64 if args.precision == "float64" else SparseGpt32
    clock = Clock()
    started, cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        masks = sequential_prune(model, ids, stats_class, args.sparsity, args.batch, clock)
    loop_wall, loop_cpu = time.perf_counter() - started, time.process_time() - cpu

    started_eval, cpu_eval = time.perf_counter(), time.process_time()
    pruned_metrics = perplexity(model, ids)
    eval_wall, eval_cpu = time.perf_counter() - started_eval, time.process_time() - cpu_eval
    dense_model = lm.load_model(os.path.join(args.dir, "lm.safetensors"), lm.DecoderShape(**meta["shape"]))
    started_eval, cpu_eval = time.perf_counter(), time.process_time()
    dense_metrics = perplexity(dense_model, ids)
    dense_wall, dense_cpu = time.perf_counter() - started_eval, time.process_time() - cpu_eval
    tensors = {}
    for name, module in lm.prunable(model):
        tensors[name] = module.weight.detach().numpy()
    for name, mask in masks.items():
        tensors["mask/" + name] = ~mask  # kept, as Lopper's masks.safetensors
    if args.out:
        write_safetensors(args.out, tensors)
    pruned = sum(int(m.sum()) for m in masks.values())
    total = sum(m.size for m in masks.values())
    result = {"precision": args.precision, "threads": args.threads, "blas_threads": blas, "rows": args.rows,
              "batch": args.batch, "sparsity": args.sparsity, "tokens": int(ids.size),
              "loop_wall": round(loop_wall, 3), "loop_cpu": round(loop_cpu, 3),
              "phases_wall": {k: round(v, 3) for k, v in clock.wall.items()},
              "phases_cpu": {k: round(v, 3) for k, v in clock.cpu.items()},
              "eval_pruned_wall": round(eval_wall, 3), "eval_pruned_cpu": round(eval_cpu, 3),
              "eval_dense_wall": round(dense_wall, 3), "eval_dense_cpu": round(dense_cpu, 3),
              "pruned": pruned, "parameters": total,
              "dense": dense_metrics, "pruned_metrics": pruned_metrics, "torch": torch.__version__}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    phases = ", ".join(f"{k} {v:.1f} s (cpu {clock.cpu[k]:.1f})" for k, v in clock.wall.items())
    print(f"sparsegpt {args.precision} t={args.threads} (OpenBLAS threads {blas}), {args.rows} rows x"
          f" {ids.shape[1]} tokens in batches of {args.batch}: {pruned}/{total} pruned; phases {phases};"
          f" perplexity dense {dense_metrics['perplexity']:.6f} pruned {pruned_metrics['perplexity']:.6f}"
          f" (evaluations {dense_wall:.2f} s and {eval_wall:.2f} s, cpu {dense_cpu:.2f} and {eval_cpu:.2f});"
          f" loop wall={loop_wall:.2f} cpu={loop_cpu:.2f}")


def compare_command(args):
    reference = read_safetensors(args.reference)
    weights = read_safetensors(os.path.join(args.lopper, "model", "pruned.safetensors"))
    masks = read_safetensors(os.path.join(args.lopper, "masks.safetensors"))
    names = [n for n in reference if not n.startswith("mask/")]
    rows = []
    worst_rel, worst_name, differ, total = 0.0, None, 0, 0
    for name in names:
        r = reference[name].astype(np.float64)
        if name not in weights or name not in masks:
            sys.exit(f"{args.lopper}: no {name} in model/pruned.safetensors or masks.safetensors")
        w = weights[name].astype(np.float64)
        kept_ref, kept = reference["mask/" + name], masks[name]
        if w.shape != r.shape or kept.shape != kept_ref.shape:
            sys.exit(f"{name}: Lopper's shape {w.shape} / mask {kept.shape}, the reference's {r.shape}")
        scale = float(np.abs(r).max())
        rel = float(np.abs(w - r).max()) / scale if scale else float(np.abs(w - r).max())
        d = int((kept != kept_ref).sum())
        rel_same = float(np.abs(w - r)[kept == kept_ref].max()) / scale if scale else 0.0
        rows.append({"tensor": name, "mask_differences": d, "max_rel_diff": rel, "max_rel_diff_same_mask": rel_same,
                     "pruned_ref": int((~kept_ref).sum()), "pruned_lopper": int((~kept).sum()), "size": int(r.size)})
        differ += d
        total += r.size
        if rel > worst_rel:
            worst_rel, worst_name = rel, name
    same_mask = max(r["max_rel_diff_same_mask"] for r in rows)
    summary = {"tensors": len(rows), "parameters": total, "mask_differences": differ,
               "tensors_with_mask_differences": sum(1 for r in rows if r["mask_differences"]),
               "max_rel_diff": worst_rel, "max_rel_diff_tensor": worst_name,
               "max_rel_diff_where_masks_agree": same_mask}
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary, "tensors": rows}, f, indent=1)
    print(f"compare {args.lopper} with {args.reference}: {len(rows)} tensors, {total} weights;"
          f" masks differ at {differ} positions in {summary['tensors_with_mask_differences']} tensors;"
          f" weights within {worst_rel:.3g} of the tensor's max |w| ({worst_name}),"
          f" {same_mask:.3g} where the masks agree")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    pr = sub.add_parser("prune")
    pr.add_argument("--dir", required=True, help="bench/make_lm_bench.py's output")
    pr.add_argument("--rows", type=int, required=True, help="calibration rows: the first N of tokens.csv")
    pr.add_argument("--threads", type=int, default=1)
    pr.add_argument("--blas-threads", type=int, default=None, help="OpenBLAS threads (default --threads; 0 its own)")
    pr.add_argument("--precision", choices=["float64", "float32"], default="float64")
    pr.add_argument("--batch", type=int, default=8, help="rows per block forward pass")
    pr.add_argument("--sparsity", type=float, default=0.5)
    pr.add_argument("--out", help="safetensors of the pruned weights and the kept masks (mask/<tensor>)")
    pr.add_argument("--json", help="the timings and perplexities as JSON")
    co = sub.add_parser("compare")
    co.add_argument("--reference", required=True)
    co.add_argument("--lopper", required=True, help="a Lopper prune's run directory")
    co.add_argument("--json")
    ch = sub.add_parser("check")
    ch.add_argument("--dir", required=True, help="bench/make_lm_bench.py's output")
    ch.add_argument("--lopper", required=True, help="a Lopper prune's run directory (sequential SparseGPT)")
    ch.add_argument("--rows", type=int, required=True, help="the run's calibration.rows")
    ch.add_argument("--batch", type=int, default=8)
    ch.add_argument("--sparsity", type=float, default=0.5)
    ch.add_argument("--threads", type=int, default=1)
    ch.add_argument("--json")
    args = p.parse_args()
    {"prune": prune_command, "compare": compare_command, "check": check_command}[args.command](args)


if __name__ == "__main__":
    main()
