"""Benchmark: random thin-plate-spline deformations (sampling + warping), images per second, side by side.

    python benchmarks/bench_deform.py [--threads 1,2] [--device cpu|cuda|auto] [--rounds R]

Compares, in one run and interleaved round by round (so that a busy machine slows every method alike):

- ``defstab``: :func:`defstab_lib.deform.deform`, one random field per image, batched;
- ``scipy``: one image at a time, ``RBFInterpolator(kernel="thin_plate_spline")`` on the control points, evaluated
  at every pixel, then ``ndimage.map_coordinates(order=1, mode="reflect")`` per channel (the same deformation as
  ours: the benchmark checks that both give the same image);
- ``kornia``: batched ``get_tps_transform`` + ``warp_image_tps`` (kornia's documented (dst, src) composition, in
  its normalised frame);
- ``torchvision``: ``transforms.v2.ElasticTransform`` (a Gaussian-smoothed random field, not a TPS), called once
  per image so that every image gets its own field; and, for reference, once per batch (one field for all images,
  a different and easier task).

at the paper's two settings: 128 images 3x32x32 (3x3 control points, C = 2 px) and 32 images 3x224x224 (5x5, C =
10 px).  Targets (issue 3): defstab at least 40x scipy and 10x kornia at both sizes on 2 CPU cores; on a GPU, at
least 1 M images/s at 32x32.

The memory-bandwidth lines compare the warp alone (one ``grid_sample``: it reads the images and the sampling grid
and writes the output) with a plain copy of the image tensor (``clone``: one read, one write), both in GB/s.

Timings are the best of ``--rounds`` interleaved rounds (the least disturbed run of each method; the median is
printed too), each round running every method back to back for at least 20 ms (its steady state), for each torch
thread count in ``--threads`` (default: 1 and every core).  scipy runs as a user would run it: numpy's BLAS, used by
``RBFInterpolator``, keeps its own default thread count.
The load average is printed: on a 2-core machine shared with other work, two torch threads are often slower than
one, because every parallel region must wait for both cores.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from defstab_lib import deform as D  # noqa: E402
from defstab_lib.deform import grids  # noqa: E402

SETTINGS = [  # (name, batch, channels, size, grid, C)
    ("32x32, 3x3, C=2", 128, 3, 32, 3, 2.0),
    ("224x224, 5x5, C=10", 32, 3, 224, 5, 10.0),
]
TARGETS = {"scipy": 40.0, "kornia": 10.0}


# ------------------------------------------------------------------------------------------------ the methods


def scipy_method(images: torch.Tensor, grid: int, c: float, rng: np.random.Generator):
    """One image at a time, as a scipy user would: fit the TPS, evaluate it everywhere, resample each channel."""
    from scipy import ndimage
    from scipy.interpolate import RBFInterpolator

    x = images.cpu().numpy()
    _, channels, height, width = x.shape
    cp = D.control_points(grid, (height, width), dtype=torch.float64).numpy()
    ys, xs = np.meshgrid(np.arange(height, dtype=float), np.arange(width, dtype=float), indexing="ij")
    pixels = np.stack([xs.ravel(), ys.ravel()], axis=1)

    def run(displacements=None):
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            d = rng.uniform(-c, c, size=(grid * grid, 2)) if displacements is None else displacements[i]
            field = RBFInterpolator(cp, d, kernel="thin_plate_spline")(pixels)
            coords = np.stack([ys + field[:, 1].reshape(height, width), xs + field[:, 0].reshape(height, width)])
            for ch in range(channels):
                out[i, ch] = ndimage.map_coordinates(x[i, ch], coords, order=1, mode="reflect")
        return out

    return run


def kornia_method(images: torch.Tensor, grid: int, c: float, generator: torch.Generator):
    from kornia.geometry.transform import get_tps_transform, warp_image_tps

    batch, _, height, width = images.shape
    cp = D.control_points(grid, (height, width), device=images.device)
    to_norm = torch.tensor([2.0 / width, 2.0 / height], device=images.device)
    dst = ((cp + 0.5) * to_norm - 1).expand(batch, -1, -1)  # align_corners=False frame

    def run():
        d = D.sample_displacements(batch, grid, c, generator=generator, device=images.device)
        src = dst + d * to_norm  # output control point dst reads the input at src
        kernel_weights, affine_weights = get_tps_transform(dst, src)
        return warp_image_tps(images, src, kernel_weights, affine_weights, align_corners=False,
                              padding_mode="reflection")

    return run


def torchvision_methods(images: torch.Tensor):
    from torchvision.transforms import v2

    elastic = v2.ElasticTransform(alpha=50.0, sigma=5.0)  # torchvision's defaults

    def per_image():
        return torch.stack([elastic(img) for img in images])

    def per_batch():
        return elastic(images)

    return per_image, per_batch


# --------------------------------------------------------------------------------------------------- timing


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(methods: dict, rounds: int, device: torch.device, budget_s: dict,
                     min_sample_s: float = 0.02) -> dict:
    """Seconds per call of each method: all methods once per round, ``rounds`` rounds (a slow method stops
    early once it has used its ``budget_s`` and has at least 3 rounds).  Each timing sample runs its method back to
    back for at least ``min_sample_s`` (as ``timeit`` does), so that every method is measured in its steady state
    rather than with caches just emptied by the previous method.  Returns {name: [seconds per call, ...]}."""
    repeats = {}
    for name, fn in methods.items():  # warm-up (caches, lazy imports, allocator), and how many calls per sample
        fn()
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        repeats[name] = max(1, math.ceil(min_sample_s / max(time.perf_counter() - t0, 1e-9)))
    times = {name: [] for name in methods}
    for _ in range(rounds):
        for name, fn in methods.items():
            if len(times[name]) >= 3 and sum(times[name]) * repeats[name] > budget_s.get(name, float("inf")):
                continue
            _sync(device)
            t0 = time.perf_counter()
            for _ in range(repeats[name]):
                fn()
            _sync(device)
            times[name].append((time.perf_counter() - t0) / repeats[name])
    return times


def bandwidth(images: torch.Tensor, grid: int, c: float, rounds: int, device: torch.device):
    """GB/s of the warp alone and of a plain copy of the images."""
    batch, _, height, width = images.shape
    d = D.sample_displacements(batch, grid, c, generator=torch.Generator(device).manual_seed(0), device=device)
    field = D.displacement_field(d, (height, width))
    base = grids._BASES.get(height, width, grids._canonical_device(device), torch.float32)
    sampling = (base[0] + field * base[1]).contiguous()

    def warp_only():
        return torch.nn.functional.grid_sample(images, sampling, mode="bilinear", padding_mode="reflection",
                                               align_corners=False)

    times = time_interleaved({"warp": warp_only, "copy": images.clone}, rounds * 5, device, {})
    img_bytes = images.numel() * images.element_size()
    warp_bytes = 2 * img_bytes + sampling.numel() * sampling.element_size()
    return warp_bytes / min(times["warp"]) / 1e9, 2 * img_bytes / min(times["copy"]) / 1e9, warp_bytes, img_bytes


# ------------------------------------------------------------------------------------------------------ main


def run_settings(device: torch.device, rounds: int, skip_slow: bool) -> list[tuple]:
    rows = []
    for name, batch, channels, size, grid, c in SETTINGS:
        gen = torch.Generator(device).manual_seed(0)
        images = torch.rand(batch, channels, size, size, generator=gen, device=device)
        rng = np.random.default_rng(0)
        methods = {"defstab": lambda: D.deform(images, grid, c, generator=gen)}
        slow = skip_slow and size > 64
        if not slow:
            methods["scipy"] = scipy_method(images, grid, c, rng)
            methods["kornia"] = kornia_method(images, grid, c, gen)
        per_image, per_batch = torchvision_methods(images)
        methods["torchvision (per image)"] = per_image
        methods["torchvision (one field per batch)"] = per_batch

        # the scipy pipeline computes the same deformation as ours: check on these images
        if not slow:
            ours, d = D.deform(images[:2].double(), grid, c, generator=torch.Generator(device).manual_seed(1))
            ref = scipy_method(images[:2].double(), grid, c, rng)(d.cpu().numpy())
            agreement = float(np.abs(ours.cpu().numpy() - ref).max())
        times = time_interleaved(methods, rounds, device, {"scipy": 20.0, "kornia": 20.0})
        best = {m: batch / min(t) for m, t in times.items()}
        median = {m: batch / statistics.median(t) for m, t in times.items()}
        warp_gbs, copy_gbs, warp_bytes, img_bytes = bandwidth(images, grid, c, rounds, device)

        print(f"== {batch} images 3x{size}x{size}, {grid}x{grid} control points, C = {c:g} px "
              f"(torch threads = {torch.get_num_threads()}, device = {device})")
        if not slow:
            print(f"   defstab vs scipy on the same displacements (float64): max |difference| = {agreement:.1e}")
        print(f"   {'method':<36}{'images/s (best)':>16}{'(median)':>12}{'defstab is':>14}{'target':>9}")
        for m in methods:
            ratio = best["defstab"] / best[m]
            target = TARGETS.get(m.split()[0])
            mark = "" if target is None else (f">= {target:g}x " + ("ok" if ratio >= target else "MISSED"))
            print(f"   {m:<36}{best[m]:>16,.0f}{median[m]:>12,.0f}{ratio:>13.1f}x  {mark}")
            rows.append((name, m, best[m], ratio))
        print(f"   memory: the warp moves {warp_bytes / 1e6:.1f} MB (images and sampling grid in, images out) at "
              f"{warp_gbs:.1f} GB/s;\n   a copy of the {img_bytes / 1e6:.1f} MB of images runs at {copy_gbs:.1f} GB/s: "
              f"the warp reaches {100 * warp_gbs / copy_gbs:.0f}% of copy bandwidth (tensors that fit in the "
              "last-level cache are copied at cache speed)\n")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default=f"1,{os.cpu_count() or 1}",
                        help="torch thread counts to run, comma-separated (default: 1 and every core)")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--skip-slow", action="store_true", help="leave out scipy and kornia at 224x224")
    args = parser.parse_args(argv)

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores"
          + (f", {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""))
    print(f"best of {args.rounds} interleaved rounds of at least 20 ms per method (the median is shown too); scipy "
          "runs on the CPU, one image at a time")
    for threads in dict.fromkeys(int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"\n-- torch threads = {threads}; load average before: {load:.2f}\n")
        run_settings(device, args.rounds, args.skip_slow)
    if device.type == "cuda":
        gen = torch.Generator(device).manual_seed(0)
        for batch in (128, 4096, 65536):
            images = torch.rand(batch, 3, 32, 32, generator=gen, device=device)
            t = time_interleaved({"d": lambda: D.deform(images, 3, 2.0, generator=gen)}, args.rounds, device, {})
            print(f"GPU, {batch} images 3x32x32: {batch / min(t['d']):,.0f} images/s (target >= 1,000,000)")
    if hasattr(os, "getloadavg"):
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
