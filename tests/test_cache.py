"""lib.cache: trained models cached by what defines them; never a stale or a broken one."""

from __future__ import annotations

import importlib
import json
import linecache
import sys
import textwrap
import types

import numpy as np
import pytest

import lib.cache as cache
import lib.cache_store as cache_store
from lib import config

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def build(tmp_path, monkeypatch):
    """An empty build folder, the cache on, the smoke scale, no COURSE_SEED."""
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.setenv("COURSE_SCALE", "smoke")
    monkeypatch.delenv("COURSE_CACHE", raising=False)
    monkeypatch.delenv("COURSE_SEED", raising=False)
    return tmp_path / "build"


def affine(x, w):
    """The 'model' of the generic tests: its source is part of every key below."""
    return x @ w


class Counter:
    """A training function that counts its calls and returns a result that depends on the seed."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return {"w": np.random.standard_normal(3), "calls": self.calls}  # noqa: NPY002 - seeded by cached()


def arrays(counter, *, params=None, data=None, code=(affine,), seed=0, name="model"):
    return cache.cached_arrays(
        name,
        compute=lambda: {"w": counter()["w"]},
        code=code,
        params={"lr": 0.1, "epochs": 3} if params is None else params,
        data=np.arange(12.0).reshape(3, 4) if data is None else data,
        seed=seed,
    )


def entry_files(build):
    return sorted(p.relative_to(build) for p in (build / "cache").rglob("*") if p.is_file())


# --------------------------------------------------------------------------- hits and misses


def test_the_same_key_hits_and_returns_the_same_result(build, capsys):
    train = Counter()
    first = arrays(train)
    second = arrays(train)
    assert train.calls == 1
    np.testing.assert_array_equal(first["w"], second["w"])
    assert first["w"].dtype == second["w"].dtype == np.float64
    out = capsys.readouterr().out
    key = cache.cache_key(
        "model",
        code=[affine],
        params={"lr": 0.1, "epochs": 3},
        data=np.arange(12.0).reshape(3, 4),
        seed=0,
    )
    assert "trained in" in out and f"cached as key {key[:12]}" in out
    assert f"loaded model (key {key[:12]}, trained in " in out  # what, the key, how long it took


@pytest.mark.parametrize(
    "change",
    [
        {"params": {"lr": 0.2, "epochs": 3}},  # a hyper-parameter's value
        {"params": {"lr": 0.1, "epochs": 3, "k": 1}},  # one more hyper-parameter
        {"params": {"lr": 0.1, "epochs": 3.0}},  # an int that became a float
        {"seed": 1},
        {"name": "other"},
        {"code": (affine, Counter)},
    ],
)
def test_a_change_of_any_key_part_misses(change):
    train = Counter()
    arrays(train)
    arrays(train, **change)
    assert train.calls == 2
    arrays(train)  # the original entry is still there
    assert train.calls == 2


@pytest.mark.parametrize(
    "data",
    [
        np.r_[np.arange(11.0), 99.0].reshape(3, 4),  # one value
        np.arange(12.0).reshape(4, 3),  # the same bytes in another shape
        np.arange(12.0, dtype=np.float32).reshape(3, 4),  # another dtype
        np.arange(12, dtype=np.int64).reshape(3, 4),  # another dtype, the same number of bytes
        [np.arange(12.0).reshape(3, 4)],  # the same array, in a list
    ],
)
def test_a_change_of_the_data_misses(data):
    train = Counter()
    arrays(train)
    arrays(train, data=data)
    assert train.calls == 2


def test_framework_arrays_are_fingerprinted_by_their_content():
    torch = pytest.importorskip("torch")
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = torch.from_numpy(x.copy())
    assert cache.fingerprint(t) == cache.fingerprint(torch.from_numpy(x.copy()))
    assert cache.fingerprint(t) != cache.fingerprint(t + 1)
    assert cache.fingerprint(t.to(torch.bfloat16)) != cache.fingerprint(t.to(torch.float16))
    assert cache.fingerprint(t.T) == cache.fingerprint(t.T.contiguous())  # C order, not memory layout
    assert cache.fingerprint({"x": x})["x"]["shape"] == [2, 3]


def _write_module(tmp_path, monkeypatch, body):
    path = tmp_path / "course_model_under_test.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("course_model_under_test", None)
    importlib.invalidate_caches()
    return importlib.import_module("course_model_under_test")


def test_a_change_of_the_model_code_misses_and_a_comment_does_not(tmp_path, monkeypatch):
    src = """
    class Model:
        def forward(self, x):
            return 2 * x
    """
    train = Counter()
    arrays(train, code=[_write_module(tmp_path, monkeypatch, src).Model])
    commented = src.replace("return 2 * x", "return 2 * x  # doubled").replace("class", "\n\nclass")
    arrays(train, code=[_write_module(tmp_path, monkeypatch, commented).Model])
    assert train.calls == 1  # comments and blank lines are not code
    changed = src.replace("2 * x", "3 * x")
    arrays(train, code=[_write_module(tmp_path, monkeypatch, changed).Model])
    assert train.calls == 2


def _notebook_class(source, cell):
    """Define a class as a Jupyter cell does: in a module without a file, its source in linecache
    under the cell's name (where ``inspect.getsource`` finds the methods, not the class)."""
    filename = f"<ipython-input-{cell}>"
    source = textwrap.dedent(source)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType("__notebook_main__")
    sys.modules[module.__name__] = module
    try:
        exec(compile(source, filename, "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module.Net


def test_a_class_defined_in_a_notebook_cell_is_keyed_by_its_methods():
    src = """
    class Net:
        width = 4

        def forward(self, x):
            return x + 1
    """
    a = _notebook_class(src, 1)
    keys = {
        "same": _notebook_class(src, 2),
        "method": _notebook_class(src.replace("x + 1", "x + 2"), 3),
        "attribute": _notebook_class(src.replace("width = 4", "width = 5"), 4),
    }
    key = lambda cls: cache.cache_key("net", code=[cls], seed=0)  # noqa: E731
    assert key(a) == key(keys["same"])
    assert key(a) != key(keys["method"])
    assert key(a) != key(keys["attribute"])


def test_the_scale_and_course_seed_are_part_of_the_key(monkeypatch):
    key = lambda: cache.cache_key("m", code=[affine], seed=0)  # noqa: E731
    smoke = key()
    monkeypatch.setenv("COURSE_SCALE", "lecture")
    assert key() != smoke
    monkeypatch.setenv("COURSE_SCALE", "smoke")
    monkeypatch.setenv("COURSE_SEED", "3")
    assert key() != smoke


def test_course_seed_trains_other_models_even_for_a_fixed_seed(monkeypatch):
    train = Counter()
    first = arrays(train, seed=0)["w"]
    monkeypatch.setenv("COURSE_SEED", "3")
    assert cache.effective_seed(3) == 3  # the seed config.setup used is kept
    assert cache.effective_seed(0) not in (0, 3)
    other = arrays(train, seed=0)["w"]  # a notebook that passes a fixed seed
    assert train.calls == 2 and not np.array_equal(first, other)
    config.seed_everything(cache.effective_seed(0))  # how a notebook rebuilds the untrained start
    np.testing.assert_array_equal(np.random.standard_normal(3), other)  # noqa: NPY002
    monkeypatch.setenv("COURSE_SEED", "0")
    np.testing.assert_array_equal(arrays(train, seed=0)["w"], first)  # COURSE_SEED=0 and seed 0: the same
    with pytest.raises(ValueError, match="non-negative integer"):
        cache.effective_seed(-2)


def test_course_seed_equal_to_the_notebooks_seed_is_the_default_run(monkeypatch):
    """COURSE_SEED=0 for a notebook whose seed is 0 changes no derived seed (SEED + h stays SEED + h)."""
    config.setup("99_seed_test", seed=0, quiet=True)
    assert cache.effective_seed(5) == 5
    monkeypatch.setenv("COURSE_SEED", "0")
    config.setup("99_seed_test", seed=0, quiet=True)
    assert cache.effective_seed(5) == 5
    monkeypatch.setenv("COURSE_SEED", "2")
    config.setup("99_seed_test", seed=0, quiet=True)
    assert cache.effective_seed(5) not in (5, 2)


def test_a_loaded_result_leaves_the_random_state_as_training_does():
    """What the notebook draws after the cell is the same whether the model was trained or loaded."""
    train = Counter()
    trained = arrays(train)
    after_training = np.random.standard_normal(4)  # noqa: NPY002
    np.random.seed(12345)  # noqa: NPY002 - whatever the notebook drew before must not matter
    loaded = arrays(train)
    after_loading = np.random.standard_normal(4)  # noqa: NPY002
    assert train.calls == 1
    np.testing.assert_array_equal(trained["w"], loaded["w"])
    np.testing.assert_array_equal(after_training, after_loading)


# --------------------------------------------------------------------------- damaged entries


def _payload(build):
    return next((build / "cache" / "model").glob("*/arrays.npz"))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "truncated"),
        (lambda p: p.write_bytes(b""), "truncated"),
        (lambda p: p.write_bytes(p.read_bytes()[:-9] + b"X" + p.read_bytes()[-8:]), "corrupt"),
        (lambda p: p.unlink(), "missing"),
        (
            lambda p: (p.parent / "meta.json").write_text("{not json", encoding="utf-8"),
            "meta.json is unreadable",
        ),
        (lambda p: (p.parent / "meta.json").write_text("{}", encoding="utf-8"), "meta.json is unreadable"),
    ],
    ids=["half", "empty", "one-byte", "missing", "meta-garbage", "meta-empty"],
)
def test_a_damaged_entry_is_reported_retrained_and_replaced(build, capsys, damage, reason):
    train = Counter()
    arrays(train)
    damage(_payload(build))
    capsys.readouterr()
    retrained = arrays(train)
    out = capsys.readouterr().out
    assert train.calls == 2
    assert reason in out and "retraining model" in out
    if reason != "meta.json is unreadable":
        assert "arrays.npz" in out  # which file
    again = arrays(train)  # replaced: now it loads, silently about damage
    assert train.calls == 2
    np.testing.assert_array_equal(retrained["w"], again["w"])
    assert "retraining" not in capsys.readouterr().out


def test_a_file_its_reader_rejects_is_reported_and_retrained(capsys):
    calls = []

    def load(paths):
        raise OSError("unable to open file (file signature not found)")  # as h5py says

    run = lambda: cache.cached(  # noqa: E731
        "m",
        train=lambda: calls.append(1) or b"weights",
        save=lambda value: {"w.bin": value},
        load=load,
        code=[affine],
        seed=0,
    )
    assert run() == b"weights" and run() == b"weights"
    assert len(calls) == 2
    out = capsys.readouterr().out
    assert "could not be loaded (OSError: unable to open file" in out


def test_an_interrupted_write_leaves_no_file_under_its_final_name(build):
    def half_then_interrupted(f):
        f.write(b"half of the weights")
        raise KeyboardInterrupt  # the kernel is interrupted while it writes

    run = lambda writer: cache.cached(  # noqa: E731
        "m",
        train=lambda: "trained",
        save=lambda value: {"a.bin": b"complete", "b.bin": writer},
        load=lambda paths: paths["b.bin"].read_text(encoding="utf-8"),
        code=[affine],
        seed=0,
    )
    with pytest.raises(KeyboardInterrupt):
        run(half_then_interrupted)
    files = entry_files(build)
    assert [f.name for f in files] == ["a.bin"]  # no b.bin, no .part file, no meta.json: absent
    assert run(b"loaded") == "trained"  # trained again, and this time written
    assert run(b"loaded") == "loaded"


def test_a_failed_write_is_reported_and_the_trained_result_returned(build, capsys):
    def disk_full(f):
        raise OSError(28, "No space left on device")

    result = cache.cached(
        "m", train=lambda: 7, save=lambda v: {"x.bin": disk_full}, load=lambda p: 0, code=[affine], seed=0
    )
    assert result == 7
    assert "could not write m" in capsys.readouterr().out
    assert entry_files(build) == []


def test_payload_files_without_metadata_count_as_absent(build, monkeypatch):
    """A crash between the payload files and meta.json (written last) leaves an absent entry."""
    real = cache_store.write_atomic

    def crash_on_meta(path, content):
        if path.name == "meta.json":
            raise KeyboardInterrupt
        return real(path, content)

    train = Counter()
    monkeypatch.setattr(cache_store, "write_atomic", crash_on_meta)
    with pytest.raises(KeyboardInterrupt):
        arrays(train)
    monkeypatch.setattr(cache_store, "write_atomic", real)
    assert [f.name for f in entry_files(build)] == ["arrays.npz"]
    arrays(train)
    assert train.calls == 2
    assert sorted(f.name for f in entry_files(build)) == ["arrays.npz", "meta.json"]


# --------------------------------------------------------------------------- switches


def test_course_cache_off_trains_and_neither_reads_nor_writes(build, monkeypatch, capsys):
    train = Counter()
    arrays(train)
    written = entry_files(build)
    monkeypatch.setenv("COURSE_CACHE", "off")
    arrays(train)
    arrays(train)
    assert train.calls == 3
    assert entry_files(build) == written
    assert "not cached (COURSE_CACHE=off" in capsys.readouterr().out
    monkeypatch.setenv("COURSE_CACHE", "refresh")
    arrays(train)
    assert train.calls == 4
    monkeypatch.setenv("COURSE_CACHE", "on")
    arrays(train)
    assert train.calls == 4


def test_course_cache_off_writes_nothing_at_all(build, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", "off")
    arrays(Counter())
    assert not (build / "cache").exists()


def test_untrained_never_reads_nor_writes(build, monkeypatch, capsys):
    train = Counter()
    arrays(train)  # an entry at smoke
    written = entry_files(build)
    monkeypatch.setenv("COURSE_SCALE", "untrained")
    monkeypatch.setattr(cache_store, "key_parts", _without_scale(cache_store.key_parts))  # even the same key
    monkeypatch.setattr(cache_store, "_read_meta", _forbidden)
    monkeypatch.setattr(cache_store, "_check_files", _forbidden)
    arrays(train)
    arrays(train)
    assert train.calls == 3
    assert entry_files(build) == written
    assert "not cached (COURSE_SCALE=untrained" in capsys.readouterr().out


def _without_scale(key_parts):
    def parts(*args, **kwargs):
        out = key_parts(*args, **kwargs)
        out["scale"] = "smoke"  # the smoke entry's key
        return out

    return parts


def _forbidden(*args, **kwargs):
    raise AssertionError("the cache was read")


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "../escape"}, "short name"),
        ({"name": ""}, "short name"),
        ({"params": {"lr": object()}}, r"params\['lr'\] = .* is not JSON-able"),
        ({"params": {"x": np.zeros(3)}}, "not JSON-able"),
        ({"params": {1: 2}}, "not a string"),
        ({"params": [1, 2]}, "dict of hyper-parameters"),
        ({"data": object()}, "data= takes NumPy"),
        ({"data": np.array([object()])}, "Python objects"),
        ({"seed": -1}, "non-negative integer"),
        ({"seed": 1.5}, "non-negative integer"),
        ({"code": [len]}, "cannot read the source code of len|takes classes"),
        ({"code": affine}, "list of the classes"),
        ({"code": [3]}, "takes classes, functions, modules"),
        ({"frameworks": ["no_such_framework_xyz"]}, "not installed"),
        ({"save": lambda v: {"meta.json": b""}}, "may not name a file"),
        ({"save": lambda v: {"a/b": b""}}, "short name"),
        ({"save": lambda v: {"x": 3}}, "bytes, str or a function"),
        ({"save": lambda v: {}}, "non-empty dict"),
        ({"train": None}, "train= must be a function"),
    ],
)
def test_a_bad_argument_raises_a_clear_value_error(kwargs, message):
    args = {
        "name": "m",
        "train": lambda: 1,
        "save": lambda v: {"v.json": json.dumps(v)},
        "load": lambda p: json.loads(p["v.json"].read_text(encoding="utf-8")),
        "code": [affine],
        "seed": 0,
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        cache.cached(**args)


def test_a_bad_course_cache_value_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", "maybe")
    with pytest.raises(ValueError, match="COURSE_CACHE='maybe' is not a cache mode; use one of on, off"):
        arrays(Counter())


# --------------------------------------------------------------------------- formats


def test_json_results_round_trip(capsys):
    compute = lambda: {"log_z": np.float64(-123.25), "runs": np.arange(3), "ok": True}  # noqa: E731
    kwargs = {"code": [affine], "params": {"betas": 100}, "seed": 0}
    fresh = cache.cached_json("ais", compute=compute, **kwargs)
    loaded = cache.cached_json("ais", compute=lambda: pytest.fail("retrained"), **kwargs)
    assert fresh == loaded == {"log_z": -123.25, "runs": [0, 1, 2], "ok": True}


def _tiny_torch_net():
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Dropout(0.5), torch.nn.Linear(8, 2)
    )


def _train_torch(net, x, y):
    import torch

    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    history = {"loss": []}
    for _ in config.training(range(5)):
        loss = torch.nn.functional.mse_loss(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history["loss"].append(loss.item())
    net.eval()
    return history


def test_a_torch_model_round_trips_exactly_with_its_history(capsys):
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)  # not the global generator: its state depends on earlier tests
    x, y = torch.randn(16, 3, generator=g), torch.randn(16, 2, generator=g)
    calls = []

    def run():
        return cache.cached_torch(
            "tiny_torch",
            build=_tiny_torch_net,
            train=lambda net: calls.append(1) or _train_torch(net, x, y),
            code=[_tiny_torch_net, _train_torch],
            params={"lr": 0.1, "steps": 5},
            data=[x, y],
            seed=0,
        )

    trained, history = run()
    loaded, loaded_history = run()
    assert len(calls) == 1
    assert loaded is not trained
    assert not loaded.training  # left in eval mode by training: dropout off in both
    with torch.no_grad():
        assert torch.equal(trained(x), loaded(x))
    assert loaded_history == history and len(history["loss"]) == 5
    assert history["loss"][-1] < history["loss"][0]  # it trained
    fresh = _tiny_torch_net()  # an untrained one differs: the comparison can fail
    with torch.no_grad():
        assert not torch.equal(fresh.eval()(x), loaded(x))


def test_several_torch_models_a_buffer_and_an_optimizer_in_one_entry():
    """The pattern of a GAN (two networks) and of an EBM (a network and its replay buffer)."""
    torch = pytest.importorskip("torch")

    def build():
        generator = torch.nn.Linear(2, 3)
        return {
            "generator": generator,
            "critic": torch.nn.Linear(3, 1),
            "buffer": torch.zeros(4, 2),
            "optimizer": torch.optim.SGD(generator.parameters(), lr=0.1, momentum=0.9),
        }

    def train(models):
        models["generator"](torch.ones(1, 2)).sum().backward()
        models["optimizer"].step()
        models["buffer"][1:3] = torch.randn(2, 2)  # updated in place, as ReplayBuffer.update does
        models["critic"].eval()
        return None

    kwargs = {"build": build, "code": [build, train], "seed": 0}
    models, history = cache.cached_torch("gan", train=train, **kwargs)
    loaded, loaded_history = cache.cached_torch("gan", train=lambda m: pytest.fail("retrained"), **kwargs)
    assert history == loaded_history == {}
    assert torch.equal(models["buffer"], loaded["buffer"]) and loaded["buffer"].abs().sum() > 0
    for k in ("generator", "critic"):
        for p, q in zip(models[k].parameters(), loaded[k].parameters()):
            assert torch.equal(p, q)
    assert loaded["generator"].training and not loaded["critic"].training
    momentum = lambda opt: [s["momentum_buffer"] for s in opt.state_dict()["state"].values()]  # noqa: E731
    assert all(
        torch.equal(a, b) for a, b in zip(momentum(models["optimizer"]), momentum(loaded["optimizer"]))
    )
    assert len(momentum(loaded["optimizer"])) == 2


def test_a_truncated_torch_checkpoint_is_retrained(build, capsys):
    torch = pytest.importorskip("torch")
    calls = []
    run = lambda: cache.cached_torch(  # noqa: E731
        "lin",
        build=lambda: torch.nn.Linear(2, 2),
        train=lambda m: calls.append(1),
        code=[affine],
        seed=0,
    )
    run()
    path = next(build.rglob("model.pt"))
    path.write_bytes(path.read_bytes()[:100])
    model, _ = run()
    assert len(calls) == 2 and "model.pt is truncated" in capsys.readouterr().out
    assert isinstance(model, torch.nn.Linear)


def test_a_keras_model_round_trips_exactly_with_its_history():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3)).astype("float32")
    y = rng.standard_normal((32, 1)).astype("float32")
    calls = []

    def build():
        model = keras.Sequential(
            [keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)]
        )
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        return model

    def train(model):
        calls.append(1)
        return model.fit(x, y, epochs=config.training_steps(3), batch_size=16, verbose=0)

    kwargs = {
        "build": build,
        "train": train,
        "code": [build],
        "params": {"epochs": 3},
        "data": [x, y],
        "seed": 0,
    }
    trained, history = cache.cached_keras("tiny_keras", **kwargs)
    loaded, loaded_history = cache.cached_keras("tiny_keras", **kwargs)
    assert len(calls) == 1 and loaded is not trained
    np.testing.assert_array_equal(trained.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert loaded_history == history and len(history["loss"]) == 3
    assert not np.array_equal(build().predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_a_keras_model_without_weights_is_a_clear_error():
    keras = pytest.importorskip("keras")
    with pytest.raises(ValueError, match="unbuilt"):
        cache.cached_keras(
            "lazy",
            build=lambda: keras.Sequential([keras.layers.Dense(1)]),
            train=lambda m: None,
            code=[affine],
            seed=0,
        )


def test_a_subclassed_keras_model_with_its_own_optimizer_round_trips():
    """The pattern of notebook 02: weights made with add_weight, an optimizer as an attribute."""
    keras = pytest.importorskip("keras")

    class Layer(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.w = self.add_weight(shape=(3, 2), initializer=keras.initializers.RandomNormal(seed=0))

        def call(self, v):
            return keras.ops.matmul(v, self.w)

    class Model(keras.Model):
        def __init__(self):
            super().__init__()
            self.layer = Layer()
            self.own_optimizer = keras.optimizers.SGD(0.1, momentum=0.5)

        def call(self, v):
            return self.layer(v)

    def build():
        model = Model()
        model.own_optimizer.build(model.trainable_variables)
        model(np.zeros((1, 3), "float32"))  # built: Keras saves and loads built models only
        return model

    def train(model):
        losses = []
        for _ in range(3):
            model.own_optimizer.apply_gradients([(keras.ops.ones((3, 2)), model.layer.w)])
            losses.append(float(keras.ops.sum(model.layer.w)))
        return {"loss": losses}

    x = np.arange(6, dtype="float32").reshape(2, 3)
    kwargs = {"build": build, "code": [Layer, Model, build, train], "seed": 0}
    trained, history = cache.cached_keras("subclassed", train=train, **kwargs)
    loaded, loaded_history = cache.cached_keras(
        "subclassed", train=lambda m: pytest.fail("retrained"), **kwargs
    )
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(trained(x)), keras.ops.convert_to_numpy(loaded(x))
    )
    assert loaded_history == history
    np.testing.assert_array_equal(
        loaded.own_optimizer.variables[-1].numpy(),
        trained.own_optimizer.variables[-1].numpy(),
    )


def test_arrays_keep_their_names_dtypes_and_shapes():
    """E.g. Monte Carlo configurations per temperature, as notebook 07 draws them."""
    temps = (1.5, 2.27)
    compute = lambda: {f"T{t}": np.full((3, 4, 4), i, np.int8) for i, t in enumerate(temps)}  # noqa: E731
    kwargs = {"code": [affine], "params": {"temps": temps}, "seed": 5}
    fresh = cache.cached_arrays("mc", compute=compute, **kwargs)
    loaded = cache.cached_arrays("mc", compute=lambda: pytest.fail("recomputed"), **kwargs)
    assert list(loaded) == ["T1.5", "T2.27"]
    for k in fresh:
        assert loaded[k].dtype == np.int8 and loaded[k].shape == (3, 4, 4)
        np.testing.assert_array_equal(fresh[k], loaded[k])
    with pytest.raises(ValueError, match="an array's name"):
        cache.cached_arrays("bad", compute=lambda: {"a/b": np.zeros(2)}, code=[affine], seed=0)


# --------------------------------------------------------------------------- keys found from the code


def _notebook(source, cell, **names):
    """Run ``source`` as a Jupyter cell does (module ``__main__``, its source in linecache), with
    ``names`` as the notebook's other globals; return the notebook's namespace."""
    filename = f"<ipython-input-infer-{cell}>"
    source = textwrap.dedent(source)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"__name__": "__main__", **names}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


CELL = """
import numpy as np
from lib import config, rbm

LR = 0.1
EPOCHS = 3

def helper(x):
    return x * LR

def fit(model):
    out = [helper(float(x_train.sum())) for _ in range(EPOCHS)]
    return {"loss": out, "free_energy": float(rbm.free_energy(np.zeros((1, 2)), np.zeros((2, 1)), np.zeros(2), np.zeros(1))[0]), "scale": config.get_scale()}
"""


def test_infer_finds_the_code_the_numbers_and_the_arrays_a_training_uses():
    from lib import cache_key

    nb = _notebook(CELL, 1, x_train=np.arange(6.0))
    found = cache_key.infer(nb["fit"])
    names = {getattr(c, "__name__", "") for c in found.code}
    assert {"fit", "helper", "lib.rbm"} <= names  # what it calls, in the notebook and in lib
    assert "lib.config" not in names  # configuration does not change what it computes
    assert "numpy" not in names  # a library counts by its version, which every key holds
    assert found.params == {"LR": 0.1, "EPOCHS": 3}
    assert set(found.data) == {"x_train"}


def _inferred_key(nb):
    from lib import cache_key

    found = cache_key.infer(nb["fit"])
    return cache.cache_key("x", code=found.code, params=found.params, data=found.data, seed=0)


def test_an_inferred_key_changes_with_the_code_the_numbers_and_the_data_and_only_then():
    base = _inferred_key(_notebook(CELL, 2, x_train=np.arange(6.0)))
    assert _inferred_key(_notebook(CELL, 3, x_train=np.arange(6.0))) == base
    assert _inferred_key(_notebook(CELL.replace("LR = 0.1", "LR = 0.2"), 4, x_train=np.arange(6.0))) != base
    assert _inferred_key(_notebook(CELL.replace("x * LR", "x * LR * 2"), 5, x_train=np.arange(6.0))) != base
    assert _inferred_key(_notebook(CELL, 6, x_train=np.arange(6.0) + 1)) != base
    commented = CELL.replace("return x * LR", "return x * LR  # the step")
    assert _inferred_key(_notebook(commented, 7, x_train=np.arange(6.0))) == base


def test_infer_refuses_a_global_that_a_key_cannot_hold():
    from lib import cache_key

    nb = _notebook("def fit(model):\n    return next(batches)\n", 8, batches=iter([1, 2]))
    with pytest.raises(ValueError, match=r"'batches'.*pass what it is made from as an argument"):
        cache_key.infer(nb["fit"])


def test_a_cached_training_in_one_line_trains_once_and_retrains_when_a_number_changes():
    torch = pytest.importorskip("torch")
    calls = []
    src = """
    import torch

    STEPS = 3

    def build():
        return torch.nn.Linear(2, 1)

    def fit(net):
        record(1)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        for _ in range(STEPS):
            loss = ((net(x) - 1) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return {"loss": [loss.item()]}
    """
    x = torch.ones(4, 2)
    config.setup("99_infer_test", seed=0, quiet=True)
    for cell, steps in ((9, 3), (10, 3), (11, 4)):
        # record: a callable of another module (a builtin), which a key ignores
        nb = _notebook(src.replace("STEPS = 3", f"STEPS = {steps}"), cell, record=calls.append, x=x)
        net, history = cache.cached_torch("infer_tiny", build=nb["build"], train=nb["fit"], verbose=False)
    assert len(calls) == 2  # trained, loaded, trained again for STEPS = 4
    assert isinstance(net, torch.nn.Linear) and len(history["loss"]) == 1


def test_infer_takes_a_device_and_a_models_class_code():
    torch = pytest.importorskip("torch")
    from lib import cache_key

    src = """
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 1)

        def forward(self, x):
            return self.lin(x) * 2

    net = Net()

    def compute():
        return {"y": net(torch.ones(1, 2, device=DEVICE)).detach()}
    """
    torch.manual_seed(0)
    a = _notebook(src, 20, DEVICE=torch.device("cpu"))
    found = cache_key.infer(a["compute"])
    assert found.params == {"DEVICE": "cpu"} and set(found.data) == {"net"}
    assert any(
        getattr(c, "__name__", "") == "Net" for c in found.code
    )  # its forward counts, not only weights
    torch.manual_seed(0)
    b = _notebook(src.replace("* 2", "* 3"), 21, DEVICE=torch.device("cpu"))
    key = lambda nb: cache.cache_key("x", **cache_key.infer(nb["compute"])._asdict(), seed=0)  # noqa: E731
    assert key(a) != key(b)


def test_infer_reads_the_default_arguments_of_a_classs_methods():
    from lib import cache_key

    src = """
    class Model:
        def __init__(self, width=WIDTH):
            self.width = width

    def build():
        return Model()
    """
    found = cache_key.infer(_notebook(src, 30, WIDTH=7)["build"])
    assert 7 in found.params.values()  # the default was evaluated when the class was defined
