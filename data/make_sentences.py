#!/usr/bin/python3
"""Writes the sample sentences: the English text a fresh Debian machine has (the GPL-3 and
Apache-2.0 licence texts under /usr/share/common-licenses), cut into sentences of 20 to 300
characters, as a CSV with columns id,text for CsvToParquet (data/make_samples.sh writes
data/sentences.parquet from it). MiniLM's test data is made from it by `bin/lopper tokenize`."""
import argparse
import csv
import re

SOURCES = ["/usr/share/common-licenses/GPL-3", "/usr/share/common-licenses/Apache-2.0"]


def sentences(path):
    text = re.sub(r"\s+", " ", open(path, encoding="utf-8").read())
    for s in re.split(r"(?<=[.;:])\s+", text):
        s = s.strip()
        if 20 <= len(s) <= 300:
            yield s


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--csv", required=True)
    args = p.parse_args()
    rows = [s for path in SOURCES for s in sentences(path)]
    with open(args.csv, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "text"])
        for i, s in enumerate(rows):
            w.writerow([i, s])
    print(f"wrote {args.csv}: {len(rows)} sentences")


if __name__ == "__main__":
    main()
