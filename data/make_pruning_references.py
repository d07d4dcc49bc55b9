#!/usr/bin/python3
"""Reference pruning of the sample models by Wanda and SparseGPT, as the reference implementations
run them, for Lopper's end-to-end tests of activation-aware pruning.

    /usr/bin/python3 data/make_pruning_references.py [--out data/reference]

For the tiny LM (data/tiny-lm.safetensors, calibrated on the first CAL_ROWS rows of
tiny-lm-val.parquet) and the digits MLP and CNN (the first CAL_ROWS rows of digits-val.parquet),
and for every method, pattern and calibration mode of VARIANTS:

  1. calibration: forward hooks on every prunable Linear and Conv2d gather, in float64, the sums the
     pruning needs over the calibration samples of the layer's input (tokens of a sequence, rows, or
     a convolution's unfolded patches as torch.nn.functional.unfold gives them): count, Σx, Σx² per
     input channel and the Gram matrix XᵀX. Non-sequential: one pass over the dense model.
     Sequential (as locuslab/wanda's prune_wanda and IST-DASLab/sparsegpt's llama_sequential): the
     layers are calibrated group by group in graph order (a decoder block, or one layer of a model
     without blocks), each group on the model whose earlier groups are already pruned (and, for
     SparseGPT, updated);
  2. pruning: the ports in data/pruning_reference.py (prune_wanda's row selection and its N:M
     branch; fasterprune in float64 with the raw Gram matrix, block size 128, dampening 1%);
  3. the pruned model's metrics on the whole validation file.

For the tiny LM also OWL (luuyin/OWL's prune_wanda_outlier, port in data/pruning_reference.py): each
group's sparsity around 70% from the dense model's Wanda scores (pruning-tiny-lm-owl.csv), then Wanda
sequentially at those sparsities (variant owl-wanda-70-seq). The groups are Lopper's: the decoder
blocks, then lm_head as a group of its own. And the tiny LM with calibration.sequential=cut's
groups (CUT_VARIANTS, "-cut"): each block's attention and its MLP sequentially as groups of their own.

Outputs, in --out: pruning-<model>.safetensors (per variant "<variant>/<tensor>": Wanda's masks as
BOOL, true where a weight is kept as in PyTorch's weight_mask and Lopper's masks.safetensors, and
SparseGPT's updated weights as F32, in the PyTorch layout the state dict has) and
pruning-<model>.csv (variant, then the pruned model's metrics). A layer an N:M pattern does not fit
(the digits CNN's conv1 has 9 inputs per output) stays dense and has no entry; Lopper refuses it, so
the tests exclude it. Everything runs on one thread, float64 for the statistics and the pruning.
"""

import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_lm_sample as lm  # noqa: E402
import make_samples as samples  # noqa: E402
import pruning_reference as ref  # noqa: E402

CAL_ROWS = 32
OWL_TARGET = 0.7  # OWL's variant: wanda, sequential, at OWL's sparsities per group around 70%
# (name, method, pattern "unstructured"/"N:M", sparsity, sequential)
VARIANTS = [
    ("wanda-50-seq", "wanda", "unstructured", 0.5, True),
    ("wanda-50-dense", "wanda", "unstructured", 0.5, False),
    ("wanda-2of4-seq", "wanda", "2:4", 0.5, True),
    ("wanda-2of4-dense", "wanda", "2:4", 0.5, False),
    ("wanda-4of8-seq", "wanda", "4:8", 0.5, True),
    ("wanda-4of8-dense", "wanda", "4:8", 0.5, False),
    ("sparsegpt-50-seq", "sparsegpt", "unstructured", 0.5, True),
    ("sparsegpt-50-dense", "sparsegpt", "unstructured", 0.5, False),
    ("sparsegpt-2of4-seq", "sparsegpt", "2:4", 0.5, True),
    ("sparsegpt-2of4-dense", "sparsegpt", "2:4", 0.5, False),
    ("sparsegpt-4of8-seq", "sparsegpt", "4:8", 0.5, True),
    ("sparsegpt-4of8-dense", "sparsegpt", "4:8", 0.5, False),
]

# The sample LM calibrated with calibration.sequential=cut: each block's attention and its MLP are
# groups of their own (the tensors between two single-value cuts of the residual stream).
CUT_VARIANTS = [
    ("wanda-50-cut", "wanda", "unstructured", 0.5),
    ("sparsegpt-50-cut", "sparsegpt", "unstructured", 0.5),
    ("sparsegpt-2of4-cut", "sparsegpt", "2:4", 0.5),
]


class Stats:
    """float64 sums over the calibration samples of one layer's input."""

    def __init__(self):
        self.count = 0
        self.sum = None
        self.sum_squares = None
        self.gram = None

    def add(self, x):
        x = x.detach().to(torch.float64)
        if self.sum is None:
            d = x.shape[1]
            self.sum = torch.zeros(d, dtype=torch.float64)
            self.sum_squares = torch.zeros(d, dtype=torch.float64)
            self.gram = torch.zeros(d, d, dtype=torch.float64)
        self.count += x.shape[0]
        self.sum += x.sum(0)
        self.sum_squares += (x * x).sum(0)
        self.gram += x.T @ x


def samples_of(module, x):
    """The layer's input as calibration samples [n, d_in]: a Linear's rows (tokens), a Conv2d's
    unfolded patches in torch.nn.functional.unfold's column order (channel, kernel row, column)."""
    if isinstance(module, nn.Conv2d):
        patches = F.unfold(x, module.kernel_size, dilation=module.dilation, padding=module.padding,
                           stride=module.stride)
        return patches.permute(0, 2, 1).reshape(-1, patches.shape[1])
    return x.reshape(-1, x.shape[-1])


def calibrate(model, layers, run):
    """Stats of each (name, module) in layers over one run(model) of the calibration rows."""
    stats = {name: Stats() for name, _ in layers}
    hooks = [m.register_forward_hook(lambda mod, inp, out, n=name: stats[n].add(samples_of(mod, inp[0])))
             for name, m in layers]
    with torch.no_grad():
        run(model)
    for h in hooks:
        h.remove()
    return stats


def weight_rows(module):
    """The weight as rows [out, in·k] (a Conv2d's flattened as weight.flatten(1)), float64."""
    return module.weight.detach().to(torch.float64).flatten(1).numpy()


def prune_layer(module, stats, method, pattern, sparsity):
    """Prunes one layer in place; returns Wanda's mask or SparseGPT's new weight (PyTorch layout)."""
    n, m = (0, 0) if pattern == "unstructured" else tuple(int(v) for v in pattern.split(":"))
    w = weight_rows(module)
    if method == "wanda":
        scores = ref.wanda_scores(w, stats.sum_squares.numpy(), stats.count)
        mask = ref.nm_mask(scores, n, m) if m else ref.wanda_mask(scores, sparsity)
        new = np.where(mask, 0.0, w)
        out = ~mask.reshape(module.weight.shape)  # stored as PyTorch's weight_mask: True = kept
    else:
        new, mask = ref.sparsegpt_prune(w, stats.gram.numpy(), sparsity, n, m, blocksize=128, percdamp=0.01)
        out = None
    new32 = torch.from_numpy(new.astype(np.float32)).reshape(module.weight.shape)
    with torch.no_grad():
        module.weight.copy_(new32)
    return out if out is not None else new32.numpy()


def owl_sparsities(model, groups, run, target, threshold=5.0, lam=0.08):
    """OWL's sparsity per group (luuyin/OWL prune_wanda_outlier): from the dense model's Wanda
    scores of each group's layers together, the share above threshold x their mean, mapped into
    [target - lam, target + lam] with the target as mean."""
    stats = calibrate(model, [layer for group in groups for layer in group], run)
    ratios = []
    for group in groups:
        scores = np.concatenate([ref.wanda_scores(weight_rows(module), stats[name].sum_squares.numpy(),
                                                  stats[name].count).ravel() for name, module in group])
        ratios.append(ref.owl_outlier_ratio(scores, threshold))
    return ref.owl_sparsities(ratios, target, lam)


def prune(model, groups, run, method, pattern, sparsity, sequential):
    """Prunes every group's layers, at `sparsity` or at a list of one sparsity per group; returns
    {tensor: mask or new weight}."""
    per_group = sparsity if isinstance(sparsity, (list, np.ndarray)) else [sparsity] * len(groups)
    results = {}
    layers = [layer for group in groups for layer in group]
    dense_stats = None if sequential else calibrate(model, layers, run)
    for group, sparsity in zip(groups, per_group):
        stats = calibrate(model, group, run) if sequential else dense_stats
        for name, module in group:
            if pattern != "unstructured" and weight_rows(module).shape[1] % int(pattern.split(":")[1]) != 0:
                continue  # N:M does not fit (the digits CNN's conv1, 9 inputs): the test excludes it
            results[name] = prune_layer(module, stats[name], method, pattern, sparsity)
    return results


def write_reference(path, tensors):
    """safetensors with BOOL masks and F32 weights."""
    samples.write_safetensors_arrays(
        path, {name: a if a.dtype == np.bool_ else a.astype("<f4") for name, a in tensors.items()},
        {"source": "data/make_pruning_references.py"})


def tiny_lm_case():
    rows = lm.split(lm.read_text())[1]
    cal = torch.from_numpy(np.ascontiguousarray(rows[:CAL_ROWS]))

    def load():
        return lm.load_model(os.path.join(HERE, "tiny-lm.safetensors"))

    def groups(model):
        out = []
        for i, block in enumerate(model.blocks):
            out.append([(f"blocks.{i}.{n}.weight", mod) for n, mod in block.named_modules()
                        if isinstance(mod, nn.Linear)])
        out.append([("lm_head.weight", model.lm_head)])
        return out

    def metrics(model):
        nll, tokens, correct, gap = lm.token_metrics(lm.forward(model, rows), rows)
        s = lm.summary(nll, tokens, correct, gap)
        return {"perplexity": s["perplexity"], "loss": s["loss"], "accuracy": s["accuracy"]}

    return "tiny-lm", load, groups, lambda model: model(cal), metrics


def digits_case(name):
    _, _, val_x, val_y = samples.load_split()
    cal = samples.model_input(name, val_x[:CAL_ROWS])

    def load():
        return samples.load_model(name, os.path.join(HERE, f"{name}.safetensors"))

    def groups(model):
        return [[(n, mod)] for n, mod in samples.prunable(model)]

    def metrics(model):
        with torch.no_grad():
            logits = model(samples.model_input(name, val_x)).numpy()
        return {"accuracy": float((logits.argmax(1) == val_y).mean())}

    return name, load, groups, lambda model: model(cal), metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(HERE, "reference"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for case in (tiny_lm_case(), digits_case("digits-mlp"), digits_case("digits-cnn")):
        name, load, groups, run, metrics = case
        tensors = {}
        rows = [dict(variant="dense", **metrics(load()))]
        for variant, method, pattern, sparsity, sequential in VARIANTS:
            model = load()
            results = prune(model, groups(model), run, method, pattern, sparsity, sequential)
            for tensor, value in results.items():
                tensors[f"{variant}/{tensor}"] = value
            rows.append(dict(variant=variant, **metrics(model)))
            print(f"{name} {variant}: " + ", ".join(f"{k} {v:.6f}" for k, v in rows[-1].items() if k != "variant"))
        if name == "tiny-lm":
            for variant, method, pattern, sparsity in CUT_VARIANTS:
                model = load()
                cut_groups = [[(t, m) for t, m in group if part in t] for group in groups(model)
                              for part in (".attn.", ".mlp.", "lm_head")]
                results = prune(model, [g for g in cut_groups if g], run, method, pattern, sparsity, True)
                for tensor, value in results.items():
                    tensors[f"{variant}/{tensor}"] = value
                rows.append(dict(variant=variant, **metrics(model)))
                print(f"{name} {variant}: " + ", ".join(f"{k} {v:.6f}" for k, v in rows[-1].items() if k != "variant"))
            model = load()
            sparsities = owl_sparsities(model, groups(model), run, OWL_TARGET)
            owl_rows = [dict(group=i, tensor=t, sparsity=float(sparsities[i]))
                        for i, group in enumerate(groups(model)) for t, _ in group]
            results = prune(model, groups(model), run, "wanda", "unstructured", list(sparsities), True)
            for tensor, value in results.items():
                tensors[f"owl-wanda-70-seq/{tensor}"] = value
            rows.append(dict(variant="owl-wanda-70-seq", **metrics(model)))
            print(f"{name} owl-wanda-70-seq: sparsities {list(sparsities)}, perplexity {rows[-1]['perplexity']:.6f}")
            samples.write_csv(os.path.join(args.out, f"pruning-{name}-owl.csv"), ["group", "tensor", "sparsity"],
                              owl_rows)
        write_reference(os.path.join(args.out, f"pruning-{name}.safetensors"), tensors)
        columns = list(rows[0].keys())
        samples.write_csv(os.path.join(args.out, f"pruning-{name}.csv"), columns, rows)


if __name__ == "__main__":
    sys.exit(main())
