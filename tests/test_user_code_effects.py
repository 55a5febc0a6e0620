"""What a user's model file does beyond defining a model - exit, print - and what a user may name by mistake
(a weights file, a folder, a missing .py file) ends in one line on stderr and exit code 2, with
stdout left to the command (`--json` stays parseable)."""
import json
import pickle
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from costmodel.cli import main
from costmodel.engine.trace import running_user_code
from costmodel.sources.userfile import load_user_model

ROOT = Path(__file__).resolve().parents[1]

CONV = """
    import sys
    from torch import nn

    {top}

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            {init}
            self.conv = nn.Conv2d(3, 8, 3, bias=False)

        def forward(self, x):
            {forward}
            return self.conv(x)
"""


def model_file(folder: Path, name: str, top: str = "pass", init: str = "pass", forward: str = "pass") -> str:
    path = folder / name
    path.write_text(textwrap.dedent(CONV.format(top=top, init=init, forward=forward)))
    return str(path)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(code: int, out: str, err: str) -> str:
    assert code == 2 and out == "", (code, out, err)
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(("where", "expected"), [
    ("top", "importing '{path}' raised SystemExit: 4 (line 5) - make the file importable on its own"),
    ("init", "'Net()' raised SystemExit: 4 - fix the constructor"),
    ("forward", "torch.fx said 'SystemExit: 4', torch.export said 'SystemExit: 4'"),
])
def test_sys_exit_in_user_code_is_an_error_naming_it(capsys, tmp_path, where, expected):
    path = model_file(tmp_path, "quits.py", **{where: "sys.exit(4)"})
    err = one_error_line(*run_cli(capsys, "analyze", f"{path}:Net", "--json"))
    assert expected.format(path=path) in err


@pytest.mark.parametrize("command", [["lint"], ["compare", "g1_pointwise"]])
def test_sys_exit_is_an_error_in_lint_and_compare_too(capsys, tmp_path, command):
    path = model_file(tmp_path, "quits.py", init="sys.exit(4)")
    err = one_error_line(*run_cli(capsys, command[0], f"{path}:Net", *command[1:]))
    assert "'Net()' raised SystemExit: 4" in err


def test_a_library_exit_function_named_as_the_model_is_an_error(capsys):
    """sys.exit() has no message: the line names the exception alone, without a dangling colon."""
    err = one_error_line(*run_cli(capsys, "analyze", "sys:exit"))
    assert err == "error: 'exit()' raised SystemExit - fix the constructor\n"


def test_sys_exit_in_an_imported_module_is_an_error(capsys, tmp_path, monkeypatch):
    (tmp_path / "quits_on_import.py").write_text("import sys\nsys.exit(4)\n")
    monkeypatch.chdir(tmp_path)
    err = one_error_line(*run_cli(capsys, "analyze", "quits_on_import:Net"))
    assert "importing 'quits_on_import' raised SystemExit: 4" in err


def test_the_process_exits_2_with_one_line_not_the_files_exit_code(tmp_path):
    path = model_file(tmp_path, "quits.py", top="sys.exit(4)")
    done = subprocess.run([sys.executable, "-m", "costmodel", "analyze", f"{path}:Net", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert done.stderr.startswith("error: importing") and "SystemExit: 4" in done.stderr


def test_a_multi_line_exception_message_is_reported_on_its_first_line(capsys, tmp_path):
    path = model_file(tmp_path, "raises.py", init="raise RuntimeError('first\\nsecond')")
    err = one_error_line(*run_cli(capsys, "analyze", f"{path}:Net"))
    assert "'Net()' raised RuntimeError: first - fix the constructor" in err


def test_keyboard_interrupt_in_user_code_is_not_swallowed(tmp_path):
    """Ctrl-C is the person stopping the command, not a fault of the model: it must still stop it."""
    path = model_file(tmp_path, "interrupted.py", init="raise KeyboardInterrupt")
    with pytest.raises(KeyboardInterrupt):
        load_user_model(f"{path}:Net")


def test_prints_of_a_model_go_to_stderr_and_json_stays_parseable(capsys, tmp_path):
    path = model_file(tmp_path, "noisy.py", top="print('at import')", init="print('in init')",
                      forward="print('in forward')")
    code, out, err = run_cli(capsys, "analyze", f"{path}:Net", "--input", "1,3,10,10", "--json")
    assert code == 0, err
    # Conv2d(3 -> 8, 3x3, no padding) on 10x10: 8x8 outputs x 8 channels x 27 multiply-adds each
    assert json.loads(out)["flops"] == 8 * 8 * 8 * 3 * 3 * 3
    assert err.index("at import") < err.index("in init") < err.index("in forward")


def test_only_the_thread_running_user_code_is_redirected(capsys):
    """A server's other sessions keep their stdout while one runs a model."""
    def other() -> None:
        print("other thread")

    with running_user_code():
        print("model")
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    print("after")
    out, err = capsys.readouterr()
    assert (out, err) == ("other thread\nafter\n", "model\n")


@pytest.mark.parametrize(("name", "content"), [
    ("rand.pt", bytes(range(256))), ("notes.txt", b"a model, in words\n"), ("dict.pkl", pickle.dumps({})),
])
@pytest.mark.parametrize("relative", [True, False])
def test_a_file_that_is_not_python_says_so(capsys, tmp_path, monkeypatch, name, content, relative):
    (tmp_path / name).write_bytes(content)
    monkeypatch.chdir(tmp_path)
    source = name if relative else str(tmp_path / name)
    err = one_error_line(*run_cli(capsys, "analyze", f"{source}:Net"))
    assert err == (f"error: '{source}' is not a Python file - name the .py file that defines the model and its "
                   "class, as file.py:ClassName\n")


@pytest.mark.parametrize("relative", [True, False])
def test_a_folder_says_so_and_names_a_file_in_it(capsys, tmp_path, monkeypatch, relative):
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    source = "models" if relative else str(tmp_path / "models")
    err = one_error_line(*run_cli(capsys, "analyze", f"{source}:Net"))
    assert err == (f"error: '{source}' is a folder - name the .py file that defines the model and its class, as "
                   f"{source}/file.py:ClassName\n")


def test_a_package_folder_named_as_a_module_still_loads(capsys, tmp_path, monkeypatch):
    (tmp_path / "my_models").mkdir()
    model_file(tmp_path / "my_models", "__init__.py")
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "analyze", "my_models:Net", "--input", "1,3,10,10", "--json")
    assert code == 0, err
    assert json.loads(out)["flops"] == 8 * 8 * 8 * 3 * 3 * 3


def test_a_python_file_without_a_class_name_is_its_only_class(capsys, tmp_path):
    """As in the app: a file that defines one nn.Module class names it (tests/test_cli_leftovers.py: several)."""
    path = model_file(tmp_path, "good.py")
    code, out, err = run_cli(capsys, "analyze", path, "--input", "1,3,10,10", "--json")
    assert code == 0, err
    assert json.loads(out)["arch"] == f"{path}:Net" and json.loads(out)["flops"] == 8 * 8 * 8 * 3 * 3 * 3


def test_a_missing_python_file_without_a_class_name_says_it_is_missing(capsys, tmp_path):
    path = str(tmp_path / "missing.py")
    err = one_error_line(*run_cli(capsys, "analyze", path))
    assert f"model file '{path}' does not exist" in err


def test_a_module_whose_own_import_is_missing_names_that_import(capsys, tmp_path, monkeypatch):
    """The module was found; a package it imports was not: say which, not that the module is missing."""
    (tmp_path / "needs_a_package.py").write_text("import no_such_package_4711\n")
    monkeypatch.chdir(tmp_path)
    err = one_error_line(*run_cli(capsys, "analyze", "needs_a_package:Net"))
    assert "importing 'needs_a_package' needs module 'no_such_package_4711', which is not installed" in err
    err = one_error_line(*run_cli(capsys, "analyze", "no_such_package_4711.models:Net"))
    assert "module 'no_such_package_4711.models' not found" in err
