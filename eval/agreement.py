"""`python -m casus.eval.agreement`: how far each faster way of running a checkpoint strays from torch fp32 on
labelled sentences (argmax agreement, macro-F1 and its difference), and whether a sentence's label and
probabilities depend on its batch-mates (batch 1 against batch 64). A benchmark: it prints, it asserts
nothing. Targets (issue 8): agreement >= 99.5%, |macro-F1 difference| <= 0.005, no label changed by the batch."""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

CONFIGS = {"torch-int8": ("torch", "int8"), "onnx-int8": ("onnx", "int8"), "onnx-fp32": ("onnx", "fp32"),
           "torch-fp32": ("torch", "fp32")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m casus.eval.agreement", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="runs/default")
    parser.add_argument("--data", default=None, help="labelled sentences (default: the shipped real dev split)")
    parser.add_argument("--systems", nargs="+", choices=list(CONFIGS), default=["torch-int8", "onnx-int8", "onnx-fp32"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)

    import torch
    from sklearn.metrics import f1_score

    from casus.data.corpus import real_file
    from casus.data.labels import LABELS
    from casus.data.loaders import DataError, load_examples
    from casus.model.checkpoint import CheckpointError
    from casus.model.quiet import quiet_transformers
    from casus.model.tagger import load

    quiet_transformers()
    torch.set_num_threads(args.threads)
    data = args.data or str(real_file("dev"))
    try:
        examples = load_examples(data)
        texts, gold = [ex.text for ex in examples], np.array([LABELS.index(ex.label) for ex in examples])
        reference = load(args.model, precision="fp32").predict_proba(texts, batch_size=64)
    except (DataError, CheckpointError, OSError, ValueError) as err:
        print(f"casus agreement: error: {err}", file=sys.stderr)
        return 2
    ref_f1 = f1_score(gold, reference.argmax(1), average="macro")
    report = {"model": args.model, "data": data, "sentences": len(texts), "fp32_macro_f1": ref_f1, "systems": {}}
    print(f"{len(texts)} sentences of {data}; torch fp32 macro-F1 {ref_f1:.4f}")
    print(f"{'system':12s} {'agreement':>9s} {'differ':>6s} {'macro-F1':>8s} {'diff':>7s} {'max |p-p32|':>11s} "
          f"{'b1 vs b64: labels':>17s} {'max |dp|':>9s}", flush=True)
    for name in args.systems:
        backend, precision = CONFIGS[name]
        print(f"running {name} ...", file=sys.stderr)
        tagger = load(args.model, backend=backend, precision=precision)
        batched = tagger.predict_proba(texts, batch_size=64)
        alone = tagger.predict_proba(texts, batch_size=1)
        f1 = f1_score(gold, batched.argmax(1), average="macro")
        row = {"agreement": float(np.mean(batched.argmax(1) == reference.argmax(1))),
               "labels_differing": int(np.sum(batched.argmax(1) != reference.argmax(1))),
               "macro_f1": f1, "macro_f1_difference": f1 - ref_f1,
               "max_probability_difference": float(np.abs(batched - reference).max()),
               "batch1_vs_batch64_labels_differing": int(np.sum(alone.argmax(1) != batched.argmax(1))),
               "batch1_vs_batch64_max_probability_difference": float(np.abs(alone - batched).max())}
        report["systems"][name] = row
        print(f"{name:12s} {row['agreement']:9.2%} {row['labels_differing']:6d} {f1:8.4f} {f1 - ref_f1:+7.4f} "
              f"{row['max_probability_difference']:11.3f} {row['batch1_vs_batch64_labels_differing']:17d} "
              f"{row['batch1_vs_batch64_max_probability_difference']:9.1e}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
