import random
import sys

import numpy as np
import pytest

from lib import config


@pytest.mark.parametrize("value", ["smoke", "lecture", "full", "SMOKE", " full "])
def test_valid_scales(monkeypatch, value):
    monkeypatch.setenv("COURSE_SCALE", value)
    assert config.get_scale() == value.strip().lower()


def test_default_scale_is_lecture(monkeypatch):
    monkeypatch.delenv("COURSE_SCALE", raising=False)
    assert config.get_scale() == "lecture"
    assert config.scaled(smoke=1, lecture=2, full=3) == 2


@pytest.mark.parametrize("value", ["medium", "fast", "lectures", "0"])
def test_invalid_scale_lists_valid_ones(monkeypatch, value):
    monkeypatch.setenv("COURSE_SCALE", value)
    with pytest.raises(ValueError) as err:
        config.get_scale()
    for name in ("smoke", "lecture", "full"):
        assert name in str(err.value)
    assert value in str(err.value)


def test_scaled_picks_per_scale(monkeypatch):
    for scale, expected in [("smoke", "a"), ("lecture", "b"), ("full", "c")]:
        monkeypatch.setenv("COURSE_SCALE", scale)
        assert config.scaled(smoke="a", lecture="b", full="c") == expected


def test_seed_everything_reproduces_python_numpy_and_torch():
    import torch

    config.seed_everything(123)
    a = (random.random(), np.random.rand(), torch.rand(1).item())  # noqa: NPY002
    config.seed_everything(123)
    b = (random.random(), np.random.rand(), torch.rand(1).item())  # noqa: NPY002
    config.seed_everything(124)
    c = (random.random(), np.random.rand(), torch.rand(1).item())  # noqa: NPY002
    assert a == b
    assert a[0] != c[0] and a[1] != c[1] and a[2] != c[2]


def test_seed_everything_does_not_import_frameworks():
    import subprocess

    code = ("import sys; from lib import config; config.seed_everything(1); "
            "print('torch' in sys.modules, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("bad", [-1, 1.5, "3"])
def test_seed_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        config.seed_everything(bad)


def test_torch_device_is_usable(capsys):
    import torch

    device = config.torch_device()
    assert isinstance(device, torch.device)
    assert torch.zeros(2, device=device).sum().item() == 0
    assert "torch device" in capsys.readouterr().out


def test_setup_returns_scale_and_remembers_notebook(monkeypatch):
    monkeypatch.setenv("COURSE_SCALE", "smoke")
    assert config.setup("99_test", seed=3, quiet=True) == "smoke"
    assert config.current_notebook() == "99_test"
    with pytest.raises(ValueError):
        config.setup("")


def test_import_lib_is_lazy_and_exposes_submodules():
    import subprocess

    code = ("import sys, lib; print('torch' in sys.modules, 'tensorflow' in sys.modules, "
            "lib.config.get_scale is not None, 'lib.data' in sys.modules); lib.data; "
            "print('lib.data' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "True", "False", "True"]
    import lib

    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        lib.nonsense  # noqa: B018
