"""Training configuration: one dataclass, and a command line built from its fields."""
import argparse
import math
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from casus.data.corpus import corpus_file, real_file

LABEL_SCHEMES = ("tags", "cameo", "plover")
LABEL_MIXES = ("real", "train")


def default_train_files() -> list:
    """The shipped training data: the real news and the written corpus, both train splits."""
    return [str(real_file("train")), str(corpus_file("train"))]


# With the shipped data: every real sentence each epoch, and a fixed 30% sample of the written corpus
# (chosen on real dev: more written text pulls the model away from real news, none loses its breadth).
DEFAULT_REPEAT = [1.0, 0.3]


@dataclass
class TrainConfig:
    # CSV, JSONL or datasets folders with text/label columns; several are joined
    train_file: list[str] = field(default_factory=default_train_files)
    # how many times each training file's sentences are seen per epoch, in train_file order ([] = once
    # each); a fraction takes a seeded sample of the file (0.25 = a quarter of it)
    repeat: list[float] = field(default_factory=list)
    dev_file: str = ""  # "" = the shipped real dev split when training on the shipped data, else 10% of train
    # the label mix the shipped probabilities assume: "real" = that of the shipped real-news train split,
    # "train" = as trained (uniform under class weights), or a labelled file whose mix to take
    label_mix: str = "real"
    calibrate: bool = True  # fit a temperature on dev after training and fold it into the weights
    out_dir: str = "runs/default"
    overwrite: bool = False  # replace the casus checkpoint already in out_dir (never a folder casus did not write)
    base_model: str = ""  # "" = the packaged all-MiniLM-L6-v2; or any local BERT-style folder
    text_column: str = "text"
    label_column: str = "label"
    label_scheme: str = "tags"  # "tags" (the four labels), or "cameo" / "plover" event codes mapped to them
    max_length: int = 128  # tokens; news sentences rarely pass 80
    batch_size: int = 32
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    epochs: int = 3
    patience: int = 2  # stop after this many evaluations without a better dev macro-F1
    evals_per_epoch: int = 2
    class_weights: bool = True  # weight the loss by inverse class frequency
    # freeze the embeddings and this many bottom encoder layers: less backward work per step on a CPU
    freeze_layers: int = 0
    seed: int = 0
    max_steps: int = 0  # 0 = no cap; a cap makes smoke tests and quick experiments fast
    cpu: bool = False  # force the CPU even where a GPU is present
    num_threads: int = 0  # torch CPU threads; 0 = torch's default

    def __post_init__(self):
        if isinstance(self.train_file, str):  # one file, as in TrainConfig(train_file="mine.csv")
            self.train_file = [self.train_file]
        self.train_file = [str(path) for path in self.train_file]
        if not self.repeat:
            shipped = [str(Path(p).resolve()) for p in default_train_files()]
            default = [str(Path(p).resolve()) for p in self.train_file] == shipped
            self.repeat = list(DEFAULT_REPEAT) if default else [1.0] * len(self.train_file)
        self.repeat = [float(n) for n in self.repeat]


def parse_config(argv=None) -> TrainConfig:
    parser = argparse.ArgumentParser(
        prog="casus train", description="Fine-tune the casus sentence tagger.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for spec in fields(TrainConfig):
        flag = "--" + spec.name.replace("_", "-")
        default = spec.default if spec.default_factory is MISSING else spec.default_factory()
        if spec.type is bool or isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        elif isinstance(default, list):
            parser.add_argument(flag, nargs="+", type=typing.get_args(spec.type)[0], default=default)
        else:
            parser.add_argument(flag, type=type(default), default=default)
    config = TrainConfig(**vars(parser.parse_args(argv)))
    if config.label_scheme not in LABEL_SCHEMES:
        parser.error(f"--label-scheme must be one of {', '.join(LABEL_SCHEMES)}")
    if config.freeze_layers < 0:
        parser.error("--freeze-layers must be 0 or more")
    for name in ("epochs", "batch_size", "patience", "evals_per_epoch"):
        if getattr(config, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 8 <= config.max_length <= 512:
        parser.error("--max-length must be between 8 and 512 (the model's position limit)")
    if len(config.repeat) != len(config.train_file) or not all(0 < n < 100 for n in config.repeat):
        parser.error("--repeat takes one number above 0 per --train-file (e.g. 3, or 0.25 for a quarter)")
    if config.label_mix not in LABEL_MIXES and not Path(config.label_mix).exists():
        parser.error(f"--label-mix must be one of {', '.join(LABEL_MIXES)} or a labelled file; "
                     f"{config.label_mix} does not exist")
    if not (math.isfinite(config.learning_rate) and config.learning_rate > 0) or config.max_steps < 0:
        parser.error("--learning-rate must be a positive number and --max-steps 0 or more")
    if not (math.isfinite(config.weight_decay) and config.weight_decay >= 0):
        parser.error("--weight-decay must be a number, 0 or more")
    if not 0 <= config.warmup_ratio < 1:  # also false for nan
        parser.error("--warmup-ratio must be at least 0 and below 1")
    if config.num_threads < 0:
        parser.error("--num-threads must be 0 (torch's default) or more")
    return config


def config_dict(config: TrainConfig) -> dict:
    return asdict(config)
