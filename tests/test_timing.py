"""NetworkTime (the denominator of the benchmarks' overhead ratios) counts the time inside a network's forward and
backward passes and nothing else."""

from __future__ import annotations

import time

import torch
from torch import nn

from distill.core.timing import NetworkTime

FORWARD_S, BACKWARD_S, OUTSIDE_S = 0.03, 0.05, 0.04


class SlowBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, grad):
        time.sleep(BACKWARD_S)
        return grad


class SlowNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))

    def forward(self, x):
        time.sleep(FORWARD_S)
        return SlowBackward.apply(x * self.w)


def test_counts_forward_and_backward_not_the_work_around_them():
    net, x = SlowNet(), torch.ones(3)
    timer = NetworkTime(net)
    with torch.no_grad():
        net(x)
    time.sleep(OUTSIDE_S)  # outside the network: not counted
    loss = net(x).sum() * 2.0
    time.sleep(OUTSIDE_S)
    loss.backward()
    timer.close()
    assert 2 * FORWARD_S <= timer.forward < 2 * FORWARD_S + 0.03
    assert BACKWARD_S <= timer.backward < BACKWARD_S + 0.03
    net(x)  # hooks removed by close(): no longer counted
    assert timer.forward < 2 * FORWARD_S + 0.03
