"""Local checks of hyper-parameters against a template: numbers, bounds, steps, enum values."""

from __future__ import annotations

from decimal import Decimal

import pytest

from airflow_provider_compress.exceptions import CompressValidationError
from airflow_provider_compress.models import Template
from airflow_provider_compress.validation import check_hyper_parameters, same_value


def test_hyper_parameters_numbers_and_bounds():
    template = Template.from_api(
        {
            "template_id": "t",
            "hyper_parameters": [
                {"name": "ratio", "type": "float", "data_range": ["0.001", "0.1"], "required": False},
            ],
        }
    )
    check_hyper_parameters(template, {"ratio": "0.1"})
    check_hyper_parameters(template, {"ratio": 0.001})
    for bad in ("nan", True, "1e9"):
        with pytest.raises(CompressValidationError):
            check_hyper_parameters(template, {"ratio": bad})


@pytest.mark.parametrize(
    ("given", "other", "same"),
    [
        (128, "128", True),
        (128.0, "128", True),
        ("128.0", "128", True),
        (Decimal("0.010"), "0.01", True),
        (True, "True", False),
        ("True", True, False),
        (True, True, True),
        (1, True, False),
        ("abc", "abc", True),
        ("abc", "ABC", False),
        (None, "None", False),
    ],
)
def test_values_compare_by_value_not_by_text(given, other, same):
    assert same_value(given, other) is same


def test_steps_count_from_the_lower_bound_and_integers_are_whole():
    template = Template.from_api(
        {
            "template_id": "t",
            "hyper_parameters": [
                {"name": "len", "type": "int", "data_range": ["512", "8192"], "step": 512},
                {"name": "k", "type": "int", "step": 4},
                {"name": "size", "type": "enum", "support_values": ["64", "128"]},
            ],
        }
    )
    check_hyper_parameters(template, {"len": "1024", "k": 8, "size": 128.0})
    check_hyper_parameters(template, {"len": 8192.0, "k": -4, "size": "64"})
    for values, rule in [
        ({"len": 1000}, "steps of 512 from 512"),
        ({"len": 1536.5}, "whole number"),
        ({"k": 6}, "steps of 4"),
        ({"size": True}, "one of 64, 128"),
        ({"size": "064x"}, "one of 64, 128"),
    ]:
        with pytest.raises(CompressValidationError, match=rule):
            check_hyper_parameters(template, values)
