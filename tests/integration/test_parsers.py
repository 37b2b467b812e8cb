"""The parsers on their own, in milliseconds: severities and cases, option values, compare
and budget rules. The end-to-end pytester runs show the same errors reaching the user."""

from __future__ import annotations

import pytest

from pytest_clipshift.core.cases import DEFAULT_SEVERITY, Case, parse_severity, read_severity, severity_key
from pytest_clipshift.core.errors import ConfigError
from pytest_clipshift.integration.config import LIMITS, OPTIONS


@pytest.mark.parametrize("text, value", [(3, 3), ("3", 3), ("s3", 3), (" s5 ", 5), ("paper", "paper"), (1, 1)])
def test_a_severity_parses_from_every_form_a_user_writes(text, value):
    assert parse_severity(text) == value


@pytest.mark.parametrize("text", [0, 6, "s9", "-1", "hard", "", True, None, 2.5])
def test_a_bad_severity_names_its_origin_and_the_valid_ones(text):
    with pytest.raises(ConfigError, match=r"^--opt: severity .* is not one of s1..s5 or 'paper'"):
        parse_severity(text, "--opt")


def test_reading_a_file_normalises_without_judging():
    assert read_severity("s2") == 2 and read_severity("<b>") == "<b>"


def test_a_case_keys_ids_and_defaults():
    case = Case("gaussian_noise")
    assert case.severity == DEFAULT_SEVERITY == 3
    assert (case.key, case.id, str(case)) == ("gaussian_noise[s3]", "gaussian_noise-s3", "gaussian_noise-s3")
    assert Case("elastic", "paper").key == "elastic[paper]" and Case("elastic", "s2") == Case("elastic", 2)
    assert severity_key(4) == "s4" and severity_key("paper") == "paper"
    assert Case.of("blur") == Case("blur", 3) and Case.of(("blur", "s1")) == Case("blur", 1)
    assert Case.of(Case("blur", 1), 5) == Case("blur", 5)


def test_a_probe_carries_its_strength_not_a_name_suffix():
    probe = Case("gaussian_noise", strength=0.25)
    assert probe.is_probe and probe.augmentation == "gaussian_noise" and probe.key == "gaussian_noise[t=0.25000]"
    assert not Case("gaussian_noise").is_probe
    assert len({probe, Case("gaussian_noise", strength=0.5), Case("gaussian_noise")}) == 3
    for bad in (-0.1, 1.5):
        with pytest.raises(ConfigError, match=r"strength of 'gaussian_noise' = .*: must be in \[0, 1\]"):
            Case("gaussian_noise", strength=bad)


def test_the_engine_accepts_cases_names_and_pairs_and_rejects_unknown_levels():
    from pytest_clipshift.core.measure.engine import expand_pairs

    cases = expand_pairs(["gaussian_blur", ("elastic", "s2"), Case("identity", 1), "gaussian_blur"], [1, 3])
    assert [c.key for c in cases] == ["gaussian_blur[s1]", "gaussian_blur[s3]", "elastic[s2]", "identity[s1]"]
    with pytest.raises(ConfigError, match="unknown augmentation 'gausian_blur'"):
        expand_pairs(["gausian_blur"])


CONVERT = {o.name: o.convert for o in OPTIONS}


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("clipshift_device", "cuda:1", "cuda:1"),
        ("clipshift_precision", "bf16", "bf16"),
        ("clipshift_seed", 0, 0),
        ("clipshift_batch_size", 4096, 4096),
        ("clipshift_canvas_size", 8, 8),
        ("clipshift_max_images", None, None),
        ("clipshift_severities", ["s1", "paper", 5], [1, "paper", 5]),
        ("clipshift_severities", None, [3]),
        ("clipshift_shard", "2/4", (2, 4)),
        ("clipshift_shard", None, None),
        ("clipshift_metrics", ["layer_cka@2"], ["layer_cka@2"]),
        ("clipshift_compare_fail", ["cosine.mean:2%"], ["cosine.mean:2%"]),
        ("clipshift_save", "release-1", "release-1"),
    ],
)
def test_each_option_converts_a_good_value(name, value, expected):
    assert CONVERT[name](value, "--x") == expected


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("clipshift_device", "gpu", "--x = 'gpu': valid: auto, cpu, cuda, cuda:N, mps"),
        ("clipshift_precision", "fp8", "--x = 'fp8': valid: fp32, fp16, bf16"),
        ("clipshift_seed", -1, "--x = -1: must be a whole number >= 0"),
        ("clipshift_seed", True, "--x = True: must be a whole number >= 0"),
        ("clipshift_batch_size", 0, "--x = 0: must be a whole number between 1 and 4096"),
        ("clipshift_batch_size", LIMITS["clipshift_batch_size"] + 1, "between 1 and 4096"),
        ("clipshift_canvas_size", 7, "--x = 7: must be a whole number between 8 and 4096"),
        ("clipshift_severities", ["s6"], "--x: severity 's6' is not one of s1..s5"),
        ("clipshift_shard", "3/2", "--x = '3/2': expected K/N with 1 <= K <= N"),
        ("clipshift_shard", "1-2", "expected K/N"),
        ("clipshift_metrics", ["cosin"], "--x: unknown metric 'cosin'"),
        ("clipshift_metrics", ["cosine@2"], "only .* take '@LAYER'"),
        ("clipshift_augmentations", ["blur"], "--x: unknown augmentation 'blur'; valid: "),
        ("clipshift_compare_fail", ["cosine.mean"], "expected METRIC.STAT:TOLERANCE"),
        ("clipshift_compare_fail", ["cosine.mean:-1"], "tolerance must be a finite number >= 0"),
        ("clipshift_save", "../escape", "--x"),
    ],
)
def test_each_option_rejects_a_bad_value_naming_it(name, value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        CONVERT[name](value, "--x")


def test_every_option_carries_a_converter_and_a_config_field():
    from dataclasses import fields

    from pytest_clipshift.integration.config import ClipShiftConfig

    names = {f.name for f in fields(ClipShiftConfig)}
    for option in OPTIONS:
        assert option.convert is not None, option.name
        assert option.config_field in names or option.name == "clipshift_no_cache", option.name
