"""`python -m casus.eval.speed`: where the time goes, in one run. Sentences/s and p50/p95 latency per batch
at batch sizes 1 and 64 for casus under each backend, a plain `transformers.pipeline` on the same
checkpoint and the TF-IDF baseline, on real sentences; and a scaling table (1k, 10k, 100k sentences through
casus's streaming collection path) that shows whether time grows linearly and memory stays flat.

Every measurement runs in a fresh Python process: peak RSS (ru_maxrss) only ever grows, so systems measured
in one process would each report the largest before them. Numbers are printed, never asserted."""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

SYSTEMS = {  # name -> how to build its texts -> probabilities function
    "casus fp32": {"backend": "torch", "precision": "fp32"},
    "casus torch-int8": {"backend": "torch", "precision": "int8"},
    "casus onnx-fp32": {"backend": "onnx", "precision": "fp32"},
    "casus onnx-int8": {"backend": "onnx", "precision": "int8"},
    "hf pipeline": {"pipeline": True},
    "tfidf+lr": {"tfidf": True},
}
DEFAULT_SIZES = (1_000, 10_000, 100_000)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m casus.eval.speed", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", default="runs/default", help="checkpoint folder from `casus train`")
    parser.add_argument("--data", default=None, help="sentences to time (.jsonl/.csv with a text column); "
                                                     "default: the shipped real-news test split")
    parser.add_argument("--systems", nargs="+", choices=list(SYSTEMS), default=list(SYSTEMS))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 64])
    parser.add_argument("--max-seconds", type=float, default=20.0, help="timed seconds per system and batch size")
    parser.add_argument("--sizes", nargs="*", type=int, default=list(DEFAULT_SIZES),
                        help="sentence counts of the scaling table (real sentences repeated); none to skip it")
    parser.add_argument("--scaling-system", choices=[name for name in SYSTEMS if name.startswith("casus")],
                        default="casus onnx-fp32", help="the system the scaling table runs")
    parser.add_argument("--threads", type=int, default=2, help="torch and ONNX Runtime threads")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # one measurement, in a child process
    args = parser.parse_args(argv)
    if min(args.batch_sizes) < 1 or (args.sizes and min(args.sizes) < 1) or args.threads < 1:
        parser.error("batch sizes, sizes and --threads must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return 0
    model = Path(args.model)
    if not (model / "casus.json").is_file():
        print(f"casus speed: error: {model}: not a casus checkpoint (no casus.json)", file=sys.stderr)
        return 2
    data = args.data or str(_real_test())
    try:
        texts = read_texts(data)
    except (OSError, ValueError) as err:
        print(f"casus speed: error: {err}", file=sys.stderr)
        return 2
    common = {"model": str(model), "data": data, "threads": args.threads}
    report = {"model": str(model), "data": data, "sentences": len(texts), "threads": args.threads,
              "load_average": _load_average(), "throughput": {}, "scaling": []}
    for system in args.systems:
        print(f"timing {system} ...", file=sys.stderr)
        report["throughput"][system] = in_child({**common, "task": "throughput", "system": system,
                                                 "batch_sizes": args.batch_sizes, "max_seconds": args.max_seconds})
    for size in args.sizes:
        print(f"scaling: {args.scaling_system} on {size} sentences ...", file=sys.stderr)
        report["scaling"].append({"system": args.scaling_system, **in_child(
            {**common, "task": "scaling", "system": args.scaling_system, "size": size})})
    report["load_average_after"] = _load_average()
    print(format_report(report))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2), encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def in_child(job) -> dict:
    """Run one measurement in a fresh interpreter; its last stdout line is the JSON result."""
    done = subprocess.run([sys.executable, "-m", "casus.eval.speed", "--worker", json.dumps(job)],
                          stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"casus speed: error: measuring {job['system']} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_worker(job) -> dict:
    import torch

    torch.set_num_threads(job["threads"])
    texts = read_texts(job["data"])
    started = time.perf_counter()
    predict = build_system(job["system"], job["model"], job["threads"])
    load_seconds = time.perf_counter() - started
    if job["task"] == "throughput":
        from casus.eval.benchmark import benchmark_throughput, peak_rss_mib

        results = benchmark_throughput(predict, texts, batch_sizes=job["batch_sizes"], max_seconds=job["max_seconds"])
        return {"load_seconds": load_seconds, "results": results, "peak_rss_mib": peak_rss_mib()}
    return scale(predict, texts, job["size"], load_seconds)


def build_system(system, model_dir, threads):
    """A texts -> probabilities function (taking batch_size where it batches) for one of SYSTEMS."""
    spec = SYSTEMS[system]
    if spec.get("tfidf"):
        from casus.data.loaders import load_examples
        from casus.eval.baseline import TfidfBaseline
        from casus.eval.cli import model_train_data
        from casus.training.loop import weighted

        files, repeat, seed = model_train_data(model_dir)
        per_file = [load_examples(path) for path in files]
        examples = weighted(per_file, repeat, seed) if repeat and len(repeat) == len(per_file) else \
            [ex for rows in per_file for ex in rows]
        return TfidfBaseline().fit([ex.text for ex in examples], [ex.label for ex in examples]).predict_proba
    from casus.model.quiet import quiet_transformers

    quiet_transformers()
    if spec.get("pipeline"):
        import numpy as np
        from transformers import pipeline

        pipe = pipeline("text-classification", model=model_dir, device=-1, top_k=None)
        labels = [pipe.model.config.id2label[i] for i in range(pipe.model.config.num_labels)]

        def predict_proba(texts, batch_size=64):
            out = pipe(list(texts), batch_size=batch_size, truncation=True, max_length=128)
            return np.array([[{d["label"]: d["score"] for d in row}[label] for label in labels] for row in out])

        return predict_proba
    from casus.model.tagger import load

    tagger = load(model_dir, backend=spec["backend"], precision=spec["precision"])
    return tagger.predict_proba


def scale(predict, texts, size, load_seconds) -> dict:
    """Tag `size` sentences (real ones, repeated) as a stream of one-sentence articles through casus's
    collection path (tag_records, a few hundred sentences at a time), keeping no rows."""
    from casus.eval.benchmark import peak_rss_mib

    tagger = predict.__self__  # a Tagger's bound predict_proba
    records = ({"id": str(i), "text": texts[i % len(texts)]} for i in range(size))
    started = time.perf_counter()
    rows = sum(1 for _ in tagger.tag_collection(records))
    seconds = time.perf_counter() - started
    return {"size": size, "rows": rows, "seconds": seconds, "sentences_per_s": rows / max(seconds, 1e-9),
            "load_seconds": load_seconds, "peak_rss_mib": peak_rss_mib()}


def read_texts(path) -> list[str]:
    from casus.data.loaders import load_examples

    return [ex.text for ex in load_examples(path, require_labels=False)]


def _real_test():
    from casus.data.corpus import real_file

    return real_file("test")


def _load_average():
    try:
        import os

        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def format_report(report) -> str:
    lines = [f"{report['sentences']} sentences of {report['data']}, {report['threads']} threads; load average "
             f"before {report['load_average']}, after {report['load_average_after']} (1, 5, 15 min)", ""]
    lines.append(f"{'system':18s} {'batch':>5s} {'sentences/s':>11s} {'p50 ms':>9s} {'p95 ms':>9s} "
                 f"{'peak RSS MiB':>12s} {'load s':>7s}")
    for system, result in report["throughput"].items():
        for row in result["results"]:
            lines.append(f"{system:18s} {row['batch_size']:5d} {row['sentences_per_s']:11.1f} {row['p50_ms']:9.1f} "
                         f"{row['p95_ms']:9.1f} {_mib(result['peak_rss_mib']):>12s} {result['load_seconds']:7.1f}")
    if report["scaling"]:
        lines += ["", f"scaling ({report['scaling'][0]['system']}, one-sentence articles through tag_collection):",
                  f"{'sentences':>10s} {'seconds':>9s} {'sentences/s':>11s} {'s per 1k':>9s} {'peak RSS MiB':>12s}"]
        for row in report["scaling"]:
            lines.append(f"{row['size']:10d} {row['seconds']:9.1f} {row['sentences_per_s']:11.1f} "
                         f"{1000 * row['seconds'] / row['size']:9.2f} {_mib(row['peak_rss_mib']):>12s}")
    lines.append("peak RSS: the whole measuring process (model, data and all), each system in its own process")
    return "\n".join(lines)


def _mib(value):
    return "n/a" if value is None else f"{value:.0f}"


if __name__ == "__main__":
    sys.exit(main())
