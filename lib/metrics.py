"""Sample-quality metrics shared by the EBM, VAE and GAN lectures.

The Fréchet distance between two sets of samples is computed in the feature space of a small
convolutional MNIST classifier that the course trains once and caches under ``data/classifier/``
(:func:`load_classifier`). This is the idea of the FID (Heusel et al. 2017) with our own
network in place of Inception-v3, so the numbers are **not** comparable with published FIDs; we
call it the Fréchet classifier distance (FCD).

Every lecture scores its generated digits with :func:`score_samples`: the same number of samples
at a given scale (:func:`sample_count`; the FCD's bias depends on it), against the same fixed set
of real training images, beside two reference points that make an FCD readable: unseen real
digits of the training distribution (the validation split of :func:`lib.data.load_mnist`, on
which neither the classifier nor any model trained) and uniform noise. They are reference points,
not bounds: a model that reproduces its training images, or copies them, scores *below* the
unseen digits (the reference images are training images, and the classifier learned its features
on them; see :mod:`lib.memorisation`), and a degenerate image set (all black, saturated) can
score above noise. Two models scored at one scale are comparable.

Everything takes NumPy arrays, PyTorch tensors or TensorFlow tensors in any layout accepted by
:func:`lib.plotting.as_images`; ``pixel_range`` says how the pixels are scaled.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from . import config, data, plotting
from .atomic import write_atomic
from .divergences import frechet_distance, js_divergence

__all__ = [
    "SAMPLE_COUNTS",
    "Classifier",
    "classifier_features",
    "label_distribution",
    "load_classifier",
    "predict_labels",
    "sample_count",
    "score_samples",
    "to_unit_pixels",
]

PixelRange = Literal["unit", "symmetric", "uint8"]
FEATURE_DIM = 128
_CLASSIFIER_VERSION = 1

#: How many generated images :func:`score_samples` scores at each scale. The FCD of n samples is
#: biased upwards by roughly a constant over n, so scores are comparable only at the same n.
SAMPLE_COUNTS: dict[str, int] = {"smoke": 500, "lecture": 1000, "full": 10000}
#: A digit counts as covered when at least this fraction of the samples is classified as it.
DIGIT_COVERED_FRACTION = 0.02


def to_unit_pixels(images: Any, pixel_range: PixelRange = "unit") -> np.ndarray:
    """Images in any accepted layout → ``float32`` ``(N, 28, 28)`` in [0, 1]."""
    x = plotting.as_images(images)
    if pixel_range == "unit":
        out = x
    elif pixel_range == "symmetric":
        out = (x + 1.0) / 2.0
    elif pixel_range == "uint8":
        out = x / 255.0
    else:
        raise ValueError(f"pixel_range must be 'unit', 'symmetric' or 'uint8', got {pixel_range!r}")
    if not np.all(np.isfinite(out)):
        raise ValueError("images contain NaN or infinite values")
    return np.clip(out, 0.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------- the classifier


def _build_net() -> Any:
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # (B, 32, 14, 14)
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # (B, 64, 7, 7)
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, FEATURE_DIM),
        nn.ReLU(),  # (B, 128): the features
        nn.Linear(FEATURE_DIM, 10),  # (B, 10): logits
    )


@dataclass
class Classifier:
    """The cached MNIST classifier: a PyTorch CNN whose penultimate layer gives the features."""

    net: Any
    test_accuracy: float
    n_train: int
    path: Path

    def _batches(self, images: Any, pixel_range: PixelRange, batch_size: int = 500) -> Any:
        import torch

        x = to_unit_pixels(images, pixel_range)
        for i in range(0, len(x), batch_size):
            yield torch.from_numpy(x[i : i + batch_size]).unsqueeze(1)  # (B, 1, 28, 28)

    def features(self, images: Any, pixel_range: PixelRange = "unit") -> np.ndarray:
        """Penultimate-layer features, ``(N, 128)``."""
        import torch

        body = self.net[:-1]
        with torch.no_grad():
            out = [body(b).numpy() for b in self._batches(images, pixel_range)]
        return np.concatenate(out).astype(np.float64) if out else np.zeros((0, FEATURE_DIM))

    def predict(self, images: Any, pixel_range: PixelRange = "unit") -> np.ndarray:
        """Predicted labels, ``(N,)`` integers 0..9."""
        import torch

        with torch.no_grad():
            out = [self.net(b).argmax(1).numpy() for b in self._batches(images, pixel_range)]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


_cache: dict[str, Any] = {}


def _cache_dir() -> Path:
    return config.DATA_DIR / "classifier"


def load_classifier(*, epochs: int = 3, seed: int = 0, verbose: bool = True) -> Classifier:
    """The course's MNIST classifier, trained on first use and cached under ``data/classifier/``.

    It is trained on the train split of :func:`lib.data.load_mnist` (50,000 images with the full
    dataset, 6,667 with the offline subset; never on the validation split, whose digits give the
    FCD's unseen-digit reference point), so the cache file names that number.
    Training (a few epochs of Adam, ~20 s on 2 CPU cores for 8,000 images) does not touch the
    caller's random state. The test accuracy is measured on the test split and stored with it.

    Processes that want it at the same time (two lectures started side by side on a fresh machine,
    or the two workers of ``make test``) train it once: the first trains, the others wait for it
    and load it (a file lock, :func:`_one_at_a_time`).
    """
    import torch

    train_x, train_y = data.load_mnist("train")
    key = f"mnist_cnn_v{_CLASSIFIER_VERSION}_n{len(train_x)}"
    if key in _cache:
        return _cache[key]
    path = _cache_dir() / f"{key}.pt"
    meta_path = path.with_suffix(".json")
    clf = None
    with _one_at_a_time(path, verbose):
        if path.is_file() and meta_path.is_file():
            try:
                net = _build_net()
                net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                net.eval()
                clf = Classifier(net, float(meta["test_accuracy"]), int(meta["n_train"]), path)
                if verbose:
                    print(f"MNIST classifier loaded from {path} (test accuracy {clf.test_accuracy:.2%})")
            except (OSError, RuntimeError, ValueError, KeyError, EOFError) as exc:  # torch: RuntimeError
                print(
                    f"the cached MNIST classifier {path} is unreadable ({type(exc).__name__}: {exc}); "
                    "retraining it"
                )
        if clf is None:
            clf = _train_classifier(train_x, train_y, epochs=epochs, seed=seed, verbose=verbose, path=path)
    _cache[key] = clf
    return clf


@contextmanager
def _one_at_a_time(path: Path, verbose: bool) -> Iterator[None]:
    """Holds an exclusive lock on ``path``'s ``.lock`` file (created beside it) for the duration;
    says so when another process holds it. A :class:`filelock.FileLock`: ``flock`` on Linux and
    macOS, ``msvcrt.locking`` on Windows; the lock goes with the process, should it die."""
    from filelock import FileLock, Timeout

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path.with_suffix(".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if verbose:
            print(f"waiting for another process that is training the MNIST classifier ({path.name})")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _train_classifier(
    train_x: np.ndarray, train_y: np.ndarray, *, epochs: int, seed: int, verbose: bool, path: Path
) -> Classifier:
    import torch
    from tqdm.auto import tqdm

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = _build_net()
        rng = np.random.default_rng(seed)
        x = torch.from_numpy(data.to_float(train_x)).unsqueeze(1)  # (N, 1, 28, 28)
        y = torch.from_numpy(train_y.astype(np.int64))
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        n_batches = int(np.ceil(len(x) / 128))
        net.train()
        for _ in tqdm(range(epochs), desc="training the MNIST classifier (once)", disable=not verbose):
            perm = torch.from_numpy(rng.permutation(len(x)))
            for i in range(n_batches):
                idx = perm[i * 128 : (i + 1) * 128]
                loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        net.eval()
    test_x, test_y = data.load_mnist("test")
    clf = Classifier(net, 0.0, len(train_x), path)
    clf.test_accuracy = float(np.mean(clf.predict(test_x, "uint8") == test_y))
    write_atomic(path, lambda f: torch.save(net.state_dict(), f))
    meta = {
        "test_accuracy": clf.test_accuracy,
        "n_train": len(train_x),
        "n_test": len(test_x),
        "epochs": epochs,
    }
    write_atomic(path.with_suffix(".json"), json.dumps(meta))
    if verbose:
        print(
            f"MNIST classifier trained on {len(train_x)} images: test accuracy "
            f"{clf.test_accuracy:.2%} on {len(test_x)} images; cached at {path}"
        )
    return clf


# --------------------------------------------------------------------------- public metrics


def classifier_features(images: Any, pixel_range: PixelRange = "unit") -> np.ndarray:
    """Features of the cached MNIST classifier, ``(N, 128)``."""
    return load_classifier(verbose=False).features(images, pixel_range)


def predict_labels(images: Any, pixel_range: PixelRange = "unit") -> np.ndarray:
    """The cached classifier's predicted digit for each image, ``(N,)``."""
    return load_classifier(verbose=False).predict(images, pixel_range)


def label_distribution(images: Any, pixel_range: PixelRange = "unit") -> np.ndarray:
    """Fraction of images the classifier assigns to each digit, ``(10,)`` summing to 1.

    A generator that covers every mode gives roughly 0.1 each; a collapsed one piles up on few.
    """
    labels = predict_labels(images, pixel_range)
    if len(labels) == 0:
        raise ValueError("label_distribution needs at least one image")
    return np.bincount(labels, minlength=10).astype(np.float64) / len(labels)


def sample_count() -> int:
    """The number of generated images that :func:`score_samples` scores at the current scale."""
    return config.scaled(**SAMPLE_COUNTS)


@dataclass(frozen=True)
class _Reference:
    features: np.ndarray  # (n, 128) of n fixed real training images
    labels: np.ndarray  # (10,) the label frequencies of the training split
    unseen_real: float  # n validation digits (unseen by the classifier and every model)
    noise: float  # n images of uniform noise


def _reference(n: int) -> _Reference:
    """The fixed reference of :func:`score_samples` for ``n`` samples (computed once per process)."""
    key = f"score_ref_{n}"
    if key not in _cache:
        rng = np.random.default_rng(0)
        train_x, train_y = data.load_mnist("train")
        valid_x, _ = data.load_mnist("validation")
        if len(valid_x) < n or len(train_x) < n:
            raise ValueError(
                f"scoring {n} samples needs {n} validation images and {n} training images, but the "
                f"MNIST found has {len(train_x)}/{len(valid_x)}: COURSE_SCALE={config.get_scale()} "
                "needs the full MNIST (see lib.data.load_mnist), or use a smaller scale"
            )
        ref = classifier_features(train_x[rng.choice(len(train_x), n, replace=False)], "uint8")
        unseen = valid_x[rng.choice(len(valid_x), n, replace=False)]
        noise = rng.random((n, 28, 28), dtype=np.float32)
        _cache[key] = _Reference(
            features=ref,
            labels=np.bincount(train_y, minlength=10) / len(train_y),
            unseen_real=frechet_distance(classifier_features(unseen, "uint8"), ref),
            noise=frechet_distance(classifier_features(noise, "unit"), ref),
        )
    return _cache[key]


def score_samples(images: Any, pixel_range: PixelRange = "unit") -> dict[str, Any]:
    """Score generated MNIST digits: the one way every lecture measures its samples.

    Args:
        images: at least :func:`sample_count` images in any layout of
            :func:`lib.plotting.as_images`; given more, exactly that many are drawn (with a fixed
            seed), so that every score at one scale uses the same n.
        pixel_range: ``"unit"`` ([0, 1]), ``"symmetric"`` ([−1, 1]) or ``"uint8"`` ([0, 255]).

    Returns:
        ``fcd``: the FCD against a fixed set of n real training images; ``unseen_real``: n
        validation digits against the same set (real digits of the training distribution that
        neither the classifier nor any model saw: a reference point, not a bound; a model that
        copies its training images scores below it); ``noise``: n images of uniform noise against
        it (a reference point too: degenerate images can score above it); ``label_distribution``:
        the fraction of samples the classifier assigns to each digit; ``label_jsd``: its
        Jensen–Shannon divergence (nats) from the training labels' distribution;
        ``digits_covered``: digits receiving at least 2 % of the samples; ``n``.

    Raises:
        ValueError: with fewer than :func:`sample_count` images (generate more), or images that
            are not finite.
    """
    n = sample_count()
    x = to_unit_pixels(images, pixel_range)  # (N, 28, 28) in [0, 1]
    if len(x) < n:
        raise ValueError(
            f"score_samples needs {n} images at COURSE_SCALE={config.get_scale()} (metrics.sample_count()), "
            f"got {len(x)}: generate at least that many, so that every lecture's FCD uses the same n"
        )
    if len(x) > n:
        x = x[np.random.default_rng(0).choice(len(x), n, replace=False)]
    ref = _reference(n)
    clf = load_classifier(verbose=False)
    labels = np.bincount(clf.predict(x), minlength=10) / n
    return {
        "fcd": frechet_distance(clf.features(x), ref.features),
        "unseen_real": ref.unseen_real,
        "noise": ref.noise,
        "label_distribution": [float(v) for v in labels],
        "label_jsd": js_divergence(labels, ref.labels),
        "digits_covered": int((labels >= DIGIT_COVERED_FRACTION).sum()),
        "n": n,
    }
