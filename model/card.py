"""The model card (README.md) saved in every checkpoint: what the model tags, on what data, how well."""
from casus.data.labels import DEFINITIONS, LABELS


def model_card(metadata: dict) -> str:
    metrics = metadata["metrics"]
    train, dev = metadata["train_data"], metadata["dev_data"]
    lines = [
        "---",
        "pipeline_tag: text-classification",
        "language: en",
        f"base_model: {metadata['base_model']}",
        "---",
        "# casus sentence tagger",
        "",
        "Tags one sentence of international-conflict news with one of four labels (guidelines: casus "
        "`shared/spec/labels.md`); ties go to the first in this order:",
        "",
        *[f"- `{label}`: {DEFINITIONS[label]}" for label in LABELS],
        "",
        "```python",
        "from casus import load            # casus; or transformers.pipeline(\"text-classification\", model=DIR)",
        "load(DIR).tag_article(text)",
        "```",
        "",
        f"Fine-tuned from {metadata['base_model']}, max_length {metadata['max_length']} tokens.",
        f"Training data: {train['source']} ({train['sentences']} sentences, sha256 {train['sha256'][:12]}...).",
        f"Dev data: {dev['source']} ({dev['sentences']} sentences).",
        "",
        f"Best dev macro-F1 {metrics['dev_macro_f1']:.4f} at step {metrics['step']} (epoch {metrics['epoch']}); "
        "dev F1 per label: " + ", ".join(f"{label} {metrics['dev_f1'][label]:.4f}" for label in LABELS) + ".",
        "Dev scores select the checkpoint and so flatter it: evaluate on held-out data with `casus eval`.",
        *_calibration_lines(metadata.get("calibration")),
        "",
    ]
    return "\n".join(lines)


def _calibration_lines(calibration):
    if not calibration:
        return []
    mix = ", ".join(f"{label} {share:.3f}" for label, share in calibration["label_mix"].items())
    return ["",
            f"Probabilities are calibrated on dev and folded into the weights: moved {calibration['mix_strength']:.0%} "
            f"of the way from the trained label mix to {mix} ({calibration['label_mix_source']}), temperature "
            f"{calibration['temperature']:.3f}; dev ECE {calibration['dev_before']['ece']:.4f} as trained, "
            f"{calibration['dev_after']['ece']:.4f} as shipped."]
