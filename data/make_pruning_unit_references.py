"""Writes data/reference/pruning-unit.safetensors: small seeded cases and what the reference ports of
data/pruning_reference.py make of them, for the Java unit tests of dev.lopper.criteria
(WandaCriterionTest, SparseGptCriterionTest, NmPatternTest, OwlRatiosTest), which never run Python.

    /usr/bin/python3 data/make_pruning_unit_references.py [--out data/reference/pruning-unit.safetensors]

Cases (weights as PyTorch rows [rows, cols]; the Java tests store each Linear case both as
[out, in] behind a transposed consumer and as [in, out] behind MatMul, and compare both):

  a16x64       Linear [16, 64], 96 samples; weights on a grid of 1/8 (many equal |w|) and pairs of
               input channels with the same sum of squares, so Wanda's scores tie exactly and the
               masks depend on the tie rule; 3 outlier channels, 1 dead channel (all zero).
  b32x256      Linear [32, 256], 320 samples, Gaussian weights; 5 outlier channels, 1 dead channel;
               two SparseGPT blocks of 128 (and three of 96, 96, 64).
  conv8x3x3x3  Conv [8, 3, 3, 3] (27 columns: weight.flatten(1)), activations = the 3x3 patches of
               six 3x10x10 images in torch.nn.Unfold's order (the script checks that conv2d equals
               W.flatten(1) @ unfold); input channel 2 is an outlier.

Activations are small integers (stored as I16), so every statistic (sums of squares, X^T X) is an
integer below 2^53 and exact in float64 whatever the summation order: Java recomputes them from
<case>.x and gets the same numbers bit for bit.

Tensors (U8 masks: 1 = PRUNED, 0 = kept; all [rows, cols] unless said):
  <case>.weight                      F32, the Linear rows, or the Conv weight [8, 3, 3, 3]
  <case>.x                           I16 [samples, cols]
  <case>.wanda.s<sparsity>           Wanda, unstructured (prune_wanda's per-row selection)
  <case>.wanda.nm<n>:<m>             Wanda N:M (n kept of every m)
  <case>.magnitude.nm<n>:<m>         magnitude N:M
  <case>.sparsegpt.<s<sparsity>|nm<n>:<m>>.b<blocksize>.pruned   SparseGPT's mask
  <case>.sparsegpt.<...>.b<blocksize>.weight                      F64, its weights
  owl.<set>.scores.<g>               F32, one group's (decoder block's) scores
  owl.<set>.ratios                   F64 [groups], outlier ratios (percent), M = 5
  owl.<set>.target<t>                F64 [groups], sparsities for target t, lambda = 0.08
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_samples as sample_files  # noqa: E402  (the fixture scripts' one safetensors writer)
import pruning_reference as ref  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = "data/make_pruning_unit_references.py"

WANDA_SPARSITIES = [0.5, 0.7]
NM_PATTERNS = [(2, 4), (4, 8), (1, 4)]
OWL_M = 5.0
OWL_LAMBDA = 0.08


def write_safetensors(path, tensors, metadata):
    """make_samples.write_safetensors_arrays: the fixture scripts' one writer."""
    sample_files.write_safetensors_arrays(path, tensors, metadata)


def statistics(x):
    """(sum of squares per channel, count, Gram) of integer activations x [samples, cols], exact."""
    xi = x.astype(np.int64)
    gram = xi.T @ xi
    assert np.abs(gram).max() < 2 ** 53
    g64 = x.astype(np.float64).T @ x.astype(np.float64)
    assert np.array_equal(g64, gram.astype(np.float64)), "float64 Gram not exact"
    return np.diag(gram).astype(np.float64), x.shape[0], gram.astype(np.float64)


def linear_activations(rng, samples, cols, outliers, dead, spread=12, outlier_spread=300):
    x = rng.integers(-spread, spread + 1, size=(samples, cols))
    x[:, outliers] = rng.integers(-outlier_spread, outlier_spread + 1, size=(samples, len(outliers)))
    x[:, dead] = 0
    return x.astype(np.int16)


def case_a(rng):
    rows, cols, samples = 16, 64, 96
    x = linear_activations(rng, samples, cols, outliers=[5, 17, 40], dead=[33])
    # Channel pairs with the same sum of squares (the same values in another order).
    for j, k in [(1, 2), (8, 9), (20, 50), (30, 31)]:
        x[:, k] = x[rng.permutation(samples), j]
    w = (rng.integers(1, 5, size=(rows, cols)) * rng.choice([-1, 1], size=(rows, cols)) / 8.0)
    return "a16x64", w.astype(np.float32), x


def case_b(rng):
    rows, cols, samples = 32, 256, 320
    x = linear_activations(rng, samples, cols, outliers=[3, 77, 128, 129, 200], dead=[90])
    w = (rng.standard_normal((rows, cols)) * 0.05).astype(np.float32)
    return "b32x256", w, x


def case_conv(rng):
    images = rng.integers(-8, 9, size=(6, 3, 10, 10))
    images[:, 2] *= 12
    w = (rng.standard_normal((8, 3, 3, 3)) * 0.2).astype(np.float32)
    xt = torch.tensor(images, dtype=torch.float64)
    patches = F.unfold(xt, kernel_size=3)  # [6, 27, 64]: (channel, kernel row, kernel col) x positions
    wt = torch.tensor(w, dtype=torch.float64)
    conv = F.conv2d(xt, wt)  # [6, 8, 8, 8]
    as_matmul = (wt.flatten(1) @ patches).reshape(6, 8, 8, 8)
    assert torch.allclose(conv, as_matmul, rtol=0, atol=1e-9), "Unfold order differs from flatten(1)"
    x = patches.permute(0, 2, 1).reshape(-1, 27).numpy()
    return "conv8x3x3x3", w, x.astype(np.int16)


def u8(mask):
    return mask.astype(np.uint8)


def cases(out):
    rng = np.random.default_rng(20261207)
    summary = {}
    for name, w, x in [case_a(rng), case_b(rng), case_conv(rng)]:
        rows_w = w.reshape(w.shape[0], -1).astype(np.float64)
        rows, cols = rows_w.shape
        sum_squares, count, gram = statistics(x)
        out[f"{name}.weight"] = w
        out[f"{name}.x"] = x
        scores = ref.wanda_scores(rows_w, sum_squares, count)
        for s in WANDA_SPARSITIES:
            out[f"{name}.wanda.s{s}"] = u8(ref.wanda_mask(scores, s))
        variants = [(0.5, 0, 0, 128)]
        if cols % 8 == 0:
            for n, m in NM_PATTERNS:
                out[f"{name}.wanda.nm{n}:{m}"] = u8(ref.nm_mask(scores, n, m))
                out[f"{name}.magnitude.nm{n}:{m}"] = u8(ref.magnitude_nm_mask(rows_w, n, m))
            variants += [(0, 2, 4, 128), (0, 4, 8, 128)]
        if name == "a16x64":
            variants += [(0, 1, 4, 128), (0.7, 0, 0, 16)]
        if name == "b32x256":
            variants += [(0.5, 0, 0, 96)]
        for s, n, m, blocksize in variants:
            sparsity = (m - n) / m if n else s
            weights, pruned = ref.sparsegpt_prune(rows_w, gram, sparsity, n=n, m=m, blocksize=blocksize)
            tag = f"nm{n}:{m}" if n else f"s{s}"
            out[f"{name}.sparsegpt.{tag}.b{blocksize}.pruned"] = u8(pruned)
            out[f"{name}.sparsegpt.{tag}.b{blocksize}.weight"] = weights
            masked = np.where(pruned, 0.0, rows_w)
            err_masked = np.linalg.norm((rows_w - masked) @ x.T.astype(np.float64))
            err_rec = np.linalg.norm((rows_w - weights) @ x.T.astype(np.float64))
            print(f"{name} sparsegpt {tag} b{blocksize}: pruned {pruned.mean():.4f}, "
                  f"|WX - W'X| {err_rec:.4g} vs masked only {err_masked:.4g}")
        summary[name] = {"rows": rows, "cols": cols, "samples": int(count)}
    return summary


def owl_sets(out):
    rng = np.random.default_rng(7)
    sets = {
        # Eight blocks whose score tails differ: lognormal with growing sigma, a few planted outliers.
        "blocks8": ([rng.lognormal(0.0, 0.4 + 0.15 * g, size=3000) for g in range(8)], [0.5, 0.7]),
        # Four blocks at a low target: the densest block's sparsity falls below 0 and becomes 0.01.
        "low4": ([rng.lognormal(0.0, 0.3 + 0.4 * g, size=1000) for g in range(4)], [0.05]),
    }
    for g, scores in enumerate(sets["blocks8"][0]):
        scores[rng.integers(0, scores.size, size=g * 5)] *= 40
    for name, (groups, targets) in sets.items():
        groups = [s.astype(np.float32) for s in groups]
        ratios = np.array([ref.owl_outlier_ratio(s.astype(np.float64), OWL_M) for s in groups])
        for g, s in enumerate(groups):
            out[f"owl.{name}.scores.{g}"] = s
        out[f"owl.{name}.ratios"] = ratios
        for t in targets:
            sp = ref.owl_sparsities(ratios, t, OWL_LAMBDA)
            out[f"owl.{name}.target{t}"] = sp
            print(f"owl {name} target {t}: ratios {np.round(ratios, 3)} sparsities {np.round(sp, 4)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(HERE, "reference", "pruning-unit.safetensors"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = {}
    summary = cases(out)
    owl_sets(out)
    metadata = {"source": SOURCE, "masks": "U8, 1 = pruned, 0 = kept, [rows, cols]",
                "owl": json.dumps({"M": OWL_M, "lambda": OWL_LAMBDA}),
                "cases": json.dumps(summary, sort_keys=True)}
    write_safetensors(args.out, out, metadata)
    print(f"wrote {args.out}: {len(out)} tensors, {os.path.getsize(args.out)} bytes")


if __name__ == "__main__":
    main()
