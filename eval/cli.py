"""`casus eval`: score a trained model and the TF-IDF baseline on labelled data side by side, and time the model."""
import argparse
import json
import sys
from pathlib import Path

from casus.data.labels import LABELS
from casus.data.loaders import DataError, fingerprint, load_examples
from casus.eval.baseline import TfidfBaseline
from casus.eval.benchmark import benchmark_throughput, format_benchmark
from casus.eval.compare import format_comparison
from casus.eval.evaluator import ClassificationEvaluator, format_report, paired_bootstrap_difference, plot_reliability
from casus.eval.outdir import OutDirError, prepare_out_dir
from casus.model.cli import add_backend_arguments
from casus.training.config import DEFAULT_REPEAT, default_train_files


class UsageError(Exception):
    """Bad user input other than a data file (those raise DataError): reported as a message, exit code 2."""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="casus eval", description="Evaluate a trained casus model against a TF-IDF baseline.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", required=True, help="model folder written by `casus train`")
    parser.add_argument("--data", required=True, help="labelled .jsonl, .csv/.tsv or datasets folder to evaluate on")
    parser.add_argument("--train", nargs="+", metavar="FILE",
                        help="labelled data to train the baseline on (default: the model's own training data, "
                             "from its casus.json, else the shipped train splits)")
    parser.add_argument("--out", help="output folder (default: <model>/eval/<data file stem>/)")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into an output folder that holds other files (casus's own are replaced, "
                             "the others kept)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--no-benchmark", action="store_true", help="skip the throughput benchmark")
    parser.add_argument("--no-baseline", action="store_true", help="skip the TF-IDF baseline")
    parser.add_argument("--bootstrap", type=int, default=1000, help="resamples for the macro-F1 CI; 0 = no CI")
    parser.add_argument("--adapt-priors", action="store_true",
                        help="also score the model re-weighted for the label mix of --data, estimated from its "
                             "texts without labels (EM); writes the mix to priors.json for `casus tag --priors`")
    add_backend_arguments(parser)
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    if args.bootstrap < 0:
        parser.error("--bootstrap must be 0 or more")
    return args


def main(argv=None, load_model=None) -> int:
    """load_model: model folder -> tagger; model.load unless a caller (a test) passes another."""
    try:
        args = parse_args(argv)
    except SystemExit as exit:  # argparse has printed its help (0) or its error (2)
        return exit.code
    try:
        run(args, load_model)
    except (DataError, UsageError, OutDirError) as err:
        print(f"casus eval: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # e.g. the output folder cannot be made or written
        print(f"casus eval: error: {err}", file=sys.stderr)
        return 2
    return 0


def run(args, load_model=None):
    # Check and read every input, and fit the quick baseline, before the slow model: a typo fails at once
    model_dir = Path(args.model)
    if not model_dir.is_dir():
        raise UsageError(f"{model_dir}: no such model folder")
    examples = load_examples(args.data)
    out_dir = Path(args.out) if args.out else model_dir / "eval" / Path(args.data).stem
    prepare_out_dir(out_dir, args.overwrite)
    train_files, repeat, seed = (None, None, 0) if args.no_baseline else (
        (args.train, None, 0) if args.train else model_train_data(model_dir))
    if train_files is not None and not args.train:
        missing = [path for path in train_files if not Path(path).exists()]
        if missing:
            raise UsageError(f"the model's training data {', '.join(missing)} is missing; "
                             "pass --train FILE or --no-baseline")
    baseline = None
    if train_files is not None:
        per_file = [load_examples(path) for path in train_files]
        if repeat and len(repeat) == len(per_file):  # the same sample of each file that the model saw
            from casus.training.loop import weighted

            train_examples = weighted(per_file, repeat, seed)
        else:
            train_examples = [ex for examples in per_file for ex in examples]
        train_name = ", ".join(str(path) for path in train_files)
        warn_overlap(examples, train_examples, train_name)
        print(f"training the TF-IDF baseline on {len(train_examples)} sentences of {train_name}", file=sys.stderr)
        try:
            baseline = TfidfBaseline().fit([ex.text for ex in train_examples], [ex.label for ex in train_examples])
        except ValueError as err:  # e.g. a single label, or no usable words
            raise UsageError(f"{train_name}: cannot train the baseline: {err}") from None

    data_name = Path(args.data).stem
    model_name = model_dir.resolve().name
    if model_name == "baseline":  # would share the baseline's output folder
        model_name = "model"

    if load_model is None:
        from casus.model import load as load_model  # here, not at the top: torch and transformers import slowly
        from casus.model.quiet import quiet_transformers

        quiet_transformers()
    try:
        tagger = load_model(model_dir, precision=args.precision, backend=args.backend)
    except (OSError, ValueError, RuntimeError) as err:
        raise UsageError(f"cannot load a model from {model_dir}: {err}") from None
    if tuple(tagger.labels) != LABELS:
        raise UsageError(f"{model_dir}: the model's labels {tuple(tagger.labels)} are not casus's {LABELS}")

    def evaluate(system, predict_proba):
        print(f"evaluating {system} on {len(examples)} sentences of {args.data}", file=sys.stderr)
        evaluator = ClassificationEvaluator.from_examples(
            examples, name=f"{system} on {data_name}", batch_size=args.batch_size,
            bootstrap_samples=args.bootstrap, show_progress_bar=sys.stderr.isatty(),
        )
        return evaluator(predict_proba, output_dir=out_dir / system), evaluator

    metrics, evaluators = {}, {}
    metrics[model_name], evaluators[model_name] = evaluate(model_name, tagger.predict_proba)
    calibration = getattr(tagger, "metadata", {}).get("calibration")
    if calibration:
        # the same model before its label mix and temperature were folded in: what calibration buys
        from casus.model.calibration import uncalibrate

        shipped = evaluators[model_name].last_probabilities
        raw = uncalibrate(shipped, calibration)
        trained = f"{model_name} as trained"
        metrics[trained], evaluators[trained] = evaluate(trained, lambda texts: raw)
        plot_reliability({"as trained": raw, "as shipped": shipped}, evaluators[model_name].gold,
                         out_dir / "reliability.png")
    if args.adapt_priors:
        # re-weight the probabilities just scored: the model need not run again
        from casus.model.priors import estimate_priors, shift_priors

        raw = evaluators[model_name].last_probabilities
        mix = estimate_priors(raw, tagger.train_prior)
        priors = {label: float(share) for label, share in zip(LABELS, mix)}
        print("label mix estimated from the texts (no labels used): "
              + ", ".join(f"{label} {share:.3f}" for label, share in priors.items()), file=sys.stderr)
        adapted = f"{model_name}+priors"
        shifted = shift_priors(raw, tagger.train_prior, mix)
        metrics[adapted], evaluators[adapted] = evaluate(adapted, lambda texts: shifted)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "priors.json").write_text(json.dumps(priors, indent=2), encoding="utf-8")
    paired = {}
    if baseline is not None:
        metrics["baseline"], baseline_evaluator = evaluate("baseline", baseline.predict_proba)
        if args.bootstrap:
            for system, evaluator in evaluators.items():
                paired[system] = paired_bootstrap_difference(
                    evaluator.gold, evaluator.last_probabilities.argmax(axis=1),
                    baseline_evaluator.last_probabilities.argmax(axis=1), args.bootstrap)

    print(format_comparison(metrics))
    for system, diff in paired.items():
        print(f"\nmacro-F1 {system} - baseline: {diff['difference']:+.4f}, paired bootstrap 95% CI "
              f"[{diff['ci'][0]:+.4f}, {diff['ci'][1]:+.4f}]; {system} is not better in "
              f"{diff['p_not_better']:.1%} of {diff['samples']} resamples")
    for system_metrics in metrics.values():
        print("\n" + format_report(system_metrics))

    benchmark = None
    if not args.no_benchmark:
        benchmark = run_benchmark(tagger, [ex.text for ex in examples], args.batch_size)
        threads = f" on {benchmark['torch_threads']} torch threads" if benchmark["torch_threads"] else ""
        print(f"\nthroughput of {model_name}{threads}")
        print(format_benchmark(benchmark["results"]))

    summary = {
        "model": str(model_dir),
        "precision": getattr(tagger, "precision", args.precision),
        "backend": args.backend,
        "data": str(args.data),
        "data_fingerprint": fingerprint(examples),
        "baseline_train": None if train_files is None else [str(path) for path in train_files],
        "metrics": metrics,
        "paired_macro_f1_difference_vs_baseline": paired,
        "benchmark": benchmark,
    }
    with open(out_dir / "summary.json", "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    print(f"\nwrote {out_dir}", file=sys.stderr)


def model_train_data(model_dir) -> tuple[list, list | None, int]:
    """The files the model was trained on, how often each was used (--repeat) and the seed, from its
    casus.json; the shipped train splits as shipped if it names none. The baseline trains on the same
    data, so the comparison is between methods, not between data."""
    try:
        config = json.loads((Path(model_dir) / "casus.json").read_text(encoding="utf-8")).get("config", {})
    except (OSError, ValueError, AttributeError):
        config = {}
    if not isinstance(config, dict):
        config = {}
    files = config.get("train_file")
    if isinstance(files, str):
        files = [files]
    if not files:
        return default_train_files(), list(DEFAULT_REPEAT), 0
    return list(files), config.get("repeat"), int(config.get("seed", 0))


def warn_overlap(examples, train_examples, train_file):
    """A baseline trained on the very sentences it is scored on looks better than it is: say so."""
    shared = {ex.text for ex in examples} & {ex.text for ex in train_examples}
    if shared:
        print(f"warning: {len(shared)} evaluation sentences also appear in the baseline's training data "
              f"{train_file}", file=sys.stderr)


def run_benchmark(tagger, texts, batch_size) -> dict:
    # The thread count shapes CPU throughput, so it goes with the numbers; torch is only asked if loaded
    torch = sys.modules.get("torch")
    results = benchmark_throughput(tagger.predict_proba, texts, batch_sizes=sorted({1, batch_size}))
    return {"torch_threads": torch.get_num_threads() if torch else None, "results": results}
