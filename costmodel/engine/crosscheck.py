"""Cross-check our dense multiply-adds against fvcore's FlopCountAnalysis: conv/linear module by module, and
conv/linear/matmul/einsum totals per model.

fvcore runs the model for real (CPU tensors only), so use a small input. It counts one multiply-add as one
flop for conv, linear, matmul and einsum, the same convention as ours; its other counts (batch norm, pooling,
upsampling) follow other rules and are not compared, and it does not count scaled_dot_product_attention.
"""
from __future__ import annotations

import warnings
from collections.abc import Collection

import pandas as pd
import torch
from torch import nn

from costmodel.engine.analysis import analyze
from costmodel.engine.kinds import CONV_KINDS, OpKind

_COMPARED = {k.value for k in CONV_KINDS | {OpKind.LINEAR}}


# Our canonical ops and fvcore's operator names for dense products (its handles: conv, linear/addmm,
# matmul/bmm, einsum).
_DENSE_OPS = ("conv", "linear", "matmul", "addmm", "einsum")
_FVCORE_DENSE = ("conv", "linear", "addmm", "matmul", "bmm", "einsum", "baddbmm")


def _fvcore(model: nn.Module, input_shape: tuple[int, ...]) -> object:
    from fvcore.nn import FlopCountAnalysis  # imported late: it is slow to import and warns loudly

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        counter = FlopCountAnalysis(model, torch.zeros(input_shape))
        counter.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        counter.total()
    return counter


def fvcore_dense_totals(model: nn.Module, input_shape: tuple[int, ...], *, constant_modules: Collection[str] = ()
                        ) -> tuple[int, int]:
    """(ours, fvcore's) multiply-adds of conv, linear, matmul and einsum over the whole model. fvcore charges
    computations that do not depend on the input (a Fourier position encoding's conv over a sin/cos table);
    we fold them away: name such modules in `constant_modules` to leave them out of fvcore's total."""
    model = model.eval()
    ops = analyze(model, input_shape).ops
    ours = int(ops.loc[ops["op"].isin(_DENSE_OPS), "flops"].sum())
    counts = _fvcore(model, input_shape).by_module_and_operator()
    theirs = sum(counts[""].get(name, 0) for name in _FVCORE_DENSE)
    folded = sum(counts.get(m, {}).get(name, 0) for m in constant_modules for name in _FVCORE_DENSE)
    return ours, int(theirs - folded)


def fvcore_crosscheck(model: nn.Module, input_shape: tuple[int, ...]) -> pd.DataFrame:
    """One row per conv/linear module: our FLOPs, fvcore's, and whether they agree exactly."""
    model = model.eval()
    ours = analyze(model, input_shape).ops
    ours = ours[ours["kind"].isin(_COMPARED)].groupby("module", sort=False)["flops"].sum()
    theirs = _fvcore(model, input_shape).by_module()
    rows = [{"module": module, "ours": int(flops), "fvcore": int(theirs.get(module, 0))}
            for module, flops in ours.items()]
    table = pd.DataFrame(rows, columns=["module", "ours", "fvcore"])
    table["agree"] = table["ours"] == table["fvcore"]
    return table
