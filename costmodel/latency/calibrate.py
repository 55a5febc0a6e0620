"""Profiles calibrated to the ShuffleNet V2 paper: GTX 1080Ti and Snapdragon 810 fitted to Tables 1-4.

Every cell of the paper's guideline Tables 1-4 is one measurement: the zoo's guideline micro-network of
that cell, analysed by the engine, timed at the published speed. The latency model is fitted to them with
spec-sheet priors and told nothing about which cell is faster, so the paper's qualitative conclusions must
come out of the fitted model; tests/test_calibration.py fits three tables and checks the fourth's.

Two readings of the tables, both checked against the published numbers:
- Columns x2 and x4 of Tables 1 and 2 multiply the *channels* of column x1 by 2 and 4 (FLOPs by 4 and 16).
  In Table 1 the pairs of a column keep its 1:1 FLOPs by c1 = floor(c / sqrt(r)), c2 = r * c1, the rule
  that reproduces every printed x1 pair (so ARM x4 runs GPU x1's networks, (90, 180) ... (36, 432)).
  Table 2's g=1 network (10 1x1 convs c -> c) is Table 3's 1-fragment network, and Table 3 names its
  columns by channels, c = 128/256/512 (GPU) and 64/128/256 (ARM): the speeds agree within 1.2% in all six
  columns (2451/2446, 1289/1274, 437/434 batches/s; 40.0/40.2, 10.2/10.1, 2.3/2.3 images/s). Read as FLOPs
  x2 and x4 (channels x1.41 and x2), Table 2's x2 network would do half the work of Table 3's c = 256 one
  at the same speed; read as channels, ARM runs both tables at a steady ~5 G multiply-adds/s.
- The GPU tables are at batch 1: Table 1's x4 column at 1:1 (c = 512) does 16.4 G multiply-adds per image
  at 232 batches/s, 7.6 TFLOPS if a batch is one image; batch 2 would need 15.2 TFLOPS, more than the
  1080Ti's 11.3 TFLOPS fp32 peak. At batch 1 the x1-x4 columns run at 27-67% of peak, as cuDNN does on small
  kernels. Whole networks are predicted at the paper's Table 8 setting: GPU batch 8, ARM batch 1.

The paper timed framework runs, so on the GPU each cell is an eager run of two resources
(docs/readme/gpu.md): the host issues every kernel (one issue time per kernel class) while the device runs
them (the device-time model), both fitted at once (costmodel.latency.fitting.fit_eager); a cell's ops are
kept in issue order. The ARM core runs what it issues: one resource.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
import torch

from costmodel import zoo
from costmodel.zoo.guidelines import tables_batch
from costmodel.engine.analysis import analyze
from costmodel.latency.fitting import fit, fit_eager, in_issue_order
from costmodel.latency.kernels import COMPUTE_CLASSES, KERNEL_CLASSES
from costmodel.latency.model import FEATURES, op_features, op_milliseconds, run_schedule, samples_frame
from costmodel.latency.profiles import DeviceProfile, HostModel, KernelParams, LatencyModel, \
    Measurement, OpSample, Source, regeneration_folder, save_profile

CALIBRATION_BATCH = tables_batch()
_REFERENCE = "ShuffleNet V2 (Ma et al., ECCV 2018, arXiv 1807.11164)"


def _spec_prior(*, overhead_us: float, gbytes_per_s: float, gmadds_per_s: float, half_pixels: float,
                half_size: float, cache_bytes: float, spill: float) -> LatencyModel:
    kernels = {name: KernelParams(overhead_us=overhead_us, gbytes_per_s=gbytes_per_s,
                                  gmadds_per_s=gmadds_per_s if name in COMPUTE_CLASSES else None,
                                  half_pixels=half_pixels if name in COMPUTE_CLASSES else 0.0,
                                  half_reduction=half_size if name in COMPUTE_CLASSES else 0.0,
                                  half_outputs=half_size if name in COMPUTE_CLASSES else 0.0,
                                  per_group_us=overhead_us if name in ("group_conv", "group_conv1x1") else 0.0)
               for name in KERNEL_CLASSES}
    return LatencyModel(kernels=kernels, cache_bytes=cache_bytes, spill=spill)


@dataclass(frozen=True)
class Calibration:
    """A device of the paper: what it is, which table columns are its, and its spec-sheet prior."""

    device: str
    kind: str
    table_device: str  # guideline_settings' device: "gpu" or "arm"
    batch: int  # whole networks are predicted at this batch
    threads: int | None
    lanes: int  # fp32 channels per vector (fixed from the spec, not fitted)
    why_batch: str
    prior: LatencyModel
    host_prior_us: float | None  # issue time per kernel before the fit (GPU); None: the core runs what it issues


# Spec sheets: GTX 1080Ti 11.3 TFLOPS fp32 (5650 G multiply-adds/s), 484 GB/s, 2.75 MB L2, ~5 us per kernel
# launch plus about as much framework dispatch on the host (~10 us to issue a kernel), ~2 us of device time
# for an empty kernel, 32-thread warps; Cortex-A57 at 2 GHz, one 128-bit NEON FMA per cycle (8 G multiply-adds/s, 4 fp32
# lanes), ~5 GB/s for one core, 2 MB L2 with DRAM several times slower behind it.
DEVICES = {
    "gtx1080ti": Calibration(
        device="NVIDIA GeForce GTX 1080 Ti", kind="gpu", table_device="gpu", batch=8, threads=None, lanes=32,
        why_batch="batch 2 would need more than the 11.3 TFLOPS fp32 peak in Table 1's x4 column",
        prior=_spec_prior(overhead_us=2.0, gbytes_per_s=400.0, gmadds_per_s=5650.0, half_pixels=2000.0,
                          half_size=64.0, cache_bytes=2.75e6, spill=0.1), host_prior_us=10.0),
    "snapdragon810": Calibration(
        device="Qualcomm Snapdragon 810 (ARM Cortex-A57, one thread)", kind="cpu", table_device="arm", batch=1,
        threads=1, lanes=4, why_batch="the paper times one image at a time on one ARM core",
        prior=_spec_prior(overhead_us=2.0, gbytes_per_s=5.0, gmadds_per_s=8.0, half_pixels=1.0, half_size=4.0,
                          cache_bytes=2e6, spill=5.0), host_prior_us=None),
}


def paper_cells(table_device: str) -> list[dict]:
    """Cells of Tables 1-4 for one device ('gpu' or 'arm'), as the zoo reads them (x2/x4 = 2x/4x channels)."""
    return [cell for table in (1, 2, 3, 4) for cell in zoo.guideline_settings(table) if cell["device"] == table_device]


def issue_order_samples(ops: pd.DataFrame) -> list[OpSample]:
    """A report's kernel-launching ops in issue order, consecutive identical ops merged into one `count`
    (an eager run depends on the order in which host and device costs alternate)."""
    features = op_features(ops)
    launched = features[features["launches"]][list(FEATURES)].reset_index(drop=True)
    changed = launched.ne(launched.shift()).any(axis=1).cumsum()
    runs = launched.groupby(changed, sort=False)
    return [OpSample(**row, count=int(n)) for row, n in zip(runs.first().to_dict("records"), runs.size())]


def _measurement(cell: dict) -> Measurement:
    with torch.device("meta"):
        model, shape = zoo.build(cell["arch"], batch=CALIBRATION_BATCH, **cell["kwargs"])
    settings = ", ".join(f"{k}={v}" for k, v in cell["kwargs"].items())
    return Measurement(
        label=f"Table {cell['table']} {cell['column']} {cell['row']}: {cell['arch']}({settings})",
        ms=1e3 / cell["speed"] * CALIBRATION_BATCH,
        reference=f"{_REFERENCE} Table {cell['table']}, {cell['column']}: {cell['speed']:g} {cell['unit']}",
        ops=issue_order_samples(analyze(model, shape).ops))


def paper_measurements(name: str) -> list[Measurement]:
    """Every cell of Tables 1-4 of one of DEVICES as a Measurement (published time, the network's ops)."""
    return [_measurement(cell) for cell in paper_cells(DEVICES[name].table_device)]


def table_of(measurement: Measurement) -> int:
    """The table (1-4) a calibration measurement comes from, read from its label."""
    return int(re.match(r"Table (\d) ", measurement.label).group(1))


def calibrate(name: str, tables: tuple[int, ...] = (1, 2, 3, 4), measurements: list[Measurement] | None = None
              ) -> DeviceProfile:
    """Fit one of DEVICES to its cells of `tables` (default all four; fewer to check the paper's conclusions
    on a table the fit never saw). The fit matches published times only: it is not told any speed order, so
    the orderings the paper concludes from (G1-G4) are predictions of the fitted model, not constraints."""
    spec = DEVICES[name]
    chosen = [m for m in measurements or paper_measurements(name) if table_of(m) in tables]
    shown = "Tables 1-4" if tuple(tables) == (1, 2, 3, 4) else "Tables " + ", ".join(map(str, tables))
    host = None
    if spec.host_prior_us is None:
        model, measurements, quality = fit(chosen, spec.prior, lanes=spec.lanes)
    else:
        data = f"{_REFERENCE} {shown}, read as eager runs: host and device fitted together"
        prior = HostModel(kernels={c: spec.host_prior_us for c in KERNEL_CLASSES}, data=data)
        model, host, measurements, quality = fit_eager(chosen, spec.prior, prior, lanes=spec.lanes)
    how = (f"calibrated to {_REFERENCE} {shown}: {len(measurements)} published speeds of the guideline "
           f"micro-networks, x2/x4 columns read as 2x/4x channels, at batch {CALIBRATION_BATCH} ({spec.why_batch}). "
           f"Whole networks are predicted at batch {spec.batch}, the paper's Table 8 setting. Kernel classes the "
           f"tables do not exercise borrow fitted parameters (latency_model.fitted lists the fitted ones).")
    return DeviceProfile(name=name, device=spec.device, kind=spec.kind,
                         source=Source(method="calibrated", description=how), batch=spec.batch,
                         threads=spec.threads, latency_model=model, measurements=measurements, fit=quality,
                         host=host, device_data=None if host is None else host.data)


def run_ms(samples: list[OpSample], profile: DeviceProfile) -> float:
    """Predicted time of a calibration cell's ops (in issue order) on `profile`: an eager run where the
    profile has a host model, else the sum of the ops' times."""
    frame = in_issue_order(samples_frame(samples)).assign(launches=True)
    return run_schedule(frame, op_milliseconds(frame, profile.latency_model), profile, "eager").ms


def calibration_table(profile: DeviceProfile) -> pd.DataFrame:
    """Published vs predicted speed of every calibration cell, in the table's unit (batch 1, so batches/s
    and images/s agree), with the error in %."""
    rows = []
    for m in profile.measurements:
        table, column, row = re.match(r"Table (\d) (\S+) (.+?): ", m.label).groups()
        predicted = run_ms(m.ops, profile)
        rows.append({"table": int(table), "column": column, "row": row, "published": 1e3 / m.ms,
                     "predicted": 1e3 / predicted, "error_pct": 100 * (m.ms / predicted - 1)})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    """Regenerate the shipped calibrated profiles and print published vs predicted speed per table."""
    folder = regeneration_folder("Refit the paper-calibrated profiles (gtx1080ti, snapdragon810) to ShuffleNet V2 "
                                 "Tables 1-4 and print published vs predicted speed per table.", argv)
    for name in DEVICES:
        profile = calibrate(name)
        path = save_profile(profile, folder / f"{name}.json")
        print(f"{path}: {profile.unit} at batch {CALIBRATION_BATCH}; error = predicted / published - 1; "
              f"median |error| {profile.fit.median_ape:.1f}%, max {profile.fit.max_ape:.1f}%")
        table = calibration_table(profile)
        for number, cells in table.groupby("table"):
            shown = cells.assign(cell=[f"{p:.4g} / {q:.4g} ({e:+.0f}%)" for p, q, e in
                                       zip(cells["published"], cells["predicted"], cells["error_pct"])])
            print(f"\nTable {number}, published / predicted (error); median |error| "
                  f"{cells['error_pct'].abs().median():.1f}%")
            print(shown.pivot(index="row", columns="column", values="cell").to_string())
        print()


if __name__ == "__main__":
    main()
