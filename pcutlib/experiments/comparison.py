"""``pcut experiment``: does PriorityCut reduce warping artifacts? An equal-budget comparison.

Every variant differs from the others only in its discriminator and regularizer, trains with
the same seeds (each seed: the same batches, warps and mixing steps, and a discriminator freshly
initialised from it) and the same loss terms and schedule (the ``adversarial`` section of
``configs/recipes/experiment.yaml``: the adversarial term's weight, feature matching on every
discriminator's features, discriminator updates per generator update; a mixing variant's
consistency loss and the ramp of its mixed terms), in two settings (``--setting``), each with its own
run folders (``<runs>/<setting>/<variant>-seed<seed>``) and results (``<results>/experiment-<setting>/``):

    finetune   adversarial fine-tune of the shared reconstruction checkpoint (``--init-from``):
               ``--warmup-epochs`` in which only the fresh discriminator trains (the generator as
               it is), then ``--epochs`` adversarial epochs (CPU-sized choices)
    scratch    each variant trained from a fresh model with the adversarial term on from the first
               step, as the paper trains (FOMM's ``vox-adv`` is such a standalone run), with the
               reconstruction recipe otherwise

and in one of two worlds (``--world``; ``experiment_options``): the flat world of the shipped model,
or the textured world of ``pretrained/synthetic-64-textured.pt`` (fine-tune only), whose design
is ``finetune-textured`` (``design.design_name``: its folders are named by it).

The main comparison (the recipe's ``main``, the default):

    baseline-patch          FOMM's patch discriminator (LSGAN)
    unet                    the U-Net discriminator, no mixing
    cutmix                  + CutMix (random boxes)
    prioritycut-k10         + PriorityCut, top-10% most occluded foreground pixels
    oracle-prioritycut-k10  + the same top-10% ranked by the true dis-occlusion: an upper bound
                            that real data cannot have (``regularizer.type: oracle``)

and the ablations (every other variant of the recipe, run when named in ``--variants``, or all with ``ablations``):
k in {5, 30, 50}; the foreground restriction off (``-all``); masks that mix in nothing trained as
fake (``-ones-fake``, ``regularizer.all_ones_masks``); U-Net GAN's weights on mixed steps, no
plain real/fake terms beside the mixed ones (``-unetgan-weights``, ``regularizer.mixed_round_weights``)
for PriorityCut and CutMix.

Each run, the reconstruction checkpoint and copying the source frame are scored on the held-out
test videos of the synthetic world (``artifacts.evaluate_test_videos``): the error inside and
outside the true dis-occlusion (the claim), animation L1 against the true animation, the
PriorityCut mask's precision against the true dis-occlusion, pcut's pooled metrics and FOMM's
per-frame ones (``<metric>_fomm``); and each run's discriminator on held-out frames
(``discriminator_quality``, its pixel head against the true dis-occlusion included). Each run's
record (how it was made, its figures, its per-video values; ``run_records``) is written to
``<results>/experiment-<setting>/runs/``, to be committed: the command reads a matching record
instead of training, so only missing runs train, on any machine and over several sessions.
Variants are compared with the seed as the unit (``seed_statistics``): a paired t-interval on
per-seed differences of the primary metric ``l1_disoccluded`` with a hierarchical bootstrap
beside it, Holm's correction, a per-run gate and the smallest detectable difference.

Writes per setting ``experiment_runs.csv`` (one row per run), ``experiment.csv`` (mean and
spread over seeds), ``experiment_comparisons.csv`` (every comparison and metric: difference,
intervals, p, Holm's p, seeds left out and why, detectable difference, verdict),
``experiment.md`` (tables and verdicts), ``seed_differences.png`` (per-seed points),
``metrics_vs_k.png``, ``artifacts.png`` (with the true dis-occlusion outlined; only from runs
trained on this machine) and ``section.md``; with ``--readme docs/results.md README.md`` the
results section of the first page and the verdict table of the second (every setting found). A
progress bar counts the runs; an interrupted run continues from its last epoch. ``--quick`` runs
the whole pipeline on a tiny world and model in about a minute (for tests).
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from tqdm.auto import tqdm

from pcutlib.config import load_config, resolve_config
from pcutlib.data.make_synthetic import make_synthetic_dataset
from pcutlib.data.splits import load_split
from pcutlib.data.synthetic_truth import disocclusion_from
from pcutlib.evaluation.probes import load_probe, save_probe, train_identity_probe, train_pose_probe
from pcutlib.experiments.experiment_options import (QUICK_WORLD, design_of, reproducing_command,
                                                   resolve_arguments)
from pcutlib.experiments.recipes import experiment_config, experiment_recipe, synthetic_config, variant
from pcutlib.experiments.report import (SETTING_TITLES, markdown_table, plot_artifacts, plot_metrics_vs_k,
                                        plot_seed_differences, write_csv, write_pages)
from pcutlib.experiments.run_records import (file_digest, read_record, records_folder, reference_record_path,
                                             run_record_path, write_record)
from pcutlib.experiments.runs import (COPY, INIT, INIT_SCRATCH, SCRATCH_RECONSTRUCTION_COMMAND, ensure_start,
                                      ensure_trained, ensure_warmed_up, read_run_record, reconstruction_row,
                                      run_minutes, run_record, scored, warmup_dir)
from pcutlib.experiments.design import ORACLE, SETTING_SEEDS, WORLDS, setting_plan
from pcutlib.experiments.seed_statistics import seed_comparisons, seed_report
from pcutlib.experiments.statistics import DISCRIMINATOR_METRICS, METRICS, summarize

def experiment_base(args: argparse.Namespace, progress: bool) -> dict:
    """The reconstruction config every variant starts from; --quick: the tiny world (written
    when missing) and one reconstruction-only epoch of the smoke model."""
    if not args.quick:
        return synthetic_config(args.config, args.data, progress, world=WORLDS[args.world])

    if not (args.data / "test").is_dir():
        make_synthetic_dataset(args.data, progress=False, overwrite=True, world=WORLDS[args.world], **QUICK_WORLD)
    config = load_config(args.config)
    config["dataset_params"]["root_dir"] = str(args.data)
    config["train_params"]["num_epochs"] = 1
    config["train_params"]["loss_weights"]["generator_gan"] = 0
    config["regularizer"]["type"] = "none"
    return resolve_config(config)


def ensure_probes(folder: Path, data: Path, steps: int, progress: bool) -> dict:
    """{"pose", "identity"} probes from folder, trained on data's train split when missing."""
    probes = {}
    for kind, trainer in (("pose", train_pose_probe), ("identity", train_identity_probe)):
        path = folder / f"{kind}.pt"
        if not path.exists():
            probe = trainer(str(data), steps=steps, progress=progress)
            folder.mkdir(parents=True, exist_ok=True)
            save_probe(path, probe)
        probes[kind] = load_probe(path)
    return probes


def seeds_of(args, setting: str) -> list[int]:
    """The seeds to train: --seeds, else the setting's default (SETTING_SEEDS)."""
    return list(args.seeds) if args.seeds is not None else list(SETTING_SEEDS[design_of(args, setting)])


def plan_seeds(args, setting: str) -> list[int]:
    """The seeds the tables and verdicts cover, whatever --seeds trains now: the design's
    (SETTING_SEEDS) and any other seed asked for; with --quick its own seeds."""
    if args.quick:
        return seeds_of(args, setting)
    return sorted(set(SETTING_SEEDS[design_of(args, setting)]) | set(seeds_of(args, setting)))


def plan_variants(args, setting: str) -> list[str]:
    """The variants the tables and verdicts cover, whatever --variants trains now: the design's
    (``setting_plan``) and any other variant asked for; with --quick its own variants."""
    if args.quick:
        return list(args.variants)
    return list(dict.fromkeys([*setting_plan(design_of(args, setting))["variants"], *args.variants]))


def planned_runs(args, setting: str) -> int:
    """How many runs the tables of ``setting`` plan: every planned variant, every planned seed."""
    return len(plan_variants(args, setting)) * len(plan_seeds(args, setting))


def score_references(args, setting: str, test: list, probes, progress: bool) -> dict:
    """{"init", "copy"}: (summary, per-video rows) of the reconstruction checkpoint and of copying
    the source frame, from their records under <results>/experiment-<setting>/runs/ when they
    match (``run_records``), else scored (``probes()`` gives the probes) and recorded. The
    reconstruction checkpoint's record counts only when the checkpoint here is the one it scored
    (or none is here); without either, its row is left out, and the command says so."""
    names = [path.name for path, *_ in test]
    scoring = {"probe_steps": args.probe_steps}
    scored_references = {}
    for key, folder, checkpoint in (("init", "reconstruction-start", reconstruction_row(args, setting)),
                                    ("copy", "copy-source", None)):
        path = reference_record_path(args.results, design_of(args, setting), key)
        made_from = {"reference": key}
        here = start_digest(args, checkpoint)
        record = read_record(path, made_from, names, say=tqdm.write, start=here, scoring=scoring)
        if record is None and checkpoint is not None and not Path(checkpoint).is_file():
            tqdm.write(f"{path.name}: no record and no checkpoint at {checkpoint}: the '{key}' row is left out")
            continue
        if record is None:
            summary, videos = scored(args.runs / design_of(args, setting) / folder, checkpoint, test, probes(), False,
                                     progress=progress)
            write_record(path, made_from, here, names, 0.0, summary, videos, scoring)
            record = read_record(path, made_from, names, scoring=scoring)
        scored_references[key] = (record["summary"], record["per_video"])
    return scored_references


def start_digest(args, checkpoint: Path | None) -> str | None:
    """The digest of a starting checkpoint here (``run_records.file_digest``, read once per
    command), or None when there is none here (then a record's start is not compared)."""
    if checkpoint is None or not Path(checkpoint).is_file():
        return None
    digests = vars(args).setdefault("start_digests", {})
    if str(checkpoint) not in digests:
        digests[str(checkpoint)] = file_digest(checkpoint)
    return digests[str(checkpoint)]


def scoring_of(args) -> dict:
    """What a run's figures depend on besides the run: compared on resume (``run_records``)."""
    return {"quality_frames": args.quality_frames, "probe_steps": args.probe_steps}


def planned_run(args, setting: str, base: dict, name: str, seed: int) -> dict:
    """One (variant, seed) run: {"config", "run_dir", "init_from", "warm_start" (the shared U-Net
    warm-up's checkpoint, or None), "made_from" (its ``run_record``), "record" (its record's path)}.
    Every variant of a seed warms its discriminator up for the same --warmup-epochs (finetune)."""
    epochs = args.epochs if setting == "finetune" else args.scratch_epochs
    init_from = args.init_from if setting == "finetune" else None
    warmup = args.warmup_epochs if setting == "finetune" else 0
    config = experiment_config(base, variant(name), setting, epochs, seed, warmup)
    shared = setting == "finetune" and warmup > 0 and variant(name)["kind"] == "unet"
    warm_start = warmup_dir(args, seed) / "checkpoints" / "last.pt" if shared else None
    design = design_of(args, setting)
    return {"config": config, "run_dir": args.runs / design / f"{name}-seed{seed}", "init_from": init_from,
            "warm_start": warm_start, "made_from": run_record(config, init_from, warm_start),
            "record": run_record_path(args.results, design, name, seed)}


def finished_checkpoint(plan: dict) -> Path | None:
    """The run's checkpoint when this machine finished exactly this run (for the figures), else None."""
    last, marker = plan["run_dir"] / "checkpoints" / "last.pt", plan["run_dir"] / "experiment_run.json"
    return last if last.is_file() and marker.is_file() and read_run_record(marker) == plan["made_from"] else None


def train_and_score(args, setting: str, base: dict, test: list, probes, bar) -> tuple[list, dict, dict]:
    """Every (variant, seed) run of one setting: read from its record under results/ when that
    matches (``run_records.read_record``), else trained where needed, scored and recorded. Returns
    (rows {"variant", "seed", "start", summary...}, per_video {variant: {seed: rows}}, {variant:
    a checkpoint finished here, for the figures})."""
    rows, per_video, checkpoints = [], {}, {}
    names = [path.name for path, *_ in test]
    trained = set(seeds_of(args, setting))       # the others: read from their records when they match
    for seed in plan_seeds(args, setting):       # seed by seed: an interrupted command leaves whole seeds
        for name in plan_variants(args, setting):    # only --variants train; the design's others are read
            plan = planned_run(args, setting, base, name, seed)
            bar.set_postfix_str(f"{setting}/{plan['run_dir'].name}")
            start = start_digest(args, plan["init_from"])
            record = read_record(plan["record"], plan["made_from"], names, say=tqdm.write, start=start,
                                 scoring=scoring_of(args))
            if record is None and (args.records_only or seed not in trained or name not in args.variants):
                bar.update()
                continue
            if record is None:
                warmup_minutes = 0.0
                if plan["warm_start"] is not None:
                    fresh = not (warmup_dir(args, seed) / "experiment_run.json").is_file()
                    ensure_warmed_up(args, base, seed, say=tqdm.write)
                    # a warm-up trained now counts once, in the first run that needed it
                    warmup_minutes = run_minutes(warmup_dir(args, seed)) if fresh else 0.0
                last = ensure_trained(plan["config"], plan["run_dir"], plan["init_from"], args.device,
                                      not args.no_progress, say=tqdm.write, warm_start=plan["warm_start"])
                summary, videos = scored(plan["run_dir"], last, test, probes(), True, args.quality_frames,
                                         not args.no_progress)
                minutes = run_minutes(plan["run_dir"]) + warmup_minutes
                write_record(plan["record"], plan["made_from"], start_digest(args, plan["init_from"]), names,
                             minutes, summary, videos, scoring_of(args))
                record = read_record(plan["record"], plan["made_from"], names, scoring=scoring_of(args))
            per_video.setdefault(name, {})[seed] = record["per_video"]
            rows.append({"variant": name, "seed": seed, "start": record["start"], "minutes": record["minutes"],
                         **record["summary"]})
            if name not in checkpoints and (last := finished_checkpoint(plan)) is not None:
                checkpoints[name] = last
            bar.update()
    return rows, per_video, checkpoints


def missing_runs(args, setting: str, base: dict, test: list) -> list[str]:
    """The (variant-seed) runs of ``setting`` whose record is missing or stale (they will train)."""
    names = [path.name for path, *_ in test]
    plans = [planned_run(args, setting, base, name, seed) for seed in seeds_of(args, setting) for name in args.variants]
    return [plan["run_dir"].name for plan in plans
            if read_record(plan["record"], plan["made_from"], names, say=lambda text: None,
                           start=start_digest(args, plan["init_from"]), scoring=scoring_of(args)) is None]


def setting_budget(args, setting: str, base: dict, test: list, reference_row: bool) -> str:
    """One sentence: what each run of ``setting`` trained, and on what it is scored (``reference_row``:
    whether the setting's reconstruction row is in the tables)."""
    runs = f"{len(plan_variants(args, setting))} variants x {len(plan_seeds(args, setting))} seeds"
    if args.world != "flat":
        world = WORLDS[args.world]
        runs += (f" in the {args.world} world (`{args.data}`: a random grain of sd {world.background_texture:g} "
                 f"of 255 on the background{' and on every body part' if world.part_grain else ''})")
    frames = base["train_params"]["batch_size"]
    if setting == "finetune":
        how = (f"each fine-tuned from `{args.init_from}` (row '{INIT}'): {args.warmup_epochs} epochs in which only "
               f"the fresh discriminator trains (the same for every variant; one warm-up per seed shared by the U-Net "
               f"variants), then {args.epochs} adversarial epochs ({frames} frames a step)")
    else:
        epochs = args.scratch_epochs or base["train_params"]["num_epochs"]
        how = (f"each trained from a fresh model for {epochs} epochs ({frames} frames a step) with the adversarial "
               f"term from the first step and the reconstruction recipe otherwise; row '{INIT_SCRATCH}' "
               f"{'is' if reference_row else '(not recorded yet: scored when a machine has the checkpoint) would be'} "
               f"`{reconstruction_row(args, setting)}`, that recipe without the adversarial term"
               + ("" if args.quick else f" (`{SCRATCH_RECONSTRUCTION_COMMAND}`)"))
    adversarial = experiment_recipe()["adversarial"]
    norm = "with" if adversarial["discriminator_spectral_norm"] else "without"
    return (f"{runs}, {how}; every discriminator {norm} spectral norm, the adversarial term at weight "
            f"{adversarial['generator_gan']:g} and feature matching at {adversarial['feature_matching']:g} per block, "
            f"the consistency loss of the mixing variants at {adversarial['consistency_weight']:g} with their mixed "
            f"terms ramped in over the first {adversarial['mixed_terms_warmup_epochs']:g} epochs of mixing, a share "
            f"{adversarial['mix_probability']:g} of their discriminator steps mixed ({adversarial['mixed_round_weights']} "
            f"weights, {adversarial['mixed_pixel_weighting']} pixel weighting, plain decoder terms "
            f"{adversarial['decoder_plain_terms']}), "
            f"{adversarial['discriminator_steps_per_generator_step']} discriminator updates per generator update; "
            f"{len(test)} held-out test videos of unseen figures")


def write_setting_results(args, setting: str, rows: list, per_video: dict, checkpoints: dict, test: list,
                          budget: str) -> str:
    """Tables, the seed-level comparisons (``seed_statistics``) and plots of one setting in
    <results>/experiment-<setting>/; returns the markdown section (``section.md``)."""
    design = design_of(args, setting)
    folder = args.results / f"experiment-{design}"
    if (folder / "experiment.md").is_file():
        # the tables are a function of the recorded runs: rewritten from all of them, and said so
        print(f"rewriting {folder}/ from the {len(rows)} runs recorded under {records_folder(args.results, design)}/ "
              f"(the previous tables and plots there are replaced)")
    folder.mkdir(parents=True, exist_ok=True)
    init_label = INIT if setting == "finetune" else INIT_SCRATCH
    variants = plan_variants(args, setting)
    table = summarize(rows, [*variants, init_label, COPY])
    # the design's plan (design.setting_plan); --quick plans only what it runs. Holm's family is the
    # design's comparisons whatever --variants trains now (as plan_seeds keeps the design's seeds)
    plan = setting_plan(design)
    tuning = () if args.quick else plan["tuning_seeds"]
    min_auc, min_pixel_auc = plan["min_auc"], plan["min_pixel_auc"]
    planned_seeds = len([s for s in plan_seeds(args, setting) if s not in tuning])
    comparisons = seed_comparisons(rows, per_video, resamples=args.resamples, tuning_seeds=tuning,
                                   planned_seeds=planned_seeds, min_auc=min_auc, min_pixel_auc=min_pixel_auc,
                                   planned_variants=variants)
    planned, recorded = planned_runs(args, setting), sum(row["seed"] is not None for row in rows)
    # the README's verdict table reads the plan and the sensitivity (no gate, no tuning seed) from here
    ungated = {(r["variant"], r["reference"]): r for r in seed_comparisons(
        rows, min_auc=0.0, min_pixel_auc=0.0, planned_variants=variants) if r["family"] == "primary"}
    for row in comparisons:
        row.update(planned_seeds=planned_seeds, recorded_runs=recorded, planned_runs=planned)
        if row["family"] == "primary":
            every = ungated[(row["variant"], row["reference"])]
            row.update(n_ungated=every["n"], p_holm_ungated=every["p_holm"], verdict_ungated=every["verdict"])
    write_csv(folder / "experiment_runs.csv",
              [{k: v for k, v in row.items() if k in ("variant", "seed", "start", "minutes", *METRICS, "mask_chance",
                                                           *DISCRIMINATOR_METRICS)} for row in rows])
    write_csv(folder / "experiment.csv", table)
    write_csv(folder / "experiment_comparisons.csv", comparisons)
    plot_seed_differences(comparisons, rows, folder / "seed_differences.png", min_auc, min_pixel_auc, tuning)
    plot_metrics_vs_k(table, folder / "metrics_vs_k.png")
    figure = "![the same held-out frames across variants, true dis-occlusion outlined](artifacts.png)"
    if checkpoints:
        path, video, _, truth = test[0]
        plot_artifacts(checkpoints, video, path.name, folder / "artifacts.png",
                       disoccluded=None if truth is None else disocclusion_from(truth, 0))
        missing = [name for name in variants if name not in checkpoints]
        if missing:
            print(f"artifacts.png: no checkpoint of {', '.join(missing)} on this machine (their records came from "
                  f"results/): the figure shows the others")
    elif (folder / "artifacts.png").is_file():
        print("artifacts.png: no checkpoint of this setting on this machine; the figure there is kept as it was")
    else:
        figure = ""
    minutes = sum(row["minutes"] for row in rows if row["seed"] is not None and not math.isnan(row["minutes"]))
    recorded_line = ("" if recorded == planned else f" These tables hold the {recorded} of {planned} planned runs "
                     f"recorded so far (the command trains the others; `--records-only` writes the tables from the "
                     f"records alone).")
    starts = sorted({row["start"] for row in rows if row["seed"] is not None and row["start"]})
    text = "\n".join([
        f"Budget: {budget}. Command: `{reproducing_command(args, setting)}` ({minutes:.0f} min of training and "
        f"scoring, summed over the runs' records" + (f"; the runs started from {len(starts)} reconstruction "
                                                      f"checkpoints trained by the same command" if len(starts) > 1 else "")
        + ")." + recorded_line, "",
        "Mean ± standard deviation over seeds; definitions in docs/usage.md, Metrics. Artifact metrics pool "
        "the truly dis-occluded (visible) pixels of frames 2.. of every held-out video reconstructed from its "
        "first frame; mask precision next to a random mask of the same size; D AUCs: the run's discriminator on "
        f"held-out real and generated frames (0.5 = chance). `{ORACLE}` ranks the true dis-occlusion instead of "
        "the occlusion map: an upper bound that real data cannot have.", "",
        markdown_table(table), "",
        seed_report(rows, comparisons, min_auc, min_pixel_auc, tuning_seeds=tuning, planned_seeds=planned_seeds,
                    history="" if args.quick else plan["history"], planned_variants=variants),
        "![per-seed differences of the primary metric with their t-intervals](seed_differences.png)", "",
        "![metrics against k](metrics_vs_k.png)", "", figure])
    (folder / "section.md").write_text(text.rstrip() + "\n")
    (folder / "experiment.md").write_text(f"# PriorityCut experiment on the synthetic world\n\n"
                                          f"## {SETTING_TITLES[design]}\n\n{text.rstrip()}\n")
    return text


def run_experiment(args) -> int:
    args = resolve_arguments(args)
    progress = not args.no_progress
    base = experiment_base(args, progress)
    data = Path(base["dataset_params"]["root_dir"])
    test = load_split(data, "test", base["dataset_params"]["frame_shape"])
    probes_made = {}

    def probes() -> dict:                      # trained or read only when something is scored
        if not probes_made:
            folder = args.runs / ("probes" if args.world == "flat" else f"probes-{args.world}")
            probes_made.update(ensure_probes(folder, data, args.probe_steps, progress))
        return probes_made

    missing = {setting: missing_runs(args, setting, base, test) for setting in args.settings}
    for setting, runs in missing.items():
        total = len(args.variants) * len(seeds_of(args, setting))
        if args.records_only:
            print(f"{setting}: {total - len(runs)} of {total} runs recorded; --records-only leaves out the others"
                  + (f" ({', '.join(runs[:6])}{' ...' if len(runs) > 6 else ''})" if runs else ""))
            continue
        print(f"{setting}: {len(runs)} of {total} runs to train"
              + (f" ({', '.join(runs[:6])}{' ...' if len(runs) > 6 else ''})" if runs else
                 f" (every run read from {records_folder(args.results, design_of(args, setting))}/)"))
    ensure_start(args, base, missing, progress)
    total = sum(planned_runs(args, setting) for setting in args.settings)
    bar = tqdm(total=total, desc="experiment runs", unit="run", disable=not progress, dynamic_ncols=True)
    for setting in args.settings:
        references = score_references(args, setting, test, probes, progress)
        rows, per_video, checkpoints = train_and_score(args, setting, base, test, probes, bar)
        init_label = INIT if setting == "finetune" else INIT_SCRATCH
        for key, label in (("init", init_label), ("copy", COPY)):
            if key not in references:
                continue
            summary, videos = references[key]
            per_video[label] = {seed: videos for seed in plan_seeds(args, setting)}
            rows.append({"variant": label, "seed": None, "start": None, "minutes": math.nan, **summary})
        text = write_setting_results(args, setting, rows, per_video, checkpoints, test,
                                     setting_budget(args, setting, base, test, "init" in references))
        tqdm.write(f"\n## {SETTING_TITLES[design_of(args, setting)]}\n\n{text}")
    bar.close()
    if args.readme:
        write_pages(args.readme, args.results)
    return 0
