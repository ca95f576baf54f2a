"""A cache of trained models and expensive results, keyed by everything that determines them.

A lecture that retrains every model on every run makes its reader wait minutes for figures
that were right the last time. This module stores a trained model (or an AIS estimate, a long
Monte Carlo reference run, ...) under ``build/cache/`` and loads it on the next run, **only when
nothing that determines it has changed**. The key is a SHA-256 hash of

* the defining source code: the classes, functions or modules passed as ``code=`` (their
  syntax tree, so editing a comment or reformatting does not retrain, editing code does);
* the hyper-parameters, a JSON-able dict ``params=``;
* a fingerprint of the data ``data=``: the bytes, shape and dtype of each NumPy / PyTorch /
  TensorFlow array;
* the seed ``seed=`` (and ``COURSE_SEED`` when it is set), the scale (``COURSE_SCALE``);
* the Python, NumPy and framework versions.

In a PyTorch notebook, one line::

    model, history = cache.cached_torch("rbm_cd1_h25", build=lambda: RBM(784, 25), train=train_cd1)

The key is found from the code of ``build`` and ``train`` (:func:`lib.cache_key.infer`): the
functions and classes they use, defined in the notebook or in ``lib`` (and what those use in
turn), the numbers and strings they read from the notebook's globals (``LR``, ``EPOCHS``), the
arrays and models they read (``v_train``), and the notebook's seed. A key can also be given
explicitly, with ``code=[...]``, ``params={...}``, ``data=...`` and ``seed=...``.

``build()`` makes the untrained model, ``train(model)`` trains it in place and returns its
history (a dict of lists, or ``None``); the history comes back with the model. When the entry
is loaded, the notebook prints what it loaded, the key and how long the original training took.
Keras models go through :func:`cached_keras` (``.weights.h5``), arrays through
:func:`cached_arrays` (``.npz``), JSON-able results through :func:`cached_json`, anything else
through :func:`cached` with your own ``save`` / ``load`` in the framework's format (no pickles).

Random state: before it trains (or loads), ``cached`` seeds every generator with ``seed``
(:func:`lib.config.seed_everything`; under ``COURSE_SEED`` see :func:`effective_seed`), so the model depends on its key only, not on what the
notebook drew before. Afterwards it seeds them again with a seed drawn from the key, so that what
the notebook draws next is the same whether the model was trained or loaded: the figures and the
asserts after a cached run are those of a fresh one.

Switches:

* ``COURSE_CACHE=off`` trains, and neither reads nor writes the cache; ``COURSE_CACHE=refresh``
  trains and replaces the entry; ``on`` (the default) uses it.
* ``COURSE_SCALE=untrained`` (the negative control) never reads the cache and never writes to
  it: the one-update model must never be loaded by a later run.

An entry is a folder ``build/cache/<name>/<first 16 hex digits of the key>/`` holding its payload files and a
``meta.json`` (the key, what went into it, the SHA-256 of every payload file, the training
time). Every file goes through :func:`lib.atomic.write_atomic`; the payload files are written
first and ``meta.json`` last, so an entry without ``meta.json`` counts as absent. A corrupt or
truncated file is reported (which file, and why), the model retrained and the entry replaced;
a failed write is reported and the run continues with the trained model. Delete
``build/cache/`` (or one ``build/cache/<name>/``) to start afresh.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, TypeVar, Unpack

import numpy as np

from . import config
from .cache_key import (
    as_numpy,
    cache_key,
    check_name,
    fingerprint,
    infer,
)
from .cache_store import CACHE_MODES, Content, KeyArgs, cache_dir, cache_mode, cached, effective_seed

__all__ = [
    "CACHE_MODES",
    "KeyArgs",
    "cache_dir",
    "cache_key",
    "cache_mode",
    "cached",
    "cached_arrays",
    "cached_json",
    "cached_keras",
    "cached_torch",
    "clear",
    "effective_seed",
    "fingerprint",
]

T = TypeVar("T")
#: ``build()`` makes the untrained model(s); ``train(model)`` trains in place, returns the history.
Build = Callable[[], Any]
Train = Callable[[Any], Any]
#: What the model caches return: the model(s) ``build()`` made, trained, and the history.
Trained = tuple[Any, dict[str, Any]]


# --------------------------------------------------------------------------- the key, inferred


def _key(key: Mapping[str, Any], *functions: Any) -> dict[str, Any]:
    """The key arguments of an entry: those given, and what was not given found from the code of
    ``functions`` (:func:`lib.cache_key.infer`): without ``code=``, the code, parameters and data
    that the functions use; without ``seed=``, the notebook's seed (:func:`lib.config.seed`)."""
    out = dict(key)
    if "code" not in out:
        found = infer(*functions)
        out["code"] = found.code
        out["params"] = {**found.params, **(out.get("params") or {})}
        data = dict(found.data)
        if out.get("data") is not None:
            data["data="] = out["data"]
        out["data"] = data or None
    if "seed" not in out:
        out["seed"] = config.seed()
    return out


# --------------------------------------------------------------------------- helpers per format


def _json_content(value: Any) -> str:
    return json.dumps(value, default=_json_default, allow_nan=True)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "tolist"):  # torch / tf scalars and tensors
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON-able")


def _as_json(value: Any, what: str) -> Any:
    """``value`` after a JSON round trip: what a load returns, so both paths return the same."""
    try:
        return json.loads(_json_content(value))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not JSON-able ({exc})") from None


def _history(value: Any, name: str) -> dict[str, Any]:
    """A training history (a dict of lists; a Keras ``History``; ``None``) as JSON."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) and isinstance(getattr(value, "history", None), Mapping):
        value = value.history  # what keras.Model.fit returns
    if not isinstance(value, Mapping):
        raise ValueError(
            f"train() for {name!r} must return its history (a dict of lists) or None, got {type(value).__name__}"
        )
    return _as_json(dict(value), f"the history of {name!r}")


def cached_json(
    name: str,
    *,
    compute: Callable[[], Any],
    **key: Unpack[KeyArgs],
) -> Any:
    """A JSON-able result (numbers, lists, dicts; NumPy scalars and arrays become numbers and
    lists), e.g. an AIS estimate: ``cached_json("ais_cd10", compute=lambda: {...}, ...)``.
    It comes back after a JSON round trip on both paths, so a fresh and a cached run agree.
    The other arguments (``code``, ``params``, ``data``, ``seed``, ...) are those of :func:`cached`."""
    return cached(
        name,
        train=lambda: _as_json(compute(), f"the result of {name!r}"),
        save=lambda value: {"result.json": _json_content(value)},
        load=lambda paths: json.loads(paths["result.json"].read_text(encoding="utf-8")),
        **_key(key, compute),
    )


def _save_npz(arrays: Mapping[str, np.ndarray]) -> Callable[[BinaryIO], None]:
    return lambda f: np.savez(f, **arrays)


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def cached_arrays(
    name: str,
    *,
    compute: Callable[[], Mapping[str, Any]],
    **key: Unpack[KeyArgs],
) -> dict[str, np.ndarray]:
    """A dict of NumPy arrays (e.g. a long Monte Carlo reference run's observables), stored with
    ``np.savez``; the arrays come back with their dtype and shape. The other arguments are those
    of :func:`cached`."""

    def train() -> dict[str, np.ndarray]:
        value = compute()
        if not isinstance(value, Mapping) or not value:
            raise ValueError(
                f"compute() for {name!r} must return a non-empty dict of arrays, got {type(value).__name__}"
            )
        out = {}
        for k, v in value.items():
            check_name(k, f"an array's name in what compute() for {name!r} returned")
            out[k] = as_numpy(v, f"compute()[{k!r}]")
        return out

    return cached(
        name,
        train=train,
        save=lambda arrays: {"arrays.npz": _save_npz(arrays)},
        load=lambda paths: _load_npz(paths["arrays.npz"]),
        **_key(key, compute),
    )


def _models(built: Any, what: str, check: Callable[[Any], bool], kind: str) -> dict[str, Any]:
    """``{file stem: model}`` for one model (stem ``model``) or a dict of them."""
    models = dict(built) if isinstance(built, Mapping) else {"model": built}
    if not models:
        raise ValueError(f"{what} returned an empty dict; it must return a {kind} or a dict of them")
    for stem, model in models.items():
        check_name(stem, f"a model's name in the dict that {what} returned")
        if not check(model):
            raise ValueError(
                f"{what} must return a {kind} or a dict of them, got {type(model).__name__} for {stem!r}"
            )
    return models


class _Format(NamedTuple):
    """How one framework's models are checked, saved and loaded by :func:`_cached_models`."""

    models_of: Callable[[Any], dict[str, Any]]  # built -> {file stem: model}, checked
    save_files: Callable[[Mapping[str, Any]], dict[str, Content]]
    load_into: Callable[[Mapping[str, Any], Mapping[str, Path]], None]
    frameworks: Sequence[str]  # added to the key's versions


def _cached_models(name: str, build: Build, train: Train, fmt: _Format, key: Mapping[str, Any]) -> Trained:
    """What :func:`cached_torch` and :func:`cached_keras` share: build, train and keep the history;
    save each model with ``fmt.save_files`` beside ``history.json``; on a load, build afresh and
    ``fmt.load_into`` the built models."""
    models_of = fmt.models_of

    def do_train() -> tuple[Any, dict[str, Any]]:
        built = build()
        models_of(built)
        return built, _history(train(built), name)

    def save(result: tuple[Any, dict[str, Any]]) -> dict[str, Content]:
        built, history = result
        return {**fmt.save_files(models_of(built)), "history.json": _json_content(history)}

    def load(paths: Mapping[str, Path]) -> tuple[Any, dict[str, Any]]:
        built = build()
        fmt.load_into(models_of(built), paths)
        return built, json.loads(paths["history.json"].read_text(encoding="utf-8"))

    key = _key(key, build, train)
    frameworks = [*key.get("frameworks", ()), *fmt.frameworks]
    return cached(name, train=do_train, save=save, load=load, **{**key, "frameworks": frameworks})


def cached_torch(name: str, *, build: Build, train: Train, **key: Unpack[KeyArgs]) -> Trained:
    """A trained PyTorch model and its training history: ``(model, history)``.

    Args:
        build: makes the untrained model, an ``nn.Module``, or a dict of the things training
            changes, e.g. ``{"generator": G, "critic": D}`` or ``{"energy": net, "buffer":
            replay_buffer.data}``: modules, tensors (restored in place), and anything with
            ``state_dict`` / ``load_state_dict`` (an optimizer). Called after seeding, and
            again before a load.
        train: ``train(model)`` trains it in place and returns the history, a dict of lists
            (or ``None``: the history is then ``{}``).
        other arguments: as for :func:`cached` (``torch`` is added to ``frameworks``).

    Stored: ``torch.save`` of each module's (optimizer's) ``state_dict`` or tensor
    (``<name>.pt``, loaded with ``weights_only=True``), the history as JSON, and whether each
    module was left in train or eval mode (restored on load).
    """
    import torch

    def stateful(obj: Any) -> bool:
        return isinstance(obj, torch.Tensor) or (
            callable(getattr(obj, "state_dict", None)) and callable(getattr(obj, "load_state_dict", None))
        )

    def models_of(built: Any) -> dict[str, Any]:
        return _models(
            built, f"build() for {name!r}", stateful, "torch.nn.Module, tensor or object with a state_dict"
        )

    def state_of(obj: Any) -> Any:
        return obj.detach() if isinstance(obj, torch.Tensor) else obj.state_dict()

    def save_files(models: Mapping[str, Any]) -> dict[str, Content]:
        files: dict[str, Content] = {
            f"{stem}.pt": (lambda f, m=m: torch.save(state_of(m), f)) for stem, m in models.items()
        }
        modes = {stem: m.training for stem, m in models.items() if isinstance(m, torch.nn.Module)}
        files["modes.json"] = json.dumps(modes)
        return files

    def load_into(models: Mapping[str, Any], paths: Mapping[str, Path]) -> None:
        modes = json.loads(paths["modes.json"].read_text(encoding="utf-8"))
        for stem, obj in models.items():
            state = torch.load(paths[f"{stem}.pt"], map_location="cpu", weights_only=True)
            if isinstance(obj, torch.Tensor):
                if obj.shape != state.shape or obj.dtype != state.dtype:
                    raise ValueError(
                        f"{stem}: stored {state.dtype}{tuple(state.shape)}, built {obj.dtype}{tuple(obj.shape)}"
                    )
                with torch.no_grad():
                    obj.copy_(state)
            else:
                obj.load_state_dict(state)
            if isinstance(obj, torch.nn.Module):
                obj.train(bool(modes[stem]))

    fmt = _Format(models_of, save_files, load_into, ["torch"])
    return _cached_models(name, build, train, fmt, key)


def cached_keras(name: str, *, build: Build, train: Train, **key: Unpack[KeyArgs]) -> Trained:
    """A trained Keras 3 model and its training history: ``(model, history)``.

    Args:
        build: makes the untrained model, a ``keras.Model`` (or a dict of them, e.g.
            ``{"generator": G, "discriminator": D}``), built: give it an ``Input``, call
            ``model.build(shape)`` or call it once on a batch (Keras saves and loads the weights
            of built models only). Called after seeding, and again before a load.
        train: ``train(model)`` trains it in place and returns the history: what
            ``model.fit`` returns, a dict of lists, or ``None`` (the history is then ``{}``).
        other arguments: as for :func:`cached` (``keras`` and its backend are added to
            ``frameworks``).

    Stored: each model's ``save_weights`` file (``<name>.weights.h5``) and the history as JSON.
    The compiled optimizer's state is not stored: a loaded model is for evaluation and sampling.
    An optimizer held as an attribute of the model is (Keras saves every attribute's variables):
    build it in ``build()`` (``opt.build(model.trainable_variables)``), or Keras warns on load
    that it skipped its variables (the model's own weights still load exactly).
    """
    import keras

    def models_of(built: Any) -> dict[str, Any]:
        models = _models(built, f"build() for {name!r}", lambda m: isinstance(m, keras.Model), "keras.Model")
        for stem, model in models.items():
            if not model.built or not model.weights:
                raise ValueError(
                    f"build() for {name!r} returned {stem!r} unbuilt: give the model an Input, call "
                    "model.build(input_shape) or call it once on a batch, so that its weights exist"
                )
        return models

    def weights_bytes(model: Any) -> bytes:
        # Keras writes weights to a file name only: write them aside, then atomically into the entry.
        with tempfile.TemporaryDirectory(prefix="course-cache-") as tmp:
            path = Path(tmp) / "model.weights.h5"
            with warnings.catch_warnings():
                # Keras 3.15's save_weights converts its Variables with np.array(), whose __array__
                # lacks NumPy 2's copy= keyword: a DeprecationWarning from Keras about itself.
                warnings.filterwarnings(
                    "ignore", "__array__ implementation doesn't accept", DeprecationWarning
                )
                model.save_weights(path)
            return path.read_bytes()

    def save_files(models: Mapping[str, Any]) -> dict[str, Content]:
        return {
            f"{stem}.weights.h5": (lambda f, m=m: f.write(weights_bytes(m))) for stem, m in models.items()
        }

    def load_into(models: Mapping[str, Any], paths: Mapping[str, Path]) -> None:
        for stem, model in models.items():
            model.load_weights(paths[f"{stem}.weights.h5"])

    fmt = _Format(models_of, save_files, load_into, ["keras", keras.backend.backend()])
    return _cached_models(name, build, train, fmt, key)


def clear(name: str | None = None) -> None:
    """Delete every cache entry (or those of ``name``)."""
    folder = cache_dir() if name is None else cache_dir() / check_name(name, "the entry's name")
    if folder.exists():
        shutil.rmtree(folder)
