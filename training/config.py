"""Training configuration: one dataclass, and a command line built from its fields."""
import argparse
from dataclasses import asdict, dataclass, fields

from data.corpus import corpus_file

LABEL_SCHEMES = ("tags", "cameo", "plover")


@dataclass
class TrainConfig:
    train_file: str = str(corpus_file("train"))  # CSV, JSONL or datasets folder with text/label columns
    dev_file: str = ""  # "" = the shipped dev split when training on the shipped corpus, else 10% of train
    out_dir: str = "runs/default"
    base_model: str = ""  # "" = the packaged all-MiniLM-L6-v2; or any local BERT-style folder
    text_column: str = "text"
    label_column: str = "label"
    label_scheme: str = "tags"  # "tags" (the four labels), or "cameo" / "plover" event codes mapped to them
    max_length: int = 128  # tokens; news sentences rarely pass 80
    batch_size: int = 32
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    epochs: int = 5
    patience: int = 2  # stop after this many evaluations without a better dev macro-F1
    evals_per_epoch: int = 2
    class_weights: bool = True  # weight the loss by inverse class frequency
    seed: int = 0
    max_steps: int = 0  # 0 = no cap; a cap makes smoke tests and quick experiments fast
    cpu: bool = False  # force the CPU even where a GPU is present
    num_threads: int = 0  # torch CPU threads; 0 = torch's default


def parse_config(argv=None) -> TrainConfig:
    parser = argparse.ArgumentParser(
        prog="casus train", description="Fine-tune the casus sentence tagger.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    defaults = TrainConfig()
    for field in fields(TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        default = getattr(defaults, field.name)
        if field.type is bool or isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        else:
            parser.add_argument(flag, type=type(default), default=default)
    config = TrainConfig(**vars(parser.parse_args(argv)))
    if config.label_scheme not in LABEL_SCHEMES:
        parser.error(f"--label-scheme must be one of {', '.join(LABEL_SCHEMES)}")
    for name in ("epochs", "batch_size", "patience", "evals_per_epoch"):
        if getattr(config, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 8 <= config.max_length <= 512:
        parser.error("--max-length must be between 8 and 512 (the model's position limit)")
    if config.learning_rate <= 0 or config.max_steps < 0:
        parser.error("--learning-rate must be positive and --max-steps 0 or more")
    return config


def config_dict(config: TrainConfig) -> dict:
    return asdict(config)
