import json

import numpy as np
import pytest

from lib import metrics


def test_pixel_ranges():
    x = np.array([[0, 255]] * 392, np.uint8).reshape(1, 28, 28)
    for arr, rng_name in [(x, "uint8"), (x / 255.0, "unit"), (x / 127.5 - 1, "symmetric")]:
        np.testing.assert_allclose(metrics.to_unit_pixels(arr, rng_name), x / 255.0, atol=1e-6)
    with pytest.raises(ValueError, match="pixel_range"):
        metrics.to_unit_pixels(x, "0-255")


def test_classifier_is_accurate_cached_and_separates_real_from_noise():
    """Trains the classifier once (cached under data/classifier for the notebooks)."""
    from lib import data

    clf = metrics.load_classifier()
    assert clf.test_accuracy > 0.9
    assert clf.path.is_file()
    test_x, test_y = data.load_mnist("test")
    x = test_x[:300]
    f1 = metrics.classifier_features(x, "uint8")
    assert f1.shape == (300, metrics.FEATURE_DIM)
    # Same features whatever the pixel convention the caller uses:
    np.testing.assert_allclose(metrics.classifier_features(x / 127.5 - 1, "symmetric"), f1, atol=1e-4)
    dist = metrics.label_distribution(x, "uint8")
    assert dist.shape == (10,) and dist.sum() == pytest.approx(1.0)
    assert np.abs(dist - np.bincount(test_y[:300], minlength=10) / 300).max() < 0.05
    # One digit class only: the label distribution collapses onto it.
    ones = test_x[test_y == 1][:50]
    assert metrics.label_distribution(ones, "uint8")[1] > 0.9


def test_processes_that_want_the_classifier_at_once_train_it_once(tmp_path, monkeypatch):
    """Two callers on an empty cache (threads here; the lock is a file lock, so processes alike):
    one trains, the other waits for it and loads what it wrote. Without the lock both would train."""
    import threading
    import time

    import torch

    from lib.atomic import write_atomic

    trained = []

    def slow_fake_training(train_x, train_y, *, epochs, seed, verbose, path):
        trained.append(path)
        time.sleep(0.5)  # a training in progress
        net = metrics._build_net().eval()
        write_atomic(path, lambda f: torch.save(net.state_dict(), f))
        write_atomic(path.with_suffix(".json"), json.dumps({"test_accuracy": 0.5, "n_train": len(train_x)}))
        return metrics.Classifier(net, 0.5, len(train_x), path)

    monkeypatch.setattr(metrics, "_cache_dir", lambda: tmp_path)
    monkeypatch.setattr(metrics, "_train_classifier", slow_fake_training)
    got, start = [], threading.Barrier(2)

    def want_it():
        start.wait()
        metrics._cache.clear()  # each caller as a fresh process: nothing in memory
        got.append(metrics.load_classifier(verbose=False))

    monkeypatch.setattr(metrics, "_cache", {})
    callers = [threading.Thread(target=want_it) for _ in range(2)]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    assert len(trained) == 1, f"trained {len(trained)} times"
    assert len(got) == 2 and {c.path for c in got} == {trained[0]}
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".lock", ".pt"]


@pytest.fixture
def smoke(monkeypatch):
    monkeypatch.setenv("COURSE_SCALE", "smoke")
    return metrics.sample_count()


def test_score_samples_reference_points_unseen_real_digits_and_noise(smoke):
    from lib import data

    valid_x, _ = data.load_mnist("validation")
    train_x, _ = data.load_mnist("train")
    rng = np.random.default_rng(7)
    for seed in range(3):
        pick = np.random.default_rng(seed + 10)
        # Other draws of unseen validation digits: within sampling noise of the reference point
        # (itself one such draw; draws of 500 scored 1.05-1.22 times it).
        s = metrics.score_samples(valid_x[pick.choice(len(valid_x), smoke, replace=False)], "uint8")
        assert s["n"] == smoke
        assert 0.7 * s["unseen_real"] < s["fcd"] < 1.6 * s["unseen_real"]
        assert s["digits_covered"] == 10 and s["label_jsd"] < 0.02
    # Training digits, which the classifier learned on (what a copying model returns), score below
    # unseen ones: a reference point, not a bound. On average, over fixed draws: one draw of 500
    # varies by about 20 % (here 12 draws each: 6.3 against 8.0, both about 0.5 apart in error).
    from lib.divergences import frechet_distance

    ref = metrics._reference(smoke).features  # what score_samples compares with
    train_f, valid_f = (
        metrics.classifier_features(train_x, "uint8"),
        metrics.classifier_features(valid_x, "uint8"),
    )
    train_fcd, valid_fcd = [], []
    for i in range(12):
        g, h = np.random.default_rng(100 + i), np.random.default_rng(100 + i)
        train_fcd.append(frechet_distance(train_f[g.choice(len(train_f), smoke, replace=False)], ref))
        valid_fcd.append(frechet_distance(valid_f[h.choice(len(valid_f), smoke, replace=False)], ref))
    assert np.mean(train_fcd) < np.mean(valid_fcd)
    noise = metrics.score_samples(rng.random((smoke, 28, 28)), "unit")
    assert noise["fcd"] == pytest.approx(noise["noise"], rel=0.03)
    # A generator that only makes digits 0-4: between the two, and it shows in the labels.
    valid_y = data.load_mnist("validation")[1]
    half = valid_x[np.isin(valid_y, [0, 1, 2, 3, 4])]
    s = metrics.score_samples(half, "uint8")
    assert 3 * s["unseen_real"] < s["fcd"] < 0.3 * s["noise"]
    assert s["digits_covered"] == 5 and s["label_jsd"] > 0.1


def test_score_samples_grows_monotonically_with_blur(smoke):
    from scipy.ndimage import gaussian_filter

    from lib import data

    x = data.load_mnist("test")[0][:smoke].astype(np.float64) / 255.0
    scores = [metrics.score_samples(gaussian_filter(x, (0, s, s)))["fcd"] for s in (1.0, 1.5, 2.0, 3.0)]
    unseen, noise = metrics.score_samples(x)["unseen_real"], metrics.score_samples(x)["noise"]
    assert unseen < scores[0] < scores[1] < scores[2] < scores[3] < noise


def test_score_samples_uses_exactly_n(smoke):
    from lib import data

    x = data.load_mnist("test")[0]
    with pytest.raises(ValueError, match=f"needs {smoke} images"):
        metrics.score_samples(x[: smoke - 1], "uint8")
    # More than n: exactly n are drawn, the same ones every time.
    a, b = metrics.score_samples(x, "uint8"), metrics.score_samples(x, "uint8")
    assert a["n"] == smoke and a["fcd"] == b["fcd"]
    with pytest.raises(ValueError, match="NaN"):
        metrics.score_samples(np.full((smoke, 28, 28), np.nan))
