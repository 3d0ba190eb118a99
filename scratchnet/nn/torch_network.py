"""``TorchNeuralNetwork``: the same network in real PyTorch.

It is built from ``torch.nn.Linear`` layers and torch's activation modules,
trained with ``torch.optim.SGD`` and the loss functions of
``torch.nn.functional``: the model a PyTorch user would write. What makes it
the NumPy network's twin is shared: the constructor, the argument checks, the
batch order and the history (``scratchnet.nn.base``), and the initial weights
(``scratchnet.nn.init``), copied in through the one transpose in
``_linear_from_numpy``/``_numpy_from_linear``.

torch is optional: importing this module never fails, ``is_torch_available()``
says whether torch can be used, and constructing ``TorchNeuralNetwork``
without torch raises ImportError saying how to install it.
"""
from __future__ import annotations

import copy

import numpy as np

from .activations import get_activation
from .base import BaseNetwork
from .losses import get_loss
from .validation import check_features, check_labels

try:  # torch is an optional dependency
    import torch
    import torch.nn.functional as F
    from torch import nn
except Exception:  # ImportError, or a broken installation
    torch = None

#: How to install the torch these figures were measured with: its CPU-only build (PyPI's
#: Linux wheel of the same version is the CUDA build, several GB).
INSTALL_HINT = ('pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu '
                '(the CPU-only build; see the README)')


def is_torch_available():
    """True when torch imports; never raises."""
    return torch is not None


def reference_class():
    """What a user's class is compared with: ``TorchNeuralNetwork``, or, where torch is not
    installed, scratchnet's ``NeuralNetwork`` (equal to it to float64 round-off, as the
    parity suite shows)."""
    if is_torch_available():
        return TorchNeuralNetwork
    from .network import NeuralNetwork
    return NeuralNetwork


def _activation_module(name):
    activation = get_activation(name)
    return getattr(nn, activation.torch_module)(**activation.torch_kwargs)


# The one place the layouts meet: NumPy keeps W as (fan_in, fan_out),
# nn.Linear.weight is (fan_out, fan_in), so each crossing is one transpose.
def _linear_from_numpy(linear, W, b):
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))  # (out, in)
        linear.bias.copy_(torch.from_numpy(np.ascontiguousarray(b)))  # (out,)


def _numpy_from_linear(linear):
    W = linear.weight.detach().cpu().numpy().T  # (in, out)
    b = linear.bias.detach().cpu().numpy()  # (out,)
    return W, b


class TorchNeuralNetwork(BaseNetwork):
    """The NumPy ``NeuralNetwork``'s API on a ``torch.nn`` model.

    ``device`` is ``"cpu"`` or ``"cuda"`` (where ``torch.cuda.is_available()``).
    """

    framework = "pytorch"

    def __init__(self, layer_sizes, activations, precision_config=None, seed=42, loss="mse",
                 device="cpu"):
        if not is_torch_available():
            raise ImportError(f"TorchNeuralNetwork needs PyTorch, which is not installed: "
                              f"{INSTALL_HINT}")
        self.device = self._check_device(device)
        super().__init__(layer_sizes, activations, precision_config, seed, loss)
        self._build_module()
        self._set_params(self._initial_params())

    @staticmethod
    def _check_device(device):
        try:
            checked = torch.device(device) if isinstance(device, (str, torch.device)) else None
        except (RuntimeError, TypeError):
            checked = None
        if checked is None or checked.type not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda' (or 'cuda:N'), got {device!r}")
        if checked.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was asked for but torch.cuda.is_available() is "
                             f"False (torch {torch.__version__}); use device='cpu'")
        return checked

    def _build_module(self):
        layers = []
        for i, (fan_in, fan_out) in enumerate(zip(self.layer_sizes[:-1], self.layer_sizes[1:])):
            layers.append(nn.Linear(fan_in, fan_out))
            if i < len(self.activations) - 1:
                layers.append(_activation_module(self.activations[i]))
        # body(x) gives the logits; output_activation turns them into outputs.
        self._body = nn.Sequential(*layers)
        self._output_activation = _activation_module(self.activations[-1])
        self._module = nn.Sequential(self._body, self._output_activation)
        self._module.to(device=self.device, dtype=getattr(torch, self.train_dtype))
        self._linears = [layer for layer in self._body if isinstance(layer, nn.Linear)]

    @property
    def module(self):
        """The underlying ``torch.nn.Sequential`` (body of Linear layers, then the output activation)."""
        return self._module

    def _set_params(self, params):
        for linear, (W, b) in zip(self._linears, params):
            _linear_from_numpy(linear, np.asarray(W, dtype=self.train_dtype),
                               np.asarray(b, dtype=self.train_dtype))
        self._cast_cache = {}

    def _get_params(self):
        return [_numpy_from_linear(linear) for linear in self._linears]

    def _tensors(self, X, labels):
        """X (N, D), labels (N,) and the loss's targets (labels, or one-hot (N, K) for MSE)."""
        X_t = torch.from_numpy(np.ascontiguousarray(X)).to(self.device)  # (N, D)
        labels_t = torch.from_numpy(labels).to(self.device)  # (N,)
        targets = labels_t
        if not get_loss(self.loss).on_logits:  # a loss on the outputs takes one-hot targets
            targets = F.one_hot(labels_t, self.layer_sizes[-1]).to(X_t.dtype)  # (N, K)
        return X_t, labels_t, targets

    def _prepare_training_data(self, X, labels):
        self._optimizer = None  # built on the first step with this fit's alpha
        self._cast_cache = {}
        return self._tensors(X, labels)

    def _batch_loss(self, xb, targets):
        """Outputs (B, K) and the loss tensor from torch.nn.functional."""
        lap = self._lap
        logits = self._body(xb) if lap is None else self._lapped_body(self._body, xb, lap)  # (B, K)
        outputs = self._output_activation(logits)  # (B, K)
        if lap:
            lap(len(self._linears), "forward: activation")
        loss = get_loss(self.loss)
        return outputs, getattr(F, loss.torch_function)(logits if loss.on_logits else outputs,
                                                        targets)

    def _lapped_body(self, body, x, lap):
        """``body(x)`` one module at a time, a lap after each; and a hook on each
        module's output, which autograd calls when the gradient for that output is ready,
        so the backward pass is lapped too: before the hook on a Linear's output ran the
        activation derivative above it (or the output gradient), before the hook on an
        activation's output the Linear above it (its dX, dW and db: one autograd node)."""
        n_layers = len(self._linears)
        layer = 0
        for module in body:
            x = module(x)
            if isinstance(module, nn.Linear):
                layer += 1
                lap(layer, "forward: linear")
                part = ((layer, "backward: activation derivative") if layer < n_layers
                        else (None, "output gradient"))
            else:
                lap(layer, "forward: activation")
                part = (layer + 1, "backward: linear")
            if x.requires_grad:
                x.register_hook(lambda grad, part=part: lap(*part))
        return x

    def _loss_and_gradients(self, X, y):
        """The loss on (X, y) and torch autograd's gradient for every layer; weights unchanged.

        Returns (loss, [(dW (fan_in, fan_out), db (fan_out,)), ...]) as NumPy arrays.
        """
        X = check_features(X, self.layer_sizes[0], dtype=self.train_dtype)
        labels = check_labels(y, X.shape[0], self.layer_sizes[-1])
        X_t, _, targets = self._tensors(X.astype(self.train_dtype, copy=False), labels)
        self._module.zero_grad(set_to_none=True)
        _, loss = self._batch_loss(X_t, targets)
        loss.backward()
        grads = [(linear.weight.grad.cpu().numpy().T.copy(), linear.bias.grad.cpu().numpy().copy())
                 for linear in self._linears]  # the transpose: (out, in) -> (in, out)
        self._module.zero_grad(set_to_none=True)
        return loss.item(), grads

    def _epoch_data(self, data, order):
        return data, torch.from_numpy(order).to(self.device)

    def _train_step(self, epoch_data, start, stop, alpha):
        (X_t, labels_t, targets), order = epoch_data
        if self._optimizer is None:
            self._optimizer = torch.optim.SGD(self._module.parameters(), lr=alpha)
        elif self._optimizer.param_groups[0]["lr"] != alpha:  # a convention's last partial batch
            self._optimizer.param_groups[0]["lr"] = alpha
        lap = self._lap  # None unless a breakdown times the parts (scratchnet.harness.breakdown)
        index = order[start:stop]  # the batch is gathered by indexing, as a DataLoader would
        xb, tb = X_t[index], targets[index]
        if lap:
            lap(None, "batch")
        outputs, loss = self._batch_loss(xb, tb)
        loss_value = loss.item()
        if not np.isfinite(loss_value):
            return loss_value, 0
        n_correct = int((outputs.argmax(dim=1) == labels_t[index]).sum().item())
        if lap:
            lap(None, "loss")
        self._optimizer.zero_grad(set_to_none=True)
        if lap:
            lap(None, "update")
        loss.backward()
        if lap:
            lap(1, "backward: linear")  # the first layer's, after the last hook
        self._optimizer.step()
        if lap:
            lap(None, "update")
        return loss_value, n_correct

    def _module_in(self, dtype):
        if dtype == self.train_dtype:
            return self._module
        if dtype not in self._cast_cache:
            # Module.to(dtype) converts in place: cast a copy, keep the training weights.
            self._cast_cache[dtype] = copy.deepcopy(self._module).to(dtype=getattr(torch, dtype))
        return self._cast_cache[dtype]

    def _logits_and_outputs(self, X, dtype, logits=True):
        module = self._module_in(dtype)
        body, output_activation = module[0], module[1]
        lap = self._lap  # None unless a breakdown times the parts (scratchnet.harness.breakdown)
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(X)).to(self.device, getattr(torch, dtype))
            if lap:
                lap(None, "input")
            z = body(x) if lap is None else self._lapped_body(body, x, lap)  # (N, K)
            outputs = output_activation(z)  # (N, K)
            if lap:
                lap(len(self._linears), "forward: activation")
            result = z.cpu().numpy() if logits else None, outputs.cpu().numpy()
            if lap:
                lap(None, "output")
            return result

    def _loss_value(self, logits, outputs, labels):
        labels_t = torch.from_numpy(labels)
        loss = get_loss(self.loss)
        if loss.on_logits:
            inputs, targets = torch.from_numpy(logits).double(), labels_t
        else:
            inputs = torch.from_numpy(outputs).double()
            targets = F.one_hot(labels_t, self.layer_sizes[-1]).double()
        return float(getattr(F, loss.torch_function)(inputs, targets))
