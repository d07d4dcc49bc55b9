#!/usr/bin/python3
"""Why Wanda and OWL do as they do on the sample LM: a PyTorch check beside bench/lm-pruning-table.sh.

    /usr/bin/python3 bench/lm_pruning_groups.py --calibration /tmp/lopper-lm-table/calibration/calibration.csv

On data/tiny-lm.safetensors, with x² sums from one dense pass over the first --rows calibration rows
(bench/make_lm_calibration.py's CSV), it prunes in one pass, no reconstruction, and prints the
validation perplexity (all 112 rows of the sample's validation split) of:
  - score |W| (magnitude) or |W|·sqrt(Σx²) (Wanda's), each compared within the whole tensor
    (round(n·s) lowest) or within each output row (int(cols·s) lowest per row, Wanda's and the
    reference's rule), for the LM head alone, all 13 Linear weights and the 12 of the blocks;
  - OWL's outlier ratio of each group (blocks.0, blocks.1, lm_head): the share, in percent, of its
    Wanda scores above 5 times their mean.
Lopper's uniform runs of the same settings give the same numbers (magnitude within the tensor and
Wanda within rows are what `sweep.criterion=magnitude` and `wanda` do).
"""

import argparse
import copy
import csv
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "data"))
import make_lm_sample as lm  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calibration", required=True, help="calibration.csv of bench/make_lm_calibration.py")
    p.add_argument("--rows", type=int, default=64)
    p.add_argument("--owl-m", type=float, default=5.0)
    args = p.parse_args()
    torch.set_num_threads(1)

    model = lm.load_model(os.path.join(ROOT, "data", "tiny-lm.safetensors"))
    _, validation = lm.split(lm.read_text())
    with open(args.calibration) as f:
        calibration = np.array([[int(t) for t in r["input_ids"].split()] for r in csv.DictReader(f)])[:args.rows]
    modules = dict(model.named_modules())
    linears = [n for n, m in modules.items() if isinstance(m, torch.nn.Linear)]
    squares = {}

    def hook(name):
        def accumulate(_, inputs, __):
            x = inputs[0].double().reshape(-1, inputs[0].shape[-1])
            squares[name] = squares.get(name, 0) + (x ** 2).sum(0)
        return accumulate

    hooks = [modules[n].register_forward_hook(hook(n)) for n in linears]
    lm.forward(model, calibration)
    for h in hooks:
        h.remove()

    def perplexity(m):
        return lm.summary(*lm.token_metrics(lm.forward(m, validation), validation))["perplexity"]

    def score(name, kind):
        w = modules[name].weight.data.abs().double()
        return w * squares[name].sqrt()[None, :] if kind == "wanda" else w

    def pruned(names, sparsity, kind, group):
        variant = copy.deepcopy(model)
        variant_modules = dict(variant.named_modules())
        for n in names:
            w = variant_modules[n].weight.data
            s = score(n, kind)
            keep = torch.ones_like(w, dtype=torch.bool)
            if group == "row":
                order = torch.sort(s, dim=1, stable=True)[1][:, :int(w.shape[1] * sparsity)]
                keep.scatter_(1, order, False)
            else:
                order = torch.sort(s.flatten(), stable=True)[1][:int(round(w.numel() * sparsity))]
                keep.view(-1)[order] = False
            w[~keep] = 0
        return perplexity(variant)

    print(f"dense perplexity {perplexity(model):.4f}; calibration: first {len(calibration)} rows of {args.calibration}")
    blocks = [n for n in linears if n.startswith("blocks.")]
    for label, names in [("lm_head alone", ["lm_head"]), ("all 13 weights", linears), ("the 12 of the blocks", blocks)]:
        for sparsity in (0.5, 0.7):
            cells = [f"{kind} within {group} {pruned(names, sparsity, kind, group):.3f}"
                     for kind in ("magnitude", "wanda") for group in ("tensor", "row")]
            print(f"{label}, {sparsity:.0%}: " + ", ".join(cells))
    print(f"OWL outlier ratios (% of Wanda scores above {args.owl_m:g} x the group's mean):")
    for group in ("blocks.0", "blocks.1", "lm_head"):
        s = torch.cat([score(n, "wanda").flatten() for n in linears if n.startswith(group)])
        print(f"  {group}: {100 * float((s > args.owl_m * s.mean()).double().mean()):.3f}")


if __name__ == "__main__":
    sys.exit(main())
