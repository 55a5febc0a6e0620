"""Device profile schema: shipped profiles load, save/load round-trips, broken files fail in one clear line."""
from __future__ import annotations

import copy
import functools
import json

import pytest

from costmodel.cli import main
from costmodel.errors import CostModelError
from costmodel.latency.kernels import KERNEL_CLASSES
from costmodel.latency.model import measurement_ms
from costmodel.studies.validated import accuracy
from costmodel.latency.profiles import SCHEMA_VERSION, DeviceProfile, OpSample, list_profiles, load_profile, \
    parse_profile, profile_names, read_profile, save_profile

SHIPPED = ("gtx1080ti", "snapdragon810")


@pytest.fixture(scope="module")
def valid() -> dict:
    return load_profile("snapdragon810").model_dump(mode="json")


def test_calibrated_profiles_are_shipped_with_their_batch_and_kind():
    profiles = {p.name: p for p in list_profiles()}
    assert set(SHIPPED) <= set(profiles)
    assert (profiles["gtx1080ti"].kind, profiles["gtx1080ti"].batch, profiles["gtx1080ti"].unit) == \
        ("gpu", 8, "batches/s")
    assert (profiles["snapdragon810"].kind, profiles["snapdragon810"].batch, profiles["snapdragon810"].unit) == \
        ("cpu", 1, "images/s")


def test_profiles_of_one_device_are_listed_by_batch_and_threads_in_numeric_order():
    """Every table, chart and picker lists devices in profile_names' order: H200 at batch 1, 8, 32 (not 1, 32, 8)."""
    for family, count in (("h200", lambda p: p.batch), ("amd_epyc", lambda p: p.threads)):
        shipped = [load_profile(name) for name in profile_names() if name.startswith(family)]
        assert len(shipped) > 1 and [count(p) for p in shipped] == sorted(count(p) for p in shipped)


def test_every_shipped_profile_carries_its_data_and_fit_error():
    for profile in list_profiles():
        assert profile.fit.samples == len(profile.measurements) > 0
        assert all(m.predicted_ms is not None for m in profile.measurements)
        assert set(profile.latency_model.kernels) == set(KERNEL_CLASSES)
        assert profile.source.description


def test_a_measured_cpu_profile_of_this_kind_of_machine_is_shipped():
    measured = [p for p in list_profiles() if p.source.method == "measured" and p.kind == "cpu"]
    assert measured and all(p.source.machine and p.source.date and p.threads for p in measured)
    assert any(p.threads == 1 and p.batch == 1 for p in measured)


def test_save_and_load_round_trip(tmp_path):
    profile = load_profile("gtx1080ti")
    path = save_profile(profile, tmp_path / "copy.json")
    assert read_profile(path) == profile
    assert load_profile(str(path)) == profile


def _broken(valid: dict, edit) -> dict:
    data = copy.deepcopy(valid)
    edit(data)
    return data


BROKEN = {
    "missing kind": (lambda d: d.pop("kind"), "field 'kind': Field required"),
    "unknown kind": (lambda d: d.update(kind="tpu"), "field 'kind'"),
    "negative bandwidth": (lambda d: d["latency_model"]["kernels"]["conv1x1"].update(gbytes_per_s=-1),
                           "field 'latency_model.kernels.conv1x1.gbytes_per_s'"),
    "missing kernel class": (lambda d: d["latency_model"]["kernels"].pop("shuffle"), "missing ['shuffle']"),
    "zero batch": (lambda d: d.update(batch=0), "field 'batch'"),
    "no measurements": (lambda d: d.update(measurements=[]), "field 'measurements'"),
    "unknown op kind": (lambda d: d["measurements"][0]["ops"][0].update(kind="magic"),
                        "field 'measurements.0.ops.0.kind'"),
    "typo in a field name": (lambda d: d.update(batchsize=1), "field 'batchsize': Extra inputs are not permitted"),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_broken_profiles_fail_in_one_line_naming_the_field(valid, case):
    edit, expected = BROKEN[case]
    with pytest.raises(CostModelError) as error:
        parse_profile(_broken(valid, edit), "test.json")
    message = str(error.value)
    assert expected in message and "\n" not in message and "test.json" in message


def test_a_file_that_is_not_json_names_the_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "name": "x",\n  oops\n}')
    with pytest.raises(CostModelError, match="is not JSON \\(line 3"):
        read_profile(path)


def test_unknown_profile_name_lists_the_shipped_ones():
    with pytest.raises(CostModelError) as error:
        load_profile("gtx9090")
    assert all(name in str(error.value) for name in profile_names())


def test_devices_command_lists_kind_source_batch_and_fit_error(capsys):
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    for profile in list_profiles():
        line = next(line for line in out.splitlines() if line.strip().startswith(profile.name + " "))
        assert profile.kind in line and profile.source.method in line and f"{profile.fit.median_ape:.1f}" in line
    assert main(["devices", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == set(profile_names())
    assert {"kind", "source", "batch", "fit_median_error_pct", "fit_p90_error_pct", "fit_max_error_pct"} <= \
        rows[0].keys()
    for row in rows:  # the stored median and max come from the fit itself, the 90th percentile from the measurements
        assert row["fit_median_error_pct"] <= row["fit_p90_error_pct"] <= row["fit_max_error_pct"]
    by_name = {row["name"]: row for row in rows}  # unseen networks: the validation that applies at the own batch
    for profile in list_profiles():
        unseen = accuracy(profile, profile.batch, "eager", True)
        assert by_name[profile.name]["validation"] == (unseen.to_dict() if unseen else None)
    assert by_name["h200_b8"]["validation"]["networks"] == 18 and by_name["gtx1080ti"]["validation"] is None


def test_the_fit_p90_error_is_the_90th_percentile_of_the_measurements_errors(valid):
    """Ten measurements off by 0, 10, ..., 90%: by linear interpolation the 90th percentile lies 0.1 of the way
    from the ninth-ranked error (80%) to the tenth (90%), 81%; a profile without predicted times has none."""
    first = valid["measurements"][0]
    rows = [{**first, "ms": 1.0, "predicted_ms": 1.0 + k / 10} for k in range(10)]
    assert parse_profile({**valid, "measurements": rows}, "p.json").fit_p90_ape == pytest.approx(81.0)
    bare = [{**first, "predicted_ms": None}]
    assert parse_profile({**valid, "measurements": bare}, "p.json").fit_p90_ape is None


def test_schema_version_is_checked(valid):
    with pytest.raises(CostModelError, match="schema_version"):
        parse_profile({**valid, "schema_version": SCHEMA_VERSION + 1}, "future.json")
    assert isinstance(parse_profile(valid, "ok.json"), DeviceProfile)


def _elementwise_ms(profile: DeviceProfile, op: str) -> float:
    """Predicted ms of one elementwise op of 4 MB of MAC on `profile`."""
    sample = OpSample(kind="elementwise", op=op, flops=0, mac_bytes=4_000_000, pixels=1000, reduction=1,
                      outputs=1, groups=1, in_channels=64)
    return measurement_ms([sample], profile.latency_model)


def test_a_version_1_profile_predicts_norms_and_slow_activations_as_version_1_did(valid):
    """Version 1 had no `norm` or `slow_activation` class: BatchNorm ran with the elementwise kernels (as ReLU
    does) and ELU with the transcendental activations (as SiLU does), so an old file must keep those times."""
    old = copy.deepcopy(valid)
    for part in ("latency_model", "host"):
        if old.get(part):
            for added in ("norm", "slow_activation", "batch_norm"):
                old[part]["kernels"].pop(added)
    old["latency_model"]["kernels"]["elementwise"]["gbytes_per_s"] = 3.0  # tell the classes apart
    old["measurements"] = [{**m, "group": None} for m in old["measurements"]]  # a field version 1 had
    profile = parse_profile({**old, "schema_version": 1}, "old.json")
    assert profile.schema_version == SCHEMA_VERSION

    ms = functools.partial(_elementwise_ms, profile)
    assert ms("batch_norm") == ms("relu") and ms("elu") == ms("silu") and ms("relu") != ms("silu")


def test_a_version_2_profile_runs_batch_norm_with_the_other_norms_as_version_2_did(valid):
    """Version 2 had no `batch_norm` class: BatchNorm ran with LayerNorm and GroupNorm (`norm`)."""
    old = copy.deepcopy(valid)
    for part in ("latency_model", "host"):
        if old.get(part):
            old[part]["kernels"].pop("batch_norm")
    old["latency_model"]["kernels"]["norm"]["gbytes_per_s"] = 3.0  # tell the classes apart
    profile = parse_profile({**old, "schema_version": 2}, "v2.json")
    assert profile.schema_version == SCHEMA_VERSION

    ms = functools.partial(_elementwise_ms, profile)
    assert ms("batch_norm") == ms("layer_norm") != ms("relu")


def test_a_version_3_profile_runs_pointwise_group_convs_with_the_other_group_convs(valid):
    """Version 3 had no `group_conv1x1` class: a grouped 1x1 conv ran with the grouped kxk convs."""
    old = copy.deepcopy(valid)
    old["latency_model"]["kernels"].pop("group_conv1x1")
    old["latency_model"]["kernels"]["group_conv"]["gmadds_per_s"] = 3.0  # tell the classes apart
    profile = parse_profile({**old, "schema_version": 3}, "v3.json")
    assert profile.schema_version == SCHEMA_VERSION
    kernels = profile.latency_model.kernels
    assert kernels["group_conv1x1"] == kernels["group_conv"] != kernels["conv1x1"]
