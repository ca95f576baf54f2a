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

In a PyTorch notebook::

    model, history = cache.cached_torch(
        "rbm_cd1_h25", build=lambda: RBM(784, 25), train=lambda m: train_rbm(m, v_train, k=1),
        code=[RBM, train_rbm], params={"hidden": 25, "k": 1, "lr": LR, "epochs": EPOCHS},
        data=v_train, seed=SEED,
    )

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

import ast
import contextlib
import datetime as _dt
import functools
import hashlib
import importlib
import inspect
import json
import math
import os
import platform
import re
import shutil
import tempfile
import textwrap
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import numpy as np

from . import config
from .atomic import write_atomic

__all__ = [
    "CACHE_MODES",
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
#: What a ``save`` function returns for each payload file (see :func:`lib.atomic.write_atomic`).
Content = bytes | str | Callable[[BinaryIO], None]

#: The values of ``COURSE_CACHE``: use the cache, ignore it, or retrain and replace each entry.
CACHE_MODES: tuple[str, ...] = ("on", "off", "refresh")
#: Bumped when the layout of an entry or the recipe of the key changes: old entries then miss.
_FORMAT = 1
_META = "meta.json"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_PY_NAMES = {"scikit-learn": "sklearn", "sklearn": "sklearn", "tensorflow-cpu": "tensorflow"}


class _Unreadable(Exception):
    """A cache entry that exists but cannot be used: the message says which file and why."""


# --------------------------------------------------------------------------- configuration


def cache_dir() -> Path:
    """``$COURSE_BUILD_DIR/cache`` (default ``build/cache`` in the repository)."""
    return config.build_dir() / "cache"


def cache_mode() -> str:
    """The cache mode named by ``COURSE_CACHE`` (default ``on``): one of :data:`CACHE_MODES`.

    Raises:
        ValueError: for any other value.
    """
    value = os.environ.get("COURSE_CACHE", "on").strip().lower() or "on"
    if value not in CACHE_MODES:
        raise ValueError(
            f"COURSE_CACHE={os.environ.get('COURSE_CACHE')!r} is not a cache mode; use one of "
            f"{', '.join(CACHE_MODES)} (default: on)."
        )
    return value


def effective_seed(seed: int) -> int:
    """The seed :func:`cached` trains with, given ``seed=``: ``seed`` itself, unless
    ``COURSE_SEED`` is set to another value; then a number drawn from both, so that a notebook
    that passes a fixed seed still trains other models when rerun with another ``COURSE_SEED``.
    Pass the seed :func:`lib.config.setup` used (e.g. ``torch.initial_seed()`` after it), and the
    seed is kept. Use this to rebuild the untrained model a cached one started from::

        config.seed_everything(cache.effective_seed(SEED)); untrained_model = build()
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    course_seed = _course_seed()
    if course_seed is None or course_seed == seed:
        return int(seed)
    return int(_sha256(f"{int(seed)}:{course_seed}")[:8], 16) % 2**31


def _course_seed() -> int | None:
    raw = os.environ.get("COURSE_SEED", "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"COURSE_SEED={raw!r} is not an integer seed") from None


# --------------------------------------------------------------------------- the key


def _sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def _normalised_source(source: str) -> str:
    """The syntax tree of ``source`` (comments and layout do not count), or the text itself
    when it does not parse on its own (e.g. a lambda cut out of a longer expression)."""
    try:
        return ast.dump(ast.parse(textwrap.dedent(source)))
    except SyntaxError:
        return source


def _class_source(cls: type) -> str:
    """The source of a class, member by member. ``inspect.getsource`` cannot find a class defined
    in a Jupyter cell (its module ``__main__`` has no file), but it finds each of its methods."""
    parts = [
        f"class {cls.__qualname__}({', '.join(b.__module__ + '.' + b.__qualname__ for b in cls.__bases__)})"
    ]
    for attr, value in sorted(vars(cls).items()):
        funcs: list[Any] = []
        if isinstance(value, (staticmethod, classmethod)):
            funcs = [value.__func__]
        elif isinstance(value, property):
            funcs = [f for f in (value.fget, value.fset, value.fdel) if f is not None]
        elif inspect.isfunction(value):
            funcs = [value]
        elif attr.startswith("__") and attr.endswith("__"):
            continue  # __module__, __dict__, __doc__, ... say nothing about what the class computes
        elif isinstance(value, (bool, int, float, str, bytes, tuple, type(None))):
            parts.append(f"{attr} = {value!r}")
            continue
        else:
            parts.append(f"{attr}: {type(value).__qualname__}")
            continue
        for func in funcs:
            parts.append(_normalised_source(_getsource(inspect.unwrap(func), f"{cls.__qualname__}.{attr}")))
    return "\n".join(parts)


def _getsource(obj: Any, label: str) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError) as exc:
        raise ValueError(
            f"cannot read the source code of {label} ({exc}); pass its source text as a string in code=[...]"
        ) from None


def _code_digest(obj: Any) -> tuple[str, str]:
    """``(label, sha256)`` of one item of ``code=``: a class, function, method, module or source
    text."""
    if isinstance(obj, str):
        return "<source text>", _sha256(_normalised_source(obj))
    if isinstance(obj, functools.partial):
        raise ValueError(
            "code=[...] got a functools.partial; pass the function it wraps (and its arguments in params=)"
        )
    if inspect.ismethod(obj):
        obj = obj.__func__
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    obj = inspect.unwrap(obj) if callable(obj) else obj
    if not (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj)):
        raise ValueError(
            f"code=[...] takes classes, functions, modules or source text, got {type(obj).__name__} {obj!r:.80}"
        )
    label = getattr(obj, "__qualname__", None) or obj.__name__
    if inspect.isclass(obj):
        try:
            source = _normalised_source(inspect.getsource(obj))
        except (OSError, TypeError):
            source = _class_source(obj)  # a class defined in a notebook cell
    else:
        source = _normalised_source(_getsource(obj, label))
    return label, _sha256(source)


def _canonical(value: Any, where: str) -> Any:
    """``value`` as plain JSON types (tuples as lists, NumPy scalars as numbers), or ValueError."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            return repr(value)  # JSON has no inf / nan; their repr is unambiguous
        return value
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{where} has a key {k!r} that is not a string; params must be JSON-able")
            out[k] = _canonical(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ValueError(
        f"{where} = {value!r:.80} ({type(value).__name__}) is not JSON-able: params take numbers, strings, "
        "booleans, None, lists and dicts (pass arrays as data=, code as code=)"
    )


def _as_numpy(array: Any, where: str) -> np.ndarray:
    """A NumPy view of a NumPy, PyTorch or TensorFlow array (or a number), or ValueError."""
    module = type(array).__module__.split(".")[0]
    if module == "torch":
        tensor = array.detach().cpu().contiguous()
        try:
            return tensor.numpy()
        except TypeError:  # bfloat16 & co.: NumPy has no such dtype; keep the bytes, name the dtype
            import torch

            return tensor.reshape(-1).view(torch.uint8).numpy().reshape(*tensor.shape, -1)
    if module in ("tensorflow", "keras") and hasattr(array, "numpy"):
        array = array.numpy()
    if isinstance(array, (np.ndarray, np.generic, int, float, bool)) or hasattr(array, "__array__"):
        out = np.asarray(array)
        if out.dtype == object:
            raise ValueError(f"{where} is an array of Python objects; its bytes do not fingerprint it")
        return out
    raise ValueError(
        f"{where} is a {type(array).__module__}.{type(array).__name__}: data= takes NumPy, PyTorch or "
        "TensorFlow arrays (a dict or list of them); pass the arrays a loader or dataset is built from"
    )


def fingerprint(data: Any) -> Any:
    """The fingerprint of ``data`` that goes into a key: for each array its shape, dtype and the
    SHA-256 of its bytes (C order). ``data`` is an array, a dict of arrays, a list / tuple of them
    (nested), or ``None``.

    Raises:
        ValueError: for anything that is not an array (a dataset, a loader, an object array).
    """
    return _fingerprint(data, "data")


def _fingerprint(data: Any, where: str) -> Any:
    if data is None:
        return None
    if isinstance(data, Mapping):
        return {str(k): _fingerprint(v, f"{where}[{k!r}]") for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_fingerprint(v, f"{where}[{i}]") for i, v in enumerate(data)]
    array = np.ascontiguousarray(_as_numpy(data, where))
    dtype = str(getattr(data, "dtype", array.dtype)) if type(data).__module__.startswith("torch") else None
    return {
        "shape": list(getattr(data, "shape", array.shape)),
        "dtype": dtype or array.dtype.str,
        "sha256": _sha256(array.tobytes()),
    }


def _versions(frameworks: Sequence[str]) -> dict[str, str]:
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for name in frameworks:
        module_name = _PY_NAMES.get(name, name)
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise ValueError(f"frameworks=[...] names {name!r}, which is not installed") from None
        out[module_name] = str(getattr(module, "__version__", "unknown"))
    return out


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"{what} must be a short name of letters, digits, '_', '.' and '-' (not starting with "
            f"'.' or '-'), got {name!r}"
        )
    return name


def _key_parts(
    name: str,
    *,
    code: Sequence[Any],
    params: Mapping[str, Any] | None,
    data: Any,
    seed: int | None,
    frameworks: Sequence[str],
) -> dict[str, Any]:
    _check_name(name, "the cache entry's name")
    if isinstance(code, (str, bytes)) or not isinstance(code, Sequence):
        raise ValueError(
            f"code= takes a list of the classes / functions / modules that define the result, got {code!r:.80}"
        )
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise ValueError(f"params= takes a dict of hyper-parameters, got {type(params).__name__}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"seed= must be a non-negative integer or None, got {seed!r}")
    if isinstance(frameworks, str) or not all(isinstance(f, str) for f in frameworks):
        raise ValueError(f"frameworks= takes a list of module names, e.g. ['torch'], got {frameworks!r}")
    return {
        "format": _FORMAT,
        "name": name,
        "code": [list(_code_digest(obj)) for obj in code],
        "params": _canonical(params, "params"),
        "data": _fingerprint(data, "data"),
        "seed": None if seed is None else int(seed),
        "course_seed": _course_seed(),
        "scale": config.get_scale(),
        "versions": _versions(sorted(set(frameworks))),
    }


def _digest(parts: Mapping[str, Any]) -> str:
    return _sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")))


def cache_key(
    name: str,
    *,
    code: Sequence[Any],
    params: Mapping[str, Any] | None = None,
    data: Any = None,
    seed: int | None,
    frameworks: Sequence[str] = (),
) -> str:
    """The key (64 hex digits) under which :func:`cached` stores ``name`` with these arguments."""
    return _digest(_key_parts(name, code=code, params=params, data=data, seed=seed, frameworks=frameworks))


# --------------------------------------------------------------------------- reading and writing


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(config.REPO_ROOT))
    except ValueError:
        return str(path)


def _read_meta(folder: Path, key: str) -> dict[str, Any] | None:
    """The entry's metadata, ``None`` when the entry is absent; :class:`_Unreadable` when it is
    damaged."""
    meta_path = folder / _META
    if not meta_path.is_file():
        return None  # absent, or a write that stopped before its last file
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        files = meta["files"]
        if meta["key"] != key or not isinstance(files, dict) or not files:
            raise ValueError("it belongs to another key" if meta["key"] != key else "it lists no files")
        float(meta["train_seconds"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise _Unreadable(f"{_shown(meta_path)} is unreadable ({type(exc).__name__}: {exc})") from None
    return meta


def _check_files(folder: Path, meta: Mapping[str, Any]) -> dict[str, Path]:
    """The payload files, each checked against the size and SHA-256 that ``meta.json`` recorded."""
    paths = {}
    for fname, info in meta["files"].items():
        path = folder / _check_name(fname, "a payload file's name")
        if not path.is_file():
            raise _Unreadable(f"{_shown(path)} is missing")
        size = path.stat().st_size
        if size != info["bytes"]:
            raise _Unreadable(
                f"{_shown(path)} is truncated or altered ({size} bytes, expected {info['bytes']})"
            )
        if _sha256(path.read_bytes()) != info["sha256"]:
            raise _Unreadable(f"{_shown(path)} is corrupt (its SHA-256 differs from the one recorded)")
        paths[fname] = path
    return paths


def _write_entry(folder: Path, files: Mapping[str, Content], meta: dict[str, Any]) -> None:
    """Write the payload files, then ``meta.json``: each through :func:`write_atomic`."""
    (folder / _META).unlink(missing_ok=True)  # the entry is absent until it is complete again
    records = {}
    for fname, content in files.items():
        path = write_atomic(folder / fname, content)
        blob = path.read_bytes()
        records[fname] = {"bytes": len(blob), "sha256": _sha256(blob)}
    meta["files"] = records
    write_atomic(folder / _META, json.dumps(meta, indent=1, sort_keys=True))


def _validated_files(files: Any, name: str) -> Mapping[str, Content]:
    if not isinstance(files, Mapping) or not files:
        raise ValueError(
            f"save() for {name!r} must return a non-empty dict {{file name: content}}, got {files!r:.80}"
        )
    for fname, content in files.items():
        _check_name(fname, f"a file name returned by save() for {name!r}")
        if fname == _META:
            raise ValueError(f"save() for {name!r} may not name a file {_META!r}: the cache writes it")
        if not isinstance(content, (bytes, str)) and not callable(content):
            raise ValueError(
                f"save() for {name!r} returned {type(content).__name__} for {fname!r}; "
                "give bytes, str or a function that writes to a binary file"
            )
    return files


def _seed_after(key: str) -> int:
    return int(key[:8], 16) % 2**31


# --------------------------------------------------------------------------- the cache


def cached(
    name: str,
    *,
    train: Callable[[], T],
    save: Callable[[T], Mapping[str, Content]],
    load: Callable[[Mapping[str, Path]], T],
    code: Sequence[Any],
    params: Mapping[str, Any] | None = None,
    data: Any = None,
    seed: int | None,
    frameworks: Sequence[str] = (),
    verbose: bool = True,
) -> T:
    """Return ``train()``, or what ``load`` reads from the cache entry of the same key.

    Args:
        name: a short name for the entry, e.g. ``"rbm_cd1_h25"``; letters, digits, ``_.-``.
        train: computes the result (trains the model); it runs with every generator seeded
            with ``seed``.
        save: turns a result into its payload files, ``{file name: content}``, the content being
            ``bytes``, ``str`` or a function that writes to an open binary file (e.g.
            ``lambda f: torch.save(state_dict, f)``), in the framework's own format.
        load: reads a result back from ``{file name: path}`` (the files ``save`` named).
        code: the classes, functions and modules whose source defines the result (or source
            text); a change in any of them misses the cache.
        params: the hyper-parameters, a JSON-able dict.
        data: the arrays the result is computed from (see :func:`fingerprint`).
        seed: the seed of the computation (non-negative), or ``None`` for a deterministic one
            (then the random generators are not touched). ``COURSE_SEED`` is part of the key;
            see :func:`effective_seed` for the seed training then uses.
        frameworks: the modules whose version goes into the key besides Python and NumPy, e.g.
            ``["torch"]`` (:func:`cached_torch` and :func:`cached_keras` add theirs).
        verbose: print one line on a load, a training, or a problem with the cache.

    Raises:
        ValueError: for an argument that cannot be part of a key, or a bad ``COURSE_CACHE``.

    Loading is never worse than training: an unreadable entry is reported, retrained and
    replaced; a failed write is reported and the trained result returned.
    """
    for arg, fn in (("train", train), ("save", save), ("load", load)):
        if not callable(fn):
            raise ValueError(f"{arg}= must be a function, got {type(fn).__name__}")
    parts = _key_parts(name, code=code, params=params, data=data, seed=seed, frameworks=frameworks)
    key = _digest(parts)
    short = key[:12]
    mode = cache_mode()
    untrained = config.untrained()
    use = mode != "off" and not untrained
    folder = cache_dir() / name / key[:16]
    seed_used = None if seed is None else effective_seed(seed)

    def reseed(value: int | None) -> None:
        if value is not None:
            config.seed_everything(value)

    say = print if verbose else (lambda *a, **k: None)
    try:
        if use and mode == "on":
            try:
                meta = _read_meta(folder, key)
                if meta is not None:
                    paths = _check_files(folder, meta)
                    reseed(seed_used)
                    try:
                        result = load(paths)
                    except KeyboardInterrupt:
                        raise
                    except Exception as exc:  # a damaged file can make a framework's reader raise anything
                        raise _Unreadable(
                            f"{_shown(folder)} could not be loaded ({type(exc).__name__}: {exc})"
                        ) from None
                    when = meta.get("created", "?")
                    say(
                        f"cache: loaded {name} (key {short}, trained in {float(meta['train_seconds']):.1f} s "
                        f"on {when}) from {_shown(folder)}; COURSE_CACHE=off retrains"
                    )
                    return result
            except _Unreadable as exc:
                say(f"cache: {exc}; retraining {name} and replacing the entry")

        reseed(seed_used)
        start = time.perf_counter()
        result = train()
        seconds = time.perf_counter() - start
        if not use:
            why = "COURSE_SCALE=untrained" if untrained else "COURSE_CACHE=off"
            say(f"cache: {name} trained in {seconds:.1f} s, not cached ({why}; key {short})")
            return result
        meta = {
            "name": name,
            "key": key,
            "parts": parts,
            "train_seconds": seconds,
            "created": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M"),
            "notebook": config.current_notebook(),
        }
        files = _validated_files(save(result), name)  # a bad save() is a bug to fix, not forgiven
        try:
            _write_entry(folder, files, meta)
        except Exception as exc:  # a full disk, a read-only checkout, a writer that failed
            with contextlib.suppress(OSError):
                (folder / _META).unlink(missing_ok=True)
            say(
                f"cache: could not write {name} to {_shown(folder)} ({type(exc).__name__}: {exc}); not cached"
            )
            return result
        say(f"cache: {name} trained in {seconds:.1f} s, cached as key {short} in {_shown(folder)}")
        return result
    finally:
        reseed(None if seed_used is None else _seed_after(key))


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
    code: Sequence[Any],
    params: Mapping[str, Any] | None = None,
    data: Any = None,
    seed: int | None,
    frameworks: Sequence[str] = (),
    verbose: bool = True,
) -> Any:
    """A JSON-able result (numbers, lists, dicts; NumPy scalars and arrays become numbers and
    lists), e.g. an AIS estimate: ``cached_json("ais_cd10", compute=lambda: {...}, ...)``.
    It comes back after a JSON round trip on both paths, so a fresh and a cached run agree."""
    return cached(
        name,
        train=lambda: _as_json(compute(), f"the result of {name!r}"),
        save=lambda value: {"result.json": _json_content(value)},
        load=lambda paths: json.loads(paths["result.json"].read_text(encoding="utf-8")),
        code=code,
        params=params,
        data=data,
        seed=seed,
        frameworks=frameworks,
        verbose=verbose,
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
    code: Sequence[Any],
    params: Mapping[str, Any] | None = None,
    data: Any = None,
    seed: int | None,
    frameworks: Sequence[str] = (),
    verbose: bool = True,
) -> dict[str, np.ndarray]:
    """A dict of NumPy arrays (e.g. a long Monte Carlo reference run's observables), stored with
    ``np.savez``; the arrays come back with their dtype and shape."""

    def train() -> dict[str, np.ndarray]:
        value = compute()
        if not isinstance(value, Mapping) or not value:
            raise ValueError(
                f"compute() for {name!r} must return a non-empty dict of arrays, got {type(value).__name__}"
            )
        out = {}
        for k, v in value.items():
            _check_name(k, f"an array's name in what compute() for {name!r} returned")
            out[k] = _as_numpy(v, f"compute()[{k!r}]")
        return out

    return cached(
        name,
        train=train,
        save=lambda arrays: {"arrays.npz": _save_npz(arrays)},
        load=lambda paths: _load_npz(paths["arrays.npz"]),
        code=code,
        params=params,
        data=data,
        seed=seed,
        frameworks=frameworks,
        verbose=verbose,
    )


def _models(built: Any, what: str, check: Callable[[Any], bool], kind: str) -> dict[str, Any]:
    """``{file stem: model}`` for one model (stem ``model``) or a dict of them."""
    models = dict(built) if isinstance(built, Mapping) else {"model": built}
    if not models:
        raise ValueError(f"{what} returned an empty dict; it must return a {kind} or a dict of them")
    for stem, model in models.items():
        _check_name(stem, f"a model's name in the dict that {what} returned")
        if not check(model):
            raise ValueError(
                f"{what} must return a {kind} or a dict of them, got {type(model).__name__} for {stem!r}"
            )
    return models


def cached_torch(
    name: str,
    *,
    build: Callable[[], Any],
    train: Callable[[Any], Any],
    code: Sequence[Any],
    params: Mapping[str, Any] | None = None,
    data: Any = None,
    seed: int | None,
    frameworks: Sequence[str] = (),
    verbose: bool = True,
) -> tuple[Any, dict[str, Any]]:
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

    def do_train() -> tuple[Any, dict[str, Any]]:
        built = build()
        models_of(built)
        return built, _history(train(built), name)

    def state_of(obj: Any) -> Any:
        return obj.detach() if isinstance(obj, torch.Tensor) else obj.state_dict()

    def save(result: tuple[Any, dict[str, Any]]) -> dict[str, Content]:
        built, history = result
        models = models_of(built)
        files: dict[str, Content] = {
            f"{stem}.pt": (lambda f, m=m: torch.save(state_of(m), f)) for stem, m in models.items()
        }
        files["history.json"] = _json_content(history)
        modes = {stem: m.training for stem, m in models.items() if isinstance(m, torch.nn.Module)}
        files["modes.json"] = json.dumps(modes)
        return files

    def load(paths: Mapping[str, Path]) -> tuple[Any, dict[str, Any]]:
        built = build()
        modes = json.loads(paths["modes.json"].read_text(encoding="utf-8"))
        for stem, obj in models_of(built).items():
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
        return built, json.loads(paths["history.json"].read_text(encoding="utf-8"))

    return cached(
        name,
        train=do_train,
        save=save,
        load=load,
        code=code,
        params=params,
        data=data,
        seed=seed,
        frameworks=[*frameworks, "torch"],
        verbose=verbose,
    )


def cached_keras(
    name: str,
    *,
    build: Callable[[], Any],
    train: Callable[[Any], Any],
    code: Sequence[Any],
    params: Mapping[str, Any] | None = None,
    data: Any = None,
    seed: int | None,
    frameworks: Sequence[str] = (),
    verbose: bool = True,
) -> tuple[Any, dict[str, Any]]:
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

    def do_train() -> tuple[Any, dict[str, Any]]:
        built = build()
        models_of(built)
        return built, _history(train(built), name)

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

    def save(result: tuple[Any, dict[str, Any]]) -> dict[str, Content]:
        built, history = result
        files: dict[str, Content] = {
            f"{stem}.weights.h5": (lambda f, m=model: f.write(weights_bytes(m)))
            for stem, model in models_of(built).items()
        }
        files["history.json"] = _json_content(history)
        return files

    def load(paths: Mapping[str, Path]) -> tuple[Any, dict[str, Any]]:
        built = build()
        for stem, model in models_of(built).items():
            model.load_weights(paths[f"{stem}.weights.h5"])
        return built, json.loads(paths["history.json"].read_text(encoding="utf-8"))

    return cached(
        name,
        train=do_train,
        save=save,
        load=load,
        code=code,
        params=params,
        data=data,
        seed=seed,
        frameworks=[*frameworks, "keras", keras.backend.backend()],
        verbose=verbose,
    )


def clear(name: str | None = None) -> None:
    """Delete every cache entry (or those of ``name``)."""
    folder = cache_dir() if name is None else cache_dir() / _check_name(name, "the entry's name")
    if folder.exists():
        shutil.rmtree(folder)
