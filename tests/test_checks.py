"""lib.checks: a learning check asserts against its bound, and records by how much it passed."""

from __future__ import annotations

import math

import pytest

from lib import checks, config, results


@pytest.fixture
def notebook(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_SCALE", "smoke")
    config.setup("98_checks_test", seed=0, quiet=True)
    return tmp_path


def test_a_check_that_passes_is_recorded_with_its_margin(notebook):
    checks.above("elbo_over_base_rate", 81.5, 50.0, "test ELBO minus the base rate's, nats")
    checks.below("fcd_ratio", 0.3, 0.5, "FCD over the untrained model's")
    recorded = results.load()["checks"]
    assert recorded["elbo_over_base_rate"] == {
        "value": 81.5, "bound": 50.0, "op": ">", "margin": 31.5,
        "what": "test ELBO minus the base rate's, nats", "passed": True,
    }  # fmt: skip
    assert math.isclose(recorded["fcd_ratio"]["margin"], 0.2) and recorded["fcd_ratio"]["op"] == "<"


def test_a_check_that_fails_raises_and_is_recorded_first(notebook):
    with pytest.raises(
        AssertionError, match=r"failed at COURSE_SCALE=smoke: elbo_over_base_rate: 12 is not > 50"
    ):
        checks.above("elbo_over_base_rate", 12.0, 50.0, "test ELBO minus the base rate's")
    entry = results.load()["checks"]["elbo_over_base_rate"]
    assert entry["passed"] is False and entry["margin"] == -38.0


@pytest.mark.parametrize("value", [math.nan, math.inf * 0])
def test_nan_never_passes(notebook, value):
    with pytest.raises(AssertionError):
        checks.above("x", value, 0.0, "anything")
    with pytest.raises(AssertionError):
        checks.below("y", value, 0.0, "anything")
    assert results.load()["checks"]["x"]["value"] is None


def test_the_bound_is_not_reached_by_equality(notebook):
    with pytest.raises(AssertionError):
        checks.above("x", 1.0, 1.0, "equal is not above")


def test_rows_are_each_recorded_before_one_fails(notebook):
    with pytest.raises(AssertionError, match=r"ll_over_base_rate\[CD-1\]: 3 is not > 5") as err:
        checks.above(
            "ll_over_base_rate", {"CD-1": 3.0, "PCD-1": 9.0}, 5.0, "exact test LL minus the base rate's"
        )
    assert "PCD-1" not in str(err.value)
    recorded = results.load()["checks"]
    assert recorded["ll_over_base_rate[CD-1]"]["passed"] is False
    assert recorded["ll_over_base_rate[PCD-1]"]["passed"] is True


@pytest.mark.parametrize("name", ["", "two words", "a-b", None])
def test_a_bad_name_is_refused(notebook, name):
    with pytest.raises(ValueError, match="short identifier"):
        checks.above(name, 1.0, 0.0, "x")


def test_a_value_that_is_no_number_is_refused(notebook):
    with pytest.raises(TypeError, match="must be numbers"):
        checks.above("x", "high", 0.0, "x")


def test_the_results_table_lists_every_check(notebook):
    checks.above("elbo_over_base_rate", 81.5, 50.0, "x")
    with pytest.raises(AssertionError):
        checks.below("fcd_ratio", 0.9, 0.5, "y")
    table = results.collect()
    assert "| 98_checks_test | smoke | elbo_over_base_rate | 81.5 | > 50 | 31.5 | yes |" in table
    assert "| 98_checks_test | smoke | fcd_ratio | 0.9 | < 0.5 | -0.4 | **no** |" in table
