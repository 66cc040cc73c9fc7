from casus.eval.seeds import format_seed_table


def run(seed, seconds, dev, test_f1):
    per_class = {label: {"f1": test_f1} for label in ("threat", "condemnation", "military_action", "background")}
    return {"seed": seed, "train_seconds": seconds, "dev_macro_f1": dev,
            "scores": {"test": {"macro_f1": test_f1, "per_class": per_class}}}


def test_seed_table_gives_mean_and_sd():
    table = format_seed_table([run(0, 200.0, 0.9, 0.80), run(1, 220.0, 0.92, 0.90)])
    lines = table.splitlines()
    assert lines[0].split() == ["seed", "0", "seed", "1", "mean", "sd"]
    test_row = next(line for line in lines if line.startswith("test macro-F1")).split()
    assert test_row[-4:] == ["0.8000", "0.9000", "0.8500", "0.0707"]
    assert next(line for line in lines if line.startswith("train seconds")).split()[2:4] == ["200", "220"]
