"""The command line over :mod:`defstab_lib.runs` (``python -m defstab_lib`` or ``defstab``).

    python -m defstab_lib run EXPERIMENT --profile cpu --dataset fashion-mnist [--seeds N] [--epochs N] [--force]
        [--jobs N] [--precision auto|float32|bf16] [--compile] [--dry-run] [--yes]
        [--executor processes|local|slurm [--partition P] [--time MIN] [--cpus N] [--gpus N] [--mem GB] [--wait]]
    python -m defstab_lib run all --profile paper --dataset cifar10 [--seeds N] [--dry-run] [--yes] [...]
    python -m defstab_lib status [--profile PROFILE] [--jobs N] [--no-estimate]
    python -m defstab_lib compute [--profile standard] [--dataset fashion-mnist] [--device auto]
        [--only random-networks|bn-init]
    python -m defstab_lib list
    python -m defstab_lib report [--profile standard] [--dataset fashion-mnist] [--seeds N] [--json]
    python -m defstab_lib report --profiles [PROFILE ...] [--dataset fashion-mnist] [--json]

Bad arguments end with one line naming the problem and exit code 2, before anything is trained.

``run all`` runs every experiment of the profile's campaign (:mod:`defstab_lib.runs.campaign`: pooling,
random-labels, matched-real where the profile has ``matched_contrast``, synthetic, worst-case, ablation), the
missing runs only.  ``--dataset`` goes to the experiments that take one; ``synthetic`` trains on its synthetic
deformation tasks whatever the dataset (it says so).  ``--seeds`` goes to every experiment.  Options that apply
to only some experiments (``--downsampling``, ``--strengths``, ``--epochs``: the ablation's length factor sets its
own epochs) are refused.  Before training it prints the estimate per device class: this machine's *measured*
(:func:`defstab_lib.runs.estimate.estimate`), the others *derived from datasheets, not measured*
(:func:`defstab_lib.runs.estimate.datasheet_estimate`, with the assumptions in the output).  ``run EXPERIMENT
--dry-run`` prints the same estimates for that experiment's missing runs (``run pooling --profile paper --dataset
cifar10 --dry-run``: the Colab T4's estimate in the README and the pooling chapter).

``compute`` computes (and stores) the computations a profile's ``report`` reads that train nothing: the random
networks of claims 1 and 4 (``pooling-init``, ``smooth-init``) at the report's parameters; ``report`` names it when
they are missing.  Then the BN-calibrated initialisation (``bn-init``, :mod:`defstab_lib.runs.bn_init`) of every
stored ``pooling`` and ``ablation`` run of the profile, one line per run (runs not stored are skipped and counted).
``--only random-networks`` or ``--only bn-init`` computes one of the two.

``status`` ends with each profile's campaign cost: runs stored / total, and the time the missing ones take on this
machine (step times measured once per distinct network, ``--jobs`` workers at once; ``--no-estimate`` skips it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import textwrap
import uuid
import warnings

from . import book, chapters, data, runs
from .analysis import compare, report, robustness, specifications, to_json
from .chapters import loading
from .checks import positive_int
from .provenance import device_name, resolve_device
from .runs import bn_init, campaign, cluster, estimate, execute
from .runs.config import run_key
from .runs.parallel import WorkerFailure, available_cores, plan_workers
from .train import PRECISIONS

__all__ = ["main"]


#: What ``compute`` computes, in order (``--only`` picks one).
COMPUTE_PARTS = ("random-networks", "bn-init")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit code 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="defstab", description="Train or load the book's experiments, and say what is stored.")
    parser.add_argument("--debug", action="store_true", help="on an error, print the whole traceback, not one line")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run (or load) every config of an experiment")
    run.add_argument("experiment",
                     help=f"one of: {', '.join(runs.trained_experiments())}, or all (the profile's campaign)")
    run.add_argument("--profile", default="cpu", help=f"one of: {', '.join(runs.PROFILES)} (default cpu)")
    run.add_argument("--dataset", default=None,
                     help="fashion-mnist (default), mnist or cifar10 (every experiment but synthetic)")
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
    run.add_argument("--precision", choices=PRECISIONS, default=None,
                     help="the profile's by default (standard: bf16; the others: auto, i.e. float32 on CPU and bf16 "
                          "autocast on CUDA), or auto, float32, bf16; part of the run's key")
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
    run.add_argument("--dry-run", action="store_true", help="print the runs and the estimate, train nothing")
    status = sub.add_parser("status", help="for every chapter, which results are stored and which are missing; per "
                                           "profile, the campaign's cost")
    status.add_argument("--profile", action="append", default=None, help="only this profile (repeatable)")
    status.add_argument("--jobs", type=int, default=None,
                        help="estimate the missing runs trained this many at once (default: one per core, as run)")
    status.add_argument("--no-estimate", action="store_true",
                        help="count the campaign's runs but time nothing (the estimate takes seconds per profile)")
    compute = sub.add_parser("compute", help="compute the stored computations a profile's report reads (the random "
                                             "networks of claims 1 and 4; nothing is trained)")
    compute.add_argument("--profile", default=runs.BOOK_PROFILE, help=f"one of: {', '.join(runs.PROFILES)} (default "
                                                          f"{runs.BOOK_PROFILE}, the book's, as for report)")
    compute.add_argument("--dataset", default="fashion-mnist", help="fashion-mnist, mnist or cifar10")
    compute.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    compute.add_argument("--only", choices=COMPUTE_PARTS, default=None,
                         help="compute only the random networks (pooling-init, smooth-init) or only the "
                              "BN-calibrated initialisations of the profile's stored pooling and ablation runs "
                              "(bn-init); default: both")
    sub.add_parser("list", help="the experiments and profiles")
    report = sub.add_parser("report", help="the verdict of every claim, from the stored results (trains nothing)")
    report.add_argument("--profile", default=None, help=f"one of: {', '.join(runs.PROFILES)} (default "
                                                        f"{runs.BOOK_PROFILE}, the book's)")
    report.add_argument("--profiles", nargs="*", default=None, metavar="PROFILE",
                        help="compare profiles instead: the verdicts of every one whose results are all stored, side "
                             "by side, with each one's recipe, and how many runs the others lack (default: every "
                             "profile but smoke); with --json one object {dataset, profiles: {name: {complete, "
                             "stored, total, runs, recipe, verdicts | missing}}}")
    report.add_argument("--dataset", default="fashion-mnist", help="fashion-mnist, mnist or cifar10")
    report.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the profile's)")
    report.add_argument("--json", action="store_true", help="every claim as JSON (claim, figure, statistic, effect, "
                        "ci_low, ci_high, minimal_effect, n_independent, verdict, rule, n_needed when inconclusive; "
                        "profile, specifications, holds_in, conditions, per_layer, calibration, and "
                        "uninformative_reason when uninformative)")
    return parser


#: Options of ``run`` that apply to some experiments of a campaign only: ``run all`` refuses them, saying why.
NOT_FOR_ALL = {
    "downsampling": "each experiment has its own networks (worst-case and ablation: subsample and maxpool; "
                    "synthetic: maxpool): run the experiments one by one, e.g. run pooling --downsampling maxpool",
    "strengths": "it applies to synthetic only: run synthetic --strengths ...",
    "epochs": "the ablation's length factor sets its own epochs: run the experiments one by one to shorten them",
}


def _experiment_configs(args) -> dict[str, list]:
    """``{experiment: configs}`` of ``run EXPERIMENT`` or ``run all`` (``ValueError`` before any work)."""
    if args.experiment != "all":
        return {args.experiment: runs.experiment_configs(
            args.experiment, args.profile, dataset=args.dataset, seeds=args.seeds,
            downsampling=args.downsampling, strengths=args.strengths, epochs=args.epochs)}
    for option, why in NOT_FOR_ALL.items():
        if getattr(args, option) is not None:
            raise ValueError(f"--{option} does not apply to 'run all' ({why})")
    return campaign.campaign_configs(args.profile, dataset=args.dataset, seeds=args.seeds)


def _check_run_args(args, parser) -> tuple[dict[str, list], cluster.JobResources]:
    """``{experiment: configs}`` and the resources of ``run``, or one line on stderr and exit code 2 (before any
    work).  ``--precision`` and ``--compile`` replace the profile's only when given."""
    try:
        groups = _experiment_configs(args)
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
    return {experiment: [dataclasses.replace(c, precision=args.precision or c.precision, compile=args.compile or c.compile)
                         for c in configs] for experiment, configs in groups.items()}, resources


def _print_results(results, invocation: str) -> None:
    for r in results:
        f = r.final
        here = r.provenance.get("invocation") == invocation  # trained by this command, not loaded after a wait
        how = f"trained in {r.provenance.get('wall_time_s', 0):.0f} s," if here else "loaded "
        print(f"  {r.key}  {r.config.describe().split(': ', 1)[1]:<60} {how} test acc {f.test_accuracy:.3f}, "
              f"train acc {f.train_accuracy:.3f}, last-layer sensitivity {f.cosine[-1]:.3f}", flush=True)


def _print_campaign(args, groups: dict[str, list], missing: list, store) -> None:
    """``run all``'s header: the runs of each experiment and how many are missing."""
    total = sum(len(c) for c in groups.values())
    dataset = args.dataset or "fashion-mnist"
    print(f"all ({args.profile} profile, {dataset}): {total} runs in {len(groups)} experiments, {len(missing)} to "
          f"train, results in {store.root}", flush=True)
    todo = {run_key(c) for c in missing}
    for experiment, configs in groups.items():
        note = ""
        takes_dataset = campaign.takes_dataset(experiment)
        if not takes_dataset and args.dataset is not None:
            note = "  (its synthetic deformation tasks, whatever --dataset: their images are drawn, not loaded)"
        shared = len(runs.experiment_configs(experiment, args.profile, seeds=args.seeds, **(
            {"dataset": args.dataset} if takes_dataset else {}))) - len(configs)
        if shared:
            note = f"  (and {shared} runs of the experiments above, counted there)"
        print(f"  {experiment:<14} {len(configs):>4} runs, {sum(run_key(c) in todo for c in configs):>4} to train"
              f"{note}", flush=True)


def _print_device_classes(missing: list, device) -> None:
    """``run all``'s estimates for the device classes not at hand: derived from datasheets, not measured."""
    counted: dict = {}
    print("estimates for other devices, from the datasheet, NOT measured: counted FLOPs per step (convolutions and "
          "matrix products) x steps / (the datasheet's dense peak x an assumed efficiency), on a GPU each step no "
          f"faster than its counted operations x {estimate.LAUNCH_S[0] * 1e6:.0f}-{estimate.LAUNCH_S[1] * 1e6:.0f} "
          f"us of kernel launch (assumed), +{estimate.MEASURE_SHARE:.0%} for measuring; data loading and augmentation "
          "not counted:", flush=True)
    here = device_name(device)
    for d in estimate.DEVICE_CLASSES:
        e = estimate.datasheet_estimate(missing, d, counted)
        at_once = f"{d.workers} runs at once" if d.workers > 1 else "one run at a time"
        bound = (f"; launch-bound ({e.launch_bound:.0%} of the steps at the low end): a faster GPU would not shorten "
                 "them" if e.launch_bound >= 0.5 else "")
        is_here = (d.gpu and bool(d.model) and d.model in here) or (
            not d.gpu and device.type == "cpu" and available_cores() == d.workers)
        print(f"  {d.name:<11} about {estimate.format_duration(e.low)} to {estimate.format_duration(e.high)} "
              f"({at_once}; {d.basis}; assumed {d.efficiency[0]:.0%}-{d.efficiency[1]:.0%} of the peak{bound})"
              + ("  [this machine is of this class: see its measured estimate above]" if is_here else ""), flush=True)


def _run(args, parser) -> int:
    groups, resources = _check_run_args(args, parser)
    configs = [c for cs in groups.values() for c in cs]
    invocation = os.environ[execute.INVOCATION_ENV] = uuid.uuid4().hex  # inherited by workers and jobs
    store = runs.ResultsStore()
    missing = [c for c in configs if args.force or not store.exists(c)]
    if args.experiment == "all":
        _print_campaign(args, groups, missing, store)
    else:
        print(f"{args.experiment} ({args.profile}): {len(configs)} runs, {len(missing)} to train, results in "
              f"{store.root}", flush=True)
    missing_data = None  # checked before any estimate, worker or job (SLURM's nodes may see other files)
    if missing and args.executor != "slurm":
        try:
            execute.check_data(missing, download=False if args.dry_run else None,
                               no_download="a dry run downloads nothing (a run tries torchvision's download)")
        except data.DatasetNotFoundError as exc:
            if not args.dry_run:
                print(f"{parser.prog}: error: {exc}", file=sys.stderr)
                return 1
            missing_data = exc
            print(f"missing data: {exc}", flush=True)
    device = resolve_device(args.device)
    if missing and args.executor == "processes":
        workers, _ = plan_workers(args.jobs, len(missing), device)
        guess = estimate.estimate(missing, device, jobs=workers)
        print(f"estimate{' on this machine, measured' if args.experiment == 'all' else ''}: {guess.describe()}",
              flush=True)
    if missing and (args.experiment == "all" or args.dry_run):  # a dry run is asked for the cost: every device's
        _print_device_classes(missing, device)
    if missing and args.executor == "processes":
        if device.type == "cpu" and guess.seconds > estimate.CONFIRM_ABOVE_S and not args.yes and not args.dry_run:
            parser.error(f"the estimate ({estimate.format_duration(guess.seconds)} on a CPU) exceeds "
                         f"{estimate.format_duration(estimate.CONFIRM_ABOVE_S)}: pass --yes to start anyway, or use "
                         f"a GPU (--device cuda), a cluster (--executor slurm) or fewer runs (--seeds"
                         f"{'' if args.experiment == 'all' else ', --epochs'})")
    if args.dry_run:
        print("dry run: nothing trained" + (" (the data named above are missing: provide them first)"
                                            if missing_data else ""), flush=True)
        return 1 if missing_data else 0
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
        for text in getattr(exc, "tracebacks", {}).values() if args.debug else ():
            print(text, file=sys.stderr)
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 1
    _print_results(results, invocation)
    return 0


def status_rows(profiles: list[str] | None = None) -> list[dict[str, str]]:
    """For every chapter that reads experiments, and every profile: how many of its runs are stored.

    Counts the runs of each experiment at the profile's defaults on Fashion-MNIST; for a stored computation
    (an experiment that trains nothing, such as ``smooth-init``), how many parameter sets are stored.  An
    experiment the chapter does not read in a profile (:meth:`defstab_lib.chapters.ChapterSpec.experiments_for`:
    ``matched-real`` outside a profile with ``matched_contrast``; the random-labels chapter's ``pooling`` where
    its claim-7 contrast is ``matched-real``) is skipped for that profile, not listed.
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
            if not runs.get_experiment(experiment).trained:  # a stored computation, keyed by its parameters
                stored = sorted((store.root / experiment).glob("*.json"))
                rows.append({"chapter": spec.name, "experiment": experiment, "profile": "-",
                             "stored": str(len(stored)),
                             "missing": "" if stored else "computed when the chapter first runs (no training)"})
                continue
            for profile in profiles or list(runs.PROFILES):
                if experiment not in spec.experiments_for(profile):
                    continue
                configs = runs.experiment_configs(experiment, profile)
                states = {c: store.state(c) for c in configs}  # only valid results count as stored
                missing = [c for c, state in states.items() if state != "stored"]
                rows.append({
                    "chapter": spec.name, "experiment": experiment,
                    "profile": profile + ("*" if profile == default_profile else ""),
                    "stored": f"{len(configs) - len(missing)}/{len(configs)}",
                    "missing": ", ".join(c.describe().split(": ", 1)[1]
                                         + (f" (corrupt: {store.path(c)})" if states[c] != "missing" else "")
                                         for c in missing[:3])
                    + (f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""),
                })
    return rows


@dataclasses.dataclass(frozen=True)
class CampaignCost:
    """A profile's campaign (:mod:`defstab_lib.runs.campaign`) at its defaults on Fashion-MNIST: ``stored`` of
    ``total`` runs, the ``missing`` ones, and their ``estimate`` on this machine (``None`` when not timed)."""

    profile: str
    stored: int
    total: int
    missing: list
    estimate: estimate.Estimate | None

    def describe(self) -> str:
        head = f"{self.profile}: {self.stored}/{self.total} runs stored"
        if not self.missing:
            return head + ", complete"
        if self.estimate is None:
            return head + f", {len(self.missing)} missing (not timed: --no-estimate)"
        e = self.estimate
        workers = (f"{e.jobs} worker processes at once, {e.threads} thread(s) each, assuming each with a core of its "
                   f"own trains as fast as one timed alone"
                   + (f" (more workers than the {e.cores} cores share them)" if e.cores and e.jobs > e.cores else "")
                   if e.jobs > 1 else f"one run at a time, {e.threads} thread(s)")
        return (f"{head}, about {estimate.format_duration(e.seconds)} left on this machine ({e.device}; {workers}; "
                f"step times measured now on {e.networks} network(s))")


def campaign_costs(profiles: list[str] | None = None, *, jobs: int | None = None, timed: bool = True,
                   device: str = "auto") -> list[CampaignCost]:
    """Per profile, its campaign's cost: runs stored / total and, when ``timed``, the time the missing ones take on
    ``device`` with ``jobs`` workers (default: the runner's, one per core on a CPU); each distinct network is
    timed once for all profiles (:func:`defstab_lib.runs.estimate.estimate`)."""
    store = runs.ResultsStore()
    dev = resolve_device(device)
    measured: dict = {}
    out = []
    for profile in profiles or list(runs.PROFILES):
        configs = [c for cs in campaign.campaign_configs(profile).values() for c in cs]
        missing = [c for c in configs if store.state(c) != "stored"]  # a corrupt file is not stored
        guess = None
        if timed and missing:
            workers, _ = plan_workers(jobs, len(missing), dev)
            guess = estimate.estimate(missing, dev, jobs=workers, measured=measured)
        out.append(CampaignCost(profile, len(configs) - len(missing), len(configs), missing, guess))
    return out


def _status(args, parser) -> int:
    for p in args.profile or []:
        if p not in runs.PROFILES:
            parser.error(f"unknown profile {p!r}; allowed: {', '.join(runs.PROFILES)}")
    if args.jobs is not None:
        try:
            positive_int("--jobs", args.jobs)
        except (ValueError, TypeError) as exc:
            parser.error(str(exc))
    rows = status_rows(args.profile)
    print(f"results store: {runs.ResultsStore().root}")
    if not rows:
        print("no chapter reads stored results")
        return 0
    print(f"{'chapter':<16} {'experiment':<16} {'profile':<8} {'stored':>7}  missing")
    for r in rows:
        print(f"{r['chapter']:<16} {r['experiment']:<16} {r['profile']:<8} {r['stored']:>7}  {r['missing']}")
    print("* the profile a chapter renders by default (its parameters cell)")
    print("\ncampaign cost per profile (every experiment of the profile: pooling, random-labels, matched-real where "
          "the profile has it, synthetic, worst-case, ablation; on fashion-mnist at the profile's defaults; a run two "
          "experiments share counted once):")
    for cost in campaign_costs(args.profile, jobs=args.jobs, timed=not args.no_estimate):
        print(f"  {cost.describe()}", flush=True)
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


def _compute(args, parser) -> int:
    """``compute``: the stored computations the report of ``--profile`` reads (the random networks of
    :data:`defstab_lib.chapters.loading.RANDOM_NETWORK_KINDS`), computed where missing, each named by its file."""
    try:
        runs.experiment_configs("pooling", args.profile, dataset=args.dataset)  # checks the profile and the dataset
        chapters.resolve_device(args.device)
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    store = runs.ResultsStore()
    print(f"the stored computations of the {args.profile} profile's report on {args.dataset} (nothing is trained; "
          f"results in {store.root})", flush=True)
    parts = {"random-networks": _random_networks, "bn-init": _bn_init}  # COMPUTE_PARTS, in order
    failed = sum(parts[part](args, parser, store) for part in COMPUTE_PARTS if args.only in (None, part))
    return 1 if failed else 0


def _bn_init(args, parser, store) -> int:
    """``compute``'s BN-calibrated initialisations (:func:`defstab_lib.runs.bn_init.calibrate_runs`); 1 when a
    stored run's rebuilt network does not match it (the message names the file), else 0."""
    try:
        bn_init.calibrate_runs(args.profile, store=store, dataset=args.dataset, device=args.device,
                               report=lambda line: print(line, flush=True))
    except bn_init.InitMismatch as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


def _random_networks(args, parser, store) -> int:
    """``compute``'s random networks; the number of kinds that could not be computed."""
    failed = 0
    for kind in loading.RANDOM_NETWORK_KINDS:
        try:
            by_width = loading.random_networks(kind, profile=args.profile, dataset=args.dataset, device=args.device,
                                               store=store)
        except ValueError as exc:  # a measurement these parameters cannot make (say which), the others still made
            print(f"{parser.prog}: {kind} random networks of the {args.profile} profile cannot be computed: {exc}",
                  file=sys.stderr, flush=True)
            failed += 1
            continue
        for width, nets in by_width.items():
            print(f"  {kind} random networks at width {width:g}: {nets.draws} draws, "
                  f"{float(nets.provenance.get('wall_time_s', 0.0)):.0f} s of computing, in {nets.source.path}",
                  flush=True)
    return failed


def _list(args, parser) -> int:
    print("experiments:")
    for name in runs.trained_experiments():
        print(f"  {name:<14} {runs.get_experiment(name).description}")
    print("profiles:", ", ".join(runs.PROFILES), "(see defstab_lib.runs.profiles)")
    return 0


def _report(args, parser) -> int:
    if args.profiles is not None:
        return _report_profiles(args, parser)
    args.profile = args.profile or runs.BOOK_PROFILE
    try:
        runs.experiment_configs("pooling", args.profile, dataset=args.dataset, seeds=args.seeds)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        evidence, _ = loading.load_evidence(profile=args.profile, dataset=args.dataset, seeds=args.seeds,
                                            stored_only=True)
    except LookupError as exc:
        print(f"defstab report: {exc}", file=sys.stderr)
        return 1
    verdicts = report.all_verdicts(evidence)
    found = specifications.all_robustness(loading.load_inputs(evidence), verdicts)
    calibrated = robustness.calibrations(verdicts)
    tight = robustness.under_tightened(verdicts, calibrated)
    if args.json:
        print(json.dumps([{"number": v.numbers["number"], **to_json(v),
                           **robustness.robustness_json(found[key], args.profile),
                           "calibration": robustness.calibration_json(calibrated.get(key)),
                           "under_tightened_rule": tight.get(key)}
                          for v, key in zip(verdicts, found)], indent=1, ensure_ascii=False))
        return 0
    print(f"verdicts of the {args.profile} profile on {args.dataset} (results store {runs.ResultsStore().root})")
    for v, key in zip(verdicts, found):
        decide = f"  (~{v.n_needed} independent initialisations would decide it)" if v.n_needed else ""
        k, m = found[key].holds_in
        print(f"{v.numbers['number']:>2} {v.figure:<18} {v.verdict:<21} {v.what}: {v.value}{decide}; holds in {k} of "
              f"{m} specifications")
        for b in v.beside:
            where = b.numbers.get("where") or b.numbers.get("label", "")
            print(f"{'':>2} {'  beside':<18} {b.verdict:<21} {b.what}: {b.value} [{where}]")
        print(textwrap.fill(robustness.conditions_sentence(found[key]), 110, initial_indent=" " * 3,
                            subsequent_indent=" " * 3))
    print("\ncalibration of each rule at the observed spreads (simulated):")
    for row in robustness.calibration_rows(calibrated):
        print("   " + "; ".join(f"{k}: {v}" for k, v in row.items()))
    for line in (robustness.uncalibrated(verdicts, calibrated), robustness.tightened_sentence(verdicts, calibrated)):
        if line:
            print(textwrap.fill(line, 110, initial_indent=" " * 3, subsequent_indent=" " * 3))
    return 0


def _report_profiles(args, parser) -> int:
    """``report --profiles``: every profile's verdicts side by side (:func:`loading.compare_profiles`)."""
    if args.profile is not None or args.seeds is not None:
        parser.error("--profiles compares the profiles at their own seeds: leave out --profile and --seeds")
    try:
        for p in args.profiles:
            runs.get_profile(p)
        profiles = args.profiles or None
        runs.experiment_configs("pooling", "smoke", dataset=args.dataset)  # checks the dataset
        compared = loading.compare_profiles(profiles, dataset=args.dataset)
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
    command = {"run": _run, "status": _status, "compute": _compute, "list": _list, "report": _report}[args.command]
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
