#!/usr/bin/python3
"""Makes Lopper's sample causal language model, its token data and PyTorch reference numbers.

Run through make_samples.sh (`data/make_samples.sh --lm-only` runs only this part), which also
turns the token CSVs into Parquet:

    /usr/bin/python3 data/make_lm_sample.py --out data --val-csv /tmp/x/tiny-lm-val.csv \\
        --ragged-csv /tmp/x/tiny-lm-val-ragged.csv

Stages, in order:
  1. text:       the GPL-3 text every Debian system has (base-files), checked against its SHA-256,
                 as byte tokens (vocabulary 256); blocks of 512 bytes, every fifth one held out.
  2. train:      a 2-block GPT-style decoder trained with Adam on windows of the training text,
                 then its state dict written as safetensors.
  3. export:     the safetensors loaded back into a fresh model, exported to ONNX (opset 14,
                 no constant folding, initializers named as in the state dict), checked.
  4. references: from the model loaded back from the safetensors, in float32: dense logits of a
                 few rows, per-row NLL of both token files, and the per-tensor l1_unstructured
                 sensitivity (NLL, perplexity, next-token accuracy) of every Linear weight.

With --skip-training the existing safetensors in --out are used instead of training again.
Everything runs on one thread with deterministic algorithms and fixed seeds; data/README.md
documents the files, the graph and the metric definitions.
"""

import argparse
import copy
import dataclasses
import hashlib
import math
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.utils.prune as prune

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_samples as samples  # noqa: E402  (safetensors, CSV and mask helpers shared with the digits)

NAME = "tiny-lm"
TEXT_PATH = "/usr/share/common-licenses/GPL-3"
TEXT_SHA256 = "3972dc9744f6499f0f9b2dbf76696f2ae7ad8af9b23dde66d6af86c9dfb36986"
VOCAB = 256          # byte tokens
WIDTH = 64           # model width
HEADS = 4            # attention heads of 16 dimensions
MLP_WIDTH = 256      # 4 x width
LAYERS = 2
MAX_POSITIONS = 64
ROW_LENGTH = 64      # tokens per validation row (= MAX_POSITIONS)
BLOCK = 512          # the text is split into blocks of 512 bytes ...
HELD_OUT_EVERY = 5   # ... and block b is validation when b % 5 == 2
HELD_OUT_PHASE = 2
# Lengths of the ragged rows: row i of tiny-lm-val-ragged.parquet is the first
# RAGGED_LENGTHS[i % 8] tokens of row i of tiny-lm-val.parquet.
RAGGED_LENGTHS = [64, 48, 31, 16, 7, 2, 1, 57]
SEED = 13
STEPS = 600
BATCH = 16
LEARNING_RATE = 1e-2
LOGIT_ROWS = [0, 1, 2, 3]                 # rows of tiny-lm-logits.csv ...
LOGIT_POSITIONS = [0, 1, 2, 31, 62, 63]   # ... at these positions
SPARSITIES = [k / 10 for k in range(1, 10)]


# ----------------------------------------------------------------------------- model

@dataclasses.dataclass(frozen=True)
class DecoderShape:
    """The sizes of a GPT-style decoder; the defaults are the sample's. bench/make_lm_bench.py builds
    larger decoders of the same architecture through it."""
    vocab: int = VOCAB
    width: int = WIDTH
    heads: int = HEADS
    mlp_width: int = MLP_WIDTH
    layers: int = LAYERS
    max_positions: int = MAX_POSITIONS


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with separate q, k, v and output projections."""

    def __init__(self, width, heads):
        super().__init__()
        self.q_proj = nn.Linear(width, width)
        self.k_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.out_proj = nn.Linear(width, width)
        self.width = width
        self.heads = heads
        self.head_dim = width // heads
        self.scale = 1.0 / math.sqrt(self.head_dim)

    def forward(self, x):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        scores = (q @ k.transpose(-2, -1)) * self.scale
        # -inf above the diagonal: position t attends to positions 0..t only (ONNX Trilu).
        scores = scores + torch.triu(torch.full((t, t), float("-inf")), diagonal=1)
        y = torch.softmax(scores, dim=-1) @ v
        return self.out_proj(y.transpose(1, 2).reshape(b, t, self.width))


class Mlp(nn.Module):
    def __init__(self, width, mlp_width):
        super().__init__()
        self.up = nn.Linear(width, mlp_width)
        self.act = nn.GELU()
        self.down = nn.Linear(mlp_width, width)

    def forward(self, x):
        return self.down(self.act(self.up(x)))


class Block(nn.Module):
    """Pre-LayerNorm decoder block: x + attn(ln1(x)), then x + mlp(ln2(x))."""

    def __init__(self, shape):
        super().__init__()
        self.ln1 = nn.LayerNorm(shape.width)
        self.attn = CausalSelfAttention(shape.width, shape.heads)
        self.ln2 = nn.LayerNorm(shape.width)
        self.mlp = Mlp(shape.width, shape.mlp_width)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TinyLm(nn.Module):
    """Byte-level GPT-style decoder: input_ids [N, T] int64 (T <= max_positions, 64 for the sample)
    -> logits [N, T, vocab] (256 for the sample)."""

    def __init__(self, shape=DecoderShape()):
        super().__init__()
        self.tok_emb = nn.Embedding(shape.vocab, shape.width)
        self.pos_emb = nn.Embedding(shape.max_positions, shape.width)
        self.blocks = nn.ModuleList([Block(shape) for _ in range(shape.layers)])
        self.ln_f = nn.LayerNorm(shape.width)
        self.lm_head = nn.Linear(shape.width, shape.vocab)

    def forward(self, input_ids):
        positions = torch.arange(input_ids.shape[1])
        x = self.tok_emb(input_ids) + self.pos_emb(positions)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def prunable(model):
    """(state-dict name, module) of every Linear weight, in state-dict order (lm_head included;
    embeddings and LayerNorm weights are left out, see README)."""
    return [(name + ".weight", module) for name, module in model.named_modules()
            if isinstance(module, nn.Linear)]


# ----------------------------------------------------------------------------- text

def read_text():
    with open(TEXT_PATH, "rb") as f:
        raw = f.read()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != TEXT_SHA256:
        raise SystemExit(f"{TEXT_PATH}: SHA-256 {digest}, expected {TEXT_SHA256}; the sample is"
                         " defined on that exact text (Debian's base-files)")
    return np.frombuffer(raw, dtype=np.uint8).astype(np.int64)


def split(tokens, row_length=ROW_LENGTH):
    """(training segments, validation rows [R, row_length]): blocks of 512 bytes, every fifth held
    out (block b when b % 5 == 2); the held-out blocks cut into rows of row_length (64 for the
    sample, a divisor of 512) in text order. Training segments are the maximal runs of text
    between held-out blocks (the tail after the last full block included), so no training window
    holds a validation byte."""
    full_blocks = len(tokens) // BLOCK
    held = [b for b in range(full_blocks) if b % HELD_OUT_EVERY == HELD_OUT_PHASE]
    rows = np.concatenate([tokens[b * BLOCK:(b + 1) * BLOCK] for b in held]).reshape(-1, row_length)
    segments = []
    start = 0
    for b in held:
        if b * BLOCK > start:
            segments.append(tokens[start:b * BLOCK])
        start = (b + 1) * BLOCK
    if start < len(tokens):
        segments.append(tokens[start:])
    return segments, rows


def write_tokens_csv(path, rows):
    """id,input_ids with the ids space-separated, for CsvToParquet."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    samples.write_csv(path, ["id", "input_ids"],
                      [{"id": i, "input_ids": " ".join(str(int(t)) for t in row)}
                       for i, row in enumerate(rows)])


# ----------------------------------------------------------------------------- training

def train(segments, shape=DecoderShape(), steps=STEPS, length=ROW_LENGTH, batch_size=BATCH,
          learning_rate=LEARNING_RATE, seed=SEED):
    """Adam on random windows of length + 1 bytes (65 for the sample) within the training
    segments: length inputs, length targets. The defaults train the sample."""
    torch.manual_seed(seed)
    model = TinyLm(shape)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    text = np.concatenate(segments)
    offsets = np.cumsum([0] + [len(seg) for seg in segments[:-1]])
    starts = np.concatenate([np.arange(len(seg) - length) + offset
                             for seg, offset in zip(segments, offsets)])
    window = np.arange(length + 1)
    generator = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    started, cpu = time.monotonic(), time.process_time()
    running = 0.0
    for step in range(steps):
        # Cosine decay to a tenth of the rate, after 100 warm-up steps.
        lr = learning_rate * (min(1.0, (step + 1) / 100)
                              * (0.55 + 0.45 * math.cos(math.pi * step / steps)))
        for group in optimizer.param_groups:
            group["lr"] = lr
        pick = torch.randint(len(starts), (batch_size,), generator=generator).numpy()
        batch = torch.from_numpy(text[starts[pick][:, None] + window])
        optimizer.zero_grad()
        logits = model(batch[:, :-1])
        loss = loss_fn(logits.reshape(-1, shape.vocab), batch[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        running += loss.item()
        if step % 100 == 99:
            print(f"  step {step + 1}: train loss {running / 100:.4f}")
            running = 0.0
    print(f"  trained {steps} steps in {time.monotonic() - started:.1f} s"
          f" ({time.process_time() - cpu:.1f} s of CPU)")
    return model.eval()


def load_model(path, shape=DecoderShape()):
    model = TinyLm(shape)
    model.load_state_dict(samples.read_safetensors(path), strict=True)
    return model.eval()


# ----------------------------------------------------------------------------- ONNX

def export_onnx(model, path):
    """Exports with dynamic batch and sequence axes and checks the graph's shape: every state-dict
    tensor is an initializer of the same name; each Linear weight feeds exactly one
    Transpose(perm=[1,0]) whose output feeds MatMul, each Linear bias an Add; the embeddings feed
    Gather; LayerNorm weights feed Mul and biases Add (opset 14 has no LayerNormalization)."""
    dummy = torch.zeros((1, 8), dtype=torch.int64)
    torch.onnx.export(model.eval(), dummy, path, opset_version=14, do_constant_folding=False,
                      input_names=["input_ids"], output_names=["logits"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                    "logits": {0: "batch", 1: "sequence"}})
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    state = model.state_dict()
    initializers = [i.name for i in m.graph.initializer]
    assert sorted(initializers) == sorted(state.keys()), (initializers, list(state.keys()))
    consumers = {}
    for node in m.graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node)
    linears = {name for name, mod in model.named_modules() if isinstance(mod, nn.Linear)}
    norms = {name for name, mod in model.named_modules() if isinstance(mod, nn.LayerNorm)}
    for name in initializers:
        owner, kind = name.rsplit(".", 1)
        ops = [n.op_type for n in consumers.get(name, [])]
        if owner in linears and kind == "weight":
            assert ops == ["Transpose"], (name, ops)
            t = consumers[name][0]
            assert list(next(a for a in t.attribute if a.name == "perm").ints) == [1, 0], name
            assert [n.op_type for n in consumers[t.output[0]]] == ["MatMul"], name
        elif owner in linears or owner in norms:
            assert ops == (["Mul"] if kind == "weight" else ["Add"]), (name, ops)
        else:
            assert ops == ["Gather"], (name, ops)
    counts = {}
    for node in m.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    print(f"  {path}: {len(m.graph.node)} nodes {dict(sorted(counts.items()))}")
    return m


# ----------------------------------------------------------------------------- metrics

def forward(model, ids):
    with torch.no_grad():
        return model.eval()(torch.from_numpy(np.ascontiguousarray(ids))).numpy()


def position_nll(logits, ids):
    """NLL [R, T-1] of each scored position's target, float64 log_softmax of the float32 logits
    (max subtracted first)."""
    z = np.asarray(logits, dtype=np.float32)[:, :-1, :].astype(np.float64)
    z = z - z.max(axis=2, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=2, keepdims=True))
    return -np.take_along_axis(logp, ids[:, 1:, None], axis=2)[:, :, 0]


def token_metrics(logits, ids):
    """Per-row (nll_sum, tokens, correct) and the smallest top-1/top-2 logit gap over the scored
    positions: position t predicts token t+1, the last position of a row predicts nothing. NLL from
    float64 log_softmax of the float32 logits (max subtracted first); a prediction is the first
    argmax of the float32 logits."""
    nll = position_nll(logits, ids)
    logits = np.asarray(logits, dtype=np.float32)[:, :-1, :]
    targets = ids[:, 1:]
    correct = logits.argmax(axis=2) == targets
    ordered = np.sort(logits.astype(np.float64), axis=2)
    gap = (ordered[:, :, -1] - ordered[:, :, -2]).min() if targets.size else math.inf
    return nll.sum(axis=1), np.full(len(ids), targets.shape[1]), correct.sum(axis=1), gap


def summary(nll_rows, tokens_rows, correct_rows, gap):
    nll_sum = float(np.sum(nll_rows, dtype=np.float64))
    tokens = int(np.sum(tokens_rows))
    loss = nll_sum / tokens
    return {"nll_sum": nll_sum, "tokens": tokens, "loss": loss, "perplexity": math.exp(loss),
            "correct": int(np.sum(correct_rows)), "accuracy": int(np.sum(correct_rows)) / tokens,
            "min_margin": float(gap)}


METRIC_COLUMNS = ["nll_sum", "tokens", "loss", "perplexity", "correct", "accuracy", "min_margin"]


def unigram_perplexity(segments, rows):
    """Perplexity on the validation targets of the training text's byte frequencies with add-one
    smoothing over the 256 byte values."""
    counts = np.bincount(np.concatenate(segments), minlength=VOCAB).astype(np.float64) + 1.0
    logp = np.log(counts / counts.sum())
    return math.exp(-logp[rows[:, 1:]].mean())


def references(model, rows, ref_dir):
    """Writes tiny-lm-logits.csv, tiny-lm-rows.csv and tiny-lm-sensitivity.csv; returns the dense
    summary."""
    dense = forward(model, rows)
    out = []
    for r in LOGIT_ROWS:
        for p in LOGIT_POSITIONS:
            row = {"id": r, "position": p, "token": int(rows[r, p]),
                   "target": int(rows[r, p + 1]) if p + 1 < ROW_LENGTH else ""}
            row.update({f"logit{c}": float(dense[r, p, c]) for c in range(VOCAB)})
            out.append(row)
    samples.write_csv(os.path.join(ref_dir, f"{NAME}-logits.csv"),
                      ["id", "position", "token", "target"] + [f"logit{c}" for c in range(VOCAB)], out)

    nll, tokens, correct, gap = token_metrics(dense, rows)
    base = summary(nll, tokens, correct, gap)

    # Per row, for both token files; the ragged rows run one at a time at their own length.
    out = [{"file": f"{NAME}-val.parquet", "id": i, "length": ROW_LENGTH, "tokens": int(tokens[i]),
            "nll_sum": float(nll[i]), "correct": int(correct[i])} for i in range(len(rows))]
    prefix_nll = np.cumsum(position_nll(dense, rows), axis=1)
    for i, row in enumerate(ragged(rows)):
        r_nll, r_tokens, r_correct, _ = token_metrics(forward(model, row[None, :]), row[None, :])
        if len(row) > 1:
            # Causal attention: a prefix's NLL is the full row's over the same positions.
            assert abs(r_nll[0] - prefix_nll[i, len(row) - 2]) <= 1e-5 * r_nll[0], (i, len(row))
        out.append({"file": f"{NAME}-val-ragged.parquet", "id": i, "length": len(row),
                    "tokens": int(r_tokens[0]), "nll_sum": float(r_nll[0]),
                    "correct": int(r_correct[0])})
    samples.write_csv(os.path.join(ref_dir, f"{NAME}-rows.csv"),
                      ["file", "id", "length", "tokens", "nll_sum", "correct"], out)

    # The dense baseline: no tensor, nothing pruned (empty tensor, kept and mask_sha256).
    out = [dict({"tensor": "", "sparsity": 0.0, "pruned": 0, "kept": "", "mask_sha256": ""}, **base)]
    for tensor, _ in prunable(model):
        module_name = tensor[:-len(".weight")]
        for s in SPARSITIES:
            variant = copy.deepcopy(model)
            module = dict(variant.named_modules())[module_name]
            weights = module.weight.detach().numpy().copy()
            prune.l1_unstructured(module, "weight", amount=s)
            pruned, kept, digest = samples.mask_facts(module.weight_mask)
            samples.check_unambiguous(weights, pruned, f"{NAME} {tensor} {s}")
            assert np.array_equal(module.weight_mask.numpy().astype(np.uint8).ravel(),
                                  samples.expected_mask(weights, pruned)), (tensor, s)
            out.append(dict({"tensor": tensor, "sparsity": s, "pruned": pruned, "kept": kept,
                             "mask_sha256": digest},
                            **summary(*token_metrics(forward(variant, rows), rows))))
    samples.write_csv(os.path.join(ref_dir, f"{NAME}-sensitivity.csv"),
                      ["tensor", "sparsity", "pruned", "kept", "mask_sha256"] + METRIC_COLUMNS, out)
    return base


def ragged(rows):
    """Row i cut to its first RAGGED_LENGTHS[i % 8] tokens."""
    return [row[:RAGGED_LENGTHS[i % len(RAGGED_LENGTHS)]] for i, row in enumerate(rows)]


# ----------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--val-csv", required=True, help="where to write the validation tokens CSV")
    parser.add_argument("--ragged-csv", required=True, help="where to write the ragged tokens CSV")
    parser.add_argument("--skip-training", action="store_true",
                        help="use the safetensors already in --out")
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    np.random.seed(0)
    print(f"torch {torch.__version__}, onnx {onnx.__version__}, numpy {np.__version__}")

    ref_dir = os.path.join(args.out, "reference")
    os.makedirs(ref_dir, exist_ok=True)
    tokens = read_text()
    segments, rows = split(tokens)
    print(f"{TEXT_PATH}: {len(tokens)} bytes; training {sum(len(s) for s in segments)} bytes in"
          f" {len(segments)} segments, validation {rows.shape[0]} rows of {ROW_LENGTH}")
    write_tokens_csv(args.val_csv, rows)
    write_tokens_csv(args.ragged_csv, ragged(rows))

    st_path = os.path.join(args.out, f"{NAME}.safetensors")
    if not args.skip_training:
        samples.write_safetensors(st_path, samples.float_state(train(segments)),
                                  source="data/make_lm_sample.py")
    model = load_model(st_path)
    export_onnx(model, os.path.join(args.out, f"{NAME}.onnx"))
    base = references(model, rows, ref_dir)
    print(f"{NAME}: {sum(p.numel() for p in model.parameters())} parameters; validation"
          f" perplexity {base['perplexity']:.4f} (loss {base['loss']:.4f}, next-byte accuracy"
          f" {base['accuracy']:.4f}, {base['tokens']} tokens); unigram perplexity"
          f" {unigram_perplexity(segments, rows):.4f}")


if __name__ == "__main__":
    sys.exit(main())
