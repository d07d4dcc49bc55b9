#!/usr/bin/python3
"""Writes FLAP's activation-aware channel scores and bias compensation for the digits models'
channel groups (MLP, CNN, and the ResNet, whose residual group has two consumers), for Lopper's
channel-fluctuation / channel-wanda and BiasCompensation tests.

    /usr/bin/python3 data/make_channel_activation_references.py [--out data]

The calibration samples are make_calibration_references.py's: each consumer module's input on the
first DIGITS_ROWS validation rows, a Linear's input as rows, a Conv2d's as torch's unfold patches
(columns channel, kernel row, kernel column; zero padding included), in float64. For every channel
group of make_samples.CHANNEL_GROUPS (written out by hand) and every consumer W [out, columns]
(a Conv's weight reshaped to [out, in*kh*kw]), per column j (FLAP, lib/prune.py metrics and
lib/layerwrapper.py BiasGPT, with exact sums):

  fluctuation (WIFV)  var_j (ddof=1) * sum_o W_oj^2
  wanda (WIFN)        mean_o |W_oj| * sqrt(mean_samples x_j^2)

and a channel's score is the sum over its columns (a channel owns k*taps consecutive columns: k
positions per channel, 16 for the Gemm after Flatten, times the kernel taps) and over the group's
consumers. At sparsity s the group loses round(s*C) channels of smallest score, the lower index
first on ties (a stable sort; dead channels tie at exactly 0 on both sides); a cut between unequal
scores closer than 1e-6 relative stops the script.

Bias compensation (FLAP's compress): bias' = bias + W[:, removed columns] @ mean(X[:, removed
columns]) for each consumer. The metrics of the model with that one group pruned (the consumer's
removed columns zeroed, which is what removing the channel does downstream) on the whole validation
set, with and without the compensation.

File: <out>/reference/channel-activation-<model>.csv, one row per (group, criterion, sparsity):
group, criterion, sparsity, scores (every channel's, space-separated), pruned_channels,
kept_channels, bias (consumer bias tensor names, ';'-separated), compensated (the compensated
biases' values, ';' between biases), accuracy, loss (compensated), accuracy_plain, loss_plain.
"""

import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_calibration_references as calibration  # noqa: E402
import make_samples as samples  # noqa: E402

SPARSITIES = (0.25, 0.5, 0.75)


def consumer_matrix(module):
    return module.weight.detach().double().reshape(module.weight.shape[0], -1).numpy()


def columns_of(module, k, c):
    taps = 1
    if isinstance(module, nn.Conv2d):
        taps = module.kernel_size[0] * module.kernel_size[1]
    per = k * taps
    return np.arange(c * per, (c + 1) * per)


def scores(kind, group_consumers, modules, by_input, channels):
    out = np.zeros(channels)
    for name, k in group_consumers:
        w = consumer_matrix(modules[name])
        x = by_input[name + ".weight"].numpy()
        if kind == "fluctuation":
            per_column = x.var(axis=0, ddof=1) * (w * w).sum(axis=0)
        else:
            per_column = np.abs(w).mean(axis=0) * np.sqrt((x * x).mean(axis=0))
        for c in range(channels):
            out[c] += per_column[columns_of(modules[name], k, c)].sum()
    return out


def evaluate(model, x, labels, dense_logits):
    with torch.no_grad():
        logits = model(x).numpy()
    m = samples.metrics(logits, labels, dense_logits)
    return m["accuracy"], m["loss"]


def pruned_model(name, path, consumers, removed, compensated):
    """The model with the removed columns of each consumer zeroed and, if given, its bias replaced."""
    model = samples.load_model(name, path)
    modules = dict(model.named_modules())
    with torch.no_grad():
        for consumer, k in consumers:
            m = modules[consumer]
            flat = m.weight.data.reshape(m.weight.shape[0], -1)
            cols = np.concatenate([columns_of(m, k, c) for c in removed]) if removed else np.array([], int)
            flat[:, torch.from_numpy(cols)] = 0
            if compensated is not None:
                m.bias.data = torch.from_numpy(compensated[consumer]).float()
    return model


def references(name, out_dir):
    path = os.path.join(out_dir, f"{name}.safetensors")
    model = samples.load_model(name, path)
    modules = dict(model.named_modules())
    _, _, val_x, val_y = samples.load_split()
    calib = samples.model_input(name, val_x[:calibration.DIGITS_ROWS])
    by_input, representative = calibration.capture(model, samples.prunable(model), lambda: model(calib))
    by_input = {t: by_input[representative[t]] for t in representative}
    x_all = samples.model_input(name, val_x)
    with torch.no_grad():
        dense_logits = model(x_all).numpy()
    rows = []
    for group, producers, _, consumers in samples.CHANNEL_GROUPS[name]:
        channels = modules[producers[0]].weight.shape[0]
        for kind in ("fluctuation", "wanda"):
            s = scores(kind, consumers, modules, by_input, channels)
            order = np.argsort(s, kind="stable")
            for sparsity in SPARSITIES:
                pruned = round(sparsity * channels)
                cut = np.sort(s)
                gap = cut[pruned] - cut[pruned - 1] if 0 < pruned < channels else 1.0
                if 0 < gap <= 1e-6 * abs(cut[pruned]):  # exact ties (dead channels score 0) break by index
                    raise SystemExit(f"{name} {group} {kind} {sparsity}: channel scores too close at the cut")
                removed = sorted(order[:pruned].tolist())
                kept = sorted(order[pruned:].tolist())
                compensated = {}
                for consumer, k in consumers:
                    m = modules[consumer]
                    w = consumer_matrix(m)
                    mean = by_input[consumer + ".weight"].numpy().mean(axis=0)
                    cols = np.concatenate([columns_of(m, k, c) for c in removed])
                    compensated[consumer] = (m.bias.detach().double().numpy() + w[:, cols] @ mean[cols])
                acc, loss = evaluate(pruned_model(name, path, consumers, removed, compensated), x_all, val_y,
                                     dense_logits)
                acc_plain, loss_plain = evaluate(pruned_model(name, path, consumers, removed, None), x_all, val_y,
                                                 dense_logits)
                rows.append({
                    "group": group, "criterion": kind, "sparsity": sparsity,
                    "scores": " ".join(repr(float(v)) for v in s),
                    "pruned_channels": pruned, "kept_channels": " ".join(str(c) for c in kept),
                    "bias": ";".join(c + ".bias" for c, _ in consumers),
                    "compensated": ";".join(" ".join(repr(float(v)) for v in compensated[c]) for c, _ in consumers),
                    "accuracy": acc, "loss": loss, "accuracy_plain": acc_plain, "loss_plain": loss_plain,
                })
    target = os.path.join(out_dir, "reference", f"channel-activation-{name}.csv")
    samples.write_csv(target, list(rows[0].keys()), rows)
    print(f"  {target}: {len(rows)} rows")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for name in ("digits-mlp", "digits-cnn", "digits-resnet"):
        references(name, args.out)


if __name__ == "__main__":
    sys.exit(main())
