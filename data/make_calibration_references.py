#!/usr/bin/python3
"""Writes PyTorch's calibration statistics of the sample models, for Lopper's calibration tests.

    /usr/bin/python3 data/make_calibration_references.py [--out data]

For every prunable tensor (the .weight of each Conv2d and Linear) of the digits MLP, the digits CNN
and the tiny language model, the activation entering its module on the first rows of the
validation data, as samples [N, d_in] in float64: a Linear's input with every leading axis
flattened, a Conv2d's input as im2col patches by torch.nn.functional.unfold (one sample per output
position of every image; columns ordered channel, kernel row, kernel column; zero padding
included). Of those samples: the count N, the per-channel sums Σx and Σx², and the Gram matrix
XᵀX. The rows: the first DIGITS_ROWS rows of digits-val.parquet (the validation split
make_samples.py rebuilds from sklearn) and the first LM_ROWS rows of tiny-lm-val.parquet
(make_lm_sample.py's split of the GPL-3 text), no padding.

Files, in <out>/reference/ (see data/README.md):
  calibration-<model>.safetensors   per distinct module input, named after the first tensor that
                                    reads it: <tensor>.sum and <tensor>.sumsq (F64 [d]) and
                                    <tensor>.gram, the upper triangle of XᵀX row by row (i <= j,
                                    d(d+1)/2 values): F64 when the input is the model's own input
                                    (exact data, compared tightly), F32 otherwise (an inner
                                    activation, whose float32 forward passes differ from ONNX
                                    Runtime's by far more than float32 rounding of the sums).
                                    Metadata: count:<tensor> (N), input:<tensor> (the tensor whose
                                    entries hold this tensor's statistics: q, k and v of one block
                                    share one), rows, dtype:<tensor>.gram.
  calibration-im2col.csv            unfold of a small integer input [2, 2, 5, 6] under Conv
                                    geometries ONNX allows and torch's unfold alone does not
                                    (asymmetric pads, SAME_UPPER / SAME_LOWER): name, the
                                    geometry, the patch matrix [samples, dim] row-major.

Runs on one thread with deterministic algorithms; the models are loaded from the committed
safetensors.
"""

import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_lm_sample as lm  # noqa: E402
import make_samples as samples  # noqa: E402

DIGITS_ROWS = 64
LM_ROWS = 8


def module_samples(module, x):
    """The samples [N, d_in] in float64 of a module's input x."""
    if isinstance(module, nn.Conv2d):
        assert module.groups == 1 and module.padding_mode == "zeros", module
        patches = F.unfold(x, module.kernel_size, dilation=module.dilation, padding=module.padding,
                           stride=module.stride)  # [images, C*kh*kw, positions]
        return patches.transpose(1, 2).reshape(-1, patches.shape[1]).double()
    return x.reshape(-1, x.shape[-1]).double()


def capture(model, prunable, run):
    """(tensor name -> samples, tensor name -> representative tensor name): forward hooks record
    each prunable module's input during run(); modules given the same input tensor share it."""
    inputs = {}
    hooks = [module.register_forward_pre_hook(
        lambda m, args, name=name: inputs.__setitem__(name, args[0]))
        for name, module in prunable]
    with torch.no_grad():
        run()
    for h in hooks:
        h.remove()
    modules = dict(prunable)
    representative, out = {}, {}
    for name, _ in prunable:
        x = inputs[name]
        first = next(n for n, _ in prunable if inputs[n] is x)
        representative[name] = first
        if first == name:
            out[name] = module_samples(modules[name], x)
    return out, representative


def write_safetensors(path, tensors, metadata):
    """make_samples.write_safetensors_arrays: the fixture scripts' one writer."""
    samples.write_safetensors_arrays(path, tensors, metadata)


def statistics_file(path, by_input, representative, graph_input, rows):
    tensors, metadata = {}, {"source": "data/make_calibration_references.py", "rows": str(rows)}
    for name, x in by_input.items():
        gram = (x.T @ x).numpy()
        upper = gram[np.triu_indices(gram.shape[0])]
        exact = name in graph_input
        tensors[f"{name}.sum"] = x.sum(dim=0).numpy()
        tensors[f"{name}.sumsq"] = (x * x).sum(dim=0).numpy()
        tensors[f"{name}.gram"] = upper if exact else upper.astype(np.float32)
        metadata[f"dtype:{name}.gram"] = "F64" if exact else "F32"
        metadata[f"count:{name}"] = str(x.shape[0])
    for name, first in representative.items():
        metadata[f"input:{name}"] = first
    write_safetensors(path, tensors, metadata)
    print(f"  {path}: {len(by_input)} inputs of {len(representative)} tensors,"
          f" {os.path.getsize(path)} bytes")


def onnx_same_pads(size, stride, kernel, dilation, upper):
    """ONNX's auto_pad SAME_UPPER / SAME_LOWER: (before, after)."""
    out = -(-size // stride)
    total = max(0, (out - 1) * stride + (kernel - 1) * dilation + 1 - size)
    small, large = total // 2, total - total // 2
    return (small, large) if upper else (large, small)


# name, kernel (h, w), stride, dilation, ONNX pads [top, left, bottom, right] or auto_pad
IM2COL_CASES = [
    ("asymmetric", (3, 2), (2, 1), (1, 2), (0, 1, 2, 0), "NOTSET"),
    ("dilated", (2, 3), (1, 2), (2, 1), (1, 0, 0, 2), "NOTSET"),
    ("same-upper", (3, 2), (2, 2), (1, 1), (0, 0, 0, 0), "SAME_UPPER"),
    ("same-lower", (2, 3), (2, 2), (1, 1), (0, 0, 0, 0), "SAME_LOWER"),
    ("valid", (3, 3), (1, 1), (1, 1), (0, 0, 0, 0), "VALID"),
]


def im2col_references(path):
    x = torch.arange(2 * 2 * 5 * 6, dtype=torch.float64).reshape(2, 2, 5, 6) - 17.0
    rows = []
    for name, kernel, stride, dilation, pads, auto_pad in IM2COL_CASES:
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            upper = auto_pad == "SAME_UPPER"
            top, bottom = onnx_same_pads(5, stride[0], kernel[0], dilation[0], upper)
            left, right = onnx_same_pads(6, stride[1], kernel[1], dilation[1], upper)
        elif auto_pad == "VALID":
            top = left = bottom = right = 0
        else:
            top, left, bottom, right = pads
        padded = F.pad(x, (left, right, top, bottom))  # zeros; torch's order: last axis first
        patches = F.unfold(padded, kernel, dilation=dilation, stride=stride)
        matrix = patches.transpose(1, 2).reshape(-1, patches.shape[1])
        rows.append({"name": name, "kernel_h": kernel[0], "kernel_w": kernel[1],
                     "stride_h": stride[0], "stride_w": stride[1],
                     "dilation_h": dilation[0], "dilation_w": dilation[1],
                     "pad_top": pads[0], "pad_left": pads[1], "pad_bottom": pads[2],
                     "pad_right": pads[3], "auto_pad": auto_pad,
                     "samples": matrix.shape[0], "dim": matrix.shape[1],
                     "values": " ".join(str(int(v)) for v in matrix.flatten().tolist())})
    samples.write_csv(path, list(rows[0].keys()), rows)
    print(f"  {path}: {len(rows)} geometries")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    ref_dir = os.path.join(args.out, "reference")
    os.makedirs(ref_dir, exist_ok=True)

    _, _, val_x, _ = samples.load_split()
    for name in ("digits-mlp", "digits-cnn"):
        model = samples.load_model(name, os.path.join(args.out, f"{name}.safetensors"))
        prunable = samples.prunable(model)
        x = samples.model_input(name, val_x[:DIGITS_ROWS])
        by_input, representative = capture(model, prunable, lambda: model(x))
        statistics_file(os.path.join(ref_dir, f"calibration-{name}.safetensors"), by_input,
                        representative, {prunable[0][0]}, DIGITS_ROWS)

    model = lm.load_model(os.path.join(args.out, f"{lm.NAME}.safetensors"))
    _, rows = lm.split(lm.read_text())
    ids = torch.from_numpy(np.ascontiguousarray(rows[:LM_ROWS]))
    by_input, representative = capture(model, lm.prunable(model), lambda: model(ids))
    statistics_file(os.path.join(ref_dir, f"calibration-{lm.NAME}.safetensors"), by_input,
                    representative, set(), LM_ROWS)

    im2col_references(os.path.join(ref_dir, "calibration-im2col.csv"))


if __name__ == "__main__":
    sys.exit(main())
