"""Speed of the measuring instrument: the full per-layer profile of the CIFAR network.

Target (issue 4): the full 13-layer normalized-cosine profile of the CIFAR network on 128 images and their
deformations in at most 2 s on 2 CPU cores.  Real images: the first 128 Fashion-MNIST test images, zero-padded to
32x32 (the CIFAR geometry), deformed with the paper's CIFAR setting (3x3 control points, 2 px).

Rows, timed side by side in one run.  Each row is repeated; the best time is the one compared with the target
(on a shared machine the others are mostly waiting for the CPU: the load average is printed), the median is
shown beside it.

- ``one sweep``: :func:`defstab_lib.metrics.sensitivity_profile` without the noise control (the target);
- ``one sweep + noise``: the same with the noise-matched control (a third set of 128 images);
- ``per-layer re-run``: what a straightforward loop would do -- for each layer, run the network again on the
  clean and the deformed images up to that layer and compute that layer's measure (same Gram-matrix medians);
- ``pairs in a Python loop``: layer 1 only, the median over the 8128 pairs computed one pair at a time with
  ``torch.nn.functional.cosine_similarity`` (the one-Gram-matrix median of all 13 layers is in ``one sweep``).

Run: ``python benchmarks/bench_metrics.py [--repeats N] [--threads N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from defstab_lib import data, deform, metrics, probe
from defstab_lib.models import make_vgg

TARGET_S = 2.0
N_IMAGES = 128


def timed(fn, repeats: int) -> tuple[tuple[float, float], object]:
    """``((best, median), result)`` of ``repeats`` calls, in seconds."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return (min(times), statistics.median(times)), result


def per_layer_rerun(model, images, deformed):
    values = []
    model.eval()
    with torch.no_grad():
        for k in range(model.num_layers):
            (clean,) = probe.representations(model, images, [k])
            (moved,) = probe.representations(model, deformed, [k])
            values.append(metrics.normalized_distance(clean, moved))
    return values


def pairs_in_a_loop(model, images, deformed):
    model.eval()
    with torch.no_grad():
        (clean,) = probe.representations(model, images, [1])
        (moved,) = probe.representations(model, deformed, [1])
    clean, moved = clean.flatten(1).double(), moved.flatten(1).double()
    cos = torch.nn.functional.cosine_similarity
    pairs = [1 - cos(clean[i], clean[j], dim=0) for i in range(len(clean)) for j in range(i + 1, len(clean))]
    median = torch.quantile(torch.stack(pairs), 0.5)  # as numpy.median (torch.median takes the lower middle)
    return float((1 - cos(clean, moved, dim=1)).mean() / median)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (the target assumes 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    dataset = data.load_dataset("fashion-mnist", "test", download=False)
    images = data.pad_to_size(dataset.float_images(range(N_IMAGES)), 32)
    generator = torch.Generator().manual_seed(0)
    deformed, _ = deform.deform(images, 3, 2.0, generator=generator)
    model = make_vgg("cifar", "maxpool", in_channels=1, generator=generator)
    with torch.no_grad():
        sizes = [r[0].numel() for r in probe.representations(model.eval(), images[:1])]
    held_mb = N_IMAGES * sum(sizes) * 4 / 1e6

    metrics.sensitivity_profile(model, images[:8], deformed[:8], noise=False)  # warm-up (oneDNN kernels)
    rows = []
    t, profile = timed(lambda: metrics.sensitivity_profile(model, images, deformed, noise=False), args.repeats)
    rows.append(("one sweep (13 layers, clean + deformed)", t))
    t, with_noise = timed(
        lambda: metrics.sensitivity_profile(model, images, deformed, generator=torch.Generator().manual_seed(1)),
        args.repeats,
    )
    rows.append(("one sweep + noise-matched control", t))
    t, rerun = timed(lambda: per_layer_rerun(model, images, deformed), max(1, args.repeats - 1))
    rows.append(("per-layer re-run (13 layers)", t))
    t, looped = timed(lambda: pairs_in_a_loop(model, images, deformed), 1)
    rows.append(("pairs in a Python loop (layer 1 only)", t))

    # The rows measure the same thing: check it before quoting their times.
    assert torch.allclose(profile.normalized_cosine, torch.tensor(rerun, dtype=torch.float64), rtol=1e-4)
    assert torch.allclose(profile.normalized_cosine, with_noise.normalized_cosine, rtol=1e-9)
    assert abs(looped / float(profile.normalized_cosine[1]) - 1) < 1e-4

    base = rows[0][1][0]
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"CIFAR network (maxpool), {N_IMAGES} Fashion-MNIST test images padded to 32x32,"
          " deformed on a 3x3 grid by up to 2 px")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load average {load}")
    print(f"clean representations held by one sweep: {held_mb:.0f} MB")
    print()
    print(f"{'method':<42} {'best (s)':>9} {'median (s)':>11} {'vs one sweep':>13} {'vs target':>10}")
    for name, (best, median) in rows:
        print(f"{name:<42} {best:>9.3f} {median:>11.3f} {best / base:>12.2f}x {best / TARGET_S:>9.2f}x")
    verdict = "meets" if base <= TARGET_S else "MISSES"
    print(f"\ntarget: full profile <= {TARGET_S:.1f} s on 2 CPU cores -> best {base:.3f} s, {verdict} the target")
    print("normalized cosine distance per layer:", " ".join(f"{v:.3f}" for v in profile.normalized_cosine))


if __name__ == "__main__":
    main()
