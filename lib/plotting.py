"""Figures the lectures share: image grids, training curves, sampling-chain animations, and the
latent-space figures of the VAE lectures (codes coloured by label, the decoded manifold).

Images may be NumPy arrays, PyTorch tensors or TensorFlow tensors, shaped
``(N, 28, 28)``, ``(N, 784)``, ``(N, 1, 28, 28)`` or ``(N, 28, 28, 1)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "ACCEPTED_SHAPES",
    "animate_chain",
    "as_images",
    "image_grid",
    "latent_scatter",
    "manifold_figure",
    "plot_history",
]

ACCEPTED_SHAPES = "(N, 28, 28), (N, 784), (N, 1, 28, 28) or (N, 28, 28, 1)"


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach"):  # torch.Tensor
        return x.detach().cpu().numpy()
    if hasattr(x, "numpy"):  # tf.Tensor / EagerTensor
        return np.asarray(x.numpy())
    return np.asarray(x)


def as_images(images: Any, side: int = 28) -> np.ndarray:
    """Convert a batch of images in any accepted layout to a float array ``(N, side, side)``.

    Raises:
        ValueError: for any other shape, naming the accepted ones.
    """
    x = _to_numpy(images)
    s = side
    if x.ndim == 3 and x.shape[1:] == (s, s):
        out = x
    elif x.ndim == 2 and x.shape[1] == s * s:
        out = x.reshape(-1, s, s)
    elif x.ndim == 4 and x.shape[1:] == (1, s, s):
        out = x[:, 0]
    elif x.ndim == 4 and x.shape[1:] == (s, s, 1):
        out = x[..., 0]
    else:
        accepted = ACCEPTED_SHAPES.replace("28", str(s)).replace("784", str(s * s))
        raise ValueError(f"images of shape {tuple(x.shape)} are not supported; expected {accepted}")
    return out.astype(np.float32, copy=False)


def _tile(images: np.ndarray, ncols: int, pad: int = 1, pad_value: float = 0.0) -> np.ndarray:
    n, h, w = images.shape
    nrows = int(np.ceil(n / ncols))
    canvas = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad), pad_value, np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        canvas[
            pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w
        ] = img
    return canvas


def _value_range(x: np.ndarray, vrange: tuple[float, float] | None) -> tuple[float, float]:
    if vrange is not None:
        return vrange
    lo, hi = float(np.min(x)), float(np.max(x))
    if lo >= -1.0 - 1e-6 and lo < -1e-6 and hi <= 1.0 + 1e-6:
        return (-1.0, 1.0)  # images scaled to [-1, 1]
    if lo >= 0.0 and hi <= 1.0 + 1e-6:
        return (0.0, 1.0)
    if lo >= 0.0 and hi <= 255.0:
        return (0.0, 255.0)
    return (lo, hi)


def image_grid(
    images: Any,
    *,
    ncols: int = 10,
    max_images: int = 100,
    title: str | None = None,
    ax: Any = None,
    vrange: tuple[float, float] | None = None,
    cmap: str = "gray",
    side: int = 28,
) -> Any:
    """Draw a batch of images as one grid and return the matplotlib ``Figure``.

    The grey scale is inferred ([0, 1], [-1, 1] or [0, 255]) unless ``vrange`` is given.
    Weight filters (any real values) are drawn with their own range.
    """
    import matplotlib.pyplot as plt

    x = as_images(images, side=side)[:max_images]
    if len(x) == 0:
        raise ValueError("image_grid needs at least one image")
    lo, hi = _value_range(x, vrange)
    ncols = max(1, min(ncols, len(x)))
    canvas = _tile(x, ncols, pad_value=lo)
    if ax is None:
        nrows = int(np.ceil(len(x) / ncols))
        fig, ax = plt.subplots(figsize=(0.6 * ncols + 0.4, 0.6 * nrows + (0.5 if title else 0.2)))
    else:
        fig = ax.figure
    ax.imshow(canvas, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def plot_history(
    history: Mapping[str, Sequence[float]],
    keys: Sequence[str] | None = None,
    *,
    xlabel: str = "step",
    title: str | None = None,
    logy: bool = False,
    axes: Any = None,
) -> Any:
    """Plot training curves from a history ``{"loss": [...], "ll": [...]}``, one panel per key.

    Returns the ``Figure``. Unknown keys raise ``KeyError`` naming the available ones.
    """
    import matplotlib.pyplot as plt

    keys = list(keys) if keys is not None else [k for k, v in history.items() if len(v) > 0]
    missing = [k for k in keys if k not in history]
    if missing:
        raise KeyError(f"history has no {missing}; available: {sorted(history)}")
    if not keys:
        raise ValueError("history is empty: nothing to plot")
    if axes is None:
        fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3), squeeze=False)
        axes = axes[0]
    else:
        axes = np.atleast_1d(axes)
        fig = axes[0].figure
    for ax, key in zip(axes, keys):
        values = np.asarray(history[key], dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, marker="o" if len(values) < 30 else None)
        ax.set_title(key)
        ax.set_xlabel(xlabel)
        if logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def animate_chain(
    frames: Sequence[Any] | Any,
    *,
    ncols: int = 8,
    interval: int = 150,
    steps: Sequence[int] | None = None,
    titles: Sequence[str] | None = None,
    vrange: tuple[float, float] | None = None,
    side: int = 28,
) -> Any:
    """Animate a sampling chain and return it as inline HTML (``IPython.display.HTML``).

    ``frames`` is a sequence of image batches (all the same size), or an array shaped
    ``(T, N, ...)``. Each frame is drawn as a grid and labelled with its chain step
    (``steps[i]``, e.g. ``[0, 10, 20, …]`` when every tenth state was recorded), with
    ``titles[i]`` instead, or else as ``frame i``. The HTML loads nothing from the network
    (matplotlib's player links Font Awesome from a CDN; the link is dropped, the buttons keep
    their text symbols).
    """
    import matplotlib.pyplot as plt
    from IPython.display import HTML
    from matplotlib import animation

    batches = [as_images(f, side=side) for f in frames]
    if not batches:
        raise ValueError("animate_chain needs at least one frame")
    for name, labels in (("steps", steps), ("titles", titles)):
        if labels is not None and len(labels) != len(batches):
            raise ValueError(f"{name} has {len(labels)} entries for {len(batches)} frames")
    if steps is not None:
        titles = [f"step {s}" for s in steps]
    lo, hi = _value_range(np.stack(batches), vrange)
    grids = [_tile(b, max(1, min(ncols, len(b))), pad_value=lo) for b in batches]
    fig, ax = plt.subplots(figsize=(grids[0].shape[1] / 40 + 0.5, grids[0].shape[0] / 40 + 0.6))
    image = ax.imshow(grids[0], cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
    ax.set_axis_off()
    label = ax.set_title(titles[0] if titles else "frame 0")

    def update(i: int) -> list[Any]:
        image.set_data(grids[i])
        label.set_text(titles[i] if titles else f"frame {i}")
        return [image, label]

    anim = animation.FuncAnimation(fig, update, frames=len(grids), interval=interval, blit=False)
    html = re.sub(r"<link[^>]*font-awesome[^>]*>", "", anim.to_jshtml(default_mode="once"))
    plt.close(fig)
    return HTML(html)


# --------------------------------------------------------------------------- latent spaces


def latent_scatter(
    z: np.ndarray,
    labels: np.ndarray,
    *,
    ax: Any = None,
    title: str | None = None,
    class_names: list[str] | None = None,
) -> Any:
    """Scatter 2-D latent codes coloured by label (10 classes); returns the Figure."""
    import matplotlib.pyplot as plt

    z, labels = np.asarray(z), np.asarray(labels)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"z must have shape (N, 2), got {z.shape}")
    if len(labels) != len(z):
        raise ValueError(f"{len(labels)} labels for {len(z)} latent points")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 5))
    else:
        fig = ax.figure
    sc = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", s=4, alpha=0.7, vmin=-0.5, vmax=9.5)
    cbar = fig.colorbar(sc, ax=ax, ticks=range(10))
    if class_names is not None:
        cbar.ax.set_yticklabels(class_names)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return fig


def manifold_figure(
    decode: Callable[[np.ndarray], Any], n: int = 15, *, title: str | None = None, ax: Any = None
) -> Any:
    """Decode :func:`latent_grid` ``(n)`` with ``decode`` (2-D latents → images) and tile them."""
    from .vae import latent_grid

    images = as_images(decode(latent_grid(n)))
    return image_grid(images, ncols=n, max_images=n * n, title=title, ax=ax, vrange=(0.0, 1.0))
