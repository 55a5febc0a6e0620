"""The model picker every page shares: a zoo architecture with its parameter widgets, or any torchvision / timm
model by name (a searchable select box) with builder arguments. Returns what `ZooModel.of` takes."""
from __future__ import annotations

from typing import Any

import streamlit as st

from costmodel.app import ui
from costmodel.sources import hub
from costmodel.sources.names import parse_params
from costmodel.zoo import ARCHS

LIBRARIES = ("zoo", "torchvision", "timm")
HUB_DEFAULTS = {"torchvision": "regnet_y_400mf", "timm": "mobilenetv4_conv_small"}


def any_model(key: str, default: str = "shufflenet_v2") -> tuple[str, dict[str, Any]]:
    """(model name as `load_model` reads it, parameters that differ from the defaults). Widget keys start with
    `key`: `{key}.library`, `{key}.arch`, `{key}.{arch}.{parameter}`, `{key}.{library}` (a library's model name),
    `{key}.args.{library}`."""
    library = st.segmented_control("From", LIBRARIES, default=LIBRARIES[0], key=f"{key}.library",
                                   help="The zoo's paper-table builders, or any torchvision / timm model by name "
                                        "(built without weights).") or LIBRARIES[0]
    if library == "zoo":
        arch = st.selectbox("Architecture", tuple(ARCHS), index=tuple(ARCHS).index(default), key=f"{key}.arch",
                            format_func=lambda a: f"{a} ({ARCHS[a].family})")
        st.caption(ARCHS[arch].summary)
        return arch, ui.zoo_params(ARCHS[arch], key)
    names = ui.compute(hub.list_names, library, spinner=f"Listing {library}'s models...")
    name = st.selectbox(f"{library} model (type to search)", names, key=f"{key}.{library}",
                        index=names.index(HUB_DEFAULTS[library]))
    arguments = st.text_input("Builder arguments", "", key=f"{key}.args.{library}",
                              placeholder="num_classes=10, drop_rate=0.2",
                              help="Keyword arguments passed to the library's builder, comma-separated.")
    with ui.guard():
        pairs = [p for p in arguments.split(",") if p.strip()]
        return f"{library}:{name}", parse_params(pairs, "num_classes=10, drop_rate=0.2")
