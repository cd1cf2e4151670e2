"""A scattering-transform baseline (Mallat 2012; kymatio's ``Scattering2D``) with the CKN's probing interface.

kymatio 0.3.0's ``import kymatio.torch`` fails with scipy >= 1.17 (``scipy.special.sph_harm`` was removed and
its 3-D front end imports it), but the 2-D front end does not need it: we import
``kymatio.scattering2d.frontend.torch_frontend.ScatteringTorch2D`` directly, and only when a :class:`Scattering`
is built, so ``defstab_lib.kernels`` imports without kymatio.  kymatio is the optional dependency
``defstab-lib[kernels]``.

The "layers" of a scattering network, for per-layer plots, are its orders: 0 is the input, 1 the order-0
coefficients ``x * phi_J``, 2 the order-1 coefficients ``|x * psi_(j, theta)| * phi_J`` and 3 the order-2
coefficients ``||x * psi_1| * psi_2| * phi_J``, each a ``(B, C K_m, H / 2^J, W / 2^J)`` map.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import checks

__all__ = ["Scattering", "import_scattering2d"]

_HINT = "install it with `pip install 'defstab-lib[kernels]'` (or `pip install kymatio`)"


def import_scattering2d():
    """kymatio's torch ``ScatteringTorch2D`` class, imported without ``kymatio.torch`` (see the module doc).

    Raises:
        ImportError: kymatio is not installed, or its 2-D torch front end cannot be imported; the message says
            how to install it.
    """
    try:
        from kymatio.scattering2d.frontend.torch_frontend import ScatteringTorch2D  # optional dependency: the kernels extra
    except ImportError as err:
        raise ImportError(f"the scattering baseline needs kymatio's 2-D torch front end ({err}); {_HINT}") from err
    return ScatteringTorch2D


class Scattering(nn.Module):
    """A 2-D scattering transform of ``(B, C, H, W)`` images, probed order by order.

    Args:
        shape: ``(H, W)`` of the images, each at least ``2^J``.
        J: number of octaves; the coefficients are averaged at scale ``2^J`` pixels and subsampled by ``2^J``.
        L: orientations per octave.
        max_order: 1 or 2.

    ``forward(x)`` concatenates all orders, ``(B, C K, H / 2^J, W / 2^J)`` with
    ``K = 1 + J L + L^2 J (J - 1) / 2`` (for ``max_order = 2``), channel ``c`` of the input giving the channels
    ``c K ... (c + 1) K - 1``.  Device and dtype (float32 or float64) follow the input.

    >>> s = Scattering((16, 16), J=2, L=4)
    >>> [tuple(f.shape) for f in s.forward_features(torch.rand(2, 1, 16, 16))]
    [(2, 1, 16, 16), (2, 1, 4, 4), (2, 8, 4, 4), (2, 16, 4, 4)]
    """

    def __init__(self, shape: tuple[int, int], J: int = 2, L: int = 8, max_order: int = 2) -> None:
        super().__init__()
        if not (isinstance(shape, (tuple, list)) and len(shape) == 2):
            raise ValueError(f"shape must be (H, W), got {shape!r}")
        h, w = (checks.positive_int("shape", v) for v in shape)
        self.J = checks.positive_int("J", J)
        self.L = checks.positive_int("L", L)
        self.max_order = checks.choice("max_order", max_order, (1, 2))
        if 2**J > min(h, w):
            raise ValueError(f"J must satisfy 2**J <= min(H, W) = {min(h, w)} for shape {tuple(shape)}, got J={J}")
        self.shape = (h, w)
        self.transform = import_scattering2d()(J=J, shape=(h, w), L=L, max_order=max_order)

    def order_sizes(self) -> list[int]:
        """Coefficients per input channel of each order: ``[1, J L]`` or ``[1, J L, L^2 J (J - 1) / 2]``."""
        sizes = [1, self.J * self.L]
        if self.max_order == 2:
            sizes.append(self.L**2 * self.J * (self.J - 1) // 2)
        return sizes

    def _coefficients(self, x: torch.Tensor) -> torch.Tensor:
        checks.check_tensor("x", x, f"B C {self.shape[0]} {self.shape[1]}")
        if tuple(x.shape[-2:]) != self.shape:
            raise ValueError(f"x must have spatial shape {self.shape}, got shape {tuple(x.shape)}")
        checks.choice("x.dtype", x.dtype, (torch.float32, torch.float64))
        buffer = next(self.transform.buffers())
        if buffer.device != x.device or buffer.dtype != x.dtype:
            self.transform.to(device=x.device, dtype=x.dtype)
        return self.transform(x.contiguous())  # (B, C, K, H', W')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """All scattering coefficients, ``(B, C K, H / 2^J, W / 2^J)``."""
        s = self._coefficients(x)
        return s.flatten(1, 2)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``[x, order 0, order 1, order 2]`` (the last only for ``max_order = 2``), each order
        ``(B, C K_m, H / 2^J, W / 2^J)``."""
        s = self._coefficients(x)
        feats, start = [x], 0
        for size in self.order_sizes():
            feats.append(s[:, :, start:start + size].flatten(1, 2))
            start += size
        return feats

    def extra_repr(self) -> str:
        return f"shape={self.shape}, J={self.J}, L={self.L}, max_order={self.max_order}"
