import os
import random
import sys

import numpy as np
import pytest

from lib import config


@pytest.mark.parametrize("value", ["smoke", "lecture", "full", "untrained", "SMOKE", " full "])
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
    for scale, expected in [("smoke", "a"), ("lecture", "b"), ("full", "c"), ("untrained", "a")]:
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

    code = (
        "import sys; from lib import config; config.seed_everything(1); "
        "print('torch' in sys.modules, 'tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("bad", [-1, 1.5, "3"])
def test_seed_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        config.seed_everything(bad)


def test_torch_device_is_usable(monkeypatch, capsys):
    import torch

    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    device = config.torch_device()
    assert isinstance(device, torch.device)
    assert torch.zeros(2, device=device).sum().item() == 0
    assert "torch device" in capsys.readouterr().out


@pytest.fixture
def backends(monkeypatch):
    """``backends(cuda=..., mps=...)`` mocks which accelerators PyTorch sees; COURSE_DEVICE unset."""
    import torch

    monkeypatch.delenv("COURSE_DEVICE", raising=False)

    def set_backends(*, cuda: bool, mps: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Mock GPU 80GB")
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)

    return set_backends


@pytest.mark.parametrize("mps", [False, True])
@pytest.mark.parametrize("needs", [{}, {"float64": True}, {"mps_unsupported": "torch.linalg.eigh"}])
def test_torch_device_prefers_cuda(backends, capsys, mps, needs):
    backends(cuda=True, mps=mps)
    assert config.torch_device(**needs).type == "cuda"  # CUDA has float64 and every operator
    assert capsys.readouterr().out == "torch device: cuda (Mock GPU 80GB)\n"


def test_torch_device_takes_mps_without_cuda(backends, capsys):
    backends(cuda=False, mps=True)
    assert config.torch_device().type == "mps"
    assert capsys.readouterr().out == "torch device: mps (Apple Metal (MPS))\n"


def test_torch_device_falls_back_to_the_cpu_for_float64_on_mps(backends, capsys):
    import torch

    backends(cuda=False, mps=True)
    assert config.torch_device(float64=True).type == "cpu"
    assert capsys.readouterr().out.splitlines() == [
        "Apple MPS is available but has no float64, which this lecture needs: using the CPU",
        f"torch device: cpu (CPU, {torch.get_num_threads()} threads)",
    ]


def test_torch_device_falls_back_to_the_cpu_for_an_op_mps_lacks(backends, capsys):
    backends(cuda=False, mps=True)
    assert config.torch_device(mps_unsupported="torch.linalg.eigh").type == "cpu"
    why, device = capsys.readouterr().out.splitlines()
    assert (
        why == "Apple MPS is available but has no torch.linalg.eigh, which this lecture needs: using the CPU"
    )
    assert device.startswith("torch device: cpu (CPU, ")
    assert config.torch_device(float64=True, mps_unsupported="torch.fft", verbose=False).type == "cpu"
    with pytest.raises(ValueError, match="mps_unsupported"):
        config.torch_device(mps_unsupported=" ")


@pytest.mark.parametrize("needs", [{}, {"float64": True}, {"mps_unsupported": "torch.linalg.eigh"}])
def test_torch_device_takes_the_cpu_without_accelerators(backends, capsys, needs):
    import torch

    backends(cuda=False, mps=False)
    assert config.torch_device(**needs) == torch.device("cpu")
    # no word about MPS on a machine that has none
    assert capsys.readouterr().out == f"torch device: cpu (CPU, {torch.get_num_threads()} threads)\n"


@pytest.mark.parametrize("cuda", [False, True])
@pytest.mark.parametrize("mps", [False, True])
@pytest.mark.parametrize("needs", [{}, {"float64": True}])
def test_torch_device_is_silent_when_not_verbose(backends, capsys, cuda, mps, needs):
    backends(cuda=cuda, mps=mps)
    config.torch_device(verbose=False, **needs)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("value", "expected"), [("cpu", "cpu"), ("CUDA", "cuda"), (" mps ", "mps"), ("", "cuda"), ("  ", "cuda")]
)
def test_course_device_forces_an_available_device(backends, monkeypatch, capsys, value, expected):
    backends(cuda=True, mps=True)
    monkeypatch.setenv("COURSE_DEVICE", value)
    assert config.torch_device().type == expected
    assert capsys.readouterr().out.startswith(f"torch device: {expected} (")


def test_course_device_cpu_on_an_mps_machine_says_nothing_about_mps(backends, monkeypatch, capsys):
    backends(cuda=False, mps=True)
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert config.torch_device(float64=True).type == "cpu"
    assert capsys.readouterr().out.startswith("torch device: cpu (CPU, ")


@pytest.mark.parametrize(
    ("cuda", "mps", "value", "reason"),
    [
        (False, True, "cuda", "no CUDA GPU"),
        (False, False, "cuda", "no CUDA GPU"),
        (True, False, "mps", "MPS is not available"),
        (False, False, "mps", "MPS is not available"),
    ],
)
def test_course_device_rejects_an_unavailable_device(backends, monkeypatch, cuda, mps, value, reason):
    backends(cuda=cuda, mps=mps)
    monkeypatch.setenv("COURSE_DEVICE", value)
    with pytest.raises(ValueError, match=reason) as err:
        config.torch_device(verbose=False)
    assert f"COURSE_DEVICE={value}" in str(err.value)
    assert "COURSE_DEVICE=cpu" in str(err.value) and "unset" in str(err.value)  # how to fix it


def test_course_device_mps_rejects_a_lecture_that_mps_cannot_run(backends, monkeypatch):
    backends(cuda=False, mps=True)
    monkeypatch.setenv("COURSE_DEVICE", "mps")
    with pytest.raises(ValueError, match="no float64, which this lecture needs") as err:
        config.torch_device(float64=True)
    assert "COURSE_DEVICE=cpu" in str(err.value)
    with pytest.raises(ValueError, match=r"no torch\.linalg\.eigh"):
        config.torch_device(mps_unsupported="torch.linalg.eigh")


@pytest.mark.parametrize("value", ["gpu", "cuda:0", "metal", "0", "tpu"])
def test_course_device_rejects_an_invalid_value(backends, monkeypatch, capsys, value):
    backends(cuda=True, mps=True)
    monkeypatch.setenv("COURSE_DEVICE", value)
    with pytest.raises(ValueError) as err:
        config.torch_device()
    message = str(err.value)
    assert f"COURSE_DEVICE={value!r}" in message
    assert "cpu, cuda, mps" in message and "unset" in message  # what is valid, and how to fix it
    assert capsys.readouterr().out == ""


def test_setup_returns_scale_and_remembers_notebook(monkeypatch):
    monkeypatch.setenv("COURSE_SCALE", "smoke")
    assert config.setup("99_test", seed=3, quiet=True) == "smoke"
    assert config.current_notebook() == "99_test"
    with pytest.raises(ValueError):
        config.setup("")


def test_import_lib_is_lazy_and_exposes_submodules():
    import subprocess

    code = (
        "import sys, lib; print('torch' in sys.modules, 'tensorflow' in sys.modules, "
        "lib.config.get_scale is not None, 'lib.data' in sys.modules); lib.data; "
        "print('lib.data' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "True", "False", "True"]
    import lib

    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        lib.nonsense  # noqa: B018


def test_training_cuts_every_loop_to_one_step_only_when_untrained(monkeypatch):
    monkeypatch.setenv("COURSE_SCALE", "smoke")
    assert not config.untrained()
    assert [(e, b) for e in config.training(range(3)) for b in config.training("xy")] == [
        (e, b) for e in range(3) for b in "xy"
    ]
    assert config.training_steps(7) == 7
    monkeypatch.setenv("COURSE_SCALE", "untrained")
    assert config.untrained()
    # nested loops (epochs x batches) make exactly one update; generators are not exhausted
    assert [(e, b) for e in config.training(range(3)) for b in config.training(iter("xy"))] == [(0, "x")]
    assert config.training_steps(7) == 1


@pytest.mark.parametrize("bad", [0, -2, 1.5, "3"])
def test_training_steps_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="positive integer"):
        config.training_steps(bad)


def test_build_dir_is_anchored_at_the_repository(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_BUILD_DIR", "build/smoke")
    assert config.build_dir() == config.REPO_ROOT / "build" / "smoke"
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path))
    assert config.build_dir() == tmp_path
    monkeypatch.delenv("COURSE_BUILD_DIR")
    assert config.build_dir() == config.REPO_ROOT / "build"


def test_config_does_not_import_results():
    import subprocess

    code = "import sys; from lib import config; config.setup('99_x', quiet=True); print('lib.results' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]


def test_course_seed_overrides_the_notebooks_seed(monkeypatch):
    monkeypatch.setenv("COURSE_SCALE", "smoke")
    monkeypatch.setenv("COURSE_SEED", "5")
    config.setup("99_test", seed=0, quiet=True)
    assert config.seed() == 5
    a = np.random.rand()  # noqa: NPY002
    config.seed_everything(5)
    assert a == np.random.rand()  # noqa: NPY002
    monkeypatch.setenv("COURSE_SEED", "five")
    with pytest.raises(ValueError, match="COURSE_SEED"):
        config.setup("99_test", quiet=True)


def test_threads_is_capped_by_the_budget_and_the_cores(monkeypatch):
    cores = os.cpu_count() or 1
    monkeypatch.delenv("COURSE_THREADS", raising=False)
    assert config.threads() == cores
    assert config.threads(1) == 1
    assert config.threads(cores + 5) == cores  # never more than the machine has
    monkeypatch.setenv("COURSE_THREADS", "1")
    assert config.threads() == 1
    assert config.threads(4) == 1  # make run's share wins over what the notebook wants


@pytest.mark.parametrize("budget", ["0", "-2", "two", "1.5"])
def test_threads_rejects_a_bad_budget(monkeypatch, budget):
    monkeypatch.setenv("COURSE_THREADS", budget)
    with pytest.raises(ValueError, match="COURSE_THREADS must be a positive integer"):
        config.threads()


@pytest.mark.parametrize("wanted", [0, -1, 2.0, True])
def test_threads_rejects_a_bad_request(monkeypatch, wanted):
    monkeypatch.delenv("COURSE_THREADS", raising=False)
    with pytest.raises(ValueError, match="positive integer"):
        config.threads(wanted)


def test_tensorflow_imports_without_its_start_up_notices():
    """TensorFlow's C++ core prints notices on import (absl, oneDNN): none reach stderr."""
    import subprocess

    code = (
        "from lib import config; tf, keras = config.import_tensorflow(); "
        "print(tf.reduce_sum(tf.ones(3)).numpy(), keras.__version__ == keras.__version__)"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["3.0", "True"]
    assert out.stderr == "", out.stderr
    if sys.platform == "linux":  # tensorflow-cpu's oneDNN build: without the helper, they are there
        plain = subprocess.run(
            [sys.executable, "-c", "import tensorflow"], capture_output=True, text=True, env=env
        )
        assert "oneDNN custom operations" in plain.stderr, plain.stderr
