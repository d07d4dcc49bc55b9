#!/usr/bin/python3
"""Checks an ONNX model with the onnx package's full checker (shape inference included).

    /usr/bin/python3 data/check_onnx.py FILE.onnx

Prints one line, "valid: FILE" or "invalid: FILE: reason", and exits 0 when valid, 1 when not
(2 on a usage error). External data next to FILE is found by the checker through the path.
"""

import os
import sys
import tempfile


def main(argv):
    if len(argv) != 2:
        print("usage: check_onnx.py FILE.onnx", file=sys.stderr)
        return 2
    path = argv[1]
    try:
        import onnx
        # Checking by path (not a loaded proto) lets the checker read external data and models
        # over 2 GB. The full check's strict shape inference writes its result to a scratch file:
        # onnx 1.12's check_model(path, full_check=True) writes the inferred model (value_info
        # added) back over FILE.
        onnx.load(path, load_external_data=False)
        onnx.checker.check_model(path)
        with tempfile.TemporaryDirectory() as scratch:
            onnx.shape_inference.infer_shapes_path(path, os.path.join(scratch, "inferred.onnx"),
                                                   check_type=True, strict_mode=True)
    except Exception as e:  # every failure is a verdict, not a crash
        reason = " ".join(str(e).split()) or type(e).__name__
        print(f"invalid: {path}: {type(e).__name__}: {reason}")
        return 1
    print(f"valid: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
