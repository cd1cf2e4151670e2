"""Convolutional kernel networks as ``nn.Module`` s: one layer (:class:`CKNLayer`), a stack of them
(:class:`CKN`) whose every layer output can be probed, and layer-wise unsupervised anchors (:func:`fit_anchors`).

**Pooling scale.**  Each layer pools with a Gaussian of standard deviation ``pool_sigma`` pixels (of the layer's
input grid) and keeps every ``subsampling``-th pixel.  By default ``pool_sigma = subsampling / sqrt(2)``: the
pooling weights are ``exp(-beta ||u - u'||^2)`` (Mairal 2016, section 3) with ``beta = 1 / s^2``, as in the
CKN-Pytorch-image code of Chen, Jacob and Mairal (``gaussian_filter_1d(2s + 1, s / sqrt(2))``).  This Gaussian
low-passes the signal before subsampling by ``s`` (its spectrum at the new
Nyquist frequency ``pi / s`` is ``exp(-pi^2 / 4) ~ 0.085``) -- the anti-aliasing that Bietti and Mairal's
stability analysis needs, ``sigma_k`` proportional to ``s_k``.  A layer without subsampling does not pool by
default (``pool_sigma = 0``); any ``pool_sigma >= 0`` may be given, so the scale ``sigma_n`` of the bound
``||Phi(L_tau x) - Phi(x)|| <= (C1 (1 + n) ||grad tau|| + C2 ||tau|| / sigma_n) ||x||`` can be swept.  Our window
is truncated at ``3 sigma`` (that code truncates at ``sqrt(2) sigma``) so that a wide pooling stays
Gaussian.

**Anchors** are stored as a ``(p, C k^2)`` parameter and used through their direction ``z / ||z||`` (the layer
normalises them at every use), so any value of the parameter is a valid set of points on the sphere and end-to-end
training needs no constraint; :func:`~defstab_lib.kernels.training.train_end_to_end` also re-normalises the stored
values after each step so that their scale, and with it the effective step size, does not drift.  By default they
do not require gradients (an unsupervised CKN).

**The Nystrom matrix** ``kappa(Z Z^T)^(-1/2)`` is computed in float64 (see
:func:`~defstab_lib.kernels.functional.inverse_sqrt_psd`) and cached until the anchors, ``alpha`` or ``ridge``
change, or the input's device or dtype differs; it is recomputed at every call only while gradients flow to the
anchors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .. import _random
from .. import checks
from .anchors import sample_patches, spherical_kmeans
from .functional import PADDINGS, gaussian_pool, kernel_map, nystrom_matrix, normalize_rows

__all__ = ["CKNLayer", "CKN", "fit_anchors", "default_pool_sigma"]


def default_pool_sigma(subsampling: int) -> float:
    """``subsampling / sqrt(2)`` when ``subsampling > 1``, else 0 (no pooling): see the module docstring.

    >>> round(default_pool_sigma(2), 4), default_pool_sigma(1)
    (1.4142, 0.0)
    """
    s = checks.positive_int("subsampling", subsampling)
    return s / math.sqrt(2.0) if s > 1 else 0.0


class CKNLayer(nn.Module):
    """One convolutional kernel network layer: patches, kernel map, Nystrom projection, Gaussian pooling.

    Args:
        in_channels: ``C`` of the input.
        n_anchors: ``p``, the number of anchors = output channels.
        patch_size: ``k`` (odd for ``padding="same"``).
        subsampling: stride of the pooling, ``>= 1``.
        pool_sigma: std of the Gaussian pooling in input pixels, ``>= 0``; ``None`` for
            :func:`default_pool_sigma`.
        alpha: the kernel ``kappa(t) = exp(alpha (t - 1))``, ``> 0`` (``alpha = 1 / sigma^2`` for a Gaussian
            kernel of bandwidth ``sigma`` on the sphere; 4 is ``sigma = 0.5``, the default of CKN-Pytorch-image).
        ridge: added to the eigenvalues of ``kappa(Z Z^T)`` (unit diagonal), ``>= 0``.
        padding: ``"same"`` (one patch per pixel, zero padding) or ``"valid"``.
        generator: draws the initial anchors (Gaussian directions); ``None`` means a fresh OS-seeded generator
            (``defstab_lib._random``): construction never reads the global random state.

    Input ``(B, C, H, W)``; output ``(B, p, H2, W2)`` with ``H2 = ceil(H' / subsampling)`` where ``H' = H`` for
    ``"same"`` and ``H - k + 1`` for ``"valid"``.  The output is positively homogeneous of degree 1 in the input.

    >>> layer = CKNLayer(1, 8, patch_size=3, subsampling=2)
    >>> layer(torch.rand(2, 1, 9, 9)).shape
    torch.Size([2, 8, 5, 5])
    """

    def __init__(self, in_channels: int, n_anchors: int, patch_size: int = 3, subsampling: int = 1,
                 pool_sigma: float | None = None, *, alpha: float = 4.0, ridge: float = 1e-3,
                 padding: str = "same", generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.in_channels = checks.positive_int("in_channels", in_channels)
        self.n_anchors = checks.positive_int("n_anchors", n_anchors)
        self.patch_size = checks.positive_int("patch_size", patch_size)
        self.padding = checks.choice("padding", padding, PADDINGS)
        if padding == "same" and patch_size % 2 == 0:
            raise ValueError(f"patch_size must be odd with padding='same', got {patch_size!r}")
        self.subsampling = checks.positive_int("subsampling", subsampling)
        self.pool_sigma = (default_pool_sigma(subsampling) if pool_sigma is None
                           else checks.nonnegative_float("pool_sigma", pool_sigma))
        self.alpha = checks.nonnegative_float("alpha", alpha, strict=True)
        self.ridge = checks.nonnegative_float("ridge", ridge)
        generator = _random.check_generator(generator)
        init = torch.randn(n_anchors, in_channels * patch_size**2, generator=generator, device=generator.device)
        self.anchors = nn.Parameter(normalize_rows(init).cpu(), requires_grad=False)
        self._cache: tuple | None = None

    @property
    def patch_dim(self) -> int:
        """``C k^2``, the length of a flattened patch."""
        return self.in_channels * self.patch_size**2

    def unit_anchors(self) -> torch.Tensor:
        """The anchors' directions ``z / ||z||``, shape ``(p, C k^2)`` (what the layer uses)."""
        return normalize_rows(self.anchors)

    @torch.no_grad()
    def set_anchors(self, anchors: torch.Tensor) -> None:
        """Replace the anchors (stored normalised; shape ``(p, C k^2)``) and drop the cached Nystrom matrix."""
        checks.check_tensor("anchors", anchors, f"{self.n_anchors} {self.patch_dim}")
        if tuple(anchors.shape) != (self.n_anchors, self.patch_dim):
            raise ValueError(f"anchors must have shape ({self.n_anchors}, {self.patch_dim}), "
                             f"got {tuple(anchors.shape)}")
        self.anchors.copy_(normalize_rows(anchors.to(self.anchors)))
        self._cache = None

    def nystrom_matrix(self, like: torch.Tensor | None = None) -> torch.Tensor:
        """``kappa(Z Z^T)^(-1/2)``, shape ``(p, p)``, on the device and in the dtype of ``like`` (default: the
        anchors'); cached while no gradient flows to the anchors and they, ``alpha`` and ``ridge`` are unchanged.
        """
        like = self.anchors if like is None else like
        z = self.unit_anchors().to(device=like.device, dtype=like.dtype)
        if torch.is_grad_enabled() and self.anchors.requires_grad:
            return nystrom_matrix(z, self.alpha, self.ridge)
        key = (self.alpha, self.ridge, like.device, like.dtype, self.anchors.device, self.anchors.dtype)
        if self._cache is not None:
            cached_key, cached_anchors, matrix = self._cache
            if cached_key == key and torch.equal(cached_anchors, self.anchors.detach()):
                return matrix
        with torch.no_grad():
            matrix = nystrom_matrix(z.detach(), self.alpha, self.ridge)
        self._cache = (key, self.anchors.detach().clone(), matrix)
        return matrix

    def _check_input(self, x: torch.Tensor) -> None:
        checks.check_tensor("x", x, f"B {self.in_channels} H W")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x must have {self.in_channels} channels, shape (B, {self.in_channels}, H, W); "
                             f"got shape {tuple(x.shape)}")

    def kernel_map(self, x: torch.Tensor) -> torch.Tensor:
        """``||x_u|| kappa(<z_j, x_u / ||x_u||>)`` before the Nystrom projection and pooling,
        ``(B, p, H', W')``."""
        self._check_input(x)
        z = self.unit_anchors().to(device=x.device, dtype=x.dtype)
        return kernel_map(x, z, self.patch_size, self.alpha, self.padding)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """The layer's linear Gaussian pooling with subsampling, ``(B, p, H', W') -> (B, p, H2, W2)``."""
        return gaussian_pool(x, self.pool_sigma, self.subsampling)

    def forward(self, x: torch.Tensor, *, return_prepool: bool = False):
        """The layer's output ``(B, p, H2, W2)``; with ``return_prepool=True`` the pair
        ``(pooled, before_pooling)`` where ``before_pooling`` is the projected map ``(B, p, H', W')``."""
        mapped = self.kernel_map(x)
        proj = self.nystrom_matrix(x)
        if return_prepool:
            prepool = torch.einsum("ij,bjhw->bihw", proj, mapped)
            return self.pool(prepool), prepool
        return torch.einsum("ij,bjhw->bihw", proj, self.pool(mapped))  # the two linear maps commute

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.n_anchors}, patch_size={self.patch_size}, subsampling={self.subsampling}, "
                f"pool_sigma={self.pool_sigma:.4g}, alpha={self.alpha:g}, ridge={self.ridge:g}, padding={self.padding!r}")


class CKN(nn.Module):
    """A multi-layer convolutional kernel network whose layer outputs can be probed.

    Layers are numbered as the per-layer sensitivity plots number them: 0 is the input, ``k >= 1`` is layer
    ``k``'s output after pooling (or before pooling, with ``forward_features(x, before_pooling=True)``).

    Args:
        in_channels: channels of the input image.
        channels: number of anchors of each layer, e.g. ``(32, 64)``; its length is the number of layers ``n``.
        patch_sizes, subsamplings, pool_sigmas, alphas: one value for every layer or a sequence of ``n``
            (see :class:`CKNLayer`; ``pool_sigmas=None`` means each layer's default).
        ridge, padding: shared by all layers.
        generator: draws all initial anchors (``None``: a fresh OS-seeded generator).

    >>> net = CKN(1, (8, 16), subsamplings=2)
    >>> [tuple(f.shape) for f in net.forward_features(torch.rand(1, 1, 12, 12))]
    [(1, 1, 12, 12), (1, 8, 6, 6), (1, 16, 3, 3)]
    >>> [round(s, 3) for s in net.pooling_scales()]
    [1.414, 2.828]
    """

    def __init__(self, in_channels: int, channels: Sequence[int], *, patch_sizes: int | Sequence[int] = 3,
                 subsamplings: int | Sequence[int] = 2, pool_sigmas: float | None | Sequence[float | None] = None,
                 alphas: float | Sequence[float] = 4.0, ridge: float = 1e-3, padding: str = "same",
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence) or len(channels) == 0:
            raise ValueError(f"channels must be a non-empty sequence of ints (anchors per layer), got {channels!r}")
        n = len(channels)
        patch_sizes = checks.per_layer("patch_sizes", patch_sizes, n)
        subsamplings = checks.per_layer("subsamplings", subsamplings, n)
        pool_sigmas = checks.per_layer("pool_sigmas", pool_sigmas, n)
        alphas = checks.per_layer("alphas", alphas, n)
        generator = _random.check_generator(generator)
        layers, c = [], in_channels
        for p, k, s, sigma, a in zip(channels, patch_sizes, subsamplings, pool_sigmas, alphas):
            layers.append(CKNLayer(c, p, k, s, sigma, alpha=a, ridge=ridge, padding=padding, generator=generator))
            c = p
        self.layers = nn.ModuleList(layers)

    @property
    def out_channels(self) -> int:
        return self.layers[-1].n_anchors

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The last layer's output, ``(B, p_n, H_n, W_n)``."""
        for layer in self.layers:
            x = layer(x)
        return x

    def forward_features(self, x: torch.Tensor, *, before_pooling: bool = False) -> list[torch.Tensor]:
        """``[x, out_1, ..., out_n]``: the input and every layer's output, after pooling by default, or the
        projected maps before each layer's pooling when ``before_pooling`` (the next layer still reads the
        pooled output)."""
        feats = [x]
        for layer in self.layers:
            if before_pooling:
                x, pre = layer(x, return_prepool=True)
                feats.append(pre)
            else:
                x = layer(x)
                feats.append(x)
        return feats

    def pooling_scales(self) -> list[float]:
        """Each layer's pooling std measured in input pixels: ``sigma_k * s_1 ... s_(k-1)``.  The last entry is
        the scale ``sigma_n`` of Bietti and Mairal's bound (their pooling scales are in units of the input
        domain)."""
        scales, stride = [], 1
        for layer in self.layers:
            scales.append(layer.pool_sigma * stride)
            stride *= layer.subsampling
        return scales

    def requires_grad_anchors_(self, requires_grad: bool = True) -> CKN:
        """Let gradients flow to the anchors (end-to-end training) or stop them; returns ``self``."""
        for layer in self.layers:
            layer.anchors.requires_grad_(requires_grad)
        return self


@torch.no_grad()
def fit_anchors(net: CKN, images: torch.Tensor, *, n_patches: int = 10000, generator: torch.Generator,
                n_iter: int = 30, min_norm: float = 1e-3, batch_size: int = 256) -> CKN:
    """Learn every layer's anchors without labels, layer by layer (Mairal 2016): sample ``n_patches`` patches of
    the layer's input (the images pushed through the layers already fitted), run spherical k-means with as many
    clusters as the layer has anchors, and set them.  Returns ``net``, fitted in place.

    Args:
        net: the network to fit.
        images: ``(N, C, H, W)`` images, on the device where the work should be done.
        n_patches: patches sampled per layer (at least each layer's number of anchors).
        generator: the source of randomness of every draw (sampling and k-means initialisation).
        n_iter: k-means iterations per layer.
        min_norm: patches with norm ``<= min_norm`` are not sampled (see
            :func:`~defstab_lib.kernels.anchors.sample_patches`).
        batch_size: images pushed through a layer at a time.

    >>> g = torch.Generator().manual_seed(0)
    >>> net = fit_anchors(CKN(1, (4,)), torch.rand(4, 1, 8, 8), n_patches=50, generator=g)
    >>> torch.allclose(net.layers[0].anchors.norm(dim=1), torch.ones(4))
    True
    """
    checks.check_tensor("images", images, "N C H W")
    batch_size = checks.positive_int("batch_size", batch_size)
    x = images
    for i, layer in enumerate(net.layers):
        if n_patches < layer.n_anchors:
            raise ValueError(f"n_patches must be at least the {layer.n_anchors} anchors of layer {i + 1}, "
                             f"got {n_patches!r}")
        patches = sample_patches(x, layer.patch_size, n_patches, generator=generator, padding=layer.padding,
                                 min_norm=min_norm)
        layer.set_anchors(spherical_kmeans(patches, layer.n_anchors, generator=generator, n_iter=n_iter))
        if i + 1 < len(net.layers):
            x = torch.cat([layer(x[j:j + batch_size]) for j in range(0, x.shape[0], batch_size)])
    return net
