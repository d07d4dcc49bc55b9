#!/usr/bin/python3
"""Makes Lopper's sample models, validation data and PyTorch reference numbers.

Run through make_samples.sh, which also turns the validation CSV into Parquet:

    /usr/bin/python3 data/make_samples.py --out data --val-csv /tmp/x/digits-val.csv

Stages, in order:
  1. data:       sklearn's digits, features x/16 as float32, a stratified 80/20 split (seed 0).
  2. train:      each model trained with Adam, then its state dict written as safetensors.
  3. export:     the safetensors loaded back into a fresh model, exported to ONNX (opset 13,
                 BatchNormalization kept, initializers named as in the state dict).
  4. references: from the model loaded back from the safetensors, dense logits and pruning
                 sensitivities (per tensor, global and per channel group), so the numbers always
                 match the committed weights.

With --skip-training the existing safetensors in --out are used instead of training again.
Everything runs on one thread with deterministic algorithms and fixed seeds; data/README.md
documents the files, the tensor names and the metric definitions.
"""

import argparse
import copy
import csv
import hashlib
import json
import os
import struct
import sys

import numpy as np
import onnx
import sklearn
import sklearn.datasets
import sklearn.metrics
import sklearn.model_selection
import torch
import torch.nn as nn
import torch.nn.utils.prune as prune

SPLIT_SEED = 0
VALIDATION_FRACTION = 0.2
SPARSITIES = [k / 10 for k in range(10)]  # 0.0 (dense) .. 0.9, each the double nearest k/10
NUM_CLASSES = 10


# ----------------------------------------------------------------------------- models

class DigitsMlp(nn.Module):
    """64 -> 64 -> 32 -> 10 with ReLU; input [N, 64]."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, NUM_CLASSES)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


class DigitsCnn(nn.Module):
    """Two 3x3 convolutions with batch norm, a 2x2 max pool and two linear layers; input [N,1,8,8]."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, NUM_CLASSES)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        x = self.flatten(self.pool(x))
        x = torch.relu(self.fc1(x))
        return self.fc2(x)


class DigitsResnet(nn.Module):
    """A stem convolution and one residual block: conv1-bn1-ReLU, then conv2-bn2-ReLU-conv3-bn3
    added to the stem's output (the skip connection) and ReLU, a 2x2 max pool, Flatten and one
    linear layer; input [N,1,8,8]."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.conv3 = nn.Conv2d(16, 16, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(16)
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16 * 4 * 4, NUM_CLASSES)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(x)))
        y = self.bn3(self.conv3(y))
        x = torch.relu(x + y)
        x = self.flatten(self.pool(x))
        return self.fc(x)


# name -> (class, input shape after the batch axis, training seed, epochs, learning rate)
MODELS = {
    "digits-mlp": (DigitsMlp, (64,), 1, 40, 1e-3),
    "digits-cnn": (DigitsCnn, (1, 8, 8), 6, 30, 2e-3),
    "digits-resnet": (DigitsResnet, (1, 8, 8), 7, 30, 2e-3),
}

# The channel groups of each model, written out by hand (an independent statement of what Lopper's
# graph analysis must find): name -> [(group, producing modules, per-channel modules (batch norms),
# consuming modules with the number of input columns per channel)]. Removing channel c of a group
# removes row c of every producer's weight and bias, channel c of every batch norm and input
# channel c (columns c*k .. c*k+k-1) of every consumer.
CHANNEL_GROUPS = {
    "digits-mlp": [
        ("fc1", ["fc1"], [], [("fc2", 1)]),
        ("fc2", ["fc2"], [], [("fc3", 1)]),
    ],
    "digits-cnn": [
        ("conv1", ["conv1"], ["bn1"], [("conv2", 1)]),
        ("conv2", ["conv2"], ["bn2"], [("fc1", 16)]),
        ("fc1", ["fc1"], [], [("fc2", 1)]),
    ],
    "digits-resnet": [
        ("conv1+conv3", ["conv1", "conv3"], ["bn1", "bn3"], [("conv2", 1), ("fc", 16)]),
        ("conv2", ["conv2"], ["bn2"], [("conv3", 1)]),
    ],
}


def model_input(name, features):
    """The model's input tensor for rows of 64 float32 features."""
    shape = MODELS[name][1]
    return torch.from_numpy(features).reshape((features.shape[0],) + shape)


def prunable(model):
    """(state-dict name, module) of every Conv2d and Linear weight, in state-dict order."""
    return [(name + ".weight", module) for name, module in model.named_modules()
            if isinstance(module, (nn.Conv2d, nn.Linear))]


# ----------------------------------------------------------------------------- data

def load_split():
    """(train_x, train_y, val_x, val_y): float32 features x/16, int64 labels; validation rows in
    the order of their index in load_digits()."""
    digits = sklearn.datasets.load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    indices = np.arange(len(y))
    train_idx, val_idx = sklearn.model_selection.train_test_split(
        indices, test_size=VALIDATION_FRACTION, stratify=y, random_state=SPLIT_SEED)
    train_idx = np.sort(train_idx)
    val_idx = np.sort(val_idx)
    return x[train_idx], y[train_idx], x[val_idx], y[val_idx]


def write_validation_csv(path, val_x, val_y):
    """id,label,features with the 64 features space-separated, for CsvToParquet."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "label", "features"])
        for i in range(len(val_y)):
            w.writerow([i, int(val_y[i]), " ".join(repr(float(v)) for v in val_x[i])])


# ----------------------------------------------------------------------------- training

def train(name, train_x, train_y):
    cls, _, seed, epochs, lr = MODELS[name]
    torch.manual_seed(seed)
    model = cls()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    x = model_input(name, train_x)
    y = torch.from_numpy(train_y)
    generator = torch.Generator().manual_seed(seed)
    batch = 32
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(y), generator=generator)
        total = 0.0
        for start in range(0, len(y), batch):
            idx = order[start:start + batch]
            optimizer.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        if epoch % 10 == 9 or epoch == epochs - 1:
            print(f"  {name} epoch {epoch + 1}: train loss {total / len(y):.4f}")
    return model.eval()


# ----------------------------------------------------------------------------- safetensors

def float_state(model):
    """The state dict's float32 tensors; BatchNorm's int64 num_batches_tracked is left out (it has
    no part in inference and no ONNX initializer)."""
    return {k: v.detach().contiguous() for k, v in model.state_dict().items()
            if v.dtype == torch.float32}


SAFETENSORS_DTYPES = {np.dtype("<f4"): "F32", np.dtype("<f8"): "F64", np.dtype("<i2"): "I16",
                      np.dtype("<i8"): "I64", np.dtype("u1"): "U8", np.dtype("bool"): "BOOL"}


def write_safetensors_arrays(path, arrays, metadata):
    """safetensors by hand, for numpy arrays of the dtypes of SAFETENSORS_DTYPES: u64 LE header
    length, JSON header (`metadata` as __metadata__ first, then the tensors in the given order)
    padded with spaces to 8 bytes, data. The one writer of every fixture script."""
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        dtype = SAFETENSORS_DTYPES[a.dtype]
        data = (a.astype(np.uint8) if dtype == "BOOL" else a.astype(a.dtype.newbyteorder("<"), copy=False)) \
            .tobytes(order="C")
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def write_safetensors(path, tensors, source="data/make_samples.py"):
    """A state dict of float torch tensors as F32 safetensors; `source` names the script in the
    header's metadata."""
    write_safetensors_arrays(path, {name: t.numpy().astype("<f4", copy=False) for name, t in tensors.items()},
                             {"format": "pt", "source": source})


def read_safetensors_arrays(path):
    """The tensors ({name: numpy array}, BOOL as bool) and the __metadata__ of a safetensors file of the
    dtypes of SAFETENSORS_DTYPES. The one reader of every fixture and benchmark script."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    dtypes = {name: dtype for dtype, name in SAFETENSORS_DTYPES.items()}
    arrays = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = dtypes[entry["dtype"]]
        array = np.frombuffer(data[begin:end], dtype=np.uint8 if dtype == np.bool_ else dtype)
        arrays[name] = (array.astype(bool) if dtype == np.bool_ else array.copy()).reshape(entry["shape"])
    return arrays, header.get("__metadata__", {})


def read_safetensors(path):
    """A state dict of F32 safetensors as float torch tensors."""
    tensors = {}
    for name, array in read_safetensors_arrays(path)[0].items():
        assert array.dtype == np.float32, (path, name, array.dtype)
        tensors[name] = torch.from_numpy(array)
    return tensors


def load_model(name, safetensors_path):
    model = MODELS[name][0]()
    missing, unexpected = model.load_state_dict(read_safetensors(safetensors_path), strict=False)
    assert not unexpected, unexpected
    assert all(k.endswith("num_batches_tracked") for k in missing), missing
    return model.eval()


# ----------------------------------------------------------------------------- ONNX

def export_onnx(name, model, path):
    dummy = torch.zeros((1,) + MODELS[name][1])
    torch.onnx.export(model.eval(), dummy, path, opset_version=13, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE, input_names=["input"],
                      output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    initializers = [i.name for i in m.graph.initializer]
    ops = [n.op_type for n in m.graph.node]
    expected = list(float_state(model).keys())
    assert sorted(initializers) == sorted(expected), (initializers, expected)
    for node in m.graph.node:
        if node.op_type == "BatchNormalization":
            assert len(node.output) == 1, f"{name}: BatchNormalization exported in training mode"
    print(f"  {path}: ops {ops}")
    print(f"  {path}: initializers {initializers}")
    return m


def save_external(path, directory):
    m = onnx.load(path)
    os.makedirs(directory, exist_ok=True)
    for f in ("model.onnx", "model.onnx.data"):
        if os.path.exists(os.path.join(directory, f)):
            os.remove(os.path.join(directory, f))
    onnx.save_model(m, os.path.join(directory, "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="model.onnx.data", size_threshold=0)
    onnx.checker.check_model(os.path.join(directory, "model.onnx"), full_check=True)


# ----------------------------------------------------------------------------- metrics

def log_softmax64(logits):
    z = np.asarray(logits, dtype=np.float32).astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def metrics(logits, labels, dense_logits):
    """The reference metrics of one model variant on the whole validation set (see README)."""
    logits = np.asarray(logits, dtype=np.float32)
    n = len(labels)
    predicted = logits.argmax(axis=1)  # first maximum on ties
    label_logit = logits[np.arange(n), labels]
    greater = (logits > label_logit[:, None]).sum(axis=1)
    logp = log_softmax64(logits)
    dense_logp = log_softmax64(dense_logits)
    precision, recall, f1, _ = sklearn.metrics.precision_recall_fscore_support(
        labels, predicted, labels=list(range(NUM_CLASSES)), average="macro", zero_division=0)
    return {
        "accuracy": float((predicted == labels).sum()) / n,
        "top5": float((greater < 5).sum()) / n,
        "loss": float(-logp[np.arange(n), labels].mean()),
        "precision_macro": float(precision),
        "recall_macro": float(recall),
        "f1_macro": float(f1),
        "kl": float((np.exp(dense_logp) * (dense_logp - logp)).sum(axis=1).mean()),
        "samples": n,
        "min_margin": min_margin(logits, labels),
    }


def min_margin(logits, labels):
    """The smallest logit gap that decides a classification metric: over all samples, the gap
    between the two largest logits and between the label's logit and every other class's. An
    evaluator whose logits differ from PyTorch's by less than half of it gets the same accuracy,
    top-5, precision, recall and F1."""
    z = np.asarray(logits, dtype=np.float32).astype(np.float64)
    n = len(labels)
    ordered = np.sort(z, axis=1)
    top_gap = (ordered[:, -1] - ordered[:, -2]).min()
    label_gap = np.abs(z - z[np.arange(n), labels][:, None])
    label_gap[np.arange(n), labels] = np.inf
    return float(min(top_gap, label_gap.min()))


def forward(model, x):
    with torch.no_grad():
        return model.eval()(x).numpy()


def mask_facts(mask):
    m = mask.detach().numpy().astype(np.uint8)
    return int((m == 0).sum()), int((m == 1).sum()), hashlib.sha256(m.tobytes(order="C")).hexdigest()


def check_unambiguous(values, pruned, what):
    """The k smallest |w| must be a well-defined set: no tie across the cut."""
    if 0 < pruned < values.size:
        s = np.sort(np.abs(values.ravel()))
        if s[pruned - 1] == s[pruned]:
            raise SystemExit(f"{what}: tie at the pruning threshold, mask is ambiguous")


def expected_mask(values, pruned):
    """An independent L1 mask: zero the `pruned` smallest magnitudes (ties checked absent)."""
    flat = np.abs(values.ravel())
    mask = np.ones(flat.size, dtype=np.uint8)
    mask[np.argsort(flat, kind="stable")[:pruned]] = 0
    return mask


def fmt(v):
    return repr(float(v)) if isinstance(v, (float, np.floating)) else str(v)


def write_csv(path, columns, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(columns)
        for row in rows:
            w.writerow([fmt(row[c]) for c in columns])


METRIC_COLUMNS = ["accuracy", "top5", "loss", "precision_macro", "recall_macro", "f1_macro", "kl",
                  "samples", "min_margin"]


def references(name, model, val_x, val_y, out_dir):
    x = model_input(name, val_x)
    dense = forward(model, x)
    rows = [dict({"id": i, "label": int(val_y[i])},
                 **{f"logit{c}": float(dense[i, c]) for c in range(NUM_CLASSES)})
            for i in range(len(val_y))]
    write_csv(os.path.join(out_dir, f"{name}-logits.csv"),
              ["id", "label"] + [f"logit{c}" for c in range(NUM_CLASSES)], rows)
    dense_metrics = metrics(dense, val_y, dense)
    print(f"  {name}: dense accuracy {dense_metrics['accuracy']:.4f}"
          f" loss {dense_metrics['loss']:.4f}")

    rows = []
    for tensor, _ in prunable(model):
        module_name = tensor[:-len(".weight")]
        for s in SPARSITIES:
            variant = copy.deepcopy(model)
            module = dict(variant.named_modules())[module_name]
            weights = module.weight.detach().numpy().copy()
            prune.l1_unstructured(module, "weight", amount=s)
            pruned, kept, digest = mask_facts(module.weight_mask)
            check_unambiguous(weights, pruned, f"{name} {tensor} {s}")
            assert np.array_equal(module.weight_mask.numpy().astype(np.uint8).ravel(),
                                  expected_mask(weights, pruned)), (tensor, s)
            rows.append(dict({"tensor": tensor, "sparsity": s, "pruned": pruned, "kept": kept,
                              "mask_sha256": digest}, **metrics(forward(variant, x), val_y, dense)))
    write_csv(os.path.join(out_dir, f"{name}-sensitivity.csv"),
              ["tensor", "sparsity", "pruned", "kept", "mask_sha256"] + METRIC_COLUMNS, rows)

    rows = []
    for s in SPARSITIES[1:]:
        variant = copy.deepcopy(model)
        params = prunable(variant)
        weights = np.concatenate([m.weight.detach().numpy().ravel() for _, m in params])
        prune.global_unstructured([(m, "weight") for _, m in params],
                                  pruning_method=prune.L1Unstructured, amount=s)
        masks = np.concatenate([m.weight_mask.numpy().astype(np.uint8).ravel() for _, m in params])
        check_unambiguous(weights, int((masks == 0).sum()), f"{name} global {s}")
        assert np.array_equal(masks, expected_mask(weights, int((masks == 0).sum()))), s
        m = metrics(forward(variant, x), val_y, dense)
        for tensor, module in params:
            pruned, kept, digest = mask_facts(module.weight_mask)
            rows.append({"sparsity": s, "tensor": tensor, "pruned": pruned, "kept": kept,
                         "mask_sha256": digest, "accuracy": m["accuracy"], "loss": m["loss"],
                         "min_margin": m["min_margin"]})
    write_csv(os.path.join(out_dir, f"{name}-global.csv"),
              ["sparsity", "tensor", "pruned", "kept", "mask_sha256", "accuracy", "loss",
               "min_margin"], rows)
    return dense_metrics


def channel_norms(weight, p):
    """The L1 or L2 norm of every output channel (row along axis 0), in float64."""
    w = weight.detach().numpy().astype(np.float64).reshape(weight.shape[0], -1)
    return np.abs(w).sum(axis=1) if p == 1 else np.sqrt((w * w).sum(axis=1))


def channel_references(name, model, val_x, val_y, out_dir):
    """Structured pruning of whole channel groups (see README): per group, norm and sparsity, the
    channels pruned by the group's combined score, each producer's mask and the metrics of the
    model with the whole group zeroed."""
    x = model_input(name, val_x)
    dense = forward(model, x)
    modules = dict(model.named_modules())
    rows = []
    for group, producers, norms, consumers in CHANNEL_GROUPS[name]:
        channels = modules[producers[0]].weight.shape[0]
        for p in (1, 2):
            scores = sum(channel_norms(modules[m].weight, p) for m in producers)
            for s in SPARSITIES[1:]:
                pruned = round(s * channels)  # PyTorch's _compute_nparams_toprune
                order = np.argsort(scores, kind="stable")
                cut = np.sort(scores)
                if 0 < pruned < channels and cut[pruned] - cut[pruned - 1] <= 1e-5 * cut[pruned]:
                    raise SystemExit(f"{name} {group} L{p} {s}: channel scores too close at the cut")
                removed = np.sort(order[:pruned])
                kept = np.sort(order[pruned:])
                variant = copy.deepcopy(model)
                vmodules = dict(variant.named_modules())
                masks = {}
                for m in producers:
                    if len(producers) == 1:
                        # PyTorch's own structured pruning, for the masks of single-producer groups.
                        prune.ln_structured(vmodules[m], "weight", amount=s, n=p, dim=0)
                        mask = vmodules[m].weight_mask.detach().numpy().astype(np.uint8)
                        expected = np.ones_like(mask)
                        expected[removed] = 0
                        assert np.array_equal(mask, expected), (name, group, p, s)
                        prune.remove(vmodules[m], "weight")
                    else:
                        mask = np.ones(tuple(vmodules[m].weight.shape), dtype=np.uint8)
                        mask[removed] = 0
                    masks[m] = mask
                with torch.no_grad():
                    for m in producers:
                        vmodules[m].weight[removed] = 0
                        vmodules[m].bias[removed] = 0
                    for m in norms:
                        vmodules[m].weight[removed] = 0
                        vmodules[m].bias[removed] = 0
                    for m, block in consumers:
                        for c in removed:
                            vmodules[m].weight[:, c * block:(c + 1) * block] = 0
                metrics_row = metrics(forward(variant, x), val_y, dense)
                for m in producers:
                    rows.append(dict({
                        "group": group, "norm": f"L{p}", "sparsity": s, "tensor": m + ".weight",
                        "pruned_channels": pruned, "kept_channels": " ".join(str(c) for c in kept),
                        "mask_sha256": hashlib.sha256(masks[m].tobytes(order="C")).hexdigest(),
                    }, **metrics_row))
    write_csv(os.path.join(out_dir, f"{name}-channel.csv"),
              ["group", "norm", "sparsity", "tensor", "pruned_channels", "kept_channels",
               "mask_sha256"] + METRIC_COLUMNS, rows)


# ----------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--val-csv", required=True, help="where to write the validation CSV")
    parser.add_argument("--skip-training", action="store_true",
                        help="use the safetensors already in --out")
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    np.random.seed(0)
    print(f"torch {torch.__version__}, onnx {onnx.__version__}, sklearn {sklearn.__version__},"
          f" numpy {np.__version__}")

    out = args.out
    ref_dir = os.path.join(out, "reference")
    os.makedirs(ref_dir, exist_ok=True)
    train_x, train_y, val_x, val_y = load_split()
    print(f"train {len(train_y)} rows, validation {len(val_y)} rows")
    write_validation_csv(args.val_csv, val_x, val_y)

    summary = {}
    for name in MODELS:
        st_path = os.path.join(out, f"{name}.safetensors")
        if not args.skip_training:
            write_safetensors(st_path, float_state(train(name, train_x, train_y)))
        model = load_model(name, st_path)
        export_onnx(name, model, os.path.join(out, f"{name}.onnx"))
        if name == "digits-cnn":
            save_external(os.path.join(out, f"{name}.onnx"), os.path.join(out, f"{name}-external"))
        summary[name] = references(name, model, val_x, val_y, ref_dir)
        channel_references(name, model, val_x, val_y, ref_dir)
    for name, m in summary.items():
        print(f"{name}: validation accuracy {m['accuracy']:.4f}, loss {m['loss']:.4f}")


if __name__ == "__main__":
    sys.exit(main())
