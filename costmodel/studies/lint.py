"""ShuffleNet V2's four guidelines (Ma et al., ECCV 2018, Sec. 2) as a linter: which ops and blocks of a model
break them, the evidence, and the predicted time each costs on a device, costliest first.

- G1: a dense 1x1 conv c1 -> c2 at h x w has MAC = hw(c1 + c2) + c1*c2 >= 2*sqrt(hw*B) + B/hw (B = its FLOPs,
  hw including the batch), with equality at c1 = c2.
- G2: a 1x1 (or k x k) conv with g groups reads and writes sqrt(g) times the activations of the dense conv
  with the same FLOPs (channels c / sqrt(g)), with the same weights.
- G3: many compute operators per block, or parallel branches, leave a device under-filled and pay a launch
  each.
- G4: elementwise and data-movement ops have no FLOPs but cost time.

Costs come from the device's latency model (costmodel.latency.model). G1 and G2: the op's predicted time minus that
of its counterfactual (the balanced conv; the dense conv at equal FLOPs), at least 0. G3: what the model
charges the block's compute kernels beyond their roofline time - per-kernel overhead and under-utilisation,
the mechanism of G3. G4: the whole time of the flagged op type. Each cost is judged on its own; an op can
appear under two guidelines, so costs are not added up across findings. On a host-bound GPU run (eager mode,
costmodel.latency.schedule) an op's time for G3 and G4 is its host issue time: the device waits for launches.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from costmodel.engine.kinds import COMPUTE_KINDS, DATA_KINDS, OpKind
from costmodel.engine.opcosts import g1_lower_bound
from costmodel.latency.host import host_us
from costmodel.latency.model import Features, Latency, op_features, op_milliseconds, predict
from costmodel.latency.schedule import Mode
from costmodel.latency.profiles import DeviceProfile, LatencyModel
from costmodel.engine.report import Report
from costmodel.units import bytes_, percent, si

MAC_EXCESS_LIMIT = 1 / 3
"""G1 and G2: flag an op whose MAC exceeds the least MAC its FLOPs allow (G1 bound; dense conv at equal FLOPs)
by a third or more. Table 1 of the paper separates a mild 1:2 ratio (6% above the bound, 4-19% slower than
1:1) from a harmful 1:6 (42% above, 9-41% slower); a third lies between them, at c_out/c_in ~ 5 when
activations dominate (a 1:4 bottleneck, 25%, passes). For groups it is reached at g = 2 (sqrt(2) - 1 = 41%),
where Table 2 measured 4-32% slowdowns."""

MAX_COMPUTE_OPS = 3
"""G3: compute operators (conv, linear, pooling) per block before it counts as fragmented: the reduce -
transform - expand bottleneck that ResNet, MobileNet V2 and ShuffleNet V2 units share and the paper accepts."""

MAX_WIDTH = 1
"""G3: compute operators that may run side by side in a block; Table 3's parallel structures (width 2 and 4)
are slower than the series ones at equal FLOPs on the GPU."""

TIME_SHARE_LIMIT = 0.05
"""G4: flag an elementwise or data-movement op type that takes 5% or more of the predicted time. The smallest
effect the paper calls not negligible is the shortcut add of Table 4: ~6% of a ResNet bottleneck's GPU time
(2672 vs 2842 batches/s)."""

GUIDELINES = {
    "G1": "equal channel width minimises MAC",
    "G2": "excessive group convolution increases MAC",
    "G3": "network fragmentation reduces parallelism",
    "G4": "elementwise operations are non-negligible",
}
DEFAULT_DEVICE = "gtx1080ti"  # the paper's GPU, where G1-G3 show most; any profile name or path works

G4_KINDS = frozenset({OpKind.ELEMENTWISE.value, *(k.value for k in DATA_KINDS)})
MODULES_SHOWN = 3  # a G4 finding names its costliest modules, then how many more


@dataclass(frozen=True)
class Finding:
    """One broken guideline at one place: `cost_ms` is the predicted time it costs on the device."""

    guideline: str
    module: str
    block: str
    evidence: str
    cost_ms: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LintResult:
    """The findings of one model on one device, costliest first, with the model's predicted time."""

    arch: str
    device: str
    batch: int
    total_ms: float
    findings: list[Finding]
    unknown_ops: tuple[str, ...] = ()  # ops the engine does not know: the predicted time counts their overhead only

    def table(self) -> pd.DataFrame:
        """One row per finding: guideline, module, block, cost (ms and share of the predicted time), evidence."""
        rows = [{"guideline": f.guideline, "module": f.module, "block": f.block, "cost_ms": f.cost_ms,
                 "share": f.cost_ms / self.total_ms if self.total_ms else 0.0, "evidence": f.evidence}
                for f in self.findings]
        return pd.DataFrame(rows, columns=["guideline", "module", "block", "cost_ms", "share", "evidence"])

    def counts(self) -> dict[str, int]:
        return {g: sum(f.guideline == g for f in self.findings) for g in GUIDELINES}

    def by_guideline(self) -> pd.DataFrame:
        """Findings and their summed cost per guideline (a guideline's findings never share an op, so its
        costs add up; across guidelines they may overlap)."""
        rows = [{"guideline": g, "statement": text, "findings": self.counts()[g],
                 "cost_ms": sum(f.cost_ms for f in self.findings if f.guideline == g)}
                for g, text in GUIDELINES.items()]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "device": self.device, "batch": self.batch, "total_ms": self.total_ms,
                "status": "partial" if self.unknown_ops else "complete", "unknown_ops": list(self.unknown_ops),
                "counts": self.counts(),
                "units": {"cost_ms": "ms of predicted time on the device"},
                "findings": [asdict(f) for f in self.findings]}


def _saved_ms(features: pd.DataFrame, counterfactual: pd.DataFrame, model: LatencyModel) -> np.ndarray:
    """Predicted time of each op minus that of its counterfactual, floored at 0 (a guideline can only cost)."""
    return np.maximum(op_milliseconds(features, model) - op_milliseconds(counterfactual, model), 0.0)


@dataclass(frozen=True)
class _MacExcess:
    """An op whose MAC exceeds the least its FLOPs allow: the numbers behind the finding, and the latency
    features of its counterfactual (the balanced or dense conv with the same FLOPs)."""

    details: dict[str, Any]
    counterfactual: dict[str, Any]


def _g1_assess(op: Any, bytes_per_element: int) -> _MacExcess | None:
    """G1 for a dense conv: only 1x1, stride 1 (the guideline's setting) with MAC a third above the bound."""
    (n, c1, h, w), (_, c2, h2, w2) = op.input_shapes[0], op.output_shapes[0]
    hw = n * h * w
    if (h, w) != (h2, w2) or op.flops != hw * c1 * c2:
        return None
    mac, bound = hw * (c1 + c2) + c1 * c2, g1_lower_bound(hw, op.flops)
    if mac / bound - 1 < MAC_EXCESS_LIMIT:
        return None
    c = math.sqrt(c1 * c2)
    return _MacExcess(
        {"c_in": c1, "c_out": c2, "h": h, "w": w, "mac_elements": mac, "bound_elements": bound,
         "excess": mac / bound - 1},
        {"mac_bytes": op.mac_bytes - (mac - bound) * bytes_per_element, "reduction": c, "outputs": c,
         "in_channels": c})


def _g1_evidence(d: dict[str, Any], op: Any) -> str:
    return (f"1x1 conv {d['c_in']} -> {d['c_out']} channels (c_out/c_in = {d['c_out'] / d['c_in']:.2g}) at "
            f"{d['h']}x{d['w']}: MAC {si(d['mac_elements'])} elements, {percent(d['excess'])} above the G1 lower "
            f"bound ({si(d['bound_elements'])} elements, reached at c_in = c_out with the same "
            f"{si(op.flops)} multiply-adds)")


def _g2_assess(op: Any, bytes_per_element: int) -> _MacExcess | None:
    """G2 for a group conv: MAC a third above the dense conv with the same FLOPs (channels / sqrt(g), same
    weights, activations / sqrt(g))."""
    c1, c2 = op.input_shapes[0][1], op.output_shapes[0][1]
    g, kernel_area = int(op.groups), math.prod(op.kernel_size)
    activations = math.prod(op.input_shapes[0]) + math.prod(op.output_shapes[0])
    dense_mac = activations / math.sqrt(g) + (op.mac_elements - activations)
    excess = op.mac_elements / dense_mac - 1
    if excess < MAC_EXCESS_LIMIT:
        return None
    c_in = c1 / math.sqrt(g)
    return _MacExcess(
        {"c_in": c1, "c_out": c2, "groups": g, "kernel_area": kernel_area, "mac_elements": int(op.mac_elements),
         "dense_elements": dense_mac, "excess": excess},
        {"kind": OpKind.CONV.value, "mac_bytes": dense_mac * bytes_per_element, "reduction": c_in * kernel_area,
         "outputs": c2 / math.sqrt(g), "groups": 1, "in_channels": c_in})


def _g2_evidence(d: dict[str, Any], op: Any) -> str:
    kernel, out = "x".join(map(str, op.kernel_size)), op.output_shapes[0]
    return (f"{kernel} group conv {d['c_in']} -> {d['c_out']} channels, g = {d['groups']}, output "
            f"{out[2]}x{out[3]}: MAC {si(d['mac_elements'])} elements, {percent(d['excess'])} above the "
            f"{si(d['dense_elements'])} of a dense conv with equal FLOPs (channels / sqrt(g))")


_MAC_RULES = {  # guideline -> (op kind, assessment, evidence text)
    "G1": (OpKind.CONV, _g1_assess, _g1_evidence),
    "G2": (OpKind.GROUP_CONV, _g2_assess, _g2_evidence),
}


def _mac_findings(report: Report, model: LatencyModel, guideline: str) -> list[Finding]:
    """G1 or G2 over the report's 2-D convs (on N, C, H, W, as the guidelines), each costed as its predicted
    time minus its counterfactual's."""
    kind, assess, evidence = _MAC_RULES[guideline]
    ops = report.ops[report.ops["kind"] == kind.value]
    features = op_features(ops).set_index(ops.index)
    features = features.astype(dict.fromkeys(features.select_dtypes("number").columns, float))  # fractional c
    counterfactual, found = features.copy(), []
    for index, op in ops.iterrows():
        excess = assess(op, report.summary["bytes_per_element"]) if len(op.input_shapes[0]) == 4 else None
        if excess is not None:
            counterfactual.loc[index, list(excess.counterfactual)] = list(excess.counterfactual.values())
            found.append((index, op, excess.details))
    saved = pd.Series(_saved_ms(features, counterfactual, model), index=features.index)
    return [Finding(guideline, op.module, op.block, evidence(d, op), float(saved[i]), d) for i, op, d in found]


def _ideal(model: LatencyModel) -> LatencyModel:
    """The same device without per-kernel overhead and with every kernel at full efficiency: the roofline."""
    kernels = {name: params.model_copy(update={"overhead_us": 0.0, "half_pixels": 0.0, "half_reduction": 0.0,
                                               "half_outputs": 0.0})
               for name, params in model.kernels.items()}
    return model.model_copy(update={"kernels": kernels})


def _fragmented(blocks: pd.DataFrame) -> pd.DataFrame:
    return blocks[(blocks["compute_ops"] > MAX_COMPUTE_OPS) | (blocks["width"] > MAX_WIDTH)]


def _branch_joins(report: Report, flagged: pd.DataFrame) -> pd.Index:
    """Data-movement ops (concat) merging the parallel branches of a block flagged for width: they exist
    because of the branches, so their time belongs to the block's G3 cost, not to G4."""
    ops = report.ops
    wide = flagged.loc[flagged["width"] > MAX_WIDTH, "block"]
    candidates = ops[ops["block"].isin(wide) & (ops["kind"] == OpKind.DATA_MOVEMENT.value)]
    return candidates.index[[report.graph.in_degree(name) >= 2 for name in candidates["name"]]]


def _g3(report: Report, model: LatencyModel, ms: pd.Series, flagged: pd.DataFrame, joins: pd.Index
        ) -> list[Finding]:
    ops = report.ops
    compute = ops[ops["block"].isin(flagged["block"]) & ops["kind"].isin({k.value for k in COMPUTE_KINDS})]
    features = op_features(compute)
    loss = pd.Series(op_milliseconds(features, model) - op_milliseconds(features, _ideal(model)), index=compute.index)
    loss_per_block = loss.groupby(compute["block"]).sum()
    joins_per_block = ms[joins].groupby(ops.loc[joins, "block"]).agg(["sum", "size"])
    findings = []
    for b in flagged.itertuples(index=False):
        join_ms, n_joins = joins_per_block.loc[b.block] if b.block in joins_per_block.index else (0.0, 0)
        merge = f", plus the {'concat' if n_joins == 1 else f'{int(n_joins)} concats'} joining its branches" \
            if n_joins else ""
        findings.append(Finding(
            "G3", b.block, b.block,
            f"{b.compute_ops} compute ops ({b.kernels} kernels), up to {b.width} in parallel (a bottleneck unit has "
            f"{MAX_COMPUTE_OPS} in series): launch overhead and under-filled kernels{merge}",
            float(loss_per_block.get(b.block, 0.0) + join_ms),
            {"compute_ops": int(b.compute_ops), "kernels": int(b.kernels), "width": int(b.width),
             "join_ops": int(n_joins)},
        ))
    return findings


def _module_list(group: pd.DataFrame) -> str:
    """The modules of an op type, costliest first: the first few, then how many more."""
    costliest = group.groupby("module", sort=False)["ms"].sum().sort_values(ascending=False)
    more = len(costliest) - MODULES_SHOWN
    shown = ", ".join(m or "(top)" for m in costliest.index[:MODULES_SHOWN])
    return shown + (f" (+{more} more)" if more > 0 else "")


def _g4(report: Report, ms: pd.Series, total_ms: float, joins: pd.Index) -> list[Finding]:
    ops = report.ops.assign(ms=ms).drop(index=joins)
    findings = []
    for name, group in ops[ops["kind"].isin(G4_KINDS)].groupby("op", sort=False):
        cost = float(group["ms"].sum())
        share = cost / total_ms if total_ms else 0.0
        if share < TIME_SHARE_LIMIT:
            continue
        blocks = group["block"].unique()
        findings.append(Finding(
            "G4", _module_list(group), blocks[0] if len(blocks) == 1 else f"{len(blocks)} blocks",
            f"{len(group)} {name} ops ({group['kind'].iloc[0]}): {cost:.3g} ms = {percent(share)} of the predicted "
            f"time, {bytes_(group['mac_bytes'].sum())} MAC, no FLOPs",
            cost, {"op": name, "ops": len(group), "share": share, "mac_bytes": int(group["mac_bytes"].sum())},
        ))
    return findings


HOST_BOUND_NOTE = ("; this run is host-bound ({host:.3g} ms to issue kernels, {device:.3g} ms of device work), "
                   "so the cost is the ops' host issue time: launches, not bytes, are the cost - fewer ops "
                   "(fusion, a CUDA graph) save time, smaller ones do not")


def _launch_note(finding: Finding, latency: Latency) -> Finding:
    """G3/G4 findings on a host-bound run: say that the ops' launches, not their bytes, cost the time."""
    if finding.guideline not in ("G3", "G4") or latency.bound != "host":
        return finding
    note = HOST_BOUND_NOTE.format(host=latency.host_ms, device=latency.device_ms)
    return replace(finding, evidence=finding.evidence + note)


def _op_cost_ms(report: Report, profile: DeviceProfile, latency: Latency) -> pd.Series:
    """What each op costs the run: its device time, or on a host-bound run its host issue time (the device
    waits for launches, so an op's bytes cost nothing there and its launch costs everything)."""
    if latency.bound != "host" or profile.host is None:
        return pd.Series(latency.per_op["ms"].to_numpy(), index=report.ops.index)
    features = op_features(report.ops)
    issue = host_us(Features(features).cls, profile.host) * 1e-3
    return pd.Series(np.where(features["launches"], issue, 0.0), index=report.ops.index)


def lint(report: Report, profile: DeviceProfile, mode: Mode = "eager") -> LintResult:
    """The guideline findings of `report` on `profile` run in `mode`, costliest first."""
    latency = predict(report, profile, mode)
    ms = _op_cost_ms(report, profile, latency)
    model = profile.latency_model
    flagged = _fragmented(report.blocks)
    joins = _branch_joins(report, flagged)
    findings = [*_mac_findings(report, model, "G1"), *_mac_findings(report, model, "G2"),
                *_g3(report, model, ms, flagged, joins),
                *_g4(report, ms, latency.ms, joins)]
    findings = sorted((_launch_note(f, latency) for f in findings), key=lambda f: f.cost_ms, reverse=True)
    return LintResult(report.summary["arch"], profile.name, latency.batch, latency.ms, findings,
                      tuple(report.summary["unknown_ops"]))
