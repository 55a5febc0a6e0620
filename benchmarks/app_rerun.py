"""How fast the app re-renders when a control moves, per page, with Streamlit's AppTest (no browser).

Run: `.venv/bin/python benchmarks/app_rerun.py [--repeats 3]`. Per page: the cold first run (analyses and
caches filled), then the median time of moving the page's main control to a value not seen before ("move")
and back to one already seen ("move back"), each a full script rerun. Target: a warm move under 0.5 s.
"""
from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from costmodel.latency.profiler import machine_name  # noqa: E402
from costmodel.latency.profiles import profile_names  # noqa: E402

TARGET_S = 0.5
Move = Callable[[AppTest, int], None]  # set the main control to its i-th value

# page, main control, how to move it (values cycle through a sequence; an odd index is a new value)
PAGES: list[tuple[str, str, Move]] = [
    ("home.py", "device profiles", lambda a, i: a.sidebar.multiselect(key="_settings.devices").set_value(
        [d for d in profile_names() if i == 0 or d != profile_names()[i % len(profile_names())]])),
    ("pages/1_ShuffleNet_blocks.py", "groups g", lambda a, i: a.button_group(key="groups").set_value(
        (3, 4, 2, 8, 1)[i % 5])),
    ("pages/2_Guidelines.py", "c1:c2 slider", lambda a, i: a.select_slider(key="ratio").set_value(
        (3, 4, 6, 8, 12, 16)[i % 6])),
    ("pages/3_EfficientNet_scaling.py", "phi slider", lambda a, i: a.slider(key="phi").set_value(
        (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)[i % 7])),
    ("pages/4_Model_zoo.py", "T slider", lambda a, i: a.slider(key="target_ms").set_value(
        (75.0, 100.0, 50.0, 150.0, 20.0)[i % 5])),
    ("pages/5_Device_profiles.py", "profile", lambda a, i: a.selectbox(key="profile").set_value(
        a.selectbox(key="profile").options[i % len(a.selectbox(key="profile").options)])),
]


def timed(app: AppTest) -> float:
    start = time.perf_counter()
    app.run()
    if app.exception:
        raise RuntimeError(f"{app.exception[0].value}")
    return time.perf_counter() - start


def measure(path: str, move: Move, repeats: int) -> dict[str, float]:
    app = AppTest.from_file(str(ROOT / path), default_timeout=600)
    cold = timed(app)
    moves, backs = [], []
    for i in range(1, repeats + 1):
        move(app, i)  # a value this session has not shown yet
        moves.append(timed(app))
        move(app, 0)  # back to the first value: everything cached
        backs.append(timed(app))
    return {"cold": cold, "move": statistics.median(moves), "back": statistics.median(backs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="control moves per page (default 3)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print(f"App re-render times (AppTest, s) on {machine_name(__import__('torch').device('cpu'))}, "
          f"{datetime.date.today().isoformat()}; median of {args.repeats} moves; target warm move < {TARGET_S} s")
    print(f"{'page':34} {'control':15} {'cold':>7} {'move':>7} {'back':>7}  ok")
    for path, control, move in PAGES:
        t = measure(path, move, args.repeats)
        ok = "yes" if t["move"] < TARGET_S and t["back"] < TARGET_S else "NO"
        print(f"{Path(path).stem:34} {control:15} {t['cold']:7.2f} {t['move']:7.2f} {t['back']:7.2f}  {ok}")


if __name__ == "__main__":
    main()
