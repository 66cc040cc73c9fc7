"""`casus eval`: score a trained model and the TF-IDF baseline on labelled data side by side, and time the model.

The model is scored in fp32, the precision its checkpoint was chosen in, with int8 (as `casus tag` runs
on a CPU) beside it; `--precision` picks one of them alone."""
import argparse
import json
import sys
import warnings
from pathlib import Path

from casus.data.labels import LABELS
from casus.data.loaders import DataError, fingerprint, load_examples
from casus.eval.baseline import TfidfBaseline
from casus.eval.benchmark import benchmark_throughput, format_benchmark
from casus.eval.metrics import ClassificationEvaluator, paired_bootstrap_difference
from casus.eval.outdir import OutDirError, prepare_out_dir
from casus.eval.overlap import check_unseen
from casus.eval.report import format_comparison, format_report, plot_reliability, write_outputs
from casus.training.config import DEFAULT_REPEAT, default_train_files

# --precision: which precisions are scored; the first is the model's column, the second goes beside it
PRECISIONS = {"both": ("fp32", "int8"), "fp32": ("fp32",), "int8": ("int8",)}


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
                             "texts without labels (EM, re-estimated in each bootstrap resample for the CI); "
                             "writes the mix to priors.json for `casus tag --priors`")
    parser.add_argument("--precision", choices=tuple(PRECISIONS), default="both",
                        help="both = score in fp32 (the precision the checkpoint was chosen in) with int8 "
                             "(`casus tag --precision int8`) beside it; fp32 or int8 = that one alone")
    parser.add_argument("--backend", choices=("torch", "onnx"), default="torch",
                        help="torch, or onnx: ONNX Runtime on the CPU, as in `casus tag --backend`")
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
        with warnings.catch_warnings():
            warnings.showwarning = one_line_warning
            run(args, load_model)
    except (DataError, UsageError, OutDirError) as err:
        print(f"casus eval: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # e.g. the output folder cannot be made or written
        print(f"casus eval: error: {err}", file=sys.stderr)
        return 2
    return 0


def one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"casus eval: warning: {message}", file=file or sys.stderr)


def run(args, load_model=None):
    # Every input is checked and read, and the quick baseline fitted, before the slow model: a typo fails at once
    model_dir, examples, out_dir = read_inputs(args)
    baseline, baseline_files = fit_baseline(args, model_dir, examples)
    taggers = load_taggers(model_dir, PRECISIONS[args.precision], load_model, args.backend)
    seen = check_unseen(examples, args.data, model_dir)  # once the model loads: a warning, then no error

    model_name = system_name(model_dir)
    scored = score_model(model_name, taggers, examples, args, out_dir)
    if baseline is not None:
        scored["baseline"] = evaluate("baseline", baseline.predict_proba, examples, args)
    paired = compare_with_baseline(scored, args.bootstrap) if baseline is not None and args.bootstrap else {}
    metrics = {system: evaluator.last_metrics for system, evaluator in scored.items()}
    print_results(metrics, paired, model_name)
    benchmark = None if args.no_benchmark else run_benchmark(taggers, model_name, examples, args.batch_size)

    write_results(out_dir, scored, {
        "model": str(model_dir),
        "precision": args.precision,
        "backend": args.backend,
        "data": str(args.data),
        "data_fingerprint": fingerprint(examples),
        "seen_by_model": seen,
        "baseline_train": None if baseline_files is None else [str(path) for path in baseline_files],
        "metrics": metrics,
        "paired_macro_f1_difference_vs_baseline": paired,
        "benchmark": benchmark,
    })


def read_inputs(args):
    """The model folder, the examples of --data and the output folder, made ready (see outdir.py)."""
    model_dir = Path(args.model)
    if not model_dir.is_dir():
        raise UsageError(f"{model_dir}: no such model folder")
    examples = load_examples(args.data)
    out_dir = prepare_out_dir(Path(args.out) if args.out else model_dir / "eval" / Path(args.data).stem,
                              args.overwrite)
    return model_dir, examples, out_dir


def system_name(model_dir) -> str:
    name = Path(model_dir).resolve().name
    return "model" if name == "baseline" else name  # "baseline" would share the baseline's output folder


def write_results(out_dir, scored, summary):
    """Each system's files in its own folder, then summary.json."""
    for system, evaluator in scored.items():
        write_outputs(evaluator.last_metrics, evaluator.texts, evaluator.gold, evaluator.last_probabilities,
                      out_dir / system)
    with open(out_dir / "summary.json", "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    print(f"\nwrote {out_dir}", file=sys.stderr)


def fit_baseline(args, model_dir, examples):
    """The TF-IDF baseline fitted on --train, or on the model's own training data (the same sample of each
    file); (None, None) with --no-baseline. Also (baseline, the files it was trained on)."""
    if args.no_baseline:
        return None, None
    files, repeat, seed = (args.train, None, 0) if args.train else model_train_data(model_dir)
    if not args.train:
        missing = [path for path in files if not Path(path).exists()]
        if missing:
            raise UsageError(f"the model's training data {', '.join(missing)} is missing; "
                             "pass --train FILE or --no-baseline")
    per_file = [load_examples(path) for path in files]
    if repeat and len(repeat) == len(per_file):  # the same sample of each file that the model saw
        from casus.training.loop import weighted

        train_examples = weighted(per_file, repeat, seed)
    else:
        train_examples = [ex for file_examples in per_file for ex in file_examples]
    name = ", ".join(str(path) for path in files)
    if args.train:  # the model's own training data is checked by check_unseen
        warn_overlap(examples, train_examples, name)
    print(f"training the TF-IDF baseline on {len(train_examples)} sentences of {name}", file=sys.stderr)
    try:
        baseline = TfidfBaseline().fit([ex.text for ex in train_examples], [ex.label for ex in train_examples])
    except ValueError as err:  # e.g. a single label, or no usable words
        raise UsageError(f"{name}: cannot train the baseline: {err}") from None
    return baseline, files


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
        warnings.warn(f"{len(shared)} evaluation sentences also appear in the baseline's training data {train_file}",
                      stacklevel=2)


def load_taggers(model_dir, precisions, load_model=None, backend="torch") -> dict:
    """{precision: tagger} in the order asked. int8 runs on the CPU whatever device fp32 is on."""
    if load_model is None:
        from casus.model import load as load_model  # here, not at the top: torch and transformers import slowly
        from casus.model.quiet import quiet_transformers

        quiet_transformers()
    taggers = {}
    for precision in precisions:
        try:
            options = {"device": "cpu"} if precision == "int8" else {}
            if backend != "torch":  # stand-in loaders in tests take no backend
                options["backend"] = backend
            tagger = load_model(model_dir, precision=precision, **options)
        except (OSError, ValueError, RuntimeError) as err:
            raise UsageError(f"cannot load a model from {model_dir}: {err}") from None
        if tuple(tagger.labels) != LABELS:
            raise UsageError(f"{model_dir}: the model's labels {tuple(tagger.labels)} are not casus's {LABELS}")
        taggers[precision] = tagger
    return taggers


def evaluate(system, predict_proba, examples, args, **options) -> ClassificationEvaluator:
    """An evaluator that has scored predict_proba on examples: its last_metrics, last_probabilities and
    statistic hold the results."""
    print(f"evaluating {system} on {len(examples)} sentences of {args.data}", file=sys.stderr)
    evaluator = ClassificationEvaluator.from_examples(
        examples, name=f"{system} on {Path(args.data).stem}", batch_size=args.batch_size,
        bootstrap_samples=args.bootstrap, show_progress_bar=sys.stderr.isatty(), **options)
    evaluator(predict_proba)
    return evaluator


def score_model(name, taggers, examples, args, out_dir) -> dict:
    """{system: evaluator}: the model in its first precision, with the second (int8) beside it in the same
    metrics; then variants made from the same probabilities without running the model again: the model
    as trained (for a calibrated checkpoint) and re-weighted for the label mix of the data (--adapt-priors)."""
    (precision, tagger), *others = taggers.items()
    model = evaluate(name, tagger.predict_proba, examples, args)
    model.last_metrics["precision"] = precision
    for other_precision, other_tagger in others:
        model.last_metrics[other_precision] = scored_beside(
            model, evaluate(f"{name} {other_precision}", other_tagger.predict_proba, examples, args), precision,
            args.bootstrap)
    scored = {name: model}
    probs = model.last_probabilities
    out_dir.mkdir(parents=True, exist_ok=True)  # for reliability.png and priors.json

    calibration = getattr(tagger, "metadata", {}).get("calibration")
    if calibration:
        # the same model before its label mix and temperature were folded in: what calibration buys
        from casus.model.calibration import uncalibrate

        raw = uncalibrate(probs, calibration)
        scored[f"{name} as trained"] = evaluate(f"{name} as trained", lambda texts: raw, examples, args)
        plot_reliability({"as trained": raw, "as shipped": probs}, model.gold, out_dir / "reliability.png")
    if args.adapt_priors:
        adapted = evaluate(f"{name}+priors", lambda texts: probs, examples, args, adapt_priors_from=tagger.train_prior)
        scored[f"{name}+priors"] = adapted
        mix = adapted.last_metrics["label_mix"]
        print("label mix estimated from the texts (no labels used): "
              + ", ".join(f"{label} {share:.3f}" for label, share in mix.items()), file=sys.stderr)
        (out_dir / "priors.json").write_text(json.dumps(mix, indent=2), encoding="utf-8")
    return scored


def scored_beside(main, other, main_precision, samples) -> dict:
    """The metrics of `other` (the same model in another precision) to sit inside main's metrics: its
    scores, how many sentences' labels it changes, and its paired macro-F1 difference to main."""
    beside = {key: value for key, value in other.last_metrics.items() if key not in ("name", "per_group")}
    changed = other.last_probabilities.argmax(axis=1) != main.last_probabilities.argmax(axis=1)
    beside["labels_changed"] = int(changed.sum())
    if samples:
        beside[f"difference_vs_{main_precision}"] = paired_bootstrap_difference(
            other.statistic, main.statistic, len(main.gold), samples)
    return beside


def compare_with_baseline(scored, samples) -> dict:
    """Each system's macro-F1 minus the baseline's, both on the same resampled sentences each time."""
    baseline = scored["baseline"]
    return {system: paired_bootstrap_difference(evaluator.statistic, baseline.statistic, len(baseline.gold), samples)
            for system, evaluator in scored.items() if system != "baseline"}


def print_results(metrics, paired, model_name):
    """The comparison table, the paired differences, then each system's report, on stdout."""
    print(format_comparison(metrics))
    for system, diff in paired.items():
        print(f"\nmacro-F1 {system} - baseline: {format_difference(diff)}; {system} is not better in "
              f"{diff['p_not_better']:.1%} of {diff['samples']} resamples")
    int8 = metrics[model_name].get("int8")
    if int8 and int8.get("difference_vs_fp32"):
        print(f"\nmacro-F1 int8 - fp32: {format_difference(int8['difference_vs_fp32'])}; "
              f"{int8['labels_changed']} of {int8['n']} labels differ")
    for system_metrics in metrics.values():
        print("\n" + format_report(system_metrics))


def format_difference(diff) -> str:
    return f"{diff['difference']:+.4f}, paired bootstrap 95% CI [{diff['ci'][0]:+.4f}, {diff['ci'][1]:+.4f}]"


def run_benchmark(taggers, model_name, examples, batch_size) -> dict:
    """Throughput of the precision `casus tag` runs on a CPU by default (fp32) when it was loaded, else of
    the one that was. The thread count shapes CPU throughput, so it goes with the numbers; torch is only
    asked if loaded."""
    precision = "fp32" if "fp32" in taggers else next(iter(taggers))
    torch = sys.modules.get("torch")
    results = benchmark_throughput(taggers[precision].predict_proba, [ex.text for ex in examples],
                                   batch_sizes=sorted({1, batch_size}))
    benchmark = {"precision": precision, "torch_threads": torch.get_num_threads() if torch else None,
                 "results": results}
    threads = f" on {benchmark['torch_threads']} torch threads" if benchmark["torch_threads"] else ""
    print(f"\nthroughput of {model_name} in {precision}{threads}")
    print(format_benchmark(results))
    return benchmark
