"""lib.autoregressive against exact results: the autoregressive property by autograd, the
normalisation and conditionals of the joint by enumerating all 2^D states, both samplers
against the exact distribution (chi-squared), and the incremental sampler against the naive one
on the same uniforms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import chisquare
from torch import nn

from lib import autoregressive as ar
from lib.rbm import binary_states

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def _randomise(model: nn.Module, seed: int, std: float = 0.7) -> nn.Module:
    """Random weights of order one (so that every unmasked path matters)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(std * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def _made(D, hidden, *, ordering=None, direct=False, seed=0, activation=nn.Tanh, **kw):
    model = ar.MADE(D, hidden, ordering, direct, activation, dtype=torch.float64, **kw)
    return _randomise(model, seed)


def _all_states(D: int) -> torch.Tensor:
    return torch.as_tensor(binary_states(D), dtype=torch.float64)  # (2^D, D)


# --------------------------------------------------------------------------- degrees and masks


def test_degrees_default_ordering_and_cycled_hidden_degrees():
    deg = ar.made_degrees(5, [7, 3])
    np.testing.assert_array_equal(deg[0], [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(deg[1], [1, 2, 3, 4, 1, 2, 3])  # every degree 1..D-1 represented
    np.testing.assert_array_equal(deg[2], [1, 2, 3])
    deg = ar.made_degrees(4, [6], ordering=[2, 0, 3, 1])  # x_2 first, then x_0, x_3, x_1
    np.testing.assert_array_equal(deg[0], [2, 4, 1, 3])


def test_random_hidden_degrees_are_seeded_and_in_range():
    a = ar.made_degrees(9, [50, 40], seed=3)
    b = ar.made_degrees(9, [50, 40], seed=np.random.default_rng(3))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert a[1].min() >= 1 and a[1].max() <= 8
    assert a[2].min() >= a[1].min() and a[2].max() <= 8
    assert not np.array_equal(a[1], ar.made_degrees(9, [50, 40], seed=4)[1])


@pytest.mark.parametrize("direct", [False, True])
def test_mask_products_connect_exactly_the_allowed_pairs(direct):
    """Paths input j → output i exist iff deg_j < deg_i (hidden layers wide enough to hold every degree)."""
    rng = np.random.default_rng(0)
    D = 6
    degrees = ar.made_degrees(D, [5, 10], ordering=rng.permutation(D))
    masks = [m.double() for m in ar.made_masks(degrees, direct=direct)]
    assert [tuple(m.shape) for m in masks[:3]] == [(5, D), (10, 5), (D, 10)]
    paths = masks[2] @ masks[1] @ masks[0]  # (D, D): number of paths
    if direct:
        assert masks[3].shape == (D, D)
        paths = paths + masks[3]
    allowed = torch.as_tensor(degrees[0][:, None] > degrees[0][None, :])
    assert torch.equal(paths > 0, allowed)


def test_masked_linear_applies_its_mask_and_counts_effective_parameters():
    layer = ar.MaskedLinear(3, 2).double()
    mask = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    layer.set_mask(mask)
    x = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    expected = x @ (mask.double() * layer.weight).T + layer.bias
    torch.testing.assert_close(layer(x), expected, rtol=0, atol=1e-15)
    assert ar.n_parameters(layer) == 3 + 2
    assert "mask" in layer.state_dict()
    # the logistic autoregressive model (no hidden layer): D(D-1)/2 weights and D biases
    assert ar.n_parameters(ar.MADE(6, [])) == 15 + 6


# --------------------------------------------------------------------------- the autoregressive property


@pytest.mark.parametrize(
    "hidden, direct, random_order, activation",
    [
        ([3], False, False, nn.Tanh),  # narrower than D - 1: some degrees missing
        ([16], False, True, nn.Tanh),
        ([16], True, True, nn.ReLU),
        ([12, 9], False, True, nn.Tanh),
        ([12, 9], True, False, nn.ReLU),
        ([], False, True, nn.Tanh),
    ],
)
def test_jacobian_vanishes_exactly_where_the_degrees_forbid(hidden, direct, random_order, activation):
    D = 7
    ordering = np.random.default_rng(1).permutation(D) if random_order else None
    model = _made(D, hidden, ordering=ordering, direct=direct, activation=activation, seed=2)
    deg = torch.as_tensor(model.degrees[0])
    forbidden = deg[None, :] >= deg[:, None]  # (i, j): deg_j >= deg_i
    x = torch.randn(5, D, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    for xb in x:  # continuous inputs: the network is defined on R^D
        J = torch.autograd.functional.jacobian(lambda v: model.logits(v[None])[0], xb)  # (D, D)
        assert torch.all(J[forbidden] == 0.0)
        assert (J[~forbidden] != 0).sum() >= 3  # the masks are not all zero
    if hidden != [3] and activation is nn.Tanh:  # every allowed pair has a path: all nonzero
        assert torch.all(J[~forbidden] != 0)


# --------------------------------------------------------------------------- exact likelihood


@pytest.mark.parametrize(
    "D, hidden, direct", [(4, [6], False), (4, [5, 4], True), (5, [8], True), (5, [], False)]
)
def test_log_prob_is_normalised_and_its_conditionals_are_the_networks(D, hidden, direct):
    """Σ_x p(x) = 1, and p(x_i=1 | x_<i), got by marginalising the enumerated joint, is σ(logit_i)."""
    model = _made(D, hidden, ordering=np.random.default_rng(D).permutation(D), direct=direct, seed=D)
    X = _all_states(D)  # (2^D, D)
    with torch.no_grad():
        logp = model.log_prob(X)  # (2^D,)
        sig = torch.sigmoid(model.logits(X))
    assert logp.dtype == torch.float64 and logp.shape == (2**D,)
    assert abs(torch.logsumexp(logp, 0).exp().item() - 1.0) < 1e-12
    # independent reference: log p as a sum of Bernoulli terms with math.log, no BCE
    for x, s, lp in zip(X.tolist(), sig.tolist(), logp.tolist()):
        ref = sum(math.log(si) if xi else math.log1p(-si) for xi, si in zip(x, s))
        assert abs(lp - ref) < 1e-12
    p = logp.exp()
    order = model.order.tolist()
    for t, i in enumerate(order):
        prefix = order[:t]
        for k in range(2**D):  # p(x_i = 1 | x_prefix) from the joint
            same = (X[:, prefix] == X[k, prefix]).all(1)
            cond = p[same & (X[:, i] == 1)].sum() / p[same].sum()
            assert abs(cond.item() - sig[k, i].item()) < 1e-12


def test_log_prob_in_float32_and_accepts_integer_data():
    model = ar.MADE(6, [10], direct=True)
    x = torch.randint(0, 2, (8, 6), generator=torch.Generator().manual_seed(0))
    lp = model.log_prob(x)
    assert lp.dtype == torch.float32 and lp.shape == (8,) and torch.all(lp < 0)
    lp.sum().backward()  # trainable by maximum likelihood
    assert model.net[0].weight.grad is not None


# --------------------------------------------------------------------------- samplers


@pytest.mark.parametrize("method", ["sample", "sample_incremental"])
@pytest.mark.parametrize("direct", [False, True])
def test_samplers_follow_the_exact_distribution(method, direct):
    D, n = 4, 200_000
    model = _made(D, [6], ordering=[2, 0, 3, 1], direct=direct, seed=11)
    x = getattr(model, method)(n, generator=torch.Generator().manual_seed(12))
    assert x.shape == (n, D) and x.dtype == torch.float64
    assert torch.all((x == 0) | (x == 1))
    index = (x @ (2.0 ** torch.arange(D, dtype=torch.float64))).long()  # binary_states' row order
    observed = torch.bincount(index, minlength=2**D).numpy()
    with torch.no_grad():
        p = model.log_prob(_all_states(D)).exp().numpy()
    assert p.min() > 1e-3  # every state expected to be seen
    assert chisquare(observed, n * p / p.sum()).pvalue > 1e-3


@pytest.mark.parametrize("hidden, direct", [([32], False), ([32], True), ([], False)])
def test_incremental_sampler_equals_naive_on_the_same_uniforms(hidden, direct):
    D = 20
    model = _made(D, hidden, ordering=np.random.default_rng(5).permutation(D), direct=direct, seed=6)
    u = torch.rand(2000, D, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    naive, fast = model.sample(2000, uniforms=u), model.sample_incremental(2000, uniforms=u)
    assert torch.equal(naive, fast)
    assert 0.05 < naive.mean() < 0.95  # not a degenerate distribution
    # float32 model, float64 uniforms: still the same sampler
    model32 = model.float()
    assert model32.sample_incremental(50, uniforms=u[:50]).dtype == torch.float32


def test_sampler_is_reproducible_and_uses_the_uniforms_given():
    model = _made(5, [8], seed=1)
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert torch.equal(model.sample(100, generator=g()), model.sample(100, generator=g()))
    assert torch.equal(model.sample(3, uniforms=torch.zeros(3, 5)), torch.ones(3, 5))  # u = 0 < σ always
    assert torch.equal(model.sample_incremental(3, uniforms=torch.full((3, 5), 1.0)), torch.zeros(3, 5))


# --------------------------------------------------------------------------- bad input


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match=r"permutation of 0\.\.3"):
        ar.made_degrees(4, [8], ordering=[0, 1, 1, 3])
    with pytest.raises(ValueError, match="4 integer input indices"):
        ar.MADE(4, [8], ordering=[0, 1, 2])
    with pytest.raises(ValueError, match="hidden_sizes"):
        ar.made_degrees(4, [0])
    with pytest.raises(ValueError, match="n_in"):
        ar.MADE(0, [8])
    layer = ar.MaskedLinear(3, 2)
    with pytest.raises(ValueError, match=r"shape \(out, in\) = \(2, 3\)"):
        layer.set_mask(torch.ones(3, 2))
    with pytest.raises(ValueError, match="only 0 and 1"):
        layer.set_mask(torch.full((2, 3), 0.5))
    model = ar.MADE(4, [8, 8])
    with pytest.raises(ValueError, match=r"shape \(B, 4\)"):
        model.log_prob(torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"uniforms must have shape \(n, D\) = \(2, 4\)"):
        model.sample(2, uniforms=torch.rand(2, 3))
    with pytest.raises(ValueError, match="at most one hidden layer"):
        model.sample_incremental(2)
    with pytest.raises(ValueError, match="direct=True needs a hidden layer"):
        ar.MADE(4, [], direct=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_the_gpu():
    model = _made(10, [16], direct=True, seed=0).cuda()
    u = torch.rand(64, 10, dtype=torch.float64, device="cuda")
    x = model.sample_incremental(64, uniforms=u)
    assert x.device.type == "cuda" and torch.equal(x, model.sample(64, uniforms=u))
    assert model.log_prob(x).device.type == "cuda"
