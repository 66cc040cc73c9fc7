"""The inference function: load a trained checkpoint and tag sentences or whole articles."""
import re
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from casus.model.checkpoint import CheckpointError, check_model_files, read_metadata
from casus.model.inference import encode, predict_proba_ids
from casus.model.priors import estimate_priors, shift_priors
from casus.model.runners import TorchRunner


@dataclass
class Tag:
    text: str
    label: str
    score: float  # probability of `label`
    probs: dict  # label -> probability, all four
    truncated: bool  # the sentence was longer than max_length tokens and was cut

    def to_dict(self):
        return asdict(self)


class Tagger:
    """A trained casus model ready to tag: `Tagger.from_pretrained(dir)` (the same as `load(dir)`),
    `tag()`, `tag_article()`, `predict_proba()`, and `save_pretrained(dir)` to write it back."""

    def __init__(self, model, tokenizer, max_length=128, metadata=None, runner=None):
        self.model = model.eval()  # the fp32 torch model: what save_pretrained writes, whatever runs it
        self.runner = runner or TorchRunner(self.model)  # what computes the logits: model/runners.py
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.metadata = metadata or {}
        self.labels = tuple(model.config.id2label[i] for i in range(model.config.num_labels))
        # The label mix the model's probabilities assume; uniform after class-weighted training.
        self.train_prior = np.array(self.metadata.get("train_prior", [1 / len(self.labels)] * len(self.labels)))
        self.priors = None  # the label mix of the text being tagged, when set: see set_priors
        self.source = None  # (folder, precision, device, backend) when made by load(): how to load it again elsewhere

    @classmethod
    def from_pretrained(cls, model_dir, device=None, precision="auto", priors=None, backend="torch") -> "Tagger":
        """A Tagger for a folder written by `casus train` or `save_pretrained`; see `load`."""
        return load(model_dir, device=device, precision=precision, priors=priors, backend=backend)

    def save_pretrained(self, out_dir, overwrite=False) -> Path:
        """Write this tagger as a casus checkpoint: fp32 weights with their folded calibration, tokenizer,
        casus.json and model card. Label-mix priors set with set_priors/adapt_priors travel with it and
        are applied again by from_pretrained. Like `casus train`, it refuses a folder that is not a casus
        checkpoint, and replaces a checkpoint only with overwrite=True."""
        from casus.model.card import model_card
        from casus.model.checkpoint import check_out_dir, save_checkpoint

        check_out_dir(out_dir, overwrite)
        metadata = dict(self.metadata, max_length=self.max_length)
        metadata.pop("priors", None)
        if self.priors is not None:
            metadata["priors"] = {label: float(p) for label, p in zip(self.labels, self.priors)}
        card = model_card if {"metrics", "train_data", "dev_data", "base_model"} <= set(metadata) else None
        return save_checkpoint(self.model, self.tokenizer, out_dir, metadata, card)

    def predict_proba(self, texts, batch_size=64, progress=False):
        """Probabilities [n, len(labels)] in `self.labels` order, re-weighted for `self.priors` if set."""
        ids, _ = encode(self.tokenizer, _checked(texts), self.max_length)
        return self._probabilities(ids, batch_size, progress)

    def _probabilities(self, ids, batch_size, progress):
        probs = predict_proba_ids(self.runner, self.tokenizer, ids, batch_size, progress)
        if self.priors is None or not len(probs):
            return probs
        return shift_priors(probs, self.train_prior, self.priors).astype(np.float32)

    def set_priors(self, priors):
        """Tell the tagger the label mix of the text it will tag ({label: share}), or None to go back
        to the model as trained. Real news is mostly background; see adapt_priors to estimate the mix."""
        if priors is None:
            self.priors = None
            return
        if not isinstance(priors, dict):
            raise ValueError(f"priors must map each label to its share, got {type(priors).__name__}")
        if set(priors) != set(self.labels):
            raise ValueError(f"priors need a share for each of {', '.join(self.labels)}; got {sorted(priors)}")
        try:
            shares = np.array([float(priors[label]) for label in self.labels])
        except (TypeError, ValueError):
            raise ValueError("every prior share must be a number") from None
        if not np.all(np.isfinite(shares)) or not np.all(shares > 0):
            raise ValueError("every prior share must be a positive, finite number")
        self.priors = shares / shares.sum()

    def adapt_priors(self, texts, batch_size=64) -> dict:
        """Estimate the label mix of `texts` without labels (EM), adopt it, and return it. Use a few
        hundred sentences or more of the kind you will tag: a single article is too few."""
        kept, self.priors = self.priors, None  # estimate from the model's own mix, restore on failure
        try:
            estimated = estimate_priors(self.predict_proba(texts, batch_size), self.train_prior)
        except BaseException:
            self.priors = kept
            raise
        self.set_priors(dict(zip(self.labels, estimated)))
        return {label: float(p) for label, p in zip(self.labels, self.priors)}

    def tag(self, texts, batch_size=64, progress=False) -> list[Tag]:
        """One Tag per sentence, in input order."""
        texts = _checked(texts)
        ids, cut = encode(self.tokenizer, texts, self.max_length)
        probs = self._probabilities(ids, batch_size, progress)
        tags = []
        for text, row, truncated in zip(texts, probs, cut):
            best = int(row.argmax())
            tags.append(Tag(
                text=text,
                label=self.labels[best],
                score=float(row[best]),
                probs={label: float(p) for label, p in zip(self.labels, row)},
                truncated=truncated,
            ))
        return tags

    def tag_article(self, text: str, batch_size=64) -> list[Tag]:
        """Split an article into sentences (a quotation with its attribution stays one) and tag each."""
        from casus.data.sentences import split_sentences

        if not isinstance(text, str):
            raise TypeError(f"tag_article takes a string, got {type(text).__name__}")
        return self.tag(split_sentences(text), batch_size)

    def tag_collection(self, records, id_field="id", text_field="text", batch_size=64, workers=None,
                       engine="local"):
        """Tag a stream of articles (dicts with an id and a text) lazily, a few hundred sentences at a time.
        Yields one row dict per sentence: id, sentence_index (from 0), start and end (character offsets
        into the text), label, score, p_<label> for each label, truncated and the sentence text. A record
        without an id or text, or with an id seen before, raises a DataError naming its number.
        workers > 1 tags in that many processes; engine="ray" on a Ray cluster with `workers` actors (None:
        one per CPU), see casus.model.cluster.
        Either way the rows come in the same order and with the same values."""
        from casus.model.collection import tag_records

        return tag_records(self, records, id_field, text_field, batch_size, workers, engine)

    def spec(self) -> "TaggerSpec":
        """What another process needs to load this tagger again: its folder, precision and current priors."""
        if self.source is None:
            raise ValueError("this tagger was not made by casus.load(folder), so another process cannot load "
                             "it again: save it with save_pretrained(folder) and load that")
        model_dir, precision, device, backend = self.source
        priors = None if self.priors is None else {label: float(p) for label, p in zip(self.labels, self.priors)}
        return TaggerSpec(model_dir, precision, device, priors, backend)


@dataclass(frozen=True)
class TaggerSpec:
    """A tagger as a few picklable fields, for worker processes and cluster actors to load their own."""
    model_dir: str
    precision: str = "auto"
    device: str = None
    priors: dict = None
    backend: str = "torch"

    def load(self, threads=None) -> Tagger:
        """The tagger; threads: torch's intra-op threads in this process (a worker's share of the cores)."""
        if threads:
            torch.set_num_threads(threads)
        tagger = load(self.model_dir, device=self.device, precision=self.precision, backend=self.backend)
        tagger.set_priors(self.priors)  # None too: the spec's priors are the tagger's, whatever casus.json says
        return tagger


PRECISIONS = ("auto", "fp32", "int8", "fp16", "bf16")
BACKENDS = ("torch", "onnx")


def load(model_dir, device=None, precision="auto", priors=None, backend="torch") -> Tagger:
    """A Tagger for a checkpoint written by `casus train` (any folder with casus.json).

    backend: "torch", or "onnx" for ONNX Runtime on the CPU (exported on first use and cached beside the
    checkpoint, see model/onnx_export.py).
    precision: "auto" is fp32 on the CPU and bf16 (fp16 where the GPU lacks bf16) autocast on a CUDA GPU;
    "int8" quantizes linear layers for the CPU (faster only on CPUs with int8 dot products, and it changes
    about 1% (onnx) to 5% (torch) of the labels: see README); "fp16"/"bf16" autocast (torch backend).
    Every precision gives a sentence the same label and probabilities whatever else is in its batch.
    priors: the label mix of the text to tag, as in Tagger.set_priors."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "onnx":
        _check_onnxruntime()
    model_dir = Path(model_dir)
    metadata = read_metadata(model_dir)
    check_model_files(model_dir)
    try:  # local_files_only: a broken folder must not send transformers to the hub
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(model_dir, local_files_only=True)
    except Exception as err:  # safetensors, tokenizers and transformers each raise their own kinds
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise CheckpointError(f"{model_dir}: cannot load the model: {reason}") from err
    asked_device = device  # None: each process picks its own, GPU where it has one
    if device is None:
        device = "cuda" if torch.cuda.is_available() and backend == "torch" else "cpu"
    device = torch.device(device)
    cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    chosen = resolve_precision(precision, backend, device.type, cuda_bf16)
    if backend == "onnx":
        from casus.model.onnx_export import onnx_model_path
        from casus.model.runners import OnnxRunner

        runner = OnnxRunner(onnx_model_path(model_dir, chosen), model.config.num_labels)
    elif chosen == "int8":
        # a quantized copy, one sentence per call (its activation scales would otherwise be the batch's);
        # the fp32 model stays for save_pretrained
        runner = TorchRunner(quantize_int8(model), one_row_at_a_time=True)
    else:
        model.to(device)
        runner = TorchRunner(model, autocast_dtype=AUTOCAST_DTYPES.get(chosen))
    tagger = Tagger(model, tokenizer, metadata.get("max_length", 128), metadata, runner=runner)
    tagger.backend, tagger.precision = backend, chosen
    tagger.source = (str(model_dir.resolve()), precision, None if asked_device is None else str(asked_device), backend)
    if priors is not None:
        tagger.set_priors(priors)
    elif metadata.get("priors") is not None:  # from save_pretrained after set_priors / adapt_priors
        try:
            tagger.set_priors(metadata["priors"])
        except ValueError as err:
            raise CheckpointError(f"{model_dir}: casus.json has bad priors: {err}") from None
    return tagger


AUTOCAST_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_precision(precision, backend, device_type, cuda_bf16=False) -> str:
    """The precision "auto" stands for, and a ValueError for a combination that cannot run. "auto": fp32 on
    the CPU (int8 missed the agreement with fp32 that casus asks of it, and was no faster on a CPU without
    int8 dot products, see README); bf16 autocast on a GPU that has it (Ampere and later), fp16 on older ones."""
    if backend == "onnx":
        if device_type != "cpu":
            raise ValueError("the onnx backend runs on the CPU (onnxruntime's CPU build); use backend 'torch' on a GPU")
        if precision in AUTOCAST_DTYPES:
            raise ValueError(f"the onnx backend runs fp32 or int8, not {precision}")
        return "fp32" if precision == "auto" else precision
    if precision == "auto":
        if device_type == "cpu":
            return "fp32"
        return "bf16" if cuda_bf16 else "fp16"
    if precision == "int8" and device_type != "cpu":
        raise ValueError("int8 dynamic quantization runs on the CPU only; use precision 'fp32', 'fp16' or 'bf16' on GPU")
    return precision


def _check_onnxruntime():
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ValueError("the onnx backend needs onnxruntime: pip install 'casus[onnx]'") from None


def quantize_int8(model):
    """Dynamic int8 quantization of the linear layers of attention's query, key and value and of the
    feed-forward's first layer: weights stored in int8, activations quantized on the fly (one sentence per
    call, see TorchRunner). The attention output and feed-forward output layers stay fp32: in int8 (all
    linear layers) 5.3% of real dev labels changed against fp32, with these in fp32 1.6%; in MPNet the
    feed-forward output layers in int8 wreck it (cosine to fp32 about 0.5). torch marks this eager API as
    moving to torchao; it is stable in the pinned torch 2.13."""
    spec = {name: torch.ao.quantization.default_dynamic_qconfig for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and INT8_LAYERS.search(name)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, spec, dtype=torch.qint8)


INT8_LAYERS = re.compile(r"\.(attention\.self\.(query|key|value)|attention\.attn\.(q|k|v)|intermediate\.dense)$")  # BERT, MPNet


def _checked(texts):
    if isinstance(texts, str):
        raise TypeError("pass a list of sentences; for one article use tag_article(text)")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"sentence {i} is {type(text).__name__}, not str")
        if not text.strip():
            raise ValueError(f"sentence {i} is empty; there is nothing to tag")
    return texts
