"""The guideline-findings panel, for any app page: ShuffleNet V2's G1-G4 findings of a model on a device the
user picks. A page drops in `source_lint_panel(source, settings, key=...)`. Numbers come from costmodel.studies.lint;
this module lays them out."""
from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from costmodel.studies import evaluate
from costmodel.app import ui
from costmodel.studies import lint as rules
from costmodel.studies.evaluate import Settings, Source, profile
from costmodel.studies.lint import DEFAULT_DEVICE, LintResult
from costmodel.viz.labels import choice_label, device_label

SHOWN = 12  # findings listed before "show all"

_HOW = (f"Thresholds (costmodel.studies.lint): G1/G2 flag MAC {100 * rules.MAC_EXCESS_LIMIT:.0f}% or more above "
        f"the least MAC of the same FLOPs; G3 flags blocks with more than {rules.MAX_COMPUTE_OPS} compute ops "
        f"or more than {rules.MAX_WIDTH} in parallel; G4 flags an elementwise or data-movement op type with "
        f"{100 * rules.TIME_SHARE_LIMIT:.0f}% or more of the predicted time. Cost = predicted time the finding "
        "costs on this device: G1/G2 the time saved by the balanced / dense conv at equal FLOPs, G3 the launch "
        "overhead and under-utilisation of the block's compute kernels, G4 the ops' whole time. Costs of "
        "different guidelines can overlap; within one guideline they add up.")


def _default(names: Sequence[str]) -> int:
    """The paper's GPU first when it is shown: G1-G3 show most there."""
    return list(names).index(DEFAULT_DEVICE) if DEFAULT_DEVICE in names else 0


def _show(result: LintResult, device: str, *, key: str) -> None:
    """Per-guideline counts and costs on `device` (its label), then the costliest findings with module path and
    evidence."""
    st.markdown(f"**Guideline findings on {device}** - {result.total_ms:.4g} ms predicted at batch {result.batch}")
    for column, row in zip(st.columns(len(rules.GUIDELINES)), result.by_guideline().itertuples(index=False)):
        count = f"{row.findings} finding{'' if row.findings == 1 else 's'}"
        column.metric(row.guideline, count, f"{row.cost_ms:.3g} ms", help=f"{row.guideline}: {row.statement}",
                      delta_color="off" if row.findings == 0 else "inverse", delta_arrow="off")
    table = result.table()
    if table.empty:
        st.success("No guideline findings: no op or block crosses a threshold.")
    else:
        show_all = len(table) > SHOWN and st.toggle(f"Show all {len(table)} findings", key=f"{key}_all")
        shown = table if show_all else table.head(SHOWN)
        st.dataframe(
            shown[["guideline", "cost_ms", "share", "module", "evidence", "block"]], hide_index=True, width="stretch",
            column_config={
                "cost_ms": st.column_config.NumberColumn("cost (ms)", format="%.4g"),
                "share": st.column_config.NumberColumn("share of time", format="percent"),
                "evidence": st.column_config.TextColumn("evidence", width="large"),
            },
        )
        exported = table[["guideline", "cost_ms", "share", "module", "block", "evidence"]].rename(
            columns={"cost_ms": "cost (ms)", "share": "share of time"})
        ui.table_buttons(exported, f"{key}_findings",
                         caption=f"ShuffleNet V2 guideline findings on {device} at batch {result.batch}")
    st.caption(_HOW)


def source_lint_panel(source: Source, settings: Settings, *, key: str, persist: bool = True) -> LintResult:
    """A device picker over the sidebar's devices, then the findings of `source` there (at that device's batch),
    cached with `ui.compute`: a warm rerun only draws them. `persist=False` (a user's model) lints this process's
    cached reports instead of using the disk cache: nothing of the user's model is pickled, and a module edited
    under the same name is never served stale from disk."""
    names = [profile(device).name for device in settings.devices]
    device = st.selectbox("Device", settings.devices, index=_default(names), key=f"{key}_device",
                          format_func=lambda d: choice_label(profile(d)))
    if persist:
        result = ui.compute(evaluate.findings, source, device, settings)
    else:
        result = evaluate.findings(source, device, settings)
    _show(result, device_label(profile(device)), key=key)
    return result
