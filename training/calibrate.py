"""`python -m casus.training.calibrate MODEL_DIR`: re-fit a trained checkpoint's label mix and temperature on
dev, as `casus train` does at the end of training, without training again (for a new dev set, or a
checkpoint calibrated by an older casus)."""
import argparse
import sys
from dataclasses import fields
from pathlib import Path

from casus.data.corpus import real_file
from casus.data.loaders import DataError, load_examples
from casus.model.checkpoint import CheckpointError, read_metadata
from casus.training.config import TrainConfig
from casus.training.loop import calibrate_checkpoint, label_mix


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m casus.training.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("model", help="checkpoint folder written by `casus train`")
    parser.add_argument("--dev-file", help="labelled dev data (default: the one the model was trained with)")
    parser.add_argument("--label-mix", help="real, train, or a labelled file (default: as trained)")
    args = parser.parse_args(argv)
    try:
        metadata = read_metadata(args.model)
        known = {spec.name for spec in fields(TrainConfig)}
        config = TrainConfig(**{k: v for k, v in metadata.get("config", {}).items() if k in known})
        config.out_dir = args.model
        config.label_mix = args.label_mix or config.label_mix
        dev_file = args.dev_file or config.dev_file or str(real_file("dev"))
        dev = load_examples(dev_file)
        trained_prior = (metadata.get("calibration") or {}).get("trained_prior") or metadata["train_prior"]
        target_prior, source = label_mix(config, None) if config.label_mix != "train" else (trained_prior, "as trained")
        calibrate_checkpoint(config, dev, dev_file, trained_prior, target_prior, source,
                             lambda message: print(message, file=sys.stderr))
    except (CheckpointError, DataError, KeyError, OSError) as err:
        print(f"python -m casus.training.calibrate: error: {err}", file=sys.stderr)
        return 2
    print(f"re-calibrated {Path(args.model)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
