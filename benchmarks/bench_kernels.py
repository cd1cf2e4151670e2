"""Convolutional kernel networks: how well the Nystrom features approximate the kernel, and what the cache buys.

Run from the repository root: ``python benchmarks/bench_kernels.py``.  Prints three tables:

1. the relative Frobenius error ``||Psi Psi^T - K||_F / ||K||_F`` of the Nystrom features on 1000 held-out
   Fashion-MNIST patches against the number of anchors, for spherical k-means anchors and for as many random
   patches, at layer 1 (3x3 pixel patches) and layer 2 (3x3 patches of a 32-anchor layer-1 output); on the raw
   patches (the homogeneous kernel) and on unit patches (the kernel ``kappa`` on the sphere alone);
2. the time of a CKN forward pass with the cached Nystrom matrices against recomputing them every call;
3. float32 against float64 outputs.
"""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np
import torch

from defstab_lib import kernels as K

FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def fashion_images(n: int) -> torch.Tensor:
    # TODO(after merging main): defstab_lib.data.load_dataset("fashion-mnist").float_images(range(n))
    with gzip.open(FASHION) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:n]
    return torch.from_numpy(x.astype(np.float32) / 255)


def approximation_table(images: torch.Tensor, alpha: float, ridge: float) -> None:
    g = torch.Generator().manual_seed(0)
    layer1 = K.CKN(1, (32,), subsamplings=2, alphas=alpha, ridge=ridge)
    K.fit_anchors(layer1, images, n_patches=10000, generator=g)
    with torch.no_grad():
        maps = {"layer 1 (d=9)": images.double(), "layer 2 (d=288)": layer1(images).double()}
    sizes = (8, 16, 32, 64, 128, 256)
    print(f"\nkernel approximation error, alpha={alpha:g}, ridge={ridge:g} (1000 held-out patches)")
    print(f"{'patches':16s} {'anchors':22s} " + " ".join(f"p={p:<5d}" for p in sizes))
    for name, x in maps.items():
        patches = K.sample_patches(x, 3, 11000, generator=g)
        train, test = patches[:10000], patches[10000:]
        perm = torch.randperm(10000, generator=g)
        for unit in (False, True):
            held = K.normalize_rows(test) if unit else test
            for how in ("k-means", "random patches"):
                errs = []
                for p in sizes:
                    z = (K.spherical_kmeans(train, p, generator=g) if how == "k-means"
                         else K.normalize_rows(train[perm[:p]]))
                    errs.append(K.kernel_approximation_error(held, z, alpha, ridge))
                label = f"{how}{', unit' if unit else ''}"
                print(f"{name:16s} {label:22s} " + " ".join(f"{e:7.4f}" for e in errs))


def cache_table(images: torch.Tensor) -> None:
    g = torch.Generator().manual_seed(0)
    net = K.fit_anchors(K.CKN(1, (64, 256)), images[:256], n_patches=5000, generator=g)
    x = images[:64]

    def run(cached: bool, reps: int = 5) -> float:
        with torch.no_grad():
            net(x)
            start = time.perf_counter()
            for _ in range(reps):
                if not cached:
                    for layer in net.layers:
                        layer._cache = None
                net(x)
        return (time.perf_counter() - start) / reps

    uncached, cached = run(False), run(True)
    print("\nCKN (64, 256 anchors) forward on 64 images")
    print(f"{'Nystrom matrices':20s} {'ms / call':>10s} {'ratio':>7s}")
    print(f"{'recomputed':20s} {1e3 * uncached:10.1f} {1.0:7.2f}")
    print(f"{'cached':20s} {1e3 * cached:10.1f} {cached / uncached:7.2f}")


def precision_table(images: torch.Tensor) -> None:
    g = torch.Generator().manual_seed(0)
    net = K.fit_anchors(K.CKN(1, (32, 64)), images[:256], n_patches=5000, generator=g)
    x = images[:64]
    with torch.no_grad():
        f32, f64 = net.forward_features(x), net.forward_features(x.double())
    print("\nfloat32 against float64 (same anchors): relative error per layer")
    print("  ".join(f"layer {i}: {float((a.double() - b).norm() / b.norm()):.2e}"
                    for i, (a, b) in enumerate(zip(f32, f64)) if i))


if __name__ == "__main__":
    imgs = fashion_images(1000)
    approximation_table(imgs, alpha=4.0, ridge=1e-3)
    cache_table(imgs)
    precision_table(imgs)
