"""Reference ports of the pruning maths of activation-aware criteria, in float64.

Plain functions on numpy arrays, for fixture scripts (data/make_pruning_unit_references.py, and
end-to-end fixtures that import this module). Each is a port of the reference implementation named
in its docstring, changed only where stated:

* every "lowest k" choice is a stable sort, so among equal scores the lower column is pruned first
  (prune_wanda's unstructured branch already sorts stably; the N:M branches of Wanda, magnitude and
  SparseGPT use torch.topk, whose order among ties is unspecified);
* everything is float64 (the references run in float16/float32);
* N:M patterns are given as (n, m) with n the number of weights KEPT per group of m, as Lopper's
  SparsityPattern; the references' prune_n / prunen is the number PRUNED, m - n (2:4 and 4:8 read
  the same either way, 1:4 does not).

Weights are PyTorch's rows: W is [rows, cols], a Linear's [out, in], a Conv's weight.flatten(1)
(columns in torch.nn.Unfold's patch order: input channel, kernel row, kernel column). Activation
statistics are raw sums over samples: sum_squares[c] = sum of x_c^2, count = number of samples,
gram = X^T X.

Java's ports: dev.lopper.criteria.WandaCriterion, MagnitudeCriterion (N:M), SparseGptCriterion
(maths in SparseGptSolver), OwlRatios.
"""

import math

import numpy as np
import torch


def _rows(a, name):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be [rows, cols], got shape {a.shape}")
    return a


def stable_lowest(scores, k):
    """Column indices of the k lowest scores of every row of `scores` [rows, cols], in ascending
    (score, column) order: a stable sort, so equal scores keep the lower column first."""
    scores = _rows(scores, "scores")
    order = np.argsort(scores, axis=1, kind="stable")
    return order[:, :k]


def wanda_scores(w, sum_squares, count):
    """Wanda's score |W_rc| * sqrt(sum_squares_c / count), float64 [rows, cols].

    locuslab/wanda lib/prune.py prune_wanda: W_metric = |W| * sqrt(scaler_row), where
    lib/layerwrapper.py's scaler_row is the mean of x_c^2 over the samples (kept with a running
    rescale in float32 there; here the raw sum divided once by the count)."""
    w = _rows(w, "w")
    sum_squares = np.asarray(sum_squares, dtype=np.float64)
    if sum_squares.shape != (w.shape[1],):
        raise ValueError(f"sum_squares has shape {sum_squares.shape}, W has {w.shape[1]} columns")
    if count <= 0:
        raise ValueError("no samples")
    return np.abs(w) * np.sqrt(sum_squares / float(count))


def wanda_mask(scores, sparsity):
    """prune_wanda's unstructured branch: in every row, the int(cols * sparsity) lowest scores are
    pruned (sort_res = torch.sort(W_metric, dim=-1, stable=True);
    indices = sort_res[1][:, :int(W_metric.shape[1] * sparsity_ratio)]).
    Returns a bool [rows, cols], True = pruned."""
    scores = _rows(scores, "scores")
    rows, cols = scores.shape
    k = min(cols, int(cols * sparsity))
    mask = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(mask, stable_lowest(scores, k), True, axis=1)
    return mask


def nm_mask(scores, n, m):
    """The N:M branch of prune_wanda / prune_magnitude: for every group of m consecutive columns
    of every row (ii % prune_m == 0), the m - n lowest scores are pruned (the reference's
    torch.topk(tmp, prune_n, dim=1, largest=False) with prune_n = m - n), ties lower column first.
    The reference casts Wanda's scores to float32 first; here they stay float64.
    Returns a bool [rows, cols], True = pruned."""
    scores = _rows(scores, "scores")
    rows, cols = scores.shape
    if not (1 <= n < m) or cols % m != 0:
        raise ValueError(f"pattern {n}:{m} does not fit {cols} columns")
    mask = np.zeros(scores.shape, dtype=bool)
    for ii in range(0, cols, m):
        lowest = stable_lowest(scores[:, ii:ii + m], m - n)
        np.put_along_axis(mask, ii + lowest, True, axis=1)
    return mask


def magnitude_nm_mask(w, n, m):
    """prune_magnitude's N:M branch: nm_mask on |W|."""
    return nm_mask(np.abs(_rows(w, "w")), n, m)


def sparsegpt_prune(w, gram, sparsity, n=0, m=0, blocksize=128, percdamp=0.01):
    """IST-DASLab/sparsegpt sparsegpt.py SparseGPT.fasterprune, in float64 (torch).

    w: [rows, cols]; gram: X^T X [cols, cols], raw (the reference's H is 2/nsamples * X^T X; the
    factor cancels in the masks and updates, and the dampening is relative to mean(diag H)).
    Unstructured (n = m = 0): per block of `blocksize` columns, tmp = W1^2 / diag(Hinv1)^2 and
    mask1 = tmp <= sort(tmp.flatten())[int(numel * sparsity)] (at least one more than
    int(numel * sparsity), and every tie at the threshold). N:M (n kept of m): at every block
    column i with i % m == 0, the m - n lowest of W1[:, i:i+m]^2 / diag(Hinv1)[i:i+m]^2 per row,
    ties lower column first.

    Changes from the reference, all at the edges: sparsity 0 (unstructured or N:M) returns the
    weights unchanged and no mask (the reference prunes at least one weight per block and zeroes
    dead columns); an index int(numel * sparsity) past the end (sparsity 1) prunes the whole block
    (the reference raises IndexError); blocksize must be a multiple of m.

    Returns (weights float64 [rows, cols], pruned bool [rows, cols]): the positions the masks
    chose, not the weights that happen to be zero.
    """
    W = torch.tensor(_rows(w, "w"), dtype=torch.float64)
    rows, columns = W.shape
    if sparsity == 0:
        return W.numpy().copy(), np.zeros((rows, columns), dtype=bool)
    if n:
        if columns % m != 0 or blocksize % m != 0:
            raise ValueError(f"pattern {n}:{m} does not fit {columns} columns in blocks of {blocksize}")
    prunen = m - n if n else 0
    prunem = m
    H = torch.tensor(np.asarray(gram, dtype=np.float64), dtype=torch.float64).clone()
    if H.shape != (columns, columns):
        raise ValueError(f"gram has shape {tuple(H.shape)}, W has {columns} columns")

    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0

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
        Hinv1 = Hinv[i1:i2, i1:i2]

        if prunen == 0:
            tmp = W1 ** 2 / (torch.diag(Hinv1).reshape((1, -1))) ** 2
            k = int(tmp.numel() * sparsity)
            if k >= tmp.numel():
                mask1 = torch.ones_like(W1, dtype=torch.bool)
            else:
                thresh = torch.sort(tmp.flatten())[0][k]
                mask1 = tmp <= thresh
        else:
            mask1 = torch.zeros_like(W1) == 1

        for i in range(count):
            w_i = W1[:, i]
            d = Hinv1[i, i]

            if prunen != 0 and i % prunem == 0:
                tmp = W1[:, i:(i + prunem)] ** 2 / (torch.diag(Hinv1)[i:(i + prunem)].reshape((1, -1))) ** 2
                lowest = torch.sort(tmp, dim=1, stable=True)[1][:, :prunen]
                mask1.scatter_(1, i + lowest, True)

            q = w_i.clone()
            q[mask1[:, i]] = 0
            Q1[:, i] = q
            err1 = (w_i - q) / d
            W1[:, i:] -= err1.unsqueeze(1).matmul(Hinv1[i, i:].unsqueeze(0))
            Err1[:, i] = err1

        W[:, i1:i2] = Q1
        pruned[:, i1:i2] = mask1
        W[:, i2:] -= Err1.matmul(Hinv[i1:i2, i2:])

    return W.numpy().copy(), pruned.numpy().copy()


def owl_outlier_ratio(scores, threshold=5.0):
    """luuyin/OWL lib/prune_all.py check_outlier_mean: the percentage of `scores` (one decoder
    block's Wanda scores, all its Linear layers flattened together) above threshold * mean.
    The mean is math.fsum / size, correctly rounded (the reference's torch.mean can differ in the
    last bit)."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if scores.size == 0:
        raise ValueError("no scores")
    max_shred = math.fsum(scores) / scores.size * threshold
    count = int((scores > max_shred).sum())
    return float(count) / scores.size * 100


def owl_sparsities(ratios, target, lam=0.08):
    """prune_wanda_outlier's mapping from the blocks' outlier ratios to their sparsities:
    r = (r - min) * (1 / (max - min) * lam * 2); density = r - mean(r) + (1 - target);
    sparsity = 1 - density, and a sparsity <= 0 becomes 0.01 (as its pruning loop does).
    Changes: the mean is math.fsum / size (np.mean can differ in the last bit); equal ratios
    (the reference divides by zero) give every block the target; sparsities above 1 are capped
    at 1 (the reference's int(cols * s) slice prunes every weight then too)."""
    r = np.asarray(ratios, dtype=np.float64)
    if r.size == 0:
        raise ValueError("no ratios")
    if r.max() == r.min():
        return np.full(r.shape, float(target))
    r = (r - r.min()) * (1 / (r.max() - r.min()) * lam * 2)
    density = r - math.fsum(r) / r.size + (1 - target)
    sparsity = 1 - density
    return np.where(sparsity <= 0, 0.01, np.minimum(1.0, sparsity))
