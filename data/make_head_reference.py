#!/usr/bin/env python3
"""Independent reference for structured pruning of the sample LM's heads and FFN neurons.

Loads data/tiny-lm.safetensors into make_lm_sample's TinyLm, removes attention heads and MLP
neurons the way PyTorch users do it (HF-style prune_heads: q/k/v rows of the head and out_proj
columns sliced out, fewer heads of the same 16 dimensions; up rows and down columns sliced out),
and writes the smaller model's logits for rows 0-3 of the validation set at positions
0, 1, 2, 31, 62, 63 to data/reference/tiny-lm-heads-logits.csv (id, position, logit0..255).

Which heads and neurons are kept is fixed below; TransformerShrinkerTest keeps the same ones and
compares Lopper's shrunk ONNX model, run by ONNX Runtime, with these logits.
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_lm_sample as lm  # noqa: E402
import make_samples as samples  # noqa: E402

KEPT_HEADS = {0: [0, 2, 3], 1: [1, 3]}
KEPT_NEURONS = {0: [n for n in range(lm.MLP_WIDTH) if n % 2 == 0],
                1: [n for n in range(lm.MLP_WIDTH) if n % 4 != 1]}
ROWS = [0, 1, 2, 3]
POSITIONS = [0, 1, 2, 31, 62, 63]


class PrunedAttention(nn.Module):
    """The sample's attention with only `kept` heads: each keeps its 16 dimensions and its scale."""

    def __init__(self, attn, kept):
        super().__init__()
        d = attn.head_dim
        rows = torch.cat([torch.arange(h * d, (h + 1) * d) for h in kept])
        self.q_proj, self.k_proj, self.v_proj = (rows_of(p, rows) for p in (attn.q_proj, attn.k_proj, attn.v_proj))
        self.out_proj = nn.Linear(len(rows), attn.width)
        self.out_proj.weight.data = attn.out_proj.weight.data[:, rows].clone()
        self.out_proj.bias.data = attn.out_proj.bias.data.clone()
        self.heads = len(kept)
        self.head_dim = d
        self.scale = attn.scale

    def forward(self, x):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        scores = (q @ k.transpose(-2, -1)) * self.scale
        scores = scores + torch.triu(torch.full((t, t), float("-inf")), diagonal=1)
        y = torch.softmax(scores, dim=-1) @ v
        return self.out_proj(y.transpose(1, 2).reshape(b, t, self.heads * self.head_dim))


def rows_of(linear, rows):
    out = nn.Linear(linear.in_features, len(rows))
    out.weight.data = linear.weight.data[rows].clone()
    out.bias.data = linear.bias.data[rows].clone()
    return out


def main():
    data = os.path.dirname(os.path.abspath(__file__))
    model = lm.load_model(os.path.join(data, "tiny-lm.safetensors"))
    for b, block in enumerate(model.blocks):
        block.attn = PrunedAttention(block.attn, KEPT_HEADS[b])
        neurons = torch.tensor(KEPT_NEURONS[b])
        up, down = block.mlp.up, block.mlp.down
        block.mlp.up = rows_of(up, neurons)
        block.mlp.down = nn.Linear(len(neurons), down.out_features)
        block.mlp.down.weight.data = down.weight.data[:, neurons].clone()
        block.mlp.down.bias.data = down.bias.data.clone()
    model.eval()
    _, rows = lm.split(lm.read_text())
    with torch.no_grad():
        logits = model(torch.from_numpy(rows[ROWS]))
    out = []
    for i, r in enumerate(ROWS):
        for p in POSITIONS:
            row = {"id": r, "position": p}
            row.update({f"logit{v}": samples.fmt(float(logits[i, p, v])) for v in range(lm.VOCAB)})
            out.append(row)
    path = os.path.join(data, "reference", "tiny-lm-heads-logits.csv")
    samples.write_csv(path, ["id", "position"] + [f"logit{v}" for v in range(lm.VOCAB)], out)
    print(f"wrote {path}: heads kept {KEPT_HEADS}, neurons kept {[len(v) for v in KEPT_NEURONS.values()]}")


if __name__ == "__main__":
    main()
