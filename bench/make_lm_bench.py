#!/usr/bin/python3
"""Makes the language model and token data of bench/lm-sweep-vs-pytorch.sh: a GPT-style decoder of
the sample's architecture (data/make_lm_sample.py's TinyLm, built from a DecoderShape), larger, so
that a sensitivity sweep of it is arithmetic rather than Spark's start.

    /usr/bin/python3 bench/make_lm_bench.py --out DIR [--layers 4 --width 256 --heads 4
        --mlp-width 1024 --vocab 256 --sequence 128 --rows 32 --train-steps 200 --seed 0]

Writes into DIR:
  lm.safetensors  the state dict (float32), written by hand like the sample's
  lm.onnx         exported like the sample (opset 14, no constant folding, state-dict initializer
                  names; every Linear weight reaches MatMul through Transpose(perm=[1,0]), which
                  data/make_lm_sample.py's export_onnx asserts)
  tokens.csv      id,input_ids (ids space-separated), the rows the sweep evaluates
  tokens.parquet  the same through Lopper's own writer (dev.lopper.fixtures.CsvToParquet, run with
                  -XX:hashCode=2 as data/make_samples.sh does): id int32, input_ids list<int64>,
                  the layout of data/tiny-lm-val.parquet
  lm.json         the sizes, seeds, text, FLOPs and the dense model's perplexity on the rows

The text is every regular file of /usr/share/common-licenses (Debian's base-files), in name order,
as bytes (vocabulary 256); split like the sample's text (blocks of 512 bytes, every fifth held
out), the held-out blocks cut into rows of --sequence tokens; the first --rows of them are the
data. The weights are the seeded initialisation trained briefly (--train-steps of Adam on windows
of the other blocks; 0 keeps the initialisation, LayerNorm's parameters given seeded noise), so that pruning a tensor changes the perplexity
by more than rounding does. Then equal magnitudes within each Linear weight are nudged apart by
float32 ulps (bench/sweep_reference.py's distinct_magnitudes), so that l1_unstructured's mask is
defined by the criterion alone at every sparsity.
"""

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(ROOT, "data"))
sys.path.insert(0, BENCH)
import make_lm_sample as lm  # noqa: E402  (the sample's model, training, export and metrics)
import make_samples as samples  # noqa: E402  (safetensors and CSV helpers)
from sweep_reference import distinct_magnitudes  # noqa: E402

TEXT_DIR = "/usr/share/common-licenses"


def read_text():
    """The bytes of every regular file of TEXT_DIR in name order, with (names, SHA-256)."""
    names = sorted(n for n in os.listdir(TEXT_DIR)
                   if os.path.isfile(os.path.join(TEXT_DIR, n))
                   and not os.path.islink(os.path.join(TEXT_DIR, n)))
    raw = b"".join(open(os.path.join(TEXT_DIR, n), "rb").read() for n in names)
    tokens = np.frombuffer(raw, dtype=np.uint8).astype(np.int64)
    return tokens, names, hashlib.sha256(raw).hexdigest()


def forward_flops_per_row(model, shape, sequence):
    """Multiply-adds x 2 of one row's forward pass: every Linear, and attention's two matrix
    products over the full [sequence, sequence] scores (the causal mask is added, not skipped)."""
    linear = sum(m.weight.numel() for _, m in lm.prunable(model))
    attention = shape.layers * 2 * sequence * sequence * shape.width
    return 2 * (sequence * linear + attention)


def dense_summary(model, rows, batch=16):
    nll, tokens, correct = [], [], []
    for i in range(0, len(rows), batch):
        n, t, c, _ = lm.token_metrics(lm.forward(model, rows[i:i + batch]), rows[i:i + batch])
        nll.append(n), tokens.append(t), correct.append(c)
    return lm.summary(np.concatenate(nll), np.concatenate(tokens), np.concatenate(correct), math.nan)


def to_parquet(csv_path, parquet_path):
    """CsvToParquet from the checkout's common test classes, as data/make_samples.sh runs it."""
    classpath_file = os.path.join(os.path.dirname(os.path.abspath(parquet_path)), "common-test-classpath.txt")
    mvn = ["mvn", "-o", "-q", "-B", "-pl", "common"]
    subprocess.run(mvn + ["test-compile"], cwd=ROOT, check=True)
    subprocess.run(mvn + ["dependency:build-classpath", f"-Dmdep.outputFile={classpath_file}",
                          "-Dmdep.includeScope=test"], cwd=ROOT, check=True)
    with open(classpath_file) as f:
        classpath = f.read().strip()
    env = dict(os.environ)
    # CLASSPATH, not -cp: see data/make_samples.sh.
    env["CLASSPATH"] = ":".join([os.path.join(ROOT, "common/target/classes"),
                                 os.path.join(ROOT, "common/target/test-classes"), classpath])
    subprocess.run(["java", "-XX:+UnlockExperimentalVMOptions", "-XX:hashCode=2",
                    "dev.lopper.fixtures.CsvToParquet", csv_path, parquet_path,
                    "id:INT", "input_ids:LONG_LIST"], env=env, check=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="directory to write into (created)")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--mlp-width", type=int, default=None, help="default 4 x width")
    p.add_argument("--vocab", type=int, default=256, help="at least 256 (byte tokens)")
    p.add_argument("--sequence", type=int, default=128,
                   help="tokens per row = position table size; a divisor of 512")
    p.add_argument("--rows", type=int, default=32, help="token rows in the data")
    p.add_argument("--train-steps", type=int, default=200, help="Adam steps; 0 keeps the initialisation")
    p.add_argument("--train-batch", type=int, default=8, help="windows per training step")
    p.add_argument("--learning-rate", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-parquet", action="store_true", help="write tokens.csv only (no Java step)")
    args = p.parse_args()
    if args.vocab < 256:
        p.error(f"--vocab {args.vocab}: the tokens are bytes, so at least 256")
    if args.sequence < 2 or lm.BLOCK % args.sequence:
        p.error(f"--sequence {args.sequence}: must divide the split's block of {lm.BLOCK} bytes and be at least 2")
    if args.width % args.heads:
        p.error(f"--width {args.width} is not a multiple of --heads {args.heads}")

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)
    shape = lm.DecoderShape(vocab=args.vocab, width=args.width, heads=args.heads,
                            mlp_width=args.mlp_width or 4 * args.width, layers=args.layers,
                            max_positions=args.sequence)
    tokens, names, digest = read_text()
    segments, rows = lm.split(tokens, row_length=args.sequence)
    print(f"{TEXT_DIR}: {len(names)} files, {len(tokens)} bytes (SHA-256 {digest});"
          f" {len(rows)} held-out rows of {args.sequence}")
    if args.rows > len(rows):
        sys.exit(f"--rows {args.rows}: the text has only {len(rows)} held-out rows of {args.sequence} tokens")
    rows = np.ascontiguousarray(rows[:args.rows])

    if args.train_steps > 0:
        model = lm.train(segments, shape, steps=args.train_steps, length=args.sequence,
                         batch_size=args.train_batch, learning_rate=args.learning_rate, seed=args.seed)
    else:
        torch.manual_seed(args.seed)
        model = lm.TinyLm(shape).eval()
        # LayerNorm's initial 1s and 0s would make equal tensors, which the export merges into one
        # initializer; seeded noise keeps every state-dict tensor its own.
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.LayerNorm):
                    m.weight.add_(0.1 * torch.randn_like(m.weight))
                    m.bias.add_(0.1 * torch.randn_like(m.bias))
    with torch.no_grad():
        nudged = sum(distinct_magnitudes(m.weight) for _, m in lm.prunable(model))
    print(f"{nudged} weights nudged by float32 ulps so that no two weights of a tensor have the same magnitude")

    st_path = os.path.join(args.out, "lm.safetensors")
    samples.write_safetensors(st_path, samples.float_state(model), source="bench/make_lm_bench.py")
    model = lm.load_model(st_path, shape)  # everything below describes the written weights
    lm.export_onnx(model, os.path.join(args.out, "lm.onnx"))
    csv_path = os.path.join(args.out, "tokens.csv")
    lm.write_tokens_csv(csv_path, rows)
    if not args.no_parquet:
        to_parquet(csv_path, os.path.join(args.out, "tokens.parquet"))

    started = time.perf_counter()
    dense = dense_summary(model, rows)
    dense.pop("min_margin")
    prunable = [name for name, _ in lm.prunable(model)]
    flops = forward_flops_per_row(model, shape, args.sequence) * len(rows)
    meta = {"shape": {"vocab": shape.vocab, "width": shape.width, "heads": shape.heads,
                      "mlp_width": shape.mlp_width, "layers": shape.layers,
                      "max_positions": shape.max_positions},
            "rows": len(rows), "sequence": args.sequence, "seed": args.seed,
            "train_steps": args.train_steps, "train_batch": args.train_batch,
            "learning_rate": args.learning_rate, "nudged": nudged,
            "text": {"dir": TEXT_DIR, "files": names, "bytes": len(tokens), "sha256": digest},
            "parameters": sum(p.numel() for p in model.parameters()),
            "prunable": prunable,
            "prunable_parameters": sum(m.weight.numel() for _, m in lm.prunable(model)),
            "forward_gflop_per_pass": flops / 1e9,
            "dense": dense, "torch": torch.__version__}
    with open(os.path.join(args.out, "lm.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"made a {shape.layers}-block decoder, width {shape.width}, {shape.heads} heads, MLP {shape.mlp_width},"
          f" vocabulary {shape.vocab}, {meta['parameters']} parameters ({len(prunable)} Linear weights,"
          f" {meta['prunable_parameters']} prunable); {len(rows)} rows of {args.sequence} tokens;"
          f" dense perplexity {dense['perplexity']:.4f} (loss {dense['loss']:.4f}, accuracy {dense['accuracy']:.4f});"
          f" one forward pass over the rows {flops / 1e9:.3g} GFLOP (evaluated in {time.perf_counter() - started:.2f} s)")


if __name__ == "__main__":
    main()
