"""Cache keys of computations that use dataclasses (lib.diffusion's schedules, a lecture's
settings): on Python 3.13 the ``__init__`` that ``dataclasses`` generates reads its sentinels
(``MISSING``, ``_HAS_DEFAULT_FACTORY``) as globals, which the key must take as constants. CI runs
this file on both Pythons."""

from __future__ import annotations

import dataclasses

from lib import cache_key


@dataclasses.dataclass
class Settings:
    steps: int = 10
    rates: list[float] = dataclasses.field(default_factory=lambda: [0.1, 0.2])


def train(settings: Settings) -> int:
    return Settings(steps=settings.steps).steps


def test_a_dataclass_in_a_cached_computation_has_a_key() -> None:
    inferred = cache_key.infer(train, Settings)
    assert Settings in inferred.code or any(getattr(c, "__name__", "") == "Settings" for c in inferred.code)
    assert all(not isinstance(v, type(dataclasses.MISSING)) for v in inferred.params.values())
