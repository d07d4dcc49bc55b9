#!/usr/bin/python3
"""Writes a calibration token file for the sample LM from the training part of its text, so that
calibration and validation share no byte (bench/lm-pruning-table.sh runs it).

    /usr/bin/python3 bench/make_lm_calibration.py --out /tmp/lopper-lm-table/calibration

The sample's text (data/make_lm_sample.py: the GPL-3, blocks of 512 bytes, every fifth held out as
data/tiny-lm-val.parquet) is split exactly as the sample was; each training segment (the text
between held-out blocks) is cut into rows of 64 bytes from its start (a shorter tail is dropped),
and the rows are written in an order shuffled with numpy's default_rng(--seed), so that the first
rows of the file are spread over the whole text, as the papers' random calibration windows are
(their 128 sequences of C4's training split, seed 0). The model was trained on windows of these
segments, as LLaMA was on C4-like text.

Writes into --out: calibration.csv (id,input_ids), calibration.parquet (the same through Lopper's
own writer, dev.lopper.fixtures.CsvToParquet, the layout of data/tiny-lm-val.parquet) and
calibration.json (counts, seed, the text's SHA-256 and where each row starts in the text).
"""

import argparse
import json
import os
import sys

import numpy as np

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(BENCH), "data"))
sys.path.insert(0, BENCH)
import make_lm_sample as lm  # noqa: E402  (the sample's text and split)
from make_lm_bench import to_parquet  # noqa: E402  (CsvToParquet as data/make_samples.sh runs it)


def training_rows(tokens, row_length=lm.ROW_LENGTH):
    """(rows [R, row_length], start offset of each row in the text): every training segment of
    lm.split cut into rows from its start."""
    segments, validation = lm.split(tokens, row_length)
    # Where each segment starts in the text: the segments are the text minus the held-out blocks.
    held = {b for b in range(len(tokens) // lm.BLOCK) if b % lm.HELD_OUT_EVERY == lm.HELD_OUT_PHASE}
    starts, position = [], 0
    for segment in segments:
        while position // lm.BLOCK in held and position % lm.BLOCK == 0:
            position += lm.BLOCK
        starts.append(position)
        position += len(segment)
    rows, offsets = [], []
    for segment, start in zip(segments, starts):
        assert np.array_equal(tokens[start:start + len(segment)], segment), start
        for k in range(len(segment) // row_length):
            rows.append(segment[k * row_length:(k + 1) * row_length])
            offsets.append(start + k * row_length)
    # No row overlaps a held-out block.
    for offset in offsets:
        assert (offset // lm.BLOCK) not in held and ((offset + row_length - 1) // lm.BLOCK) not in held, offset
    return np.stack(rows), np.array(offsets), validation


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="directory to write into (created)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-parquet", action="store_true", help="write calibration.csv only (no Java step)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)

    tokens = lm.read_text()
    rows, offsets, validation = training_rows(tokens)
    order = np.random.default_rng(args.seed).permutation(len(rows))
    rows, offsets = rows[order], offsets[order]
    same = sum(any(np.array_equal(r, v) for v in validation) for r in rows)
    csv_path = os.path.join(args.out, "calibration.csv")
    lm.write_tokens_csv(csv_path, rows)
    if not args.no_parquet:
        to_parquet(csv_path, os.path.join(args.out, "calibration.parquet"))
    facts = {"source": lm.TEXT_PATH, "text_sha256": lm.TEXT_SHA256, "rows": int(len(rows)),
             "row_length": lm.ROW_LENGTH, "seed": args.seed, "rows_equal_to_a_validation_row": int(same),
             "offsets": [int(o) for o in offsets]}
    with open(os.path.join(args.out, "calibration.json"), "w") as f:
        json.dump(facts, f, indent=1)
    print(f"calibration: {len(rows)} rows of {lm.ROW_LENGTH} bytes from the training part of {lm.TEXT_PATH}"
          f" (shuffled, seed {args.seed}; {same} equal to a validation row) in {args.out}")


if __name__ == "__main__":
    sys.exit(main())
