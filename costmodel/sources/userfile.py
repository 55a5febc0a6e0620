"""Load a user's model from `path/to/file.py:Name` or `package.module:Name`, with one-line errors.

`Name` is an nn.Module class with a no-argument constructor, or a function returning a module. Loading runs
the user's code in this process; the app wraps it in a time- and memory-limited subprocess
(costmodel.sources.sandbox) because an uploaded file may loop or allocate without end.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path

from torch import nn

from costmodel.errors import CostModelError


def is_user_spec(spec: str) -> bool:
    """A user model names a file or module and an attribute: 'file.py:Name' or 'pkg.mod:Name'."""
    return ":" in spec


def _where(error: BaseException, path: Path) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).resolve() == path.resolve()]
    return f" (line {frames[-1].lineno})" if frames else ""


def _import_file(path: Path) -> object:
    if not path.is_file():
        raise CostModelError(f"model file '{path}' does not exist", "check the path (relative to where you run)")
    name = f"costmodel_user_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CostModelError(f"'{path}' is not a Python file", "give a .py file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise CostModelError(f"syntax error in '{path}' line {error.lineno}: {error.msg}", "fix the file") from None
    except Exception as error:  # noqa: BLE001 - any failure of user code is reported, not raised
        raise CostModelError(
            f"importing '{path}' raised {type(error).__name__}: {error}{_where(error, path)}",
            "make the file importable on its own",
        ) from None
    return module


def _import_module(dotted: str) -> object:
    sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError as error:
        raise CostModelError(f"module '{dotted}' not found ({error})", "run from the directory that holds it") from None
    except Exception as error:  # noqa: BLE001
        raise CostModelError(f"importing '{dotted}' raised {type(error).__name__}: {error}",
                             "make the module importable on its own") from None
    finally:
        sys.path.pop(0)


def load_user_model(spec: str) -> nn.Module:
    """Import and instantiate `file.py:Name` / `pkg.mod:Name` (no arguments), in eval mode."""
    source, _, attr = spec.rpartition(":")
    if not source or not attr:
        raise CostModelError(f"'{spec}' is not of the form file.py:Name or package.module:Name",
                             "name the class or function after a colon")
    module = _import_file(Path(source)) if source.endswith(".py") else _import_module(source)
    if not hasattr(module, attr):
        found = sorted(n for n, v in vars(module).items()
                       if inspect.isclass(v) and issubclass(v, nn.Module) and v.__module__ == module.__name__)
        raise CostModelError(f"'{source}' has no '{attr}'",
                             f"nn.Module classes defined there: {', '.join(found) or 'none'}")
    factory = getattr(module, attr)
    if not callable(factory):
        raise CostModelError(f"'{attr}' in '{source}' is not a class or function", "name an nn.Module class")
    try:
        model = factory()
    except TypeError as error:
        raise CostModelError(f"'{attr}()' cannot be called without arguments: {error}",
                             "give defaults to every constructor argument, or wrap it in a function") from None
    except Exception as error:  # noqa: BLE001
        raise CostModelError(f"'{attr}()' raised {type(error).__name__}: {error}", "fix the constructor") from None
    if not isinstance(model, nn.Module):
        raise CostModelError(f"'{attr}()' returned {type(model).__name__}, not an nn.Module",
                             "return a torch.nn.Module")
    return model.eval()
