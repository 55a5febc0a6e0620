"""The op table is the one place an op is defined: no alias claimed twice, every entry complete, and the
tracer's shape-preserving layers taken from it."""
from collections import Counter

from torch import nn

from costmodel.engine import trace
from costmodel.engine.kinds import OpKind
from costmodel.engine.ops import OPS, module_spec


def test_no_function_alias_belongs_to_two_ops():
    counts = Counter(alias for spec in OPS for alias in spec.functions)
    assert [alias for alias, n in counts.items() if n > 1] == []


def test_no_module_class_belongs_to_two_ops():
    counts = Counter(module for spec in OPS for module in spec.modules)
    assert [m.__name__ for m, n in counts.items() if n > 1] == []


def test_subclasses_resolve_to_their_own_entry_first():
    assert module_spec(nn.ReLU6()).name == "relu6" and module_spec(nn.Hardtanh()).name == "relu6"
    assert module_spec(nn.ConvTranspose2d(2, 2, 3)).name == "conv"


def test_every_entry_is_complete_and_names_are_unique():
    assert len({spec.name for spec in OPS}) == len(OPS)
    for spec in OPS:
        assert spec.modules or spec.functions, spec.name
        assert isinstance(spec.kind, OpKind) and spec.hint and callable(spec.cost), spec.name


def test_the_tracer_skips_exactly_the_tables_shape_preserving_layers():
    expected = {m for spec in OPS if spec.shape_preserving for m in spec.modules}
    assert set(trace._SHAPE_PRESERVING) == expected
    assert nn.ReLU in expected and nn.Conv2d not in expected
