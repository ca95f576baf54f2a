"""Does a generative model copy its training set? A nearest-neighbour check for MNIST samples.

A Fréchet distance at or below the reference point of unseen real digits does not prove a good
model: a model that returns its training images scores below it (:mod:`lib.metrics`). The check here measures, for every generated
sample, the Euclidean pixel distance to its nearest training image, and compares that
distribution with the same distance for held-out real images (which the model never saw and
which certainly do not copy). A model that generalises produces samples about as far from the
training set as held-out digits are; a model that memorises produces many samples much closer.

::

    report = memorisation.memorisation_check(samples, train_images, test_images,
                                             pixel_range_samples="symmetric")
    print(report)                  # medians, their ratio, the fraction of near-copies
    report.summary()               # a JSON-able dict for lib.results

Pixels are compared in [0, 1] (``lib.metrics.to_unit_pixels``), so distances are comparable
between lectures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .metrics import PixelRange, to_unit_pixels

__all__ = ["MemorisationReport", "memorisation_check", "nearest_neighbour_distances"]


def nearest_neighbour_distances(
    queries: np.ndarray, reference: np.ndarray, *, batch_size: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distance from each query to its nearest reference point, and that point's index.

    Args:
        queries: ``(N, D)`` points (images flattened).
        reference: ``(M, D)`` points, ``M ≥ 1``.
        batch_size: queries handled at once (memory ``batch_size × M``).

    Returns:
        ``(distances, indices)``: ``(N,)`` float64 and ``(N,)`` int64.
    """
    q = np.asarray(queries, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if q.ndim != 2 or r.ndim != 2 or q.shape[1] != r.shape[1] or len(r) == 0:
        raise ValueError(f"queries (N, D) and reference (M ≥ 1, D) needed, got {q.shape} and {r.shape}")
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(r))):
        raise ValueError("queries and reference must be finite")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size!r}")
    r_sq = (r**2).sum(1)
    dist = np.empty(len(q))
    idx = np.empty(len(q), dtype=np.int64)
    for i in range(0, len(q), int(batch_size)):
        qb = q[i : i + int(batch_size)]
        d2 = (qb**2).sum(1)[:, None] + r_sq[None, :] - 2.0 * qb @ r.T  # (b, M)
        j = d2.argmin(1)
        idx[i : i + len(qb)] = j
        # recompute the winners exactly (the expansion loses precision for near-duplicates)
        dist[i : i + len(qb)] = np.sqrt(((qb - r[j]) ** 2).sum(1))
    return dist, idx


@dataclass(frozen=True)
class MemorisationReport:
    """Nearest-training-image distances of generated samples against held-out real images.

    Attributes:
        sample_distances: ``(N,)`` each sample's distance to its nearest training image.
        sample_neighbours: ``(N,)`` the index of that training image.
        heldout_distances: ``(M,)`` the same for held-out real images (the baseline).
        copy_threshold: the ``quantile`` of ``heldout_distances``: closer than this counts as a
            near-copy (a fraction ``quantile`` of held-out images is that close by chance).
        quantile: the quantile that defines ``copy_threshold``.
    """

    sample_distances: np.ndarray
    sample_neighbours: np.ndarray
    heldout_distances: np.ndarray
    copy_threshold: float
    quantile: float

    @property
    def copied_fraction(self) -> float:
        """Fraction of samples closer to a training image than ``copy_threshold``; about
        ``quantile`` for a model that does not copy, near 1 for one that does."""
        return float(np.mean(self.sample_distances < self.copy_threshold))

    @property
    def median_ratio(self) -> float:
        """Median sample distance over median held-out distance: ≈ 1 for samples as novel as
        held-out digits, ≪ 1 for copies, > 1 for samples off the data (noise, smudges)."""
        return float(np.median(self.sample_distances) / np.median(self.heldout_distances))

    def summary(self) -> dict[str, float]:
        """The numbers to record (medians, quartiles, ratio, copied fraction, threshold)."""
        s, h = self.sample_distances, self.heldout_distances
        return {
            "sample_median": float(np.median(s)),
            "sample_q05": float(np.quantile(s, 0.05)),
            "heldout_median": float(np.median(h)),
            "heldout_q05": float(np.quantile(h, 0.05)),
            "median_ratio": self.median_ratio,
            "copied_fraction": self.copied_fraction,
            "copy_threshold": self.copy_threshold,
            "quantile": self.quantile,
        }

    def __str__(self) -> str:
        s = self.summary()
        return (
            f"nearest-training-image distance: samples median {s['sample_median']:.2f}, held-out "
            f"median {s['heldout_median']:.2f} (ratio {s['median_ratio']:.2f}); "
            f"{s['copied_fraction']:.1%} of samples closer than the {self.quantile:.0%} quantile "
            f"of held-out images ({s['copy_threshold']:.2f})"
        )


def memorisation_check(
    samples: Any,
    train: Any,
    heldout: Any,
    *,
    pixel_range_samples: PixelRange = "unit",
    pixel_range_reference: PixelRange = "uint8",
    quantile: float = 0.01,
) -> MemorisationReport:
    """Compare each sample's nearest-training-image distance with that of held-out images.

    Args:
        samples: generated images, any layout of :func:`lib.plotting.as_images`.
        train: the training images the model saw.
        heldout: real images it did not see (e.g. the test split).
        pixel_range_samples, pixel_range_reference: how the pixels are scaled (see
            :func:`lib.metrics.to_unit_pixels`); ``train`` and ``heldout`` share one.
        quantile: of the held-out distances, the threshold of a near-copy (in (0, 0.5]).
    """
    if not 0 < quantile <= 0.5:
        raise ValueError(f"quantile must be in (0, 0.5], got {quantile!r}")
    s = to_unit_pixels(samples, pixel_range_samples).reshape(-1, 784)
    tr = to_unit_pixels(train, pixel_range_reference).reshape(-1, 784)
    ho = to_unit_pixels(heldout, pixel_range_reference).reshape(-1, 784)
    if min(len(s), len(tr), len(ho)) == 0:
        raise ValueError("samples, train and heldout must each hold at least one image")
    d_s, j_s = nearest_neighbour_distances(s, tr)
    d_h, _ = nearest_neighbour_distances(ho, tr)
    return MemorisationReport(
        sample_distances=d_s,
        sample_neighbours=j_s,
        heldout_distances=d_h,
        copy_threshold=float(np.quantile(d_h, quantile)),
        quantile=float(quantile),
    )
