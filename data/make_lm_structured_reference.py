#!/usr/bin/python3
"""Independent reference for the activation-aware channel criteria and FLAP's bias compensation on
the sample LM's attention heads and FFN neurons (channel-fluctuation, channel-wanda,
BiasCompensation; LanguageModelActivationReferenceTest).

    /usr/bin/python3 data/make_lm_structured_reference.py [--out data]

Loads data/tiny-lm.safetensors into make_lm_sample's TinyLm. Calibration: every token of all 112
validation rows (make_lm_sample.split), the inputs of each block's attn.out_proj (the heads'
consumer, [tokens, 64], head h owning columns 16h..16h+15) and mlp.down (the neurons' consumer,
[tokens, 256]) captured with forward pre-hooks, float64 sums. Per column j of W [out, in]
(FLAP lib/prune.py metrics, exact sums):

  fluctuation (WIFV)  var_j (ddof=1) * sum_o W_oj^2
  wanda (WIFN)        mean_o |W_oj| * sqrt(mean_tokens x_j^2)

A neuron's score is its column's value; a head's score is the sum over its 16 columns of the
value SQUARED (FLAP's prune_flap: metrics(...) ** 2 for o_proj, then reshape(-1, 128).sum(1)).
At sparsity s a group loses round(s*C) channels of smallest score, the lower index first on ties.

Compensation (FLAP compress): bias' = bias + W[:, removed columns] @ mean(X[:, removed columns]).
The perplexity of the model with every group at the sparsity, with and without compensation,
masked in PyTorch (removed rows of q/k/v or up and their biases, and the consumer's columns zeroed).

File: <out>/reference/tiny-lm-channel-activation.csv, one row per (group, criterion, sparsity):
group (the producing weights, as Lopper names the group), criterion, sparsity, scores, kept,
bias (consumer bias name), compensated (its values), perplexity (every group pruned at that sparsity
with compensation), perplexity_plain (without).
"""
import argparse
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_lm_sample as lm  # noqa: E402
import make_samples as samples  # noqa: E402

SPARSITIES = (0.25, 0.5, 0.75)


def capture(model, rows):
    sums = {}
    hooks = []

    def hook(name):
        def f(_module, args):
            x = args[0].detach().double().reshape(-1, args[0].shape[-1])
            n, s, q = sums.get(name, (0, 0, 0))
            sums[name] = (n + x.shape[0], s + x.sum(0), q + (x * x).sum(0))
        return f

    for b, block in enumerate(model.blocks):
        hooks.append(block.attn.out_proj.register_forward_pre_hook(hook(f"blocks.{b}.attn.out_proj")))
        hooks.append(block.mlp.down.register_forward_pre_hook(hook(f"blocks.{b}.mlp.down")))
    with torch.no_grad():
        model(torch.from_numpy(rows))
    for h in hooks:
        h.remove()
    return sums


def column_metric(criterion, w, n, s, q):
    if criterion == "channel-fluctuation":
        var = (q - s * s / n) / (n - 1)
        return var * (w * w).sum(0)
    return w.abs().mean(0) * torch.sqrt(q / n)


def perplexity(model, rows):
    with torch.no_grad():
        logits = model(torch.from_numpy(rows)).numpy()
    nll = lm.position_nll(logits, rows)
    return math.exp(float(nll.sum()) / nll.size)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    out_dir = parser.parse_args().out
    data = os.path.dirname(os.path.abspath(__file__))
    _, rows = lm.split(lm.read_text())
    model = lm.load_model(os.path.join(data, "tiny-lm.safetensors"))
    stats = capture(model, rows)
    out = []
    for criterion in ("channel-fluctuation", "channel-wanda"):
        for sparsity in SPARSITIES:
            pruned = {}  # group -> (producers, consumer, kept, removed columns)
            for b, block in enumerate(model.blocks):
                a = block.attn
                for kind, consumer, producers, per, heads in (
                        ("attn", a.out_proj, [a.q_proj, a.k_proj, a.v_proj], a.head_dim, True),
                        ("mlp", block.mlp.down, [block.mlp.up], 1, False)):
                    cname = f"blocks.{b}.{'attn.out_proj' if kind == 'attn' else 'mlp.down'}"
                    n, s, q = stats[cname]
                    w = consumer.weight.detach().double()
                    m = column_metric(criterion, w, n, s, q)
                    channels = w.shape[1] // per
                    if heads:
                        scores = (m * m).reshape(channels, per).sum(1)
                    else:
                        scores = m
                    scores = scores.numpy()
                    order = np.argsort(scores, kind="stable")
                    k = round(sparsity * channels)
                    removed = np.sort(order[:k])
                    if k < channels and k > 0:
                        lo, hi = scores[order[k - 1]], scores[order[k]]
                        if lo != hi and abs(hi - lo) <= 1e-6 * max(abs(hi), abs(lo)):
                            raise SystemExit(f"{cname} {criterion} {sparsity}: cut between close scores")
                    kept = np.array([c for c in range(channels) if c not in set(removed)])
                    cols = np.concatenate([np.arange(c * per, (c + 1) * per) for c in removed])
                    mean = (s / n)[cols]
                    compensated = consumer.bias.detach().double() + w[:, cols] @ mean
                    group = "+".join(f"blocks.{b}.{p}.weight" for p in (
                        ["attn.q_proj", "attn.k_proj", "attn.v_proj"] if heads else ["mlp.up"]))
                    pruned[group] = (producers, consumer, cols, per, compensated)
                    out.append({"group": group, "criterion": criterion, "sparsity": sparsity,
                                "scores": " ".join(samples.fmt(float(v)) for v in scores),
                                "kept": " ".join(str(int(c)) for c in kept),
                                "bias": cname + ".bias",
                                "compensated": " ".join(samples.fmt(float(v)) for v in compensated)})
            ppl = {}
            for compensate in (True, False):
                masked = lm.load_model(os.path.join(data, "tiny-lm.safetensors"))
                modules = dict(masked.named_modules())
                dense = dict(model.named_modules())
                for producers, consumer, cols, per, compensated in pruned.values():
                    name = [k for k, v in dense.items() if v is consumer][0]
                    c = modules[name]
                    with torch.no_grad():
                        for p in producers:
                            pm = modules[[k for k, v in dense.items() if v is p][0]]
                            pm.weight[cols, :] = 0
                            pm.bias[cols] = 0
                        c.weight[:, cols] = 0
                        if compensate:
                            c.bias.copy_(compensated.float())
                ppl[compensate] = perplexity(masked, rows)
            for r in out:
                if r["criterion"] == criterion and r["sparsity"] == sparsity:
                    r["perplexity"], r["perplexity_plain"] = ppl[True], ppl[False]
            print(f"{criterion} {sparsity}: perplexity {ppl[True]:.4f} compensated, {ppl[False]:.4f} plain")
    path = os.path.join(out_dir, "reference", "tiny-lm-channel-activation.csv")
    samples.write_csv(path, ["group", "criterion", "sparsity", "scores", "kept", "bias", "compensated",
                             "perplexity", "perplexity_plain"], out)
    print(f"wrote {path}: dense perplexity {perplexity(model, rows):.4f}")


if __name__ == "__main__":
    main()
