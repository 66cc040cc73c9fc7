import subprocess
import sys
import time

import numpy as np
import pytest

from casus.eval.benchmark import benchmark_throughput, format_benchmark, full_batches, peak_rss_mib

TEXTS = [f"sentence {i}" for i in range(20)]


def uniform(texts):
    return np.full((len(texts), 4), 0.25)


def test_passes_batch_size_when_the_callable_takes_it():
    calls = []

    def tagger_like(texts, batch_size=64):
        calls.append((len(texts), batch_size))
        return uniform(texts)

    results = benchmark_throughput(tagger_like, TEXTS, batch_sizes=(1, 8), warmup=1)
    # batch size 1: one warm-up call, then one pass of 20; batch size 8: one warm-up, then ceil(20/8) = 3
    assert calls == [(1, 1)] * 21 + [(8, 8)] * 4
    assert [(row["batch_size"], row["batches"], row["sentences"]) for row in results] == [(1, 20, 20), (8, 3, 24)]


def test_calls_a_plain_function_with_the_batch_only():
    calls = []

    def plain(texts):
        calls.append(len(texts))
        return uniform(texts)

    benchmark_throughput(plain, TEXTS, batch_sizes=(4,), warmup=0)
    assert calls == [4] * 5


def test_stops_after_max_seconds_but_not_before_min_batches():
    def slow(texts):
        time.sleep(0.05)
        return uniform(texts)

    [row] = benchmark_throughput(slow, TEXTS * 50, batch_sizes=(1,), warmup=0, max_seconds=0.2)
    assert 3 <= row["batches"] <= 6  # far below the 1000 it was given: each sleep takes 0.05 s at least
    [row] = benchmark_throughput(slow, TEXTS, batch_sizes=(1,), warmup=0, max_seconds=0, min_batches=3)
    assert row["batches"] == 3


def test_numbers_are_consistent():
    def slow(texts):
        time.sleep(0.01 * len(texts))
        return uniform(texts)

    [row] = benchmark_throughput(slow, TEXTS, batch_sizes=(2,), warmup=0)
    assert 20 <= row["p50_ms"]  # two sentences of 10 ms; sleep never returns early
    assert row["p50_ms"] <= row["p95_ms"]
    assert row["sentences_per_s"] == pytest.approx(row["sentences"] / row["seconds"])
    assert row["sentences_per_s"] < 100  # at most 100 sentences/s when each takes 10 ms
    assert row["peak_rss_mib"] == peak_rss_mib() and 10 < row["peak_rss_mib"] < 100_000
    table = format_benchmark([row])
    assert table.splitlines()[1].split()[0] == "2"
    assert "process" in table


def test_batches_are_always_full_and_wrap_around():
    batches = full_batches(["a", "b", "c"], 2)
    assert [next(batches) for _ in range(3)] == [["a", "b"], ["c", "a"], ["b", "c"]]
    assert next(full_batches(["a"], 3)) == ["a", "a", "a"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_peak_rss_agrees_with_the_kernel():
    with open("/proc/self/status") as f:
        high_water_kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    assert peak_rss_mib() == pytest.approx(high_water_kib / 1024, rel=0.2)


def test_does_not_import_torch(tmp_path):
    # from another folder: in the repository, a bare `eval` would be the source folder, not casus's module
    code = "import sys, casus.eval.benchmark; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.stdout == "False\n", result.stderr


def test_refuses_no_texts():
    with pytest.raises(ValueError, match="no texts"):
        benchmark_throughput(uniform, [])
