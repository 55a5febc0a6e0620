"""Load a user's model from `path/to/file.py:Name` or `package.module:Name`, with one-line errors.

`Name` is an nn.Module class with a no-argument constructor, or a function returning a module; a bare
`path/to/file.py` names the file's only nn.Module class (found by parsing, before any of its code runs). Loading
runs the user's code in this process; the app wraps it in a time- and memory-limited subprocess
(costmodel.sources.sandbox) because an uploaded file may loop or allocate without end.
"""
from __future__ import annotations

import ast
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
    is one too: it names the file's only nn.Module class (`resolve_spec`)."""
    return ":" in spec or spec.endswith(".py")


def module_classes(source: str, filename: str) -> list[str]:
    """Classes in `source` that subclass nn.Module (directly, via an nn container, or via another such class
    in the same file), found by parsing - no code runs. A syntax error becomes a one-line CostModelError."""
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as error:
        where = f" line {error.lineno}" if error.lineno else ""
        raise CostModelError(f"syntax error in '{filename}'{where}: {error.msg}", "fix the file") from None
    except (ValueError, RecursionError, MemoryError) as error:  # pathological nesting
        raise CostModelError(f"'{filename}' cannot be parsed as Python ({type(error).__name__})",
                             "give a Python source file") from None
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    found: list[str] = []
    for node in classes:  # top-level classes are defined in order, so a base class comes before its subclasses
        bases = {ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases}
        if bases & {"Module", "Sequential", "ModuleList", "ModuleDict"} or bases & set(found):
            found.append(node.name)
    return found


def resolve_spec(spec: str, *, class_field: bool = False) -> str:
    """'file.py' -> 'file.py:Name' when the file defines exactly one nn.Module class (found by parsing: no code
    runs); other specs unchanged. With none or several, one line that says what to type: after a colon on the
    command line (`file.py:Name`), or, with `class_field`, the name alone into the app's class field (an upload
    names its class there, not in the file name)."""
    if ":" in spec or not spec.endswith(".py"):
        return spec
    path = Path(spec)
    if path.is_dir():
        raise _no_model_code(spec, folder=True)
    _check_file(path)
    found = module_classes(path.read_text(encoding="utf-8", errors="replace"), path.name)
    if len(found) == 1:
        return f"{spec}:{found[0]}"
    if not found:
        fix = "type the name of a function that returns one into the class field" if class_field \
            else f"name a function that returns one after a colon: {spec}:Name"
        raise CostModelError(f"no nn.Module class is defined in '{path.name}'",
                             f"define a torch.nn.Module subclass, or {fix}")
    fix = f"type the one to analyse (e.g. {found[-1]}) into the class field" if class_field \
        else f"name the one to analyse after a colon, e.g. {spec}:{found[-1]}"
    raise CostModelError(f"'{path.name}' defines several nn.Module classes: {', '.join(found)}", fix)


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
    """('file.py', 'Name') of 'file.py:Name' (or of a bare 'file.py' with one nn.Module class); one line saying
    what is missing otherwise."""
    source, _, attr = resolve_spec(spec).rpartition(":")
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
    """Import and instantiate `file.py:Name` / `pkg.mod:Name` (no arguments; a bare `file.py`: its only nn.Module
    class), in eval mode. What the user's code prints goes to stderr, and sys.exit() in it is an error like any
    other."""
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
