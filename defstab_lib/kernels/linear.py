"""A linear classifier on fixed features: how much of a dataset a representation makes linearly separable.

Multinomial logistic regression on standardised features (each feature centred and scaled by its mean and
standard deviation over the training images), with an L2 penalty ``l2 / 2 ||W||^2`` added to the mean
cross-entropy, minimised by full-batch L-BFGS (deterministic: no randomness, no mini-batches).  The penalty is
chosen among a few values on a held-out part of the training images (:func:`linear_probe`); the test images are
used once, for the accuracy reported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .. import _random
from .. import checks

__all__ = ["LinearClassifier", "train_linear_classifier", "LinearProbeResult", "linear_probe"]


@dataclasses.dataclass
class LinearClassifier:
    """``logits = ((features - mean) / scale) @ weight + bias``.

    Attributes:
        weight: ``(D, K)``; bias: ``(K,)``; mean, scale: ``(D,)`` the standardisation (unit of the features).
        l2: the penalty it was trained with.
        converged_loss: the training objective at the end.
    """

    weight: torch.Tensor
    bias: torch.Tensor
    mean: torch.Tensor
    scale: torch.Tensor
    l2: float
    converged_loss: float

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """``(N, K)`` logits of ``(N, D)`` features."""
        checks.check_tensor("features", features, f"N {self.weight.shape[0]}")
        if features.shape[1] != self.weight.shape[0]:
            raise ValueError(f"features must have {self.weight.shape[0]} columns, got shape {tuple(features.shape)}")
        x = (features.to(self.weight) - self.mean) / self.scale
        return x @ self.weight + self.bias

    def restandardised(self, mean: torch.Tensor, scale: torch.Tensor) -> LinearClassifier:
        """The same function of the raw features with another standardisation ``(mean, scale)``, each ``(D,)``:
        ``((f - m0) / s0) W0 + b0 == ((f - m) / s) (s / s0 W0) + (b0 + ((m - m0) / s0) W0)``.

        >>> clf = LinearClassifier(torch.ones(2, 3), torch.zeros(3), torch.zeros(2), torch.ones(2), 0.0, 0.0)
        >>> f = torch.rand(4, 2)
        >>> other = clf.restandardised(torch.tensor([0.5, -1.0]), torch.tensor([2.0, 0.1]))
        >>> torch.allclose(other.logits(f), clf.logits(f), atol=1e-5)
        True
        """
        mean, scale = mean.to(self.weight), scale.to(self.weight)
        weight = (scale / self.scale)[:, None] * self.weight
        bias = self.bias + ((mean - self.mean) / self.scale) @ self.weight
        return LinearClassifier(weight, bias, mean, scale, self.l2, self.converged_loss)

    def accuracy(self, features: torch.Tensor, labels: torch.Tensor) -> float:
        """Fraction of ``(N, D)`` features whose arg-max logit is their ``(N,)`` label."""
        _check_labels(labels, features.shape[0])
        with torch.no_grad():
            return float((self.logits(features).argmax(1) == labels.to(self.weight.device)).double().mean())


def _check_labels(labels: torch.Tensor, n: int) -> None:
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64 or labels.shape != (n,):
        raise ValueError(f"labels must be an int64 tensor of shape ({n},), got "
                         f"{getattr(labels, 'dtype', type(labels).__name__)} {tuple(getattr(labels, 'shape', ()))}")


def train_linear_classifier(features: torch.Tensor, labels: torch.Tensor, *, l2: float, n_classes: int | None = None,
                            max_iter: int = 100, init: LinearClassifier | None = None) -> LinearClassifier:
    """Multinomial logistic regression on standardised features, by full-batch L-BFGS (see the module doc).

    Args:
        features: ``(N, D)`` float features of the training images.
        labels: ``(N,)`` int64 classes in ``0 .. n_classes - 1``.
        l2: the penalty ``l2 / 2 ||W||^2`` (the bias is not penalised), ``>= 0``.
        n_classes: ``K`` (default: ``labels.max() + 1``).
        max_iter: L-BFGS iterations, ``>= 1``.
        init: start from this classifier's function (a warm start: its weights are re-expressed for this
            standardisation, so the starting logits are exactly its logits); default: all-zero weights.

    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(200, 2, generator=g); y = (x[:, 0] > 0).long()
    >>> clf = train_linear_classifier(x, y, l2=1e-3)
    >>> clf.accuracy(x, y) > 0.95
    True
    """
    checks.check_tensor("features", features, "N D")
    _check_labels(labels, features.shape[0])
    l2 = checks.nonnegative_float("l2", l2)
    max_iter = checks.positive_int("max_iter", max_iter)
    if features.shape[0] < 2:
        raise ValueError(f"features must hold at least 2 images, got {features.shape[0]}")
    k = int(labels.max()) + 1 if n_classes is None else checks.positive_int("n_classes", n_classes, minimum=2)
    if int(labels.min()) < 0 or int(labels.max()) >= k:
        raise ValueError(f"labels must lie in 0..{k - 1}, got {int(labels.min())}..{int(labels.max())}")
    x = features.detach().float()
    mean = x.mean(0)
    scale = x.std(0).clamp_min(1e-6 * float(x.std(0).max().clamp_min(1e-30)))  # constant features: no division by 0
    x = (x - mean) / scale
    y = labels.to(x.device)
    if init is None:
        weight, bias = torch.zeros(x.shape[1], k, device=x.device), torch.zeros(k, device=x.device)
    else:
        if tuple(init.weight.shape) != (x.shape[1], k):
            raise ValueError(f"init must have weights of shape ({x.shape[1]}, {k}), got {tuple(init.weight.shape)}")
        start = init.restandardised(mean, scale)
        weight, bias = start.weight.to(x), start.bias.to(x)
    weight, bias = weight.clone().requires_grad_(True), bias.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, history_size=20,
                                  line_search_fn="strong_wolfe", tolerance_grad=1e-6, tolerance_change=1e-10)

    def objective():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(x @ weight + bias, y) + 0.5 * l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(objective)
        final = float(objective().detach())
    return LinearClassifier(weight.detach(), bias.detach(), mean, scale, l2, final)


@dataclasses.dataclass
class LinearProbeResult:
    """A linear probe's outcome.

    Attributes:
        test_accuracy, train_accuracy: of the classifier trained on all training images with the chosen ``l2``.
        l2: the chosen penalty.
        validation_accuracy: ``{l2: accuracy}`` on the held-out training images, for every candidate.
        n_train, n_test, n_features: sizes.
    """

    test_accuracy: float
    train_accuracy: float
    l2: float
    validation_accuracy: dict[float, float]
    n_train: int
    n_test: int
    n_features: int

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["validation_accuracy"] = [[k, v] for k, v in self.validation_accuracy.items()]
        return d


def linear_probe(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                 test_labels: torch.Tensor, *, generator: torch.Generator | None = None,
                 l2_grid: Sequence[float] = (1e-4, 1e-3, 1e-2), validation_fraction: float = 0.2,
                 max_iter: int = 50) -> LinearProbeResult:
    """Test accuracy of a linear classifier on fixed features, its penalty chosen on held-out training images.

    A random ``validation_fraction`` of the training images (drawn with ``generator``) is held out; a classifier
    is trained on the rest for every ``l2`` in ``l2_grid`` (from the largest down, each fit warm-started from the
    previous one); the ``l2`` with the best held-out accuracy (the smallest on ties) is used to train on all
    training images (warm-started from its held-out fit), which is then tested.

    Args:
        train_features, test_features: ``(N, D)`` and ``(N', D)`` float features.
        train_labels, test_labels: ``(N,)`` and ``(N',)`` int64 classes.
        generator: draws the held-out split (``None``: a fresh OS-seeded generator).
        l2_grid: candidate penalties, each ``>= 0``.
        validation_fraction: in ``(0, 1)``.
        max_iter: L-BFGS iterations per fit.

    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(300, 3, generator=g); y = (x[:, 1] > 0).long()
    >>> r = linear_probe(x[:200], y[:200], x[200:], y[200:], generator=g)
    >>> r.test_accuracy > 0.9, r.n_train, r.n_features
    (True, 200, 3)
    """
    checks.check_tensor("train_features", train_features, "N D")
    checks.check_tensor("test_features", test_features, f"N' {train_features.shape[1]}")
    if test_features.shape[1] != train_features.shape[1]:
        raise ValueError(f"test_features must have the {train_features.shape[1]} columns of train_features, "
                         f"got shape {tuple(test_features.shape)}")
    _check_labels(train_labels, train_features.shape[0])
    _check_labels(test_labels, test_features.shape[0])
    grid = sorted(checks.nonnegative_float("l2_grid", v) for v in l2_grid)
    if not grid:
        raise ValueError("l2_grid must hold at least one penalty")
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction!r}")
    n = train_features.shape[0]
    n_val = int(round(validation_fraction * n))
    if n_val < 1 or n - n_val < 2:
        raise ValueError(f"{n} training images are too few for a held-out fraction of {validation_fraction}")
    generator = _random.check_generator(generator)
    k = int(max(train_labels.max(), test_labels.max())) + 1
    order = torch.randperm(n, generator=generator, device=generator.device).to(train_features.device)
    val, fit = order[:n_val], order[n_val:]
    scores, fitted, previous = {}, {}, None
    for l2 in reversed(grid):
        previous = train_linear_classifier(train_features[fit], train_labels[fit], l2=l2, n_classes=k,
                                           max_iter=max_iter, init=previous)
        fitted[l2] = previous
        scores[l2] = previous.accuracy(train_features[val], train_labels[val])
    scores = {l2: scores[l2] for l2 in grid}
    best = max(grid, key=lambda v: (scores[v], -v))
    clf = train_linear_classifier(train_features, train_labels, l2=best, n_classes=k, max_iter=max_iter,
                                  init=fitted[best])
    return LinearProbeResult(
        test_accuracy=clf.accuracy(test_features, test_labels), train_accuracy=clf.accuracy(train_features, train_labels),
        l2=best, validation_accuracy=scores, n_train=n, n_test=test_features.shape[0],
        n_features=train_features.shape[1],
    )
