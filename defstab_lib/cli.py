"""The command line over :mod:`defstab_lib.runs` (``python -m defstab_lib`` or ``defstab``).

    python -m defstab_lib run EXPERIMENT --profile cpu --dataset fashion-mnist [--seeds N] [--epochs N] [--force]
    python -m defstab_lib status [--profile PROFILE]
    python -m defstab_lib list

Bad arguments end with one line naming the problem and exit code 2, before anything is trained.
"""

from __future__ import annotations

import argparse
import sys
import time

from . import chapters, runs

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit code 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="defstab", description="Train or load the book's experiments, and say what is stored.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run (or load) every config of an experiment")
    run.add_argument("experiment", help=f"one of: {', '.join(runs.EXPERIMENTS)}")
    run.add_argument("--profile", default="cpu", help=f"one of: {', '.join(runs.PROFILES)} (default cpu)")
    run.add_argument("--dataset", default=None, help="fashion-mnist (default), mnist or cifar10 (pooling, random-labels)")
    run.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the profile's)")
    run.add_argument("--epochs", type=int, default=None, help="override the profile's epochs (> 0)")
    run.add_argument("--downsampling", nargs="+", default=None,
                     help="downsampling variants (pooling, random-labels; default: all five)")
    run.add_argument("--strengths", nargs="+", type=float, default=None,
                     help="deformation strengths C in pixels (synthetic; default: 1 2 3 4)")
    run.add_argument("--force", action="store_true", help="train again even if stored")
    run.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    status = sub.add_parser("status", help="for every chapter, which results are stored and which are missing")
    status.add_argument("--profile", action="append", default=None, help="only this profile (repeatable)")
    sub.add_parser("list", help="the experiments and profiles")
    return parser


def _run(args, parser) -> int:
    try:
        configs = runs.experiment_configs(
            args.experiment, args.profile, dataset=args.dataset, seeds=args.seeds,
            downsampling=args.downsampling, strengths=args.strengths, epochs=args.epochs,
        )
        chapters.resolve_device(args.device)
    except ValueError as exc:
        parser.error(str(exc))
    store = runs.ResultsStore()
    print(f"{args.experiment} ({args.profile}): {len(configs)} runs, results in {store.root}", flush=True)
    for config in configs:
        start = time.time()
        stored = store.exists(config) and not args.force
        r = runs.run_or_load(config, force=args.force, progress=not args.quiet, store=store, device=args.device)
        how = "loaded " if stored else f"trained in {time.time() - start:.0f} s,"
        f = r.final
        print(f"  {r.key}  {config.describe().split(': ', 1)[1]:<60} {how} test acc {f.test_accuracy:.3f}, "
              f"train acc {f.train_accuracy:.3f}, last-layer sensitivity {f.cosine[-1]:.3f}", flush=True)
    return 0


def status_rows(profiles: list[str] | None = None) -> list[dict[str, str]]:
    """For every chapter that reads experiments, and every profile: how many of its runs are stored.

    Counts the runs of each experiment at the profile's defaults on Fashion-MNIST; for a stored computation
    (an experiment that trains nothing, such as ``smooth-init``), how many parameter sets are stored.
    """
    from . import book

    store = runs.ResultsStore()
    rows = []
    root = book.repo_root()
    for spec in chapters.CHAPTERS.values():
        notebook = root / "book" / f"{spec.name}.ipynb"
        default_profile = None
        if notebook.is_file():  # a checkout: the chapter's default parameters are in its notebook
            import nbformat

            default_profile = book.notebook_parameters(nbformat.read(notebook, as_version=4)).get("profile")
        for experiment in spec.experiments:
            if experiment not in runs.EXPERIMENTS:  # a stored computation (no training), keyed by its parameters
                stored = sorted((store.root / experiment).glob("*.json"))
                rows.append({"chapter": spec.name, "experiment": experiment, "profile": "-",
                             "stored": str(len(stored)),
                             "missing": "" if stored else "computed when the chapter first runs (no training)"})
                continue
            for profile in profiles or list(runs.PROFILES):
                configs = runs.experiment_configs(experiment, profile)
                missing = [c for c in configs if not store.exists(c)]
                rows.append({
                    "chapter": spec.name, "experiment": experiment,
                    "profile": profile + ("*" if profile == default_profile else ""),
                    "stored": f"{len(configs) - len(missing)}/{len(configs)}",
                    "missing": ", ".join(c.describe().split(": ", 1)[1] for c in missing[:3])
                    + (f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""),
                })
    return rows


def _status(args, parser) -> int:
    for p in args.profile or []:
        if p not in runs.PROFILES:
            parser.error(f"unknown profile {p!r}; allowed: {', '.join(runs.PROFILES)}")
    rows = status_rows(args.profile)
    print(f"results store: {runs.ResultsStore().root}")
    if not rows:
        print("no chapter reads stored results")
        return 0
    print(f"{'chapter':<16} {'experiment':<16} {'profile':<8} {'stored':>7}  missing")
    for r in rows:
        print(f"{r['chapter']:<16} {r['experiment']:<16} {r['profile']:<8} {r['stored']:>7}  {r['missing']}")
    print("* the profile a chapter renders by default (its parameters cell)")
    return 0


def _list(args, parser) -> int:
    print("experiments:")
    for name, what in runs.EXPERIMENTS.items():
        print(f"  {name:<14} {what}")
    print("profiles:", ", ".join(runs.PROFILES), "(see defstab_lib.runs.profiles)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    return {"run": _run, "status": _status, "list": _list}[args.command](args, parser)


if __name__ == "__main__":
    sys.exit(main())
