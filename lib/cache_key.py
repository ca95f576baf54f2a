"""How :mod:`lib.cache` names an entry: a SHA-256 over everything that determines a result.

* the defining source code (the syntax tree of classes, functions or modules, so that a comment
  or a reformatting does not change the key, and an edit of the code does);
* the hyper-parameters, as canonical JSON;
* a fingerprint of the data (the bytes, shape and dtype of each NumPy / PyTorch / TensorFlow array);
* the seed (and ``COURSE_SEED``), the scale, and the Python, NumPy and framework versions.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import inspect
import json
import math
import os
import platform
import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from . import config

__all__ = [
    "FORMAT",
    "Inferred",
    "as_numpy",
    "cache_key",
    "check_name",
    "course_seed",
    "digest",
    "fingerprint",
    "infer",
    "key_parts",
    "sha256",
    "versions",
]

#: Bumped when the layout of an entry or the recipe of the key changes: old entries then miss.
FORMAT = 1
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_PY_NAMES = {"scikit-learn": "sklearn", "sklearn": "sklearn", "tensorflow-cpu": "tensorflow"}


def course_seed() -> int | None:
    raw = os.environ.get("COURSE_SEED", "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"COURSE_SEED={raw!r} is not an integer seed") from None


def sha256(data: bytes | str) -> str:
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
        return "<source text>", sha256(_normalised_source(obj))
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
    return label, sha256(source)


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


def as_numpy(array: Any, where: str) -> np.ndarray:
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
    array = np.ascontiguousarray(as_numpy(data, where))
    dtype = str(getattr(data, "dtype", array.dtype)) if type(data).__module__.startswith("torch") else None
    return {
        "shape": list(getattr(data, "shape", array.shape)),
        "dtype": dtype or array.dtype.str,
        "sha256": sha256(array.tobytes()),
    }


def versions(frameworks: Sequence[str]) -> dict[str, str]:
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for name in frameworks:
        module_name = _PY_NAMES.get(name, name)
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise ValueError(f"frameworks=[...] names {name!r}, which is not installed") from None
        out[module_name] = str(getattr(module, "__version__", "unknown"))
    return out


def check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"{what} must be a short name of letters, digits, '_', '.' and '-' (not starting with "
            f"'.' or '-'), got {name!r}"
        )
    return name


def key_parts(
    name: str,
    *,
    code: Sequence[Any],
    params: Mapping[str, Any] | None,
    data: Any,
    seed: int | None,
    frameworks: Sequence[str],
) -> dict[str, Any]:
    check_name(name, "the cache entry's name")
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
        "format": FORMAT,
        "name": name,
        "code": [list(_code_digest(obj)) for obj in code],
        "params": _canonical(params, "params"),
        "data": _fingerprint(data, "data"),
        "seed": None if seed is None else int(seed),
        "course_seed": course_seed(),
        "scale": config.get_scale(),
        "versions": versions(sorted(set(frameworks))),
    }


def digest(parts: Mapping[str, Any]) -> str:
    return sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")))


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
    return digest(key_parts(name, code=code, params=params, data=data, seed=seed, frameworks=frameworks))


# --------------------------------------------------------------------------- inferred keys

#: Modules of the course's package whose code does not change what a cached computation returns
#: (configuration, recording, figures, the cache itself): a lecture function that uses them does
#: not depend on their source.
NEUTRAL_MODULES = frozenset(
    f"lib.{m}" for m in ("atomic", "cache", "cache_key", "cache_store", "checks", "cli", "comparison",
                         "config", "plotting", "results")
)  # fmt: skip


class Inferred(NamedTuple):
    """What a computation depends on, found by :func:`infer`: ``code`` (functions, classes and
    ``lib`` modules), ``params`` (numbers, strings and their containers, by global name) and
    ``data`` (arrays and model weights, by global name)."""

    code: list[Any]
    params: dict[str, Any]
    data: dict[str, Any]


def _is_params(value: Any) -> bool:
    try:
        _canonical(value, "value")
    except ValueError:
        return False
    return True


def _state(value: Any) -> Any:
    """The weights of a model (a PyTorch module's state dict, a Keras model's weights), or None
    when ``value`` is not a model."""
    if callable(getattr(value, "state_dict", None)) and hasattr(value, "parameters"):
        return dict(value.state_dict())
    if callable(getattr(value, "get_weights", None)):
        return list(value.get_weights())
    return None


def _code_names(code: Any) -> set[str]:
    """The global names a code object and the code nested in it (lambdas, comprehensions,
    inner functions) load."""
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _code_names(const)
    return names


def infer(*functions: Any) -> Inferred:
    """Everything ``functions`` depend on, for a cache key, found from their code.

    Starting from each function (a lambda too), it follows every global name the code loads, the
    variables its closure captures and its default arguments: a function or class defined in the
    notebook or in ``lib`` is code (its source, and what it in turn uses); a module of ``lib`` is
    code (its source), except the neutral ones (:data:`NEUTRAL_MODULES`); any other module counts
    by its version (which every key holds); a number, string, or list / dict of them is a
    parameter; an array, a tensor, or a model (its weights) is data. So a lecture caches a training
    with ``cache.cached_torch("name", build=..., train=...)``: change any of these and it retrains.

    A global that the computation itself changes (a list it appends to) would change the key on
    every run: keep such state out of the globals it reads.

    Raises:
        ValueError: a global that is none of these (a data loader, a generator, an open file):
            pass it as an argument, or give the key explicitly (``code=``, ``params=``, ``data=``).
    """
    code: dict[int, Any] = {}
    params: dict[str, Any] = {}
    data: dict[str, Any] = {}
    seen: set[int] = set()

    def ours(obj: Any) -> bool:
        module = getattr(obj, "__module__", None) or ""
        return module == "__main__" or module == "lib" or module.startswith("lib.")

    def visit_function(fn: Any) -> None:
        fn = inspect.unwrap(fn)
        if id(fn) in seen:
            return
        seen.add(id(fn))
        code[id(fn)] = fn
        fn_globals = getattr(fn, "__globals__", {})
        for name in sorted(_code_names(fn.__code__)):
            if name in fn_globals:
                visit_value(name, fn_globals[name])
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            try:
                visit_value(name, cell.cell_contents)
            except ValueError:  # an empty cell (a name assigned later)
                continue
        for i, default in enumerate(fn.__defaults__ or ()):
            visit_value(f"{fn.__qualname__}.default{i}", default)
        for name, default in (fn.__kwdefaults__ or {}).items():
            visit_value(f"{fn.__qualname__}.{name}", default)

    def visit_class(cls: type) -> None:
        if id(cls) in seen:
            return
        seen.add(id(cls))
        code[id(cls)] = cls
        for value in vars(cls).values():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if inspect.isfunction(value):
                fn_globals = value.__globals__
                for name in sorted(_code_names(value.__code__)):
                    if name in fn_globals:
                        visit_value(name, fn_globals[name])
                for i, default in enumerate(value.__defaults__ or ()):  # VAE(..., latent=LATENT)
                    visit_value(f"{value.__qualname__}.default{i}", default)
                for name, default in (value.__kwdefaults__ or {}).items():
                    visit_value(f"{value.__qualname__}.{name}", default)

    def visit_value(name: str, value: Any) -> None:
        if inspect.ismodule(value):
            if value.__name__.startswith("lib.") and value.__name__ not in NEUTRAL_MODULES:
                code.setdefault(id(value), value)
            return
        if inspect.isfunction(value) or inspect.ismethod(value):
            if ours(value):
                visit_function(value.__func__ if inspect.ismethod(value) else value)
            return
        if inspect.isclass(value):
            if ours(value):
                visit_class(value)
            return
        if callable(value) and not ours(type(value)) and _state(value) is None:
            return  # a function or callable of another library (np.mean, torch.randn): its version counts
        if ours(type(value)) and _state(value) is None and hasattr(value, "__dict__"):
            visit_class(type(value))  # an object of a course class (a noise schedule, a target density)
            for attr, v in sorted(vars(value).items()):
                visit_value(f"{name}.{attr}", v)
            return
        if value is None or isinstance(value, (bool, int, float, str, np.integer, np.floating)):
            params[name] = value
            return
        if type(value).__module__ == "dataclasses":
            # dataclasses' sentinels (MISSING, _HAS_DEFAULT_FACTORY), which the __init__ that Python
            # 3.13 generates for a dataclass reads as globals: constants of the language, not data
            params[name] = f"dataclasses.{type(value).__qualname__}"
            return
        state = _state(value)
        if state is not None:
            data[name] = state  # the weights; and the code of its classes, where they are ours
            modules = value.modules() if callable(getattr(value, "modules", None)) else [value]
            for module in modules:
                if ours(type(module)):
                    visit_class(type(module))
            return
        if type(value).__module__.split(".")[0] in ("torch", "numpy") and type(value).__name__ in (
            "device",
            "dtype",
        ):
            params[name] = str(value)  # torch.device("cpu"), torch.float32, np.dtype
            return
        if isinstance(value, (list, tuple, Mapping)) and _is_params(value):
            params[name] = value
            return
        try:
            as_numpy(value, name)  # an array of numbers (hashed with the key)
            data[name] = value
        except Exception:
            raise ValueError(
                f"the cached computation uses the global {name!r}, a {type(value).__module__}."
                f"{type(value).__qualname__}, which a cache key cannot hold (not code, a number or an "
                "array): pass what it is made from as an argument, or give the key explicitly with "
                "code=[...], params={...} and data=..."
            ) from None

    for fn in functions:
        if inspect.isclass(fn):
            visit_class(fn)
        elif callable(fn):
            visit_function(fn.__func__ if inspect.ismethod(fn) else fn)
        else:
            raise ValueError(f"infer() takes functions or classes, got {type(fn).__name__}")
    return Inferred(list(code.values()), params, data)
