import numpy as np
import pytest
from scipy import linalg

from lib import metrics


def _closed_form(mu1, s1, mu2, s2):
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean))


def test_frechet_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(500, 16))
    assert metrics.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_frechet_matches_closed_form_for_gaussians():
    rng = np.random.default_rng(1)
    d = 5
    a = rng.normal(size=(d, d))
    b = rng.normal(size=(d, d))
    s1, s2 = a @ a.T + np.eye(d), b @ b.T + 0.5 * np.eye(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    exact = _closed_form(mu1, s1, mu2, s2)

    # Samples whose empirical mean and covariance are exactly the targets:
    def exact_samples(mu, s, n=400):
        z = rng.normal(size=(n, d))
        z = (z - z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
        return z @ np.linalg.cholesky(s).T + mu

    got = metrics.frechet_distance(exact_samples(mu1, s1), exact_samples(mu2, s2))
    assert got == pytest.approx(exact, rel=1e-6)
    # Isotropic case by hand: |mu1-mu2|^2 + d (s1 - s2)^2 for s*I covariances.
    assert _closed_form(np.zeros(d), 4 * np.eye(d), np.ones(d), np.eye(d)) == pytest.approx(d + d * 1.0)


def test_frechet_is_symmetric_and_grows_with_shift():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(300, 8)), rng.normal(size=(300, 8))
    assert metrics.frechet_distance(x, y) == pytest.approx(metrics.frechet_distance(y, x), rel=1e-9)
    assert (
        metrics.frechet_distance(x, y + 3)
        > metrics.frechet_distance(x, y + 1)
        > metrics.frechet_distance(x, y)
    )


@pytest.mark.parametrize(
    "a,b,match",
    [
        (np.zeros((10, 3)), np.zeros((10, 4)), "dimensions differ"),
        (np.zeros(10), np.zeros((10, 1)), "2-D"),
        (np.zeros((1, 3)), np.zeros((10, 3)), "at least 2"),
        (np.full((5, 3), np.nan), np.zeros((5, 3)), "NaN"),
    ],
)
def test_frechet_rejects_bad_input(a, b, match):
    with pytest.raises(ValueError, match=match):
        metrics.frechet_distance(a, b)


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
    ref = metrics.reference_fcd(500)
    assert 0 < ref["floor"] < 0.1 * ref["ceiling"]
    # One digit class only: the label distribution collapses onto it.
    ones = test_x[test_y == 1][:50]
    assert metrics.label_distribution(ones, "uint8")[1] > 0.9
