"""`casus tag --workers N`: tag a collection's chunks in N processes on this machine.

Each worker process loads its own tagger (from the checkpoint folder, with the parent's precision and
priors) and gets an equal share of torch's threads, so N workers do not fight over the cores. The parent
keeps reading, splitting and writing; it hands out whole chunks and takes them back in the order it read
them, with a few chunks in flight per worker, so the output is the same as with one process and memory
stays flat.
"""
import multiprocessing
import signal
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import torch

from casus.model.collection import CollectionError, chunk_sentences_of

AHEAD = 2  # chunks in flight per worker: one being tagged, one waiting, so no worker idles


class ProcessRunner:
    """Tags chunks in `workers` processes; `map(chunks)` gives (chunk, tags) back in the order of `chunks`."""

    def __init__(self, spec, batch_size=64, workers=2, threads=None):
        # the parent's thread count (its cores, or OMP_NUM_THREADS) shared out, at least one each
        threads = threads or max(1, torch.get_num_threads() // workers)
        # spawn, not fork: a forked copy of a process that has run torch can hang in its thread pools
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_start, initargs=(spec, threads))
        self.batch_size, self.ahead = batch_size, AHEAD * workers

    def map(self, chunks):
        pending = deque()
        for chunk in chunks:
            pending.append((chunk, self.pool.submit(_tag, chunk_sentences_of(chunk), self.batch_size)))
            if len(pending) >= self.ahead:
                yield self._result(*pending.popleft())
        while pending:
            yield self._result(*pending.popleft())

    def _result(self, chunk, future):
        try:
            return chunk, future.result()
        except BrokenProcessPool:
            raise CollectionError("a worker process died (out of memory?); run again with --resume, "
                                  "perhaps with fewer --workers") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # on an error or Ctrl-C, drop the chunks not started; the ones being tagged finish and are lost
        self.pool.shutdown(wait=True, cancel_futures=True)


_tagger = None  # the worker process's own tagger, loaded once by _start


def _start(spec, threads):
    global _tagger
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: no tracebacks from here
    from casus.model.quiet import quiet_transformers

    quiet_transformers()
    _tagger = spec.load(threads)


def _tag(sentences, batch_size):
    return _tagger.tag(sentences, batch_size)
