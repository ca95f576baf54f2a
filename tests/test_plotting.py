import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from lib import plotting

BASE = np.random.default_rng(0).random((6, 28, 28)).astype(np.float32)
LAYOUTS = {
    "(N,28,28)": BASE,
    "(N,784)": BASE.reshape(6, 784),
    "(N,1,28,28)": BASE[:, None],
    "(N,28,28,1)": BASE[..., None],
}


def _frameworks(x):
    import tensorflow as tf
    import torch

    yield "numpy", x
    yield "torch", torch.from_numpy(x)
    yield "tensorflow", tf.constant(x)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_as_images_every_layout_and_framework(layout):
    for name, x in _frameworks(LAYOUTS[layout]):
        out = plotting.as_images(x)
        assert out.shape == (6, 28, 28), name
        np.testing.assert_allclose(out, BASE, err_msg=name)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_image_grid_draws_the_pixels(layout):
    for _, x in _frameworks(LAYOUTS[layout]):
        fig = plotting.image_grid(x, ncols=3)
        canvas = fig.axes[0].images[0].get_array()
        # 2 rows x 3 columns of 28-pixel images with 1-pixel padding
        assert canvas.shape == (2 * 29 + 1, 3 * 29 + 1)
        np.testing.assert_allclose(canvas[1:29, 30:58], BASE[1])
        plt.close(fig)


@pytest.mark.parametrize("shape", [(6, 28), (6, 27, 27), (6, 3, 28, 28), (6, 28, 28, 3), (784,)])
def test_wrong_shapes_name_the_accepted_ones(shape):
    with pytest.raises(ValueError) as err:
        plotting.image_grid(np.zeros(shape))
    assert "(N, 784)" in str(err.value) and str(shape) in str(err.value)


def test_grey_range_inference():
    sym = plotting.image_grid(BASE * 2 - 1)
    assert sym.axes[0].images[0].get_clim() == (-1.0, 1.0)
    unit = plotting.image_grid(BASE)
    assert unit.axes[0].images[0].get_clim() == (0.0, 1.0)
    u8 = plotting.image_grid((BASE * 255).astype(np.uint8))
    assert u8.axes[0].images[0].get_clim() == (0.0, 255.0)
    plt.close("all")


def test_plot_history_one_panel_per_key():
    fig = plotting.plot_history({"loss": [3, 2, 1], "ll": [-200, -150], "empty": []})
    assert [ax.get_title() for ax in fig.axes] == ["loss", "ll"]
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [3, 2, 1])
    with pytest.raises(KeyError, match="available"):
        plotting.plot_history({"loss": [1]}, keys=["acc"])
    plt.close("all")


def test_animate_chain_renders_html():
    frames = [BASE[:4] * (t / 4) for t in range(5)]
    html = plotting.animate_chain(frames, ncols=2)
    text = html.data
    assert "<script" in text and "animation" in text.lower()
    assert text.count("data:image/png;base64") == 5
    with pytest.raises(ValueError):
        plotting.animate_chain([np.zeros((2, 5))])


def test_animate_chain_labels_frames_with_their_chain_steps_and_loads_nothing_remote():
    frames = [BASE[:4] * (t / 4) for t in range(3)]
    text = plotting.animate_chain(frames, ncols=2, steps=[0, 50, 100]).data
    assert "http://" not in text and "https://" not in text  # no Font Awesome from a CDN
    with pytest.raises(ValueError, match="steps has 2 entries for 3 frames"):
        plotting.animate_chain(frames, steps=[0, 1])


def test_latent_figures():
    z = np.random.default_rng(0).normal(size=(50, 2))
    fig = plotting.latent_scatter(z, np.arange(50) % 10, title="codes")
    np.testing.assert_allclose(fig.axes[0].collections[0].get_offsets(), z)
    with pytest.raises(ValueError, match="labels"):
        plotting.latent_scatter(z, np.arange(3))
    seen = []

    def decode(zs):
        seen.append(zs)
        return np.zeros((len(zs), 784))

    plotting.manifold_figure(decode, n=4)
    assert seen[0].shape == (16, 2)
    plt.close("all")
