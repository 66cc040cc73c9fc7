"""Throughput and latency of any texts -> probabilities callable, per batch size, bounded in time.

Torch-free on purpose: it times whatever callable it is given; setting torch's thread count is the caller's
business (and belongs in the numbers the caller reports)."""
import math
import sys
import time

import numpy as np

from casus.eval.metrics import bind_supported


def benchmark_throughput(predict_proba, texts, batch_sizes=(1, 64), warmup=2, max_seconds=20.0,
                         min_batches=3) -> list[dict]:
    """One row per batch size. Each times one pass over texts in full batches (wrapping around at the end),
    stopping early after max_seconds of timed calls, but never before min_batches calls. Warm-up calls are
    not timed and do not count against max_seconds.

    predict_proba is called as predict_proba(batch, batch_size=b) when it takes batch_size, else
    predict_proba(batch)."""
    texts = list(texts)
    if not texts:
        raise ValueError("nothing to benchmark: no texts")
    results = []
    for batch_size in batch_sizes:
        predict = bind_supported(predict_proba, batch_size=batch_size)
        batches = full_batches(texts, batch_size)
        for _ in range(warmup):  # the first calls pay for lazy set-up, allocator growth and cold caches
            predict(next(batches))
        wanted = max(min_batches, math.ceil(len(texts) / batch_size))
        batches = full_batches(texts, batch_size)
        latencies = []
        started = time.perf_counter()
        while len(latencies) < wanted:
            batch = next(batches)
            call_started = time.perf_counter()
            predict(batch)
            latencies.append(time.perf_counter() - call_started)
            if len(latencies) >= min_batches and time.perf_counter() - started >= max_seconds:
                break
        sentences = len(latencies) * batch_size
        results.append({
            "batch_size": batch_size,
            "batches": len(latencies),
            "sentences": sentences,
            "seconds": sum(latencies),
            "sentences_per_s": sentences / max(sum(latencies), 1e-9),
            "p50_ms": float(np.percentile(latencies, 50) * 1000),
            "p95_ms": float(np.percentile(latencies, 95) * 1000),
            "peak_rss_mib": peak_rss_mib(),
        })
    return results


def full_batches(texts, batch_size):
    """Batches of exactly batch_size sentences forever, wrapping around texts, so every timed call is
    full size (a short last batch would skew the latency percentiles)."""
    start = 0
    while True:
        yield [texts[(start + i) % len(texts)] for i in range(batch_size)]
        start = (start + batch_size) % len(texts)


def peak_rss_mib():
    """Peak resident memory of the whole process so far (ru_maxrss), in MiB. It includes everything the
    process loaded before the benchmark and never goes down, so it is an upper bound on what the model
    needs, not the model's own footprint. None where the resource module is missing (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def format_benchmark(results) -> str:
    lines = [f"{'batch size':>10} {'sentences/s':>12} {'p50 ms/batch':>13} {'p95 ms/batch':>13} "
             f"{'batches':>8} {'peak RSS MiB':>13}"]
    for row in results:
        rss = "n/a" if row["peak_rss_mib"] is None else f"{row['peak_rss_mib']:.0f}"
        lines.append(f"{row['batch_size']:>10d} {row['sentences_per_s']:>12.1f} {row['p50_ms']:>13.2f} "
                     f"{row['p95_ms']:>13.2f} {row['batches']:>8d} {rss:>13}")
    lines.append("peak RSS is the whole process's peak so far (ru_maxrss), not the model's own memory")
    return "\n".join(lines)
