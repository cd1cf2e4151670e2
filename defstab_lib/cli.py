"""The command line over :mod:`defstab_lib.runs` (``python -m defstab_lib`` or ``defstab``).

    python -m defstab_lib run EXPERIMENT --profile cpu --dataset fashion-mnist [--seeds N] [--epochs N] [--force]
        [--jobs N] [--precision auto|float32|bf16] [--compile]
        [--executor processes|local|slurm [--partition P] [--time MIN] [--cpus N] [--gpus N] [--mem GB] [--wait]]
    python -m defstab_lib status [--profile PROFILE]
    python -m defstab_lib list
    python -m defstab_lib report [--profile cpu] [--dataset fashion-mnist] [--seeds N] [--json]
    python -m defstab_lib report --profiles [PROFILE ...] [--dataset fashion-mnist] [--json]

Bad arguments end with one line naming the problem and exit code 2, before anything is trained.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import uuid
import warnings

from . import book, chapters, runs
from .analysis import compare, report, to_json
from .checks import positive_int
from .provenance import resolve_device
from .runs import cluster, estimate, execute
from .runs.parallel import WorkerFailure, plan_workers
from .train import PRECISIONS

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit code 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="defstab", description="Train or load the book's experiments, and say what is stored.")
    parser.add_argument("--debug", action="store_true", help="on an error, print the whole traceback, not one line")
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
    run.add_argument("--jobs", type=int, default=None,
                     help="worker processes training missing runs at once (default: one per core when more than "
                          "one run is missing; capped at the missing runs)")
    run.add_argument("--precision", choices=PRECISIONS, default="auto",
                     help="auto (float32 on CPU, bf16 autocast on CUDA), float32 or bf16; part of the run's key")
    run.add_argument("--compile", action="store_true",
                     help="train through torch.compile (minutes to compile); part of the run's key")
    run.add_argument("--executor", choices=cluster.EXECUTORS, default="processes",
                     help="processes (this machine), slurm (one submitit job per missing run) or local "
                          "(submitit's local executor)")
    run.add_argument("--partition", default=None, help="SLURM partition (--executor slurm)")
    run.add_argument("--time", type=int, default=None, help="SLURM time limit per run, minutes (--executor slurm)")
    run.add_argument("--cpus", type=int, default=None, help="SLURM CPUs per run (--executor slurm)")
    run.add_argument("--gpus", type=int, default=None, help="SLURM GPUs per run (--executor slurm)")
    run.add_argument("--mem", type=float, default=None, help="SLURM memory per run, GB (--executor slurm)")
    run.add_argument("--wait", action="store_true", help="--executor slurm: wait for the jobs and print results")
    run.add_argument("--yes", action="store_true",
                     help=f"start even when the estimate exceeds {estimate.CONFIRM_ABOVE_S / 3600:g} h on a CPU")
    status = sub.add_parser("status", help="for every chapter, which results are stored and which are missing")
    status.add_argument("--profile", action="append", default=None, help="only this profile (repeatable)")
    sub.add_parser("list", help="the experiments and profiles")
    report = sub.add_parser("report", help="the verdict of every claim, from the stored results (trains nothing)")
    report.add_argument("--profile", default=None, help=f"one of: {', '.join(runs.PROFILES)} (default cpu)")
    report.add_argument("--profiles", nargs="*", default=None, metavar="PROFILE",
                        help="compare profiles instead: the verdicts of every one whose results are all stored, side "
                             "by side, with each one's recipe, and how many runs the others lack (default: every "
                             "profile but smoke); with --json one object {dataset, profiles: {name: {complete, "
                             "stored, total, runs, recipe, verdicts | missing}}}")
    report.add_argument("--dataset", default="fashion-mnist", help="fashion-mnist, mnist or cifar10")
    report.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the profile's)")
    report.add_argument("--json", action="store_true", help="every claim as JSON (claim, figure, statistic, effect, "
                        "ci_low, ci_high, minimal_effect, n_independent, verdict, rule, n_needed when inconclusive)")
    return parser


def _check_run_args(args, parser) -> tuple[list, cluster.JobResources]:
    """The configs and resources of ``run``, or one line on stderr and exit code 2 (before any work)."""
    try:
        configs = runs.experiment_configs(
            args.experiment, args.profile, dataset=args.dataset, seeds=args.seeds,
            downsampling=args.downsampling, strengths=args.strengths, epochs=args.epochs,
        )
        chapters.resolve_device(args.device)
        if args.jobs is not None:
            positive_int("--jobs", args.jobs)
        resources = cluster.JobResources(partition=args.partition, time_min=args.time, cpus=args.cpus,
                                         gpus=args.gpus, mem_gb=args.mem)
        cluster.check_executor(args.executor, resources, args.jobs)
        if args.wait and args.executor != "slurm":
            raise ValueError(f"--wait applies to --executor slurm, got --executor {args.executor}")
    except (ValueError, TypeError, ImportError) as exc:
        parser.error(str(exc))
    return [dataclasses.replace(c, precision=args.precision, compile=args.compile) for c in configs], resources


def _print_results(results, invocation: str) -> None:
    for r in results:
        f = r.final
        here = r.provenance.get("invocation") == invocation  # trained by this command, not loaded after a wait
        how = f"trained in {r.provenance.get('wall_time_s', 0):.0f} s," if here else "loaded "
        print(f"  {r.key}  {r.config.describe().split(': ', 1)[1]:<60} {how} test acc {f.test_accuracy:.3f}, "
              f"train acc {f.train_accuracy:.3f}, last-layer sensitivity {f.cosine[-1]:.3f}", flush=True)


def _run(args, parser) -> int:
    configs, resources = _check_run_args(args, parser)
    invocation = os.environ[execute.INVOCATION_ENV] = uuid.uuid4().hex  # inherited by workers and jobs
    store = runs.ResultsStore()
    missing = [c for c in configs if args.force or not store.exists(c)]
    print(f"{args.experiment} ({args.profile}): {len(configs)} runs, {len(missing)} to train, results in "
          f"{store.root}", flush=True)
    if missing and args.executor == "processes":
        device = resolve_device(args.device)
        workers, _ = plan_workers(args.jobs, len(missing), device)
        guess = estimate.estimate(missing, device, jobs=workers)
        print(f"estimate: {guess.describe()}, {workers} at once", flush=True)
        if device.type == "cpu" and guess.seconds > estimate.CONFIRM_ABOVE_S and not args.yes:
            parser.error(f"the estimate ({estimate.format_duration(guess.seconds)} on a CPU) exceeds "
                         f"{estimate.format_duration(estimate.CONFIRM_ABOVE_S)}: pass --yes to start anyway, or use "
                         f"a GPU (--device cuda), a cluster (--executor slurm) or fewer runs (--seeds, --epochs)")
    if args.executor == "slurm" and missing and not args.wait:
        jobs = cluster.submit_runs(missing, run=runs.run_or_load, executor="slurm", store=store, resources=resources,
                                   device=args.device, force=args.force)
        for config, job in zip(missing, jobs):
            print(f"  submitted {config.key} as SLURM job {job.job_id}: {config.describe().split(': ', 1)[1]}")
        print(f"follow them with: python -m defstab_lib status (logs in {cluster.jobs_folder(store.root)})")
        return 0
    try:
        results = runs.run_configs(configs, force=args.force, progress=not args.quiet, store=store,
                                   device=args.device, jobs=args.jobs,
                                   executor=args.executor, resources=resources)
    except KeyboardInterrupt:
        print("interrupted: every run in progress kept its resume state; run the same command again to continue",
              file=sys.stderr)
        return 130
    except (WorkerFailure, cluster.JobFailure) as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 1
    _print_results(results, invocation)
    return 0


def status_rows(profiles: list[str] | None = None) -> list[dict[str, str]]:
    """For every chapter that reads experiments, and every profile: how many of its runs are stored.

    Counts the runs of each experiment at the profile's defaults on Fashion-MNIST; for a stored computation
    (an experiment that trains nothing, such as ``smooth-init``), how many parameter sets are stored.
    """
    store = runs.ResultsStore()
    rows = []
    root = book.repo_root()
    for spec in chapters.CHAPTERS.values():
        notebook = root / "book" / f"{spec.name}.ipynb"
        default_profile = None
        if notebook.is_file():  # a checkout: the chapter's default parameters are in its notebook
            import nbformat  # optional dependency: the book extra (only a checkout has notebooks to read)

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
                states = {c: store.state(c) for c in configs}  # only valid results count as stored
                missing = [c for c, state in states.items() if state != "stored"]
                rows.append({
                    "chapter": spec.name, "experiment": experiment,
                    "profile": profile + ("*" if profile == default_profile else ""),
                    "stored": f"{len(configs) - len(missing)}/{len(configs)}",
                    "missing": ", ".join(c.describe().split(": ", 1)[1]
                                         + (" (corrupt: see the file)" if states[c] != "missing" else "")
                                         for c in missing[:3])
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
    jobs = cluster.job_states(runs.ResultsStore().root)
    if jobs:
        counts: dict[str, int] = {}
        for j in jobs:
            state = j["state"].split(" ")[0]
            counts[state] = counts.get(state, 0) + 1
        print(f"\nsubmitted jobs ({cluster.jobs_folder(runs.ResultsStore().root)}): "
              + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
        for j in jobs:
            if j["state"] != "stored":
                print(f"  {j['key']}  {j['executor']} job {j['job_id']:<10} {j['state']:<10} {j['run']}")
    return 0


def _list(args, parser) -> int:
    print("experiments:")
    for name, what in runs.EXPERIMENTS.items():
        print(f"  {name:<14} {what}")
    print("profiles:", ", ".join(runs.PROFILES), "(see defstab_lib.runs.profiles)")
    return 0


def _report(args, parser) -> int:
    if args.profiles is not None:
        return _report_profiles(args, parser)
    args.profile = args.profile or "cpu"
    try:
        runs.experiment_configs("pooling", args.profile, dataset=args.dataset, seeds=args.seeds)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        evidence = report.load_evidence(profile=args.profile, dataset=args.dataset, seeds=args.seeds,
                                        stored_only=True)
    except LookupError as exc:
        print(f"defstab report: {exc}", file=sys.stderr)
        return 1
    verdicts = report.all_verdicts(evidence)
    if args.json:
        print(json.dumps([{"number": v.numbers["number"], **to_json(v)} for v in verdicts], indent=1,
                         ensure_ascii=False))
        return 0
    print(f"verdicts of the {args.profile} profile on {args.dataset} (results store {runs.ResultsStore().root})")
    for v in verdicts:
        decide = f"  (~{v.n_needed} independent initialisations would decide it)" if v.n_needed else ""
        print(f"{v.numbers['number']:>2} {v.figure:<18} {v.verdict:<21} {v.what}: {v.value}{decide}")
        for b in v.beside:
            where = b.numbers.get("where") or b.numbers.get("label", "")
            print(f"{'':>2} {'  beside':<18} {b.verdict:<21} {b.what}: {b.value} [{where}]")
    return 0


def _report_profiles(args, parser) -> int:
    """``report --profiles``: every profile's verdicts side by side (:func:`compare.compare_profiles`)."""
    if args.profile is not None or args.seeds is not None:
        parser.error("--profiles compares the profiles at their own seeds: leave out --profile and --seeds")
    try:
        for p in args.profiles:
            runs.get_profile(p)
        profiles = args.profiles or None
        runs.experiment_configs("pooling", "smoke", dataset=args.dataset)  # checks the dataset
        compared = compare.compare_profiles(profiles, dataset=args.dataset)
    except ValueError as exc:
        parser.error(str(exc))
    if args.json:
        print(json.dumps(compare.comparison_json(compared, dataset=args.dataset), indent=1, ensure_ascii=False))
        return 0
    print(f"verdicts of every profile on {args.dataset} whose results are all stored (results store "
          f"{runs.ResultsStore().root})")
    done = [c for c in compared if c.complete]
    if done:
        for row in compare.comparison_rows(compared):
            print(row["claim"])
            for c in done:
                print(f"   {c.profile:<9} {row[c.profile]}")
        print("\nwhat each profile ran, beside the paper:")
        for row in report.recipes_side_by_side([c.evidence for c in done]):
            print(row[""])
            for name, text in list(row.items())[1:]:
                print(f"   {name:<9} {text}")
    else:
        print("none")
    note = compare.incomplete_note(compared)
    if note:
        print("\n" + note)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; an error after the arguments were read is one line on stderr and exit code 1 (the
    whole traceback with ``--debug``), and so is a warning."""
    parser = _parser()
    args = parser.parse_args(argv)
    command = {"run": _run, "status": _status, "list": _list, "report": _report}[args.command]
    if args.debug:
        return command(args, parser)
    shown = warnings.showwarning
    warnings.showwarning = lambda message, *rest, **kw: print(f"{parser.prog}: warning: {message}", file=sys.stderr)
    try:
        return command(args, parser)
    except Exception as exc:  # noqa: BLE001 - one readable line for any failure; --debug shows the traceback
        print(f"{parser.prog}: error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1
    finally:
        warnings.showwarning = shown


if __name__ == "__main__":
    sys.exit(main())
