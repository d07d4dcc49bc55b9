#!/usr/bin/env python3
"""Independent reference for head and FFN neuron removal in the real all-MiniLM-L6-v2.

Reads the ONNX file's initializers (not its graph), runs BERT's encoder written out in PyTorch with
some heads and FFN neurons removed the PyTorch way (the kept heads' columns of the [in, out]
query/key/value weights and biases and the kept rows of the attention output weight; the kept
intermediate columns and output rows), and writes last_hidden_state at a few positions of three
padded sentences to data/reference/minilm-heads-hidden.csv (row, position, h0..h383).

    /usr/bin/python3 data/make_minilm_head_reference.py data/minilm/all-minilm-l6-v2.onnx

The kept heads and neurons are fixed below; TransformerShrinkerTest keeps the same ones and compares
Lopper's shrunk model, run by ONNX Runtime, with these numbers.
"""
import csv
import os
import sys

import onnx
import torch
from onnx import numpy_helper

HEADS, HEAD_DIM, LAYERS = 12, 32, 6
KEPT_HEADS = {l: [h for h in range(HEADS) if (h + l) % 3 != 0] for l in range(LAYERS)}
KEPT_NEURONS = {l: [n for n in range(1536) if l % 2 == 1 or n % 2 == 0] for l in range(LAYERS)}
# "the cat sat on the mat", "hello world", "a dog sat on the mat hello world" ([CLS] ... [SEP], 0-padded)
SENTENCES = [[101, 1996, 4937, 2938, 2006, 1996, 13523, 102, 0],
             [101, 7592, 2088, 102, 0, 0, 0, 0, 0],
             [101, 1037, 3899, 2938, 2006, 1996, 13523, 7592, 102]]
POSITIONS = [0, 1, 3, 8]


def layer_norm(x, w, b):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps=1e-12)


def main(path):
    w = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()).double()
         for t in onnx.load(path).graph.initializer}
    ids = torch.tensor(SENTENCES)
    mask = (ids != 0).double()
    n, t = ids.shape
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.token_type_embeddings.weight"][0]
         + w["embeddings.position_embeddings.weight"][:t])
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    additive = (1.0 - mask)[:, None, None, :] * -3.4028234663852886e38
    for l in range(LAYERS):
        base = 787 + 13 * l  # the graph's MatMul initializers of layer l: q, k, (v at +4), ...
        p = f"encoder.layer.{l}."
        cols = torch.cat([torch.arange(h * HEAD_DIM, (h + 1) * HEAD_DIM) for h in KEPT_HEADS[l]])
        h = len(KEPT_HEADS[l])

        def project(name, bias):
            y = x @ w[f"onnx::MatMul_{name}"][:, cols] + w[bias][cols]
            return y.view(n, t, h, HEAD_DIM).transpose(1, 2)

        q = project(base, p + "attention.self.query.bias")
        k = project(base + 1, p + "attention.self.key.bias")
        v = project(base + 4, p + "attention.self.value.bias")
        scores = q @ k.transpose(-1, -2) / HEAD_DIM ** 0.5 + additive
        y = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(n, t, h * HEAD_DIM)
        y = y @ w[f"onnx::MatMul_{base + 10}"][cols] + w[p + "attention.output.dense.bias"]
        x = layer_norm(y + x, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
        keep = torch.tensor(KEPT_NEURONS[l])
        u = x @ w[f"onnx::MatMul_{base + 11}"][:, keep] + w[p + "intermediate.dense.bias"][keep]
        u = torch.nn.functional.gelu(u)
        y = u @ w[f"onnx::MatMul_{base + 12}"][keep] + w[p + "output.dense.bias"]
        x = layer_norm(y + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference", "minilm-heads-hidden.csv")
    with open(out, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["row", "position"] + [f"h{i}" for i in range(x.shape[-1])])
        for r in range(n):
            for pos in POSITIONS:
                writer.writerow([r, pos] + [repr(float(v)) for v in x[r, pos]])
    print(f"wrote {out}: heads kept per layer {[len(v) for v in KEPT_HEADS.values()]},"
          f" neurons {[len(v) for v in KEPT_NEURONS.values()]}")


if __name__ == "__main__":
    main(sys.argv[1])
