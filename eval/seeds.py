"""Seed variance: train the default recipe under several seeds and score each run on the same data.

    python -m casus.eval.seeds --seeds 0 1 2 --adapt-priors \
        --data data/corpus/test.jsonl ../shared/data/conflibert_cameo_class.jsonl

One fine-tuning run is one draw; a single macro-F1 says little about the recipe. This prints each run's
macro-F1 per data file and per class, and their mean and standard deviation."""
import argparse
import json
import statistics
import sys
from dataclasses import replace
from pathlib import Path

from casus.data.corpus import corpus_file
from casus.data.labels import LABELS
from casus.data.loaders import load_examples
from casus.eval.metrics import ClassificationEvaluator
from casus.training.config import TrainConfig


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m casus.eval.seeds", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data", nargs="+", default=[str(corpus_file("test"))], help="labelled files to score")
    parser.add_argument("--out", default="runs/seeds", help="one checkpoint per seed goes under here")
    parser.add_argument("--overwrite", action="store_true", help="replace the checkpoints of an earlier run")
    parser.add_argument("--precision", choices=("auto", "fp32", "int8"), default="auto")
    parser.add_argument("--adapt-priors", action="store_true",
                        help="also score each file with the label mix estimated from its texts (no labels)")
    args = parser.parse_args(argv)

    from casus.model import load
    from casus.model.quiet import quiet_transformers
    from casus.training.loop import train

    quiet_transformers()
    datasets = {Path(path).stem: load_examples(path) for path in args.data}
    runs = []
    for seed in args.seeds:
        config = replace(TrainConfig(), seed=seed, out_dir=str(Path(args.out) / f"seed{seed}"),
                         overwrite=args.overwrite)
        summary = train(config)
        tagger = load(config.out_dir, precision=args.precision)
        scores = {}
        for name, examples in datasets.items():
            evaluator = ClassificationEvaluator.from_examples(examples, bootstrap_samples=0)
            scores[name] = evaluator(tagger.predict_proba)
            if args.adapt_priors:  # re-weight the probabilities just scored, without running the model again
                raw = evaluator.last_probabilities
                adapted = ClassificationEvaluator.from_examples(examples, bootstrap_samples=0,
                                                                adapt_priors_from=tagger.train_prior)
                scores[f"{name}+priors"] = adapted(lambda texts: raw)
        runs.append({"seed": seed, "train_seconds": summary["train_seconds"], "dev_macro_f1": summary["dev_macro_f1"],
                     "scores": scores})
        print(f"seed {seed}: " + ", ".join(f"{name} macro-F1 {m['macro_f1']:.4f}" for name, m in scores.items()),
              file=sys.stderr)

    print(format_seed_table(runs))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    with open(Path(args.out) / "seeds.json", "w", encoding="utf-8") as f:
        json.dump(runs, f, indent=2)
    return 0


def format_seed_table(runs) -> str:
    """Rows: train seconds, dev macro-F1, then macro-F1 and per-class F1 per data file; columns: seeds,
    then mean and standard deviation."""
    def row(title, values, digits=4):
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        cells = [*values, statistics.mean(values), sd]
        return f"{title:<36}" + "".join(f"{v:>10.{digits}f}" for v in cells)

    lines = [f"{'':<36}" + "".join(f"{'seed ' + str(r['seed']):>10}" for r in runs) + f"{'mean':>10}{'sd':>10}",
             row("train seconds", [r["train_seconds"] for r in runs], digits=0),
             row("dev macro-F1", [r["dev_macro_f1"] for r in runs])]
    for name in runs[0]["scores"]:
        lines.append(row(f"{name} macro-F1", [r["scores"][name]["macro_f1"] for r in runs]))
        for label in LABELS:
            lines.append(row(f"  F1 {label}", [r["scores"][name]["per_class"][label]["f1"] for r in runs]))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
