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
from collections.abc import Callable
from pathlib import Path

from torch import nn

from costmodel.engine.trace import USER_CODE_ERRORS, first_line, running_user_code
from costmodel.errors import CostModelError


def is_user_spec(spec: str) -> bool:
    """A user model names a file or module and an attribute: 'file.py:Name' or 'pkg.mod:Name'. A bare 'file.py'
    is one too, so that it is told to name its class rather than called an unknown architecture."""
    return ":" in spec or spec.endswith(".py")


def _where(error: BaseException, path: Path) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).resolve() == path.resolve()]
    return f" (line {frames[-1].lineno})" if frames else ""


def _no_model_code(source: str, *, folder: bool) -> CostModelError:
    """A file or folder named where model code belongs: what it is, and how to name a model instead."""
    what, example = ("a folder", f"{source.rstrip('/')}/file.py:ClassName") if folder \
        else ("not a Python file", "file.py:ClassName")
    return CostModelError(f"'{source}' is {what}",
                          f"name the .py file that defines the model and its class, as {example}")


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise CostModelError(f"model file '{path}' does not exist", "check the path (relative to where you run)")


def _import_file(path: Path) -> object:
    _check_file(path)
    name = f"costmodel_user_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise _no_model_code(str(path), folder=False)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise CostModelError(f"syntax error in '{path}' line {error.lineno}: {error.msg}", "fix the file") from None
    except USER_CODE_ERRORS as error:  # noqa: BLE001 - any failure of user code is reported, not raised
        raise CostModelError(f"importing '{path}' raised {first_line(error)}{_where(error, path)}",
                             "make the file importable on its own") from None
    return module


def _import_module(dotted: str) -> object:
    sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError as error:
        if error.name and not (dotted == error.name or dotted.startswith(f"{error.name}.")):
            raise CostModelError(f"importing '{dotted}' needs module '{error.name}', which is not installed",
                                 f"install {error.name} or remove that import") from None
        raise CostModelError(f"module '{dotted}' not found ({error})", "run from the directory that holds it") from None
    except USER_CODE_ERRORS as error:  # noqa: BLE001
        raise CostModelError(f"importing '{dotted}' raised {first_line(error)}",
                             "make the module importable on its own") from None
    finally:
        sys.path.pop(0)


def _import_source(source: str) -> object:
    """The module `source` names: a .py file, or a module importable from here (a folder only as a package
    named by itself, 'pkg:Name' with pkg/__init__.py); any other file or folder is named by mistake."""
    path = Path(source)
    if path.is_dir() and not (source.isidentifier() and (path / "__init__.py").is_file()):
        raise _no_model_code(source, folder=True)
    if source.endswith(".py"):
        return _import_file(path)
    if path.is_file():
        raise _no_model_code(source, folder=False)
    return _import_module(source)


def _split(spec: str) -> tuple[str, str]:
    """('file.py', 'Name') of 'file.py:Name'; one line saying what is missing otherwise."""
    source, _, attr = spec.rpartition(":")
    if not source and attr.endswith(".py"):
        _check_file(Path(attr))
        raise CostModelError(f"model file '{attr}' does not say which model to analyse",
                             f"name its nn.Module class (or a function returning one) after a colon: {attr}:ClassName")
    if not source or not attr:
        raise CostModelError(f"'{spec}' is not of the form file.py:Name or package.module:Name",
                             "name the class or function after a colon")
    return source, attr


def _build(factory: Callable[[], object], attr: str) -> nn.Module:
    """`factory()`: the user's constructor or function, its failures reported as one line."""
    try:
        model = factory()
    except TypeError as error:
        raise CostModelError(f"'{attr}()' cannot be called without arguments: {error}",
                             "give defaults to every constructor argument, or wrap it in a function") from None
    except USER_CODE_ERRORS as error:  # noqa: BLE001
        raise CostModelError(f"'{attr}()' raised {first_line(error)}", "fix the constructor") from None
    if not isinstance(model, nn.Module):
        raise CostModelError(f"'{attr}()' returned {type(model).__name__}, not an nn.Module",
                             "return a torch.nn.Module")
    return model


def load_user_model(spec: str) -> nn.Module:
    """Import and instantiate `file.py:Name` / `pkg.mod:Name` (no arguments), in eval mode. What the user's code
    prints goes to stderr, and sys.exit() in it is an error like any other."""
    source, attr = _split(spec)
    with running_user_code():
        module = _import_source(source)
        if not hasattr(module, attr):
            found = sorted(n for n, v in vars(module).items()
                           if inspect.isclass(v) and issubclass(v, nn.Module) and v.__module__ == module.__name__)
            raise CostModelError(f"'{source}' has no '{attr}'",
                                 f"nn.Module classes defined there: {', '.join(found) or 'none'}")
        factory = getattr(module, attr)
        if not callable(factory):
            raise CostModelError(f"'{attr}' in '{source}' is not a class or function", "name an nn.Module class")
        return _build(factory, attr).eval()
