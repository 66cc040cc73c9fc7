"""Quieter command-line output: transformers' own progress bars and load reports (e.g. the freshly
initialised classifier head, expected when fine-tuning) drown out casus' progress bar."""
from transformers.utils import logging


def quiet_transformers():
    logging.set_verbosity_error()
    logging.disable_progress_bar()
