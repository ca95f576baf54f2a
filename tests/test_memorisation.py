"""lib.memorisation: nearest neighbours against brute force, copies found, novel samples not."""

from __future__ import annotations

import numpy as np
import pytest

from lib import memorisation as M


def test_nearest_neighbours_match_brute_force():
    rng = np.random.default_rng(0)
    q, r = rng.random((37, 5)), rng.random((50, 5))
    d, j = M.nearest_neighbour_distances(q, r, batch_size=8)
    full = np.sqrt(((q[:, None] - r[None]) ** 2).sum(-1))
    assert np.array_equal(j, full.argmin(1))
    assert np.allclose(d, full.min(1))


def _blobs(n: int, rng: np.random.Generator) -> np.ndarray:
    """Images in [0, 1] from one smooth distribution (a random template plus noise)."""
    template = np.linspace(0, 1, 784).reshape(28, 28)
    return np.clip(template + 0.2 * rng.standard_normal((n, 28, 28)), 0, 1).astype(np.float32)


def test_copies_are_flagged_and_novel_samples_are_not():
    rng = np.random.default_rng(1)
    train, heldout = _blobs(300, rng), _blobs(200, rng)
    copies = M.memorisation_check(train[:100], train, heldout, pixel_range_reference="unit")
    assert copies.copied_fraction == 1.0 and np.allclose(copies.sample_distances, 0, atol=1e-5)
    assert np.array_equal(copies.sample_neighbours, np.arange(100))
    novel = M.memorisation_check(_blobs(200, rng), train, heldout, pixel_range_reference="unit")
    assert novel.copied_fraction < 0.05
    assert 0.9 < novel.median_ratio < 1.1
    noise = M.memorisation_check(rng.random((100, 784)), train, heldout, pixel_range_reference="unit")
    assert noise.median_ratio > 1.5 and noise.copied_fraction == 0.0
    summary = novel.summary()
    assert set(summary) >= {"sample_median", "heldout_median", "median_ratio", "copied_fraction"}
    assert "held-out" in str(novel)


def test_pixel_ranges_are_respected():
    rng = np.random.default_rng(2)
    train = _blobs(50, rng)
    a = M.memorisation_check(train[:10] * 2 - 1, train, train[10:], pixel_range_samples="symmetric",
                             pixel_range_reference="unit")  # fmt: skip
    assert np.allclose(a.sample_distances, 0, atol=1e-5)


@pytest.mark.parametrize(
    "call",
    [
        lambda: M.nearest_neighbour_distances(np.zeros((3, 2)), np.zeros((4, 3))),
        lambda: M.nearest_neighbour_distances(np.zeros((3, 2)), np.zeros((0, 2))),
        lambda: M.nearest_neighbour_distances(np.full((3, 2), np.nan), np.zeros((4, 2))),
        lambda: M.memorisation_check(
            np.zeros((3, 784)), np.zeros((3, 784)), np.zeros((3, 784)), quantile=0.0
        ),
    ],
)
def test_bad_arguments(call):
    with pytest.raises(ValueError):
        call()
