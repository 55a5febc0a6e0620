"""Cross-check our conv/linear multiply-adds against fvcore's FlopCountAnalysis, module by module.

fvcore runs the model for real (CPU tensors only with torch 2.13), so use a small input. It counts one
multiply-add as one flop for conv and linear, the same convention as ours; its other counts (batch norm,
pooling, upsampling) follow other rules and are not compared.
"""
from __future__ import annotations

import warnings

import pandas as pd
import torch
from torch import nn

from costmodel.engine.analysis import analyze
from costmodel.engine.kinds import CONV_KINDS, OpKind

_COMPARED = {k.value for k in CONV_KINDS | {OpKind.LINEAR}}


def fvcore_crosscheck(model: nn.Module, input_shape: tuple[int, ...]) -> pd.DataFrame:
    """One row per conv/linear module: our FLOPs, fvcore's, and whether they agree exactly."""
    from fvcore.nn import FlopCountAnalysis  # imported late: it is slow to import and warns loudly

    model = model.eval()
    ours = analyze(model, input_shape).ops
    ours = ours[ours["kind"].isin(_COMPARED)].groupby("module", sort=False)["flops"].sum()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        counter = FlopCountAnalysis(model, torch.zeros(input_shape))
        counter.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        theirs = counter.by_module()
    rows = [{"module": module, "ours": int(flops), "fvcore": int(theirs.get(module, 0))}
            for module, flops in ours.items()]
    table = pd.DataFrame(rows, columns=["module", "ours", "fvcore"])
    table["agree"] = table["ours"] == table["fvcore"]
    return table
