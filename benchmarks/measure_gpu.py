"""Measure whole networks on a CUDA GPU the four ways of data/measurements/h200-2026-11-30/README.md.

Run on a machine with a GPU: `python benchmarks/measure_gpu.py --out DIR [--batch 1 8 32] [--stop-after S]
[--only NET ...]` (benchmarks/gpu_session.sh runs it after the profiler).
Each network is built with random weights, BatchNorm folded into its convs (torch.fx `fuse`, as deployed; a
network fx cannot trace is measured unfused and says so), eval, and timed at every batch by
costmodel.latency.timing.gpu_times: `sync_ms` (median of 30 calls between two synchronizations), `pipe_ms`
(20 calls back to back, CUDA events, median of 5), `graph_ms` (20 calls replayed as a CUDA graph, median
of 5) and `host_us` (issue time with the GPU kept busy, min of 3). One JSON line per network and batch is
appended to DIR/nets.jsonl as soon as it is measured, so a run cut short keeps what it measured;
`--stop-after` starts no network after that many seconds. DIR/meta.json records the machine and software.

Networks, by `--sets` in this order (default all): `fresh`, networks no GPU has timed yet
(costmodel.studies.gpu_validation.FRESH, the next clean test of the model), `held-out`, the GPU held-out
families (HELD_OUT, never used to judge a model change), and `zoo`, the 24 zoo networks of the stored H200
data again (a further run for the eager means, which vary by ~11% between runs on that host).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.fx.experimental.optimization import fuse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel import zoo  # noqa: E402
from costmodel.latency.gpu_profiles import H200_DIR  # noqa: E402
from costmodel.latency.timing import GRAPH_CALLS, CudaClock, HostClock, gpu_times, steady_allocator  # noqa: E402
from costmodel.sources.hub import load_real  # noqa: E402
from costmodel.studies.gpu_validation import FRESH, HELD_OUT, stored_networks  # noqa: E402

DEVICE = "cuda"
SETS = ("fresh", "held-out", "zoo")


def network(source: str, name: str, params: dict[str, object]) -> tuple[nn.Module, tuple[int, ...]]:
    """The network (random weights, eval) and its batch-1 input shape."""
    if source == "zoo":
        model, shape = zoo.build(name, **params)
        return model.eval(), shape
    return load_real(source, name, params)


def folded(model: nn.Module) -> tuple[nn.Module, bool]:
    """BatchNorm folded into the convs where torch.fx can trace the network, else the network as it is."""
    try:
        return fuse(model), True
    except Exception as error:  # noqa: BLE001 - fx raises many types on untraceable code; measure unfused
        print(f"  not fused ({type(error).__name__}: {str(error)[:80]}): measured with BatchNorm kept", flush=True)
        return model, False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--stop-after", type=float, default=float("inf"), metavar="S")
    parser.add_argument("--only", nargs="+", metavar="NET", help="measure only these networks (zoo arch or name)")
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS), help="which networks, in this order")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    steady_allocator()
    torch.backends.cudnn.benchmark = False
    meta = {"device": torch.cuda.get_device_name() if DEVICE == "cuda" else "cpu", "torch": torch.__version__,
            "cudnn": torch.backends.cudnn.version(), "tf32_conv": torch.backends.cudnn.allow_tf32,
            "tf32_matmul": torch.backends.cuda.matmul.allow_tf32, "date": time.strftime("%Y-%m-%d"), "K": GRAPH_CALLS}
    (args.out / "meta.json").write_text(json.dumps(meta) + "\n", encoding="utf-8")
    sets = {"fresh": list(FRESH), "held-out": list(HELD_OUT),
            "zoo": [(arch, "zoo", arch, params) for arch, params in stored_networks(H200_DIR)]}
    todo = [entry for name in SETS if name in args.sets for entry in sets[name]]
    todo = [entry for entry in todo if not args.only or entry[2] in args.only]
    clock = CudaClock() if DEVICE == "cuda" else HostClock()
    with (args.out / "nets.jsonl").open("a", encoding="utf-8") as sink:
        for family, source, name, params in todo:
            if time.perf_counter() - start > args.stop_after:
                print(f"stopped after {args.stop_after:.0f} s, before {name}", flush=True)
                break
            torch.manual_seed(0)
            model, shape = network(source, name, params)
            module, fused = folded(model)
            module = module.to(DEVICE)
            for batch in args.batch:
                x = torch.randn((batch, *shape[1:]), device=DEVICE)
                times = gpu_times(module, x, clock, sync_samples=30, pipe=True)
                label = f"{name}({', '.join(f'{k}={v}' for k, v in params.items())})"
                record = {"net": label, "family": family, "source": source, "arch": name, "params": params,
                          "fused": fused, "batch": batch, "shape": list(x.shape), "sync_ms": times.sync_ms,
                          "pipe_ms": times.pipe_ms, "graph_ms": times.graph_ms, "host_us": times.host_us}
                sink.write(json.dumps(record) + "\n")
                sink.flush()
                print(f"{time.perf_counter() - start:6.0f} s  {label:40s} b{batch:<3d} graph {times.graph_ms:8.3f} ms  "
                      f"pipe {times.pipe_ms:8.3f} ms  host {times.host_us / 1e3:8.3f} ms", flush=True)
            del module, model
            if DEVICE == "cuda":
                torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
