#!/usr/bin/env python3
"""Writes data/fused-lm.onnx: a one-block decoder whose attention has a fused q/k/v projection
(one Linear of 3 x width, cut by Split) and whose MLP is gated (SwiGLU: down(silu(gate(x)) * up(x))),
exported by torch.onnx.export at opset 14 with random weights (seed 7). It is the fixture for the
head groups of fused projections and the neuron groups of gated FFNs (TransformerStructureTest,
TransformerShrinkerTest); its numbers mean nothing, only its graph matters.

    /usr/bin/python3 data/make_fused_sample.py
"""
import math
import os

import torch
import torch.nn as nn

VOCAB = 32
WIDTH = 32
HEADS = 4            # of 8 dimensions
MLP_WIDTH = 48
POSITIONS = 16


class FusedAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(WIDTH, 3 * WIDTH)
        self.out_proj = nn.Linear(WIDTH, WIDTH)

    def forward(self, x):
        b, t, _ = x.shape
        q, k, v = self.qkv(x).split(WIDTH, dim=-1)
        q = q.view(b, t, HEADS, -1).transpose(1, 2)
        k = k.view(b, t, HEADS, -1).transpose(1, 2)
        v = v.view(b, t, HEADS, -1).transpose(1, 2)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(WIDTH // HEADS)
        y = torch.softmax(scores, dim=-1) @ v
        return self.out_proj(y.transpose(1, 2).reshape(b, t, WIDTH))


class GatedMlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate = nn.Linear(WIDTH, MLP_WIDTH)
        self.up = nn.Linear(WIDTH, MLP_WIDTH)
        self.down = nn.Linear(MLP_WIDTH, WIDTH)

    def forward(self, x):
        return self.down(nn.functional.silu(self.gate(x)) * self.up(x))


class FusedLm(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok_emb = nn.Embedding(VOCAB, WIDTH)
        self.ln1 = nn.LayerNorm(WIDTH)
        self.attn = FusedAttention()
        self.ln2 = nn.LayerNorm(WIDTH)
        self.mlp = GatedMlp()
        self.lm_head = nn.Linear(WIDTH, VOCAB)

    def forward(self, input_ids):
        x = self.tok_emb(input_ids)
        x = x + self.attn(self.ln1(x))
        x = x + self.mlp(self.ln2(x))
        return self.lm_head(x)


def main():
    torch.manual_seed(7)
    model = FusedLm().eval()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fused-lm.onnx")
    example = torch.randint(0, VOCAB, (2, 5))
    kwargs = {"dynamo": False} if "dynamo" in torch.onnx.export.__code__.co_varnames else {}
    torch.onnx.export(model, (example,), path, input_names=["input_ids"], output_names=["logits"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}},
                      opset_version=14, **kwargs)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
