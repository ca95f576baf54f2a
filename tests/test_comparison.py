"""lib.comparison: rows come from what the notebooks recorded, missing ones say what to run."""

import numpy as np
import pytest

from lib import comparison, config, results

TEST_IMAGES = (np.random.default_rng(0).random((20, 784)) < 0.5).astype(np.float32)
SCORE = {"fcd": 42.0, "unseen_real": 18.0, "noise": 1400.0, "digits_covered": 9, "label_jsd": 0.02, "n": 500}


@pytest.fixture
def build(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_SCALE", "smoke")
    return tmp_path


def _record_dcgan():
    config.setup("06_dcgan_tensorflow", quiet=True)
    comparison.record_model(
        "DCGAN", score=SCORE, n_parameters=123456, training_seconds=60.0, sampling_seconds_per_100=0.05
    )


def test_recorded_models_fill_their_rows_and_missing_ones_say_what_to_run(build):
    _record_dcgan()
    config.setup("04_vae_pytorch", quiet=True)
    comparison.record_model(
        "VAE (PyTorch)", score={**SCORE, "fcd": 90.0}, n_parameters=1000, training_seconds=30.0,
        sampling_seconds_per_100=0.01, test_log_likelihood=-110.5, likelihood="IW k=500",
        test_images=TEST_IMAGES, base_rate_log_likelihood=-215.0, memorisation={"median_ratio": 1.02},
    )  # fmt: skip
    rows = {r["model"]: r for r in comparison.comparison_rows()}
    assert list(rows) == list(comparison.MODELS)  # every model, in teaching order
    assert rows["DCGAN"]["score"]["fcd"] == 42.0 and rows["DCGAN"]["scale"] == "smoke"
    assert rows["DDPM"] == {"model": "DDPM", "missing": "run notebooks/08_diffusion.ipynb"}
    table = comparison.comparison_table()
    assert "| DCGAN | 42.0 (18.0 / 1400), n=500 | 9 | — | 0.05 | 123,456 | 60 | — | smoke |" in table
    assert "-110.5, base rate +104.5 (IW k=500)" in table and "| 1.02 |" in table
    assert comparison.fingerprint(TEST_IMAGES) in table  # which images, named once
    md, png = comparison.write_comparison(build)
    assert md.read_text(encoding="utf-8") == table and png.read_bytes()[:4] == b"\x89PNG"


def test_a_new_run_replaces_the_row(build):
    _record_dcgan()
    config.setup("06_dcgan_tensorflow", quiet=True)  # rerun, records nothing yet
    results.record("something_else", 1.0)
    assert "missing" in {r["model"]: r for r in comparison.comparison_rows()}["DCGAN"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"model": "GAN"}, "unknown model"),
        ({"model": "DDPM"}, "recorded by 08_diffusion"),
        ({"score": {"fcd": 1.0}}, "score lacks"),
        ({"test_log_likelihood": -100.0}, "together"),
        ({"test_log_likelihood": -100.0, "likelihood": "AIS"}, "together"),
        ({"training_seconds": -1.0}, "non-negative"),
    ],
)
def test_bad_rows_are_refused(build, kwargs, match):
    config.setup("06_dcgan_tensorflow", quiet=True)
    args = {"model": "DCGAN", "score": SCORE, "n_parameters": 1, "training_seconds": 1.0,
            "sampling_seconds_per_100": 1.0} | kwargs  # fmt: skip
    with pytest.raises(ValueError, match=match):
        comparison.record_model(args.pop("model"), **args)


def test_likelihoods_on_different_images_are_refused(build):
    def record(model, notebook, images):
        config.setup(notebook, quiet=True)
        comparison.record_model(
            model, score=SCORE, n_parameters=1, training_seconds=1.0, sampling_seconds_per_100=1.0,
            test_log_likelihood=-100.0, likelihood="exact", test_images=images, base_rate_log_likelihood=-200.0,
        )  # fmt: skip

    record("RBM (Gibbs samples)", "01_rbm_pytorch", TEST_IMAGES)
    record(
        "VAE (PyTorch)", "04_vae_pytorch", TEST_IMAGES.reshape(20, 28, 28).astype(np.float64)
    )  # same images
    assert "base rate +100.0" in comparison.comparison_table()
    record("VAE (Keras, conv)", "05_vae_keras", TEST_IMAGES[:10])  # the first 10 only: not comparable
    with pytest.raises(ValueError, match="measured on different images"):
        comparison.comparison_table()


def test_the_likelihood_test_set_is_every_test_digit_binarized_once(monkeypatch):
    from lib import data

    x = data.likelihood_test_set()
    images, _ = data.load_mnist("test")
    assert x.shape == (len(images), 784) and set(np.unique(x)) == {0.0, 1.0}
    np.testing.assert_array_equal(x, data.likelihood_test_set())  # a fixed draw
