import json

from casus.eval.probe import main, probe


def test_probe_scores_a_base_model_on_held_out_sentences(tiny_base, tiny_jsonl):
    data = tiny_jsonl
    result = probe(str(tiny_base), data, data)
    # fitted and scored on the same 16 sentences of four tags: a linear probe separates them
    assert result["macro_f1"] > 0.5 and set(result["macro_f1_by_C"]) == {0.3, 1.0, 3.0, 10.0, 30.0}
    assert result["macro_f1"] == max(result["macro_f1_by_C"].values())


def test_probe_cli_prints_json_and_refuses_a_missing_model(tiny_base, tiny_jsonl, tmp_path, capsys):
    data = tiny_jsonl
    assert main(["--base-model", str(tiny_base), "--train", str(data), "--eval", str(data)]) == 0
    assert json.loads(capsys.readouterr().out)["base_model"] == str(tiny_base)
    assert main(["--base-model", str(tmp_path / "nope"), "--train", str(data), "--eval", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "never downloads" in err
