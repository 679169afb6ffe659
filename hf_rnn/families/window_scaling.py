"""Per-window scaling for numeric forecasters of both families.

A forecaster sees windows of a series at very different levels (sunspots range from 0 to
~250): each window is shifted by the mean and divided by the standard deviation of its
observed values before the model reads it, and the forecast is mapped back. Training on the
scaled targets makes one loss fit every level of the series.
"""

from __future__ import annotations

import torch


def scale_windows(values: torch.Tensor, observed: torch.Tensor | None = None):
    """Standardise each window by its observed values.

    Args:
        values: ``[batch, time, features]`` on the series' own scale.
        observed: same shape, 1 where a value was observed, 0 where it is missing; ``None``:
            all observed.

    Returns:
        ``(scaled, observed, loc, scale)``: ``scaled`` ``[batch, time, features]`` with missing
        values at 0 (the window's mean), ``observed`` as a float mask of the same shape, and
        ``loc``, ``scale`` ``[batch, 1, features]`` (``scale`` at least 1e-5, so that a flat
        window does not divide by zero).
    """
    observed = torch.ones_like(values) if observed is None else observed.reshape(values.shape)
    observed = observed.to(values.dtype)
    count = observed.sum(dim=1, keepdim=True).clamp(min=1.0)
    loc = (values * observed).sum(dim=1, keepdim=True) / count
    variance = (((values - loc) * observed) ** 2).sum(dim=1, keepdim=True) / count
    scale = variance.sqrt().clamp(min=1e-5)
    return ((values - loc) / scale) * observed, observed, loc, scale
