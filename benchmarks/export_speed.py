"""onnxruntime against PyTorch eager on the CPU, one thread: inference of exported Recurrent stacks.

Each stack is exported with :func:`rnnkit.export.to_onnx` (dynamic batch and time, lengths inside
the graph), then both run the same inputs (random lengths) in one process, alternating, and the
median of the repeats is reported, with the ratio. PyTorch runs the layer as rnnkit chooses
(``backend="auto"`` with autotuning off: PyTorch's kernel for LSTM/GRU, the compiled kernels for
layer-norm LSTM, the scan for minGRU) under ``torch.inference_mode``.

    python benchmarks/export_speed.py [--batch 16 --steps 100 --hidden 128 --repeats 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RNNKIT_AUTOTUNE", "0")

import numpy as np
import torch

import rnnkit
from rnnkit.bench.common import machine_description
from rnnkit.export import to_onnx
from rnnkit.optional import require

STACKS = {
    "lstm 2 layers, bidirectional": dict(cell="lstm", num_layers=2, bidirectional=True),
    "gru 1 layer": dict(cell="gru", num_layers=1),
    "layernorm_lstm 1 layer": dict(cell="layernorm_lstm", num_layers=1),
    "mingru 2 layers": dict(cell="mingru", num_layers=2),
    "indrnn 2 layers": dict(cell="indrnn", num_layers=2),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--input", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    ort = require("onnxruntime", "export")
    torch.set_num_threads(1)
    print(f"machine: {machine_description('cpu')}; torch {torch.__version__}, onnxruntime {ort.__version__}, "
          "1 thread each")
    print(f"batch {args.batch}, {args.steps} steps, input {args.input}, hidden {args.hidden}, random lengths; "
          f"median of {args.repeats}\n")
    print("| stack | ONNX graph | PyTorch backend | PyTorch ms | onnxruntime ms | ratio (PyTorch / ORT) "
          "| max abs diff |")
    print("|---|---|---|---:|---:|---:|---:|")
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, args.steps, args.input, generator=generator)
    lengths = torch.randint(args.steps // 2, args.steps + 1, (args.batch,), generator=generator)
    lengths[0] = args.steps
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3  # no notes about unused initialisers
    with tempfile.TemporaryDirectory() as folder:
        for label, spec in STACKS.items():
            torch.manual_seed(0)
            layer = rnnkit.Recurrent(spec["cell"], args.input, args.hidden, num_layers=spec["num_layers"],
                                     bidirectional=spec.get("bidirectional", False)).eval()
            path = Path(folder) / "stack.onnx"
            result = to_onnx(layer, path, check=False)
            graph = "+".join(sorted(op for op in result.operators if op in ("LSTM", "GRU", "RNN", "Scan")))
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            feed = {"x": x.numpy(), "lengths": lengths.numpy()}
            with torch.inference_mode():
                want = layer(x, lengths=lengths)[0]
                backend = str(layer.backend)
            got = session.run(None, feed)[0]
            diff = float(np.abs(got - want.numpy()).max())
            torch_times, ort_times = [], []
            for _ in range(args.repeats):
                start = time.perf_counter()
                with torch.inference_mode():
                    layer(x, lengths=lengths)
                torch_times.append(time.perf_counter() - start)
                start = time.perf_counter()
                session.run(None, feed)
                ort_times.append(time.perf_counter() - start)
            t, o = statistics.median(torch_times) * 1e3, statistics.median(ort_times) * 1e3
            print(f"| {label} | {graph} | {backend} | {t:.2f} | {o:.2f} | {t / o:.2f} | {diff:.1e} |", flush=True)


if __name__ == "__main__":
    main()
