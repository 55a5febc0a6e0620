"""Human names for what figures and tables show: a device by its hardware ("GTX 1080 Ti (paper)"), a paper
column by its channels ("c = 128, GPU"), never a profile key or an internal column name."""
from __future__ import annotations

import re

from costmodel.latency.profiles import DeviceProfile, profile_names
from costmodel.studies.evaluate import profile

_VENDOR = re.compile(r"^(NVIDIA|GeForce|Qualcomm|Intel|Apple)\s+")


def device_label(device: DeviceProfile | str) -> str:
    """The hardware in a few words plus where its numbers come from: '(paper)' for profiles calibrated to a
    paper's tables, '(measured)' for profiles timed on the machine ('measured at batch 8' for a GPU, whose
    profiles differ by batch); details in brackets are dropped."""
    device = _resolved(device)
    name = _hardware(device)
    if device.source.method == "calibrated":
        return f"{name} (paper)"
    at_batch = f" at batch {device.batch}" if device.kind == "gpu" else ""
    return f"{name} ({device.source.method}{at_batch})"


def chip_label(device: DeviceProfile | str) -> str:
    """`device_label` in the 18 or so characters a sidebar chip shows before it cuts: the hardware and what tells
    two profiles of it apart ('H200, batch 8'); '(paper)' stays, as those numbers are not this lab's measurements."""
    device = _resolved(device)
    if device.source.method == "calibrated":
        return device_label(device)
    return _hardware(device) + (f", batch {device.batch}" if device.kind == "gpu" else "")


def _resolved(device: DeviceProfile | str) -> DeviceProfile:
    """The profile a label is asked for, given as itself or by name."""
    return profile(device) if isinstance(device, str) else device


def _hardware(device: DeviceProfile) -> str:
    """The device's name without vendor or bracketed details, and its threads if it was measured with a count."""
    name = re.sub(r"\s*\(.*\)\s*$", "", device.device)
    while _VENDOR.match(name):
        name = _VENDOR.sub("", name)
    name = re.sub(r"(\d{3,4})\s?Ti\b", r"\1 Ti", name)
    if device.threads and device.source.method != "calibrated":
        name += f", {device.threads} thread{'s' if device.threads > 1 else ''}"
    return name


def choice_label(device: DeviceProfile) -> str:
    """A device in a picker: its hardware, then the profile name the sidebar and the CLI use."""
    return f"{device_label(device)} ({device.name})"


def display_name(key: str) -> str:
    """A shipped profile's key ('gtx1080ti') -> its `device_label`; any other name (an uploaded profile's own)
    is already the user's words and stays."""
    return device_label(key) if key in profile_names() else key


def at_batch(device: str, batch: int, unit: str = "") -> str:
    """'H200 (measured at batch 8), batches/s, batch 32': a number of one device at one batch (the batch shown
    may differ from the profile's own), with its unit when the label is all a reader sees of it."""
    return ", ".join([display_name(device), *([unit] if unit else []), f"batch {batch}"])


def channels_label(config: str) -> str:
    """'c1=128, c2=128' or 'g=1, c=128' (a zoo config) -> 'c = 128': the channels a paper's column is named by
    (ShuffleNet V2 Tables 1-4 use c1 = c2 = c in their first row)."""
    values = dict(part.split("=", 1) for part in config.replace(" ", "").split(",") if "=" in part)
    channels = values.get("c", values.get("c1"))
    return f"c = {channels}" if channels else config
