"""The course's comparison of its MNIST models: one row a model, generated from what each lecture
recorded, never typed.

Each generative lecture calls :func:`record_model` once per model, with the dict of
:func:`lib.metrics.score_samples` (the same scorer, the same number of samples and the same
reference for every model at a given scale) and what else it measured::

    comparison.record_model("DCGAN", score=metrics.score_samples(samples, "symmetric"),
                            n_parameters=n_params, training_seconds=t_train,
                            sampling_seconds_per_100=t_sample)

``python -m lib.comparison`` (run by ``make run``) then writes ``build/results.md``
(:mod:`lib.results`) and, beside it, ``build/comparison.md`` and ``build/comparison.png`` with
:func:`write_comparison`. A model whose lecture has not run yet
keeps its row, saying which notebook to run. No notebook reads another notebook's results.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import config, results
from .atomic import write_atomic

__all__ = ["MODELS", "comparison_rows", "comparison_table", "record_model", "write_comparison"]

#: The course's MNIST models in teaching order, and the notebook that records each.
MODELS: dict[str, str] = {
    "RBM (Gibbs samples)": "01_rbm_pytorch",
    "EBM (Langevin)": "03_ebm_langevin",
    "VAE (PyTorch)": "04_vae_pytorch",
    "VAE (Keras, conv)": "05_vae_keras",
    "DCGAN": "06_dcgan_tensorflow",
    "DDPM": "08_diffusion",
    "DDIM": "08_diffusion",
    "MADE": "10_autoregressive_and_flows",
}
_PREFIX = "model:"
_SCORE_KEYS = ("fcd", "unseen_real", "noise", "digits_covered", "label_jsd", "n")


def record_model(
    model: str,
    *,
    score: Mapping[str, Any],
    n_parameters: int,
    training_seconds: float,
    sampling_seconds_per_100: float,
    test_log_likelihood: float | None = None,
    likelihood: str | None = None,
    test_images: Any = None,
    base_rate_log_likelihood: float | None = None,
    memorisation: Mapping[str, float] | None = None,
) -> None:
    """Record one model's row of the comparison (in the calling notebook's results).

    Args:
        model: one of :data:`MODELS`, recorded by the notebook named there.
        score: the dict returned by :func:`lib.metrics.score_samples`.
        n_parameters: the model's trainable parameters.
        training_seconds: wall time of its training (the original training, when loaded from
            the cache).
        sampling_seconds_per_100: wall time to generate 100 images.
        test_log_likelihood: nats per test image, where the model has one; then ``likelihood``
            says how it was estimated (e.g. ``"AIS, 10,000 β"``), ``test_images`` are the
            binarized images it was measured on (:func:`lib.data.likelihood_test_set`: every
            likelihood of the comparison must be on the same images, which their fingerprint
            proves) and ``base_rate_log_likelihood`` is the independent-pixel base rate's exact
            log-likelihood on those images, so that the table shows each model's margin over it.
        memorisation: :meth:`lib.memorisation.MemorisationReport.summary`, where measured.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; the comparison has rows for {sorted(MODELS)}")
    notebook = config.current_notebook()
    if notebook != MODELS[model]:
        raise ValueError(f"{model!r} is recorded by {MODELS[model]}, not by {notebook!r}")
    missing = [k for k in _SCORE_KEYS if k not in score]
    if missing:
        raise ValueError(f"score lacks {missing}: pass the dict of lib.metrics.score_samples")
    given = [v is not None for v in (test_log_likelihood, likelihood, test_images, base_rate_log_likelihood)]
    if any(given) and not all(given):
        raise ValueError(
            "give test_log_likelihood, likelihood (how it was estimated), test_images (the images, "
            "lib.data.likelihood_test_set()) and base_rate_log_likelihood (on those images) together"
        )
    test_set = None if test_images is None else fingerprint(test_images)
    for name, value in (("n_parameters", n_parameters), ("training_seconds", training_seconds),
                        ("sampling_seconds_per_100", sampling_seconds_per_100)):  # fmt: skip
        if not value >= 0:
            raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    results.record(
        _PREFIX + model,
        float(score["fcd"]),
        unit="FCD",
        score={k: score[k] for k in _SCORE_KEYS},
        n_parameters=int(n_parameters),
        training_seconds=float(training_seconds),
        sampling_seconds_per_100=float(sampling_seconds_per_100),
        test_log_likelihood=test_log_likelihood,
        likelihood=likelihood,
        test_set=test_set,
        base_rate_log_likelihood=base_rate_log_likelihood,
        memorisation=dict(memorisation) if memorisation is not None else None,
    )


def comparison_rows(directory: Path | None = None) -> list[dict[str, Any]]:
    """One dict per model of :data:`MODELS` (in order): its recorded entry with the scale of the
    run, or ``{"model": ..., "missing": "run notebooks/NN_....ipynb"}``."""
    recorded: dict[str, dict[str, Any]] = {}
    for doc in results._docs(directory):
        for name, entry in doc.get("results", {}).items():
            if name.startswith(_PREFIX):
                recorded[name[len(_PREFIX) :]] = {**entry, "scale": doc.get("scale", "?")}
    return [
        {"model": m, **recorded[m]} if m in recorded else {"model": m, "missing": f"run notebooks/{nb}.ipynb"}
        for m, nb in MODELS.items()
    ]


def _num(v: Any, fmt: str) -> str:
    return "—" if v is None else format(v, fmt)


def fingerprint(images: Any) -> str:
    """A short fingerprint of a test set: its shape and the SHA-256 of its bytes as float32
    (the same images give the same fingerprint whatever their layout or dtype)."""
    import hashlib

    x = np.ascontiguousarray(np.asarray(images, dtype=np.float32).reshape(len(images), -1))
    return f"{x.shape[0]}x{x.shape[1]}:{hashlib.sha256(x.tobytes()).hexdigest()[:16]}"


def comparison_table(directory: Path | None = None) -> str:
    """The comparison as a Markdown table (see :func:`comparison_rows`).

    Raises:
        ValueError: two rows' test log-likelihoods were measured on different images (their
            test-set fingerprints differ): they would not be comparable.
    """
    rows = comparison_rows(directory)
    test_sets = {r["test_set"] for r in rows if r.get("test_log_likelihood") is not None}
    if len(test_sets) > 1:
        raise ValueError(
            "the comparison's test log-likelihoods were measured on different images "
            f"({', '.join(sorted(test_sets))}): measure each on lib.data.likelihood_test_set()"
        )
    scales = sorted({r["scale"] for r in rows if "scale" in r})
    lines = [
        "# The course's MNIST models, compared",
        "",
        "Generated by `make run` (`python -m lib.comparison`) from what each lecture recorded"
        + (f" (COURSE_SCALE={', '.join(scales)})." if scales else "."),
        "FCD: one scorer (`lib.metrics.score_samples`), the same n and reference for every row of one",
        "scale; reference points: unseen real digits (the validation split) and uniform noise. Nearest-neighbour ratio: median",
        "distance of a sample to its nearest training image over that of a held-out digit (≈ 1: as",
        "novel as real digits; ≪ 1: copies). Test log-likelihoods: nats per image, all on the same",
        "images" + (f" (test set {next(iter(test_sets))})" if test_sets else "") + ", with each model's"
        " margin over the independent-pixel base rate on them.",
        "",
        "| model | FCD (unseen real digits / noise) | digits covered | test log-likelihood | sampling s / 100 "
        "| parameters | training s | NN ratio | scale |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        if "missing" in r:
            lines.append(f"| {r['model']} | {r['missing']} | | | | | | | |")
            continue
        s = r["score"]
        ll = (
            "—"
            if r.get("test_log_likelihood") is None
            else f"{r['test_log_likelihood']:.1f}, base rate "
            f"{r['test_log_likelihood'] - r['base_rate_log_likelihood']:+.1f} ({r['likelihood']})"
        )
        mem = r.get("memorisation") or {}
        lines.append(
            f"| {r['model']} | {s['fcd']:.1f} ({s['unseen_real']:.1f} / {s['noise']:.0f}), n={s['n']} "
            f"| {s['digits_covered']} | {ll} | {_num(r.get('sampling_seconds_per_100'), '.3g')} "
            f"| {r['n_parameters']:,} | {_num(r.get('training_seconds'), '.0f')} "
            f"| {_num(mem.get('median_ratio'), '.2f')} | {r['scale']} |"
        )
    return "\n".join(lines) + "\n"


def write_comparison(out_dir: Path, directory: Path | None = None) -> tuple[Path, Path]:
    """Write ``comparison.md`` and ``comparison.png`` (FCD of each recorded model between its
    two reference points, log scale) into ``out_dir``; returns both paths."""
    import io

    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    md = write_atomic(out_dir / "comparison.md", comparison_table(directory))
    rows = [r for r in comparison_rows(directory) if "missing" not in r]
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * max(1, len(rows))))
    if rows:
        names = [r["model"] for r in rows][::-1]
        fcds = [r["score"]["fcd"] for r in rows][::-1]
        ax.barh(names, fcds, color="tab:blue")
        ax.axvline(
            rows[0]["score"]["unseen_real"], color="green", ls="--", label="unseen real digits (validation)"
        )
        ax.axvline(rows[0]["score"]["noise"], color="red", ls="--", label="uniform noise")
        ax.set_xscale("log")
        ax.legend(loc="lower right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no model recorded yet: run make run", ha="center", va="center")
    ax.set_xlabel("Fréchet classifier distance (lower is better)")
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    png = write_atomic(out_dir / "comparison.png", buf.getvalue())
    return md, png


def main(argv: list[str] | None = None) -> int:
    """``python -m lib.comparison [OUT]``: the results table (default build/results.md), and the
    comparison of the models beside it."""
    import sys

    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else results.results_dir().parent / "results.md"
    status = results.main([str(out)])
    md, png = write_comparison(out.parent)
    print(f"comparison of the models: {md}, {png}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
