"""Training under `accelerate launch --cpu --num_processes 2`: the learning-rate schedule spans the optimizer
steps really taken, and the main process's stop decision holds for both processes (no hang), exactly as in
one process."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from casus.training.config import TrainConfig
from casus.training.loop import train

ACCELERATE = Path(sys.executable).parent / "accelerate"

# 16 sentences in batches of 4: 4 steps an epoch in one process, 2 in each of two. At a learning rate of
# 1e-9 the dev score cannot move, so after the first evaluation (every step) 4 without gain stop the run at
# step 5 of the 6 allowed. Warm-up: int(0.34 * 6) = 2 steps, then linear decay to 0 at step 6.
LEARNING_RATE = 1e-9
SETTINGS = dict(batch_size=4, max_length=16, epochs=10, max_steps=6, warmup_ratio=0.34, evals_per_epoch=4,
                patience=4, learning_rate=LEARNING_RATE, label_mix="train", num_threads=1)
EXPECTED_SCHEDULE = [0.0, 0.5, 1.0, 0.75, 0.5]  # steps 1..5, as shares of the learning rate


def flags(settings):
    return [arg for name, value in settings.items() for arg in ("--" + name.replace("_", "-"), str(value))]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def history(out_dir):
    return json.loads((Path(out_dir) / "casus.json").read_text())["history"]


@pytest.mark.slow
def test_two_processes_follow_the_same_schedule_and_stop_decision_as_one(tiny_base, tiny_jsonl, tmp_path):
    common = dict(train_file=str(tiny_jsonl), dev_file=str(tiny_jsonl), base_model=str(tiny_base))
    one = history(train(TrainConfig(**common, **SETTINGS, out_dir=str(tmp_path / "one")))["out_dir"])

    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "OMP_NUM_THREADS": "1"}  # no user accelerate config
    # `accelerate launch --cpu` starts one process whatever --num_processes says (its simple launcher; more
    # only through mpirun); --multi_gpu starts them through torchrun, and casus's --cpu joins them over gloo
    command = [str(ACCELERATE), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
               "-m", "casus.training", "--cpu", *flags({**common, **SETTINGS}), "--out-dir", str(tmp_path / "two")]
    # a hang at a barrier would run into this timeout and fail the test
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    two = history(tmp_path / "two")

    assert [row["step"] for row in one] == [row["step"] for row in two] == [1, 2, 3, 4, 5]
    assert [row["epoch"] for row in two] == [0.5, 1.0, 1.5, 2.0, 2.5], "two processes take half the steps an epoch"
    for trace in (one, two):
        assert [row["learning_rate"] / LEARNING_RATE for row in trace] == pytest.approx(EXPECTED_SCHEDULE)
    assert run.stderr.count("early stop: no better dev macro-F1 in 4 evaluations") == 1, "decided once, on main"
    assert run.stdout.count("best dev macro-F1") == 1, "one process reports the results"
