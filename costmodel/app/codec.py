"""What the app's cache stores: the values pages compute (DataFrames, plotly figures, costmodel dataclasses,
tuples, dicts, numbers) as plain JSON data, and back. Nothing in it is executable: decoding builds only
DataFrames, figures, tuples, enums and dataclasses defined in the costmodel package (a cache file names a class,
but only one of those can be built). A value of any other type raises Unencodable and is simply not cached
on disk."""
from __future__ import annotations

import dataclasses
import enum
import importlib
import json
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io

_OWN_PACKAGE = "costmodel."


class Unencodable(TypeError):
    """The value holds a type the codec does not store."""


def _qualified(kind: type) -> str:
    return f"{kind.__module__}:{kind.__qualname__}"


def _own_class(name: str) -> type:
    """A class of the costmodel package by 'module:qualname'; anything else is refused."""
    module, _, qualname = str(name).partition(":")
    if not module.startswith(_OWN_PACKAGE):
        raise ValueError(f"cache entry names a class outside costmodel: {name!r}")
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def _labels(index: pd.Index) -> dict[str, Any]:
    return {"values": encode(list(index)), "names": encode(list(index.names)), "dtype": str(index.dtype),
            "multi": isinstance(index, pd.MultiIndex)}


def _index(data: dict[str, Any]) -> pd.Index:
    values, names = decode(data["values"]), decode(data["names"])
    if data["multi"]:
        return pd.MultiIndex.from_tuples(values, names=names)
    index = pd.Index(values, name=names[0])
    return index if data["dtype"] == "object" else index.astype(data["dtype"])


def _frame(frame: pd.DataFrame) -> dict[str, Any]:
    plain_index = isinstance(frame.index, pd.RangeIndex) and frame.index.equals(pd.RangeIndex(len(frame))) \
        and frame.index.name is None
    return {"columns": _labels(frame.columns), "dtypes": [str(d) for d in frame.dtypes],
            "data": [encode(frame.iloc[:, i].tolist()) for i in range(frame.shape[1])],
            "index": None if plain_index else _labels(frame.index)}


def _unframe(data: dict[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame({i: pd.Series(decode(values), dtype=dtype)
                          for i, (values, dtype) in enumerate(zip(data["data"], data["dtypes"], strict=True))})
    frame.columns = _index(data["columns"])
    if data["index"] is not None:
        frame.index = _index(data["index"])
    return frame


def encode(value: Any) -> Any:
    """`value` as JSON data (tagged one-key dicts for everything JSON lacks)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, enum.Enum):
        return {"__enum__": _qualified(type(value)), "value": encode(value.value)}
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return {"__tuple__": [encode(item) for item in value]}
    if isinstance(value, list):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {"__dict__": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, pd.DataFrame):
        return {"__frame__": _frame(value)}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return {"__array__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, go.Figure):
        return {"__figure__": value.to_json()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type) \
            and type(value).__module__.startswith(_OWN_PACKAGE):
        return {"__dataclass__": _qualified(type(value)),
                "fields": {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}}
    raise Unencodable(f"the cache cannot store a {type(value).__name__}")


_DECODERS = {
    "__tuple__": lambda d: tuple(decode(item) for item in d["__tuple__"]),
    "__dict__": lambda d: {decode(k): decode(v) for k, v in d["__dict__"]},
    "__frame__": lambda d: _unframe(d["__frame__"]),
    "__array__": lambda d: np.asarray(d["__array__"], dtype=d["dtype"]),
    "__figure__": lambda d: plotly.io.from_json(d["__figure__"]),
    "__enum__": lambda d: _own_class(d["__enum__"])(decode(d["value"])),
    "__dataclass__": lambda d: _dataclass(d),
}


def _dataclass(data: dict[str, Any]) -> Any:
    kind = _own_class(data["__dataclass__"])
    if not dataclasses.is_dataclass(kind):
        raise ValueError(f"cache entry names {data['__dataclass__']!r}, which is not a dataclass")
    return kind(**{name: decode(value) for name, value in data["fields"].items()})


def decode(data: Any) -> Any:
    """The value `encode` turned into `data` (fresh objects on every call: callers may change them)."""
    if isinstance(data, list):
        return [decode(item) for item in data]
    if isinstance(data, dict):
        tag = next(key for key in data if key.startswith("__"))
        return _DECODERS[tag](data)
    return data


def dumps(value: Any) -> str:
    return json.dumps(encode(value), separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    """The value of `dumps`; ValueError (or KeyError/TypeError/StopIteration) on anything else."""
    return decode(json.loads(text))
