"""The store behind :mod:`lib.cache` (read that module's documentation): the cache's switches,
its entries on disk (payload files, then ``meta.json`` with the key and every file's SHA-256,
each written atomically) and :func:`cached`, which trains or loads one entry.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TypedDict, TypeVar

import numpy as np

from . import config
from .atomic import write_atomic
from .cache_key import (
    check_name,
    course_seed,
    digest,
    key_parts,
    sha256,
)

__all__ = ["CACHE_MODES", "Content", "KeyArgs", "cache_dir", "cache_mode", "cached", "effective_seed"]

T = TypeVar("T")
#: What a ``save`` function returns for each payload file (see :func:`lib.atomic.write_atomic`).
Content = bytes | str | Callable[[BinaryIO], None]

#: The values of ``COURSE_CACHE``: use the cache, ignore it, or retrain and replace each entry.
CACHE_MODES: tuple[str, ...] = ("on", "off", "refresh")
_META = "meta.json"


class KeyArgs(TypedDict, total=False):
    """The keyword arguments that identify an entry besides its name (and ``verbose``), taken by
    :func:`cached` and by every ``cached_*`` function of :mod:`lib.cache`; see :func:`cached`."""

    code: Sequence[Any]
    params: Mapping[str, Any] | None
    data: Any
    seed: int | None
    frameworks: Sequence[str]
    verbose: bool


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
    ``COURSE_SEED`` is set to a value other than ``seed`` and than the notebook's own seed (the
    one it gives :func:`lib.config.setup`); then a number drawn from both, so that a notebook that
    passes a fixed seed still trains other models when rerun with another ``COURSE_SEED``, and a
    run with ``COURSE_SEED`` equal to the notebook's seed is the default run.
    Pass the seed :func:`lib.config.setup` used (e.g. ``torch.initial_seed()`` after it), and the
    seed is kept. Use this to rebuild the untrained model a cached one started from::

        config.seed_everything(cache.effective_seed(SEED)); untrained_model = build()
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    other = course_seed()
    if other is None or other == seed or other == config.default_seed():
        return int(seed)
    return int(sha256(f"{int(seed)}:{other}")[:8], 16) % 2**31


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
        path = folder / check_name(fname, "a payload file's name")
        if not path.is_file():
            raise _Unreadable(f"{_shown(path)} is missing")
        size = path.stat().st_size
        if size != info["bytes"]:
            raise _Unreadable(
                f"{_shown(path)} is truncated or altered ({size} bytes, expected {info['bytes']})"
            )
        if sha256(path.read_bytes()) != info["sha256"]:
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
        records[fname] = {"bytes": len(blob), "sha256": sha256(blob)}
    meta["files"] = records
    write_atomic(folder / _META, json.dumps(meta, indent=1, sort_keys=True))


def _validated_files(files: Any, name: str) -> Mapping[str, Content]:
    if not isinstance(files, Mapping) or not files:
        raise ValueError(
            f"save() for {name!r} must return a non-empty dict {{file name: content}}, got {files!r:.80}"
        )
    for fname, content in files.items():
        check_name(fname, f"a file name returned by save() for {name!r}")
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
    parts = key_parts(name, code=code, params=params, data=data, seed=seed, frameworks=frameworks)
    key = digest(parts)
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
