"""PyTorch and TensorFlow in one process, as lectures 02, 05 and 06 use them: TensorFlow through
``config.import_tensorflow()``, then a ``torch.optim`` optimiser (02's comparison; the Fréchet
scorer's classifier trains with one). On Python 3.13 this order crashed the process (a segmentation
fault in ``torch._dynamo``) until ``import_tensorflow`` imported it first. In a fresh process, as in
a student's kernel; CI runs it on both Pythons."""

from __future__ import annotations

import subprocess
import sys

CODE = """
from lib import config
tf, keras = config.import_tensorflow()
import torch
w = torch.zeros(3, requires_grad=True)
opt = torch.optim.SGD([w], lr=0.1, momentum=0.9)
w.grad = torch.ones(3)
opt.step()
assert torch.allclose(w, torch.full((3,), -0.1))
layer = keras.layers.Dense(2)
assert tuple(layer(tf.ones((1, 3))).shape) == (1, 2)
print("ok")
"""


def test_torch_optimiser_after_tensorflow() -> None:
    run = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, encoding="utf-8")
    assert run.returncode == 0 and run.stdout.strip() == "ok", (run.returncode, run.stderr[-3000:])
