"""lib.flows against exact results: invertibility, the log-determinant against autograd's
Jacobian, the normalisation of log_prob on a 2-D grid, and the log-density of the samples."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lib import flows

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def _random_flow(masks, seed: int, std: float = 0.5, hidden: int = 16, dtype=torch.float64) -> flows.Flow:
    """A flow with every parameter drawn at random (not the identity of the zero init)."""
    flow = flows.make_flow(masks, hidden=hidden).to(dtype)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.copy_(std * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return flow


def _x(n: int, D: int, seed: int, dtype=torch.float64) -> torch.Tensor:
    return 1.5 * torch.randn(n, D, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --------------------------------------------------------------------------- masks


def test_alternating_and_checkerboard_masks():
    m = flows.alternating_masks(2, 3)
    assert [v.tolist() for v in m] == [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]
    assert flows.alternating_masks(5, 2)[1].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0]
    c = flows.checkerboard_masks(4, 2)
    assert c[0].shape == (16,)
    board = c[0].reshape(4, 4)
    assert board[0, 0] == 1 and board[0, 1] == 0 and board[1, 0] == 0 and board[1, 1] == 1
    # nearest neighbours (periodic) always have opposite mask values on an even lattice
    assert torch.all(board != torch.roll(board, 1, 0)) and torch.all(board != torch.roll(board, 1, 1))
    assert torch.equal(c[0] + c[1], torch.ones(16))


def test_a_new_coupling_is_the_identity():
    layer = flows.AffineCoupling(flows.checkerboard_masks(3, 1)[0], hidden=8)
    x = torch.randn(4, 9)
    y, log_det = layer(x)
    assert torch.equal(y, x) and torch.equal(log_det, torch.zeros(4))


def test_coupling_passes_the_masked_half_and_bounds_the_scale():
    mask = torch.tensor([1.0, 0.0, 1.0, 0.0])
    layer = _random_flow([mask], seed=0, std=3.0).layers[0]
    x = _x(100, 4, 1)
    y, log_det = layer(x)
    assert torch.equal(y[:, mask == 1], x[:, mask == 1])
    assert torch.all(log_det.abs() < 2 * layer.s_max)  # two free coordinates, |s| < s_max each


# --------------------------------------------------------------------------- invertibility


@pytest.mark.parametrize(
    "masks", [flows.alternating_masks(2, 6), flows.checkerboard_masks(4, 4)], ids=["D=2", "D=16"]
)
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_flow_is_invertible(masks, dtype, tol):
    flow = _random_flow(masks, seed=1, std=0.3, dtype=dtype)  # |z| up to ~40 for D = 16: far from identity
    D = masks[0].numel()
    x = _x(256, D, 2, dtype)
    z, ld = flow(x)
    assert z.dtype == dtype and z.shape == (256, D) and ld.shape == (256,)
    assert (z - x).abs().max() > 0.1  # not the identity
    x_back, ld_inv = flow.inverse(z)
    torch.testing.assert_close(x_back, x, rtol=tol, atol=tol)
    torch.testing.assert_close(ld_inv, -ld, rtol=tol, atol=tol)
    z2 = _x(256, D, 3, dtype)  # and the other way round
    torch.testing.assert_close(flow(flow.inverse(z2)[0])[0], z2, rtol=tol, atol=tol)


# --------------------------------------------------------------------------- log-determinant


@pytest.mark.parametrize("D", [2, 6])
def test_log_det_equals_autograd_jacobian_slogdet(D):
    flow = _random_flow(flows.alternating_masks(D, 5), seed=D)
    x = _x(10, D, 4)
    z, log_det = flow(x)
    _, log_det_inv = flow.inverse(z)
    for k in range(len(x)):
        J = torch.autograd.functional.jacobian(lambda v: flow(v[None])[0][0], x[k])  # (D, D)
        sign, logabs = torch.linalg.slogdet(J)
        assert sign != 0 and abs(logabs.item() - log_det[k].item()) < 1e-10
        J_inv = torch.autograd.functional.jacobian(lambda v: flow.inverse(v[None])[0][0], z[k])
        assert abs(torch.linalg.slogdet(J_inv)[1].item() - log_det_inv[k].item()) < 1e-10
    # one coupling alone: its Jacobian is triangular up to a permutation, det = exp(Σ s)
    layer = flow.layers[0]
    J = torch.autograd.functional.jacobian(lambda v: layer(v[None])[0][0], x[0])
    assert abs(torch.linalg.slogdet(J)[1].item() - layer(x[:1])[1].item()) < 1e-12


# --------------------------------------------------------------------------- densities


def test_log_prob_integrates_to_one_on_a_grid():
    flow = _random_flow(flows.alternating_masks(2, 4), seed=5, std=0.15)  # mass ~3e-5 outside [-8, 8]²
    h = 0.04
    t = torch.arange(-8 + h / 2, 8, h, dtype=torch.float64)  # midpoints of a 400 × 400 grid
    X = torch.cartesian_prod(t, t)  # (160000, 2)
    with torch.no_grad():
        p = flow.log_prob(X).exp()
        z, _ = flow(X)
    assert (z - X).abs().max() > 0.1  # a real transformation
    assert abs(p.sum().item() * h * h - 1.0) < 1e-3


def test_sample_returns_the_log_density_of_its_samples():
    flow = _random_flow(flows.checkerboard_masks(3, 4), seed=6, std=0.4)
    x, log_q = flow.sample(500, generator=torch.Generator().manual_seed(7))
    assert x.shape == (500, 9) and log_q.shape == (500,) and x.dtype == torch.float64
    torch.testing.assert_close(log_q, flow.log_prob(x), rtol=0, atol=1e-10)
    x2, _ = flow.sample(500, generator=torch.Generator().manual_seed(7))
    assert torch.equal(x, x2)
    log_q.mean().backward()  # reverse-KL training differentiates through the samples
    assert flow.layers[0].net[0].weight.grad is not None


def test_standard_normal_base():
    base = flows.StandardNormal(3).double()  # the dtype follows the module
    z = base.sample(4, generator=torch.Generator().manual_seed(0))
    assert z.shape == (4, 3) and z.dtype == torch.float64
    ref = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    torch.testing.assert_close(base.log_prob(z), ref)
    assert math.isclose(
        base.log_prob(torch.zeros(1, 3, dtype=torch.float64)).item(),
        -1.5 * math.log(2 * math.pi),
        rel_tol=1e-12,
    )


def test_custom_conditioner():
    """A conditioner of your own (here a linear map) is used as given."""
    mask = torch.tensor([1.0, 0.0])
    net = nn.Linear(2, 4).double()
    with torch.no_grad():
        net.weight.zero_()
        net.bias.copy_(torch.tensor([0.0, 0.5, 0.0, 3.0]))  # raw = (0, 0.5), t = (0, 3)
    layer = flows.AffineCoupling(mask, net=net).double()
    y, ld = layer(torch.tensor([[1.0, 2.0]], dtype=torch.float64))
    s = 2.0 * math.tanh(0.5 / 2.0)
    torch.testing.assert_close(y, torch.tensor([[1.0, 2.0 * math.exp(s) + 3.0]], dtype=torch.float64))
    assert math.isclose(ld.item(), s)


# --------------------------------------------------------------------------- bad input


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match=r"shape \(D,\)"):
        flows.AffineCoupling(torch.ones(2, 2))
    with pytest.raises(ValueError, match="only 0 and 1"):
        flows.AffineCoupling(torch.tensor([1.0, 0.5]))
    with pytest.raises(ValueError, match="s_max"):
        flows.AffineCoupling(torch.tensor([1.0, 0.0]), s_max=0.0)
    layer = flows.AffineCoupling(torch.tensor([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match=r"shape \(B, 3\)"):
        layer(torch.zeros(5, 2))
    with pytest.raises(ValueError, match="same dimension"):
        flows.Flow([layer, flows.AffineCoupling(torch.tensor([1.0, 0.0]))])
    with pytest.raises(ValueError, match="base has dimension 2"):
        flows.Flow([layer], flows.StandardNormal(2))
    flow = flows.Flow([layer])
    with pytest.raises(ValueError, match=r"shape \(B, 3\)"):
        flow.log_prob(torch.zeros(5, 4))
    with pytest.raises(ValueError, match="conditioner must map"):
        flows.AffineCoupling(torch.tensor([1.0, 0.0]), net=nn.Linear(2, 3))(torch.zeros(1, 2))
    with pytest.raises(ValueError, match="L must be an integer"):
        flows.checkerboard_masks(1, 2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_the_gpu():
    flow = _random_flow(flows.checkerboard_masks(4, 4), seed=0).cuda()
    x, log_q = flow.sample(64, generator=torch.Generator(device="cuda").manual_seed(0))
    assert x.device.type == "cuda"
    torch.testing.assert_close(log_q, flow.log_prob(x))
