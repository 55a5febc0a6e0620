"""A user's own model in the app: an upload or an importable module, as a `costmodel.studies.evaluate` source whose
reports come from the sandbox (its code never runs in the app process), so the Your model page gets the zoo
pages' tables from `costmodel.studies.evaluate`. One child process traces every batch the page needs (batch 1 for
costs, each device's batch for latency): each run pays a fresh torch import."""
from __future__ import annotations

import functools
from dataclasses import dataclass

from costmodel.errors import CostModelError
from costmodel.studies.evaluate import Settings, device_batch, profiles
from costmodel.engine.report import Report
from costmodel.sources.sandbox import Limits, run_sandboxed, run_uploaded


@dataclass(frozen=True)
class UserModel:
    """Where the model comes from, its input shape per sample (no batch) and the batches one sandbox run traces
    (`batches_for`). Hashable: a cache key (an upload by its bytes)."""

    source: str  # the uploaded file's name, or 'package.module:Name'
    sample_shape: tuple[int, ...]
    attr: str = ""  # class or function in an uploaded file; '' = its only nn.Module class
    content: bytes | None = None  # the uploaded file; None: import `source` from the working directory
    limits: Limits = Limits()
    batches: tuple[int, ...] = (1,)
    allow_unsafe: bool = False  # the operator's opt-in to run without bubblewrap (costmodel.app.settings)

    @property
    def label(self) -> str:
        return f"{self.source}:{self.attr}" if self.attr else self.source

    def analysed(self, batch: int, dtype: str, fold_bn: bool) -> Report:
        """The report at `batch`, from the sandbox run that traces `batches` (and `batch`); CostModelError with
        the run's one line if the model fails."""
        outcome = _sandboxed(self, tuple(sorted({*self.batches, batch})), dtype, fold_bn)
        if isinstance(outcome, str):
            raise CostModelError(outcome)
        return outcome[batch]


def batches_for(settings: Settings) -> tuple[int, ...]:
    """The batches a page shows for `settings`: 1 for costs, each device's for latency."""
    return tuple(sorted({1, *(device_batch(d, settings) for d in profiles(settings))}))


@functools.lru_cache(maxsize=32)
def _sandboxed(model: UserModel, batches: tuple[int, ...], dtype: str, fold_bn: bool) -> dict[int, Report] | str:
    """Reports per batch, or the one-line error: failures are cached too, so a file that loops forever costs
    its time limit once, not on every rerun."""
    shapes = [(batch, *model.sample_shape) for batch in batches]
    options = dict(dtype=dtype, fold_bn=fold_bn, limits=model.limits, label=model.label,
                   allow_unsafe=model.allow_unsafe)
    try:
        if model.content is None:
            reports = run_sandboxed(model.source, shapes, **options)
        else:
            reports = run_uploaded(model.content, model.source, model.attr or None, shapes, **options)
    except CostModelError as error:
        return str(error)
    return dict(zip(batches, reports))
