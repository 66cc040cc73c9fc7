"""`casus tag --engine ray`: tag a collection's chunks on a Ray cluster with Ray Data.

The tagger is a callable class for `Dataset.map_batches`, so each Ray actor loads the model once and tags
whole chunks (the same chunks, hence the same batches, as the local job). This process reads the input,
reports bad records, and writes the rows in input order exactly as the local job does (Ray Data's
preserve_order), so the output, --resume and --overwrite behave the same. Chunks go to the cluster a
window at a time (one Ray Data job each), so memory stays flat on a collection of any size.

On a real cluster: start Ray on the nodes (`ray start ...`), install casus on every node, make the
checkpoint folder readable at the same path on each (shared storage, or a copy), and point casus at the
head with RAY_ADDRESS (or call ray.init(address=...) before tag_file). Without an address, a local Ray is
started with this machine's CPUs and stopped when the job ends.
"""
import logging
import warnings

import pyarrow as pa

from casus.model.collection import CollectionError, chunk_sentences_of
from casus.model.tagger import Tag

# Chunks per Ray Data job and actor: each job starts its actors afresh (model loads included), so each
# actor gets minutes of work per job (about 65,000 sentences), for some 10 MB of text per actor held here.
WINDOW_PER_WORKER = 256


class RayTagger:
    """The map_batches callable: one per Ray actor, holding its own tagger. Takes a batch of chunks (a
    `sentences` list column) and gives one row per chunk back: each sentence's label, score,
    probabilities (flattened, in the tagger's label order) and truncation."""

    def __init__(self, spec, batch_size=64, threads=1):
        from casus.model.quiet import quiet_transformers

        quiet_transformers()
        self.tagger, self.batch_size = spec.load(threads), batch_size

    def __call__(self, batch: pa.Table) -> pa.Table:
        out = {"labels": [], "scores": [], "probs": [], "truncated": []}
        for sentences in batch.column("sentences").to_pylist():
            tags = self.tagger.tag(sentences, self.batch_size)
            out["labels"].append([tag.label for tag in tags])
            out["scores"].append([tag.score for tag in tags])
            out["probs"].append([p for tag in tags for p in tag.probs.values()])
            out["truncated"].append([tag.truncated for tag in tags])
        return pa.table(out)


class RayRunner:
    """Tags chunks on Ray with `workers` actors (None: one per CPU of the cluster, divided by `threads`,
    the torch threads and Ray CPUs of each); `map(chunks)` gives (chunk, tags) back in order."""

    def __init__(self, spec, labels, batch_size=64, workers=None, threads=1, window=None):
        import ray.data

        self.started = not ray.is_initialized()
        if self.started:  # RAY_ADDRESS names a running cluster; without it ray.init starts a local one
            try:
                ray.init(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
            except Exception as err:  # a bad address, a cluster that is down, a local Ray that cannot start
                raise CollectionError(f"cannot start or reach Ray: {_first_line(err)}") from None
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # its INFO lines on each job would drown casus'
        self.context = ray.data.DataContext.get_current()
        self.kept = self.context.execution_options.preserve_order, self.context.enable_progress_bars
        self.context.execution_options.preserve_order = True  # rows come back in input order, as the local job's
        self.context.enable_progress_bars = False  # casus has its own
        self.workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)) // threads)
        self.spec, self.labels, self.batch_size, self.threads = spec, labels, batch_size, threads
        self.window = window or WINDOW_PER_WORKER * self.workers

    def map(self, chunks):
        import ray

        window = []
        for chunk in chunks:
            window.append(chunk)
            if len(window) == self.window:
                yield from self._run(ray, window)
                window = []
        if window:
            yield from self._run(ray, window)

    def _run(self, ray, window):
        # one chunk a block and a batch: any idle actor takes the next chunk
        data = ray.data.from_items([{"sentences": chunk_sentences_of(chunk)} for chunk in window],
                                   override_num_blocks=len(window))
        with warnings.catch_warnings():
            # max_restarts=0, as Ray Data's docs say to turn off its actor restarts: with them, Ray's C++ core
            # logs an error line for every actor (ray-project/ray#53727). A lost actor then stops the job,
            # and --resume goes on from there. Passing it this way is deprecated from Ray 2.60 (pinned <2.64).
            warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
            tagged = data.map_batches(RayTagger, fn_constructor_args=(self.spec, self.batch_size, self.threads),
                                      batch_size=1, batch_format="pyarrow", num_cpus=self.threads,
                                      compute=ray.data.ActorPoolStrategy(size=min(self.workers, len(window))),
                                      max_restarts=0)
        rows = (row for table in tagged.iter_batches(batch_format="pyarrow", batch_size=None)
                for row in table.to_pylist())
        try:
            for chunk, row in zip(window, rows, strict=True):
                yield chunk, self._tags(chunk, row)
        except ray.exceptions.RayError as err:  # an actor or node lost, a model that would not load there
            raise CollectionError(f"the Ray job failed: {_first_line(err)}; run again with --resume to go on") \
                from None

    def _tags(self, chunk, row):
        n = len(self.labels)
        return [Tag(text=sentence, label=label, score=score,
                    probs=dict(zip(self.labels, row["probs"][i * n:(i + 1) * n])), truncated=cut)
                for i, (sentence, label, score, cut) in enumerate(zip(chunk_sentences_of(chunk), row["labels"],
                                                                       row["scores"], row["truncated"]))]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # the caller's own Ray Data jobs get their settings back
        self.context.execution_options.preserve_order, self.context.enable_progress_bars = self.kept
        if self.started:
            import ray

            ray.shutdown()


def _first_line(err):
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
