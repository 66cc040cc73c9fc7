"""`casus train` / `python -m casus.training`: fine-tune, print the outcome, exit 2 on bad input."""
import json
import sys

from accelerate import PartialState

from casus.data.loaders import DataError
from casus.model.base import BaseModelMissing
from casus.model.checkpoint import CheckpointError
from casus.model.quiet import quiet_transformers
from casus.training.config import parse_config
from casus.training.loop import LaunchError, train


def main(argv=None) -> int:
    config = parse_config(argv)
    quiet_transformers()
    try:
        summary = train(config)
    except (DataError, BaseModelMissing, CheckpointError, LaunchError) as err:
        print(f"casus train: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted; the best checkpoint so far (if any) is in {config.out_dir}", file=sys.stderr)
        return 130
    if not PartialState().is_main_process:  # under `accelerate launch`, one process reports
        return 0
    print(f"best dev macro-F1 {summary['dev_macro_f1']:.4f} at step {summary['step']} "
          f"(epoch {summary['epoch']}); {summary['steps']} steps in {summary['train_seconds']:.0f} s")
    print("dev F1 per class: " + json.dumps({k: round(v, 4) for k, v in summary["dev_f1"].items()}))
    print(f"checkpoint: {summary['out_dir']}")
    return 0
