"""Render every catalog figure at every venue preset into docs/figures/ (SVG, text kept as text) plus a PNG of a
few at their preset's dpi, and an index.md that links them: the gallery docs/readme/figures.md shows.

    .venv/bin/python docs/make_gallery.py            # all figures x all presets (~3 min on 2 cores, first run)
    .venv/bin/python docs/make_gallery.py g2 scaling  # only these figures

Figures use their catalog defaults and every shipped device profile, as `python -m costmodel export` does.
"""
from __future__ import annotations

import datetime
import platform
import sys
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from costmodel.latency.profiles import profile_names  # noqa: E402
from costmodel.studies.evaluate import Settings  # noqa: E402
from costmodel.viz import export, figures, styles  # noqa: E402
from costmodel.viz.catalog import RECIPES  # noqa: E402

OUT = ROOT / "docs" / "figures"
PNG = {("g2", "cvpr-single"), ("scaling", "cvpr-double"), ("zoo", "ieee-double"), ("g4", "slides")}


def main(names: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    settings = Settings(devices=tuple(profile_names()))
    names = names or list(RECIPES)
    built = {name: RECIPES[name].figure(settings) for name in tqdm(names, desc="computing figures", unit="figure")}
    jobs = [(name, style) for name in names for style in styles.PRESETS]
    for name, style in tqdm(jobs, desc="rendering", unit="image"):
        (OUT / f"{name}-{style}.svg").write_bytes(export.figure_bytes(built[name], "svg", style=style))
        if (name, style) in PNG:
            (OUT / f"{name}-{style}.png").write_bytes(export.figure_bytes(built[name], "png", style=style))
    lines = ["# Figure gallery", "",
             f"Rendered by `docs/make_gallery.py` on {platform.node() or 'this machine'} ({platform.machine()}), "
             f"{datetime.date.today().isoformat()}, with the shipped device profiles and each figure's defaults.", "",
             "| figure | caption | " + " | ".join(styles.PRESETS) + " |",
             "|---|---|" + "---|" * len(styles.PRESETS)]
    for name in sorted(p.stem.rsplit("-", 2)[0] for p in OUT.glob("*-cvpr-double.svg")):
        caption = figures.caption(built[name]) if name in built else ""
        cells = " | ".join(f"[svg]({name}-{style}.svg)" for style in styles.PRESETS)
        lines.append(f"| {name} | {caption} | {cells} |")
    (OUT / "index.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {len(jobs)} SVGs, {len(PNG & set(jobs))} PNGs and index.md to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
