"""Time spent inside networks, measured with hooks, to divide an operation's time by (its overhead ratio)."""

from __future__ import annotations

import time

import torch


class NetworkTime:
    """Seconds spent inside the given networks' forward passes and, for outputs that need gradients, their backward
    passes (from the gradient reaching the output to the last parameter gradient accumulated)."""

    def __init__(self, *nets: torch.nn.Module):
        self.forward = self.backward = 0.0
        self._t0 = self._bwd_begin = self._bwd_end = None
        self._handles = []
        for net in nets:
            self._handles += [net.register_forward_pre_hook(self._pre), net.register_forward_hook(self._post)]
            self._handles += [p.register_post_accumulate_grad_hook(self._grad_done) for p in net.parameters()
                              if p.requires_grad]

    def _pre(self, module, inputs):
        self._t0 = time.perf_counter()

    def _post(self, module, inputs, out):
        self.forward += time.perf_counter() - self._t0
        if out.requires_grad:
            out.register_hook(self._backward_starts)

    def _backward_starts(self, grad):
        self._flush()
        self._bwd_begin = time.perf_counter()

    def _grad_done(self, param):
        self._bwd_end = time.perf_counter()

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
