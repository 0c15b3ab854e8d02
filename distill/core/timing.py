"""Time spent inside networks, measured with hooks, to divide an operation's time by (its overhead ratio). On a GPU
every timer reading waits for the kernels queued so far (CUDA runs them asynchronously: without it a timer reads when
the work was queued, not when it was done)."""

from __future__ import annotations

import functools
import time

import torch


def synced(fn, device: torch.device | str):
    """`fn` returning only once the work it queued on `device` is done: what a wall-clock timer of it must time."""
    if torch.device(device).type != "cuda":
        return fn

    @functools.wraps(fn)
    def run(*args, **kwargs):
        out = fn(*args, **kwargs)
        torch.cuda.synchronize(device)
        return out

    return run


class NetworkTime:
    """Seconds spent inside the given networks' forward passes and, for outputs that need gradients, their backward
    passes (from the gradient reaching the output to the last parameter gradient accumulated). With `sync` (networks
    on a GPU) each reading first waits for the queued kernels."""

    def __init__(self, *nets: torch.nn.Module, sync: bool = False):
        self.forward = self.backward = 0.0
        self._sync = sync
        self._t0 = self._bwd_begin = self._bwd_end = None
        self._handles = []
        for net in nets:
            self._handles += [net.register_forward_pre_hook(self._pre), net.register_forward_hook(self._post)]
            self._handles += [p.register_post_accumulate_grad_hook(self._grad_done) for p in net.parameters()
                              if p.requires_grad]

    def _clock(self) -> float:
        if self._sync:  # a wait at every hook: on a GPU the networks' time includes these waits (a ratio's floor)
            torch.cuda.synchronize()
        return time.perf_counter()

    def _pre(self, module, inputs):
        self._t0 = self._clock()

    def _post(self, module, inputs, out):
        self.forward += self._clock() - self._t0
        for tensor in out if isinstance(out, (tuple, list)) else (out,):  # a tensor, or a tuple (feature extractors)
            if isinstance(tensor, torch.Tensor) and tensor.requires_grad:
                tensor.register_hook(self._backward_starts)
                break

    def _backward_starts(self, grad):
        self._flush()
        self._bwd_begin = self._clock()

    def _grad_done(self, param):
        self._bwd_end = self._clock()

    def _flush(self):
        if self._bwd_begin is not None and self._bwd_end is not None:
            self.backward += self._bwd_end - self._bwd_begin
        self._bwd_begin = self._bwd_end = None

    @property
    def seconds(self) -> float:
        self._flush()
        return self.forward + self.backward

    def close(self):
        """Remove the hooks (and count a backward pass still pending)."""
        self._flush()
        for h in self._handles:
            h.remove()


REFERENCE_LAYERS = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear)


def reference_kernel(net: torch.nn.Module, *inputs, backward: bool = False, **kwargs):
    """A conv/matmul microbenchmark of `net`'s own shapes: its convolution and linear layers alone, replayed on the
    inputs they received in one forward pass of `net(*inputs, **kwargs)` (same shapes, dtypes and device); with
    `backward`, each layer's backward pass too (the gradients of its input and parameters), as a training step runs it.

    Returns a function that runs them once. Its time measures the machine rather than the code, so an operation's
    time divided by it (in the same run) moves little between CPUs: a slower CPU does not read as a regression."""
    calls = []
    handles = [m.register_forward_hook(lambda m, args, out: calls.append((m, args[0].detach().clone())))
               for m in net.modules() if isinstance(m, REFERENCE_LAYERS)]
    try:
        with torch.no_grad():
            net(*inputs, **kwargs)
    finally:
        for h in handles:
            h.remove()
    if not calls:
        raise ValueError(f"{type(net).__name__} has no convolution or linear layer to make a reference kernel of")

    def forward() -> None:
        with torch.no_grad():
            for module, x in calls:
                module.forward(x)  # the layer's own op (forward, not __call__: no hooks)

    def forward_backward() -> None:
        for module, x in calls:
            # detached leaves: the gradients are returned, never accumulated into the network's parameters
            params = {n: p.detach().requires_grad_() for n, p in module.named_parameters(recurse=False)}
            x = x.requires_grad_()
            out = torch.func.functional_call(module, params, (x,))
            torch.autograd.grad(out, [x, *params.values()], torch.ones_like(out))

    return forward_backward if backward else forward
