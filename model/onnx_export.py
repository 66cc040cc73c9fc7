"""Export a checkpoint to ONNX for ONNX Runtime, once: fused for CPU (fp32), or int8 with activation ranges
calibrated on real news, cached beside the checkpoint.

The export goes to DIR/onnx/<precision>/ (model.onnx and casus-onnx.json, which records a fingerprint of
the weights and of this recipe). When the fingerprint no longer matches (the checkpoint was retrained in
place, or this recipe or ONNX Runtime changed), it is exported again. Folders are written whole and
renamed into place, so a crash never leaves half an export. A checkpoint that cannot be written (a
read-only mount, a shared model folder), or whose DIR/onnx is not casus's, gets its export under
$CASUS_CACHE or ~/.cache/casus instead, in a folder named by the fingerprint."""
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from casus.model.checkpoint import CheckpointError

ONNX_DIR = "onnx"
MANIFEST = "casus-onnx.json"
# Bump when the export or quantization recipe changes: every cached export is then made again.
RECIPE = 1
CALIBRATION_SENTENCES = 256  # of data/real/train.jsonl, seeded: never dev or test
OPSET = 17
# The linear layers that go int8: query, key, value and the feed-forward's first layer (58% of the encoder's
# multiply-adds). The attention output and feed-forward output layers stay fp32, as do attention's
# activation-by-activation products: on real dev, int8 in all linear layers changed 1.3% of the labels
# (4 of the first 300 sentences), and the feed-forward output alone (its input is GELU's long-tailed output)
# most of those.
QUANTIZED_LAYERS = re.compile(r"/(attention/self/(query|key|value)|attention/attn/(q|k|v)|intermediate/dense)/")  # BERT, MPNet


class OnnxExportError(CheckpointError):
    pass


def onnx_model_path(model_dir, precision) -> Path:
    """The ONNX file for a checkpoint at `precision` ("fp32" or "int8"), exported on first use."""
    model_dir = Path(model_dir)
    fingerprint = export_fingerprint(model_dir, precision)
    for folder in candidate_folders(model_dir, precision, fingerprint):
        if _holds(folder, fingerprint):
            return folder / "model.onnx"
    for folder in candidate_folders(model_dir, precision, fingerprint):
        try:
            return _export_into(folder, model_dir, precision, fingerprint) / "model.onnx"
        except _CannotWrite:
            continue
    raise OnnxExportError(f"{model_dir}: cannot write an ONNX export beside the checkpoint nor in {cache_root()}")


def export_fingerprint(model_dir, precision) -> dict:
    """What the export depends on: the weights and config (sha256), the recipe and the ONNX Runtime version."""
    import onnxruntime

    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors"):
        with open(Path(model_dir) / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return {"weights_sha256": digest.hexdigest(), "precision": precision, "recipe": RECIPE,
            "onnxruntime": onnxruntime.__version__}


def cache_root() -> Path:
    return Path(os.environ.get("CASUS_CACHE") or Path.home() / ".cache" / "casus")


def candidate_folders(model_dir: Path, precision, fingerprint) -> list[Path]:
    """Beside the checkpoint first, unless DIR/onnx exists and is not casus's; then the user's cache."""
    folders = []
    beside = model_dir / ONNX_DIR
    if not (beside.exists() or beside.is_symlink()) or _ours(beside):
        folders.append(beside / precision)
    key = f"{fingerprint['weights_sha256'][:20]}-{precision}"
    folders.append(cache_root() / ONNX_DIR / key)
    return folders


def _ours(folder: Path) -> bool:
    """A folder casus made for exports: a real folder holding only export folders or their leftovers."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    return all(entry.is_dir() and not entry.is_symlink() and (entry / MANIFEST).is_file() or entry.name.startswith(".")
               for entry in folder.iterdir())


def _holds(folder: Path, fingerprint) -> bool:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8")) == fingerprint \
            and (folder / "model.onnx").is_file()
    except (OSError, ValueError):
        return False


class _CannotWrite(Exception):
    pass


def _export_into(folder: Path, model_dir, precision, fingerprint) -> Path:
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    except OSError:
        raise _CannotWrite from None
    try:
        print(f"casus: exporting {model_dir} to ONNX ({precision}) in {folder}; once per checkpoint",
              file=sys.stderr)
        try:
            export(model_dir, tmp / "model.onnx", precision)
        except (OSError, KeyboardInterrupt):
            raise
        except Exception as err:  # the tracer, onnx and onnxruntime each raise their own kinds
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise OnnxExportError(f"{model_dir}: cannot export to ONNX: {reason}") from err
        (tmp / MANIFEST).write_text(json.dumps(fingerprint, indent=2), encoding="utf-8")
        _swap_into_place(tmp, folder)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if _holds(folder, fingerprint):  # another process finished the same export first
            return folder
        raise _CannotWrite from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _swap_into_place(tmp: Path, folder: Path):
    # A stale export (other weights, another recipe) steps aside, the new one is renamed in, and only then
    # is the stale one removed: casus wrote it (its manifest says so).
    stale = None
    if folder.exists():
        if not (folder / MANIFEST).is_file():
            raise OSError(f"{folder} is not a casus export")
        stale = Path(tempfile.mkdtemp(prefix=f".{folder.name}.stale-", dir=folder.parent))
        os.replace(folder, stale / folder.name)
    os.replace(tmp, folder)
    if stale is not None:
        shutil.rmtree(stale, ignore_errors=True)


def export(model_dir, out_path: Path, precision):
    """Trace the checkpoint to ONNX, fuse it for ONNX Runtime's CPU kernels, and for int8 quantize it."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    work = out_path.parent
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, local_files_only=True,
                                                               attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    example = tokenizer(["A sentence to trace the model with.", "A second one."], padding=True, return_tensors="pt")
    raw = work / "traced.onnx"
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # tracer and deprecation warnings: the traced graph is checked below
        # The TorchScript exporter: the torch.export one needs onnxscript and gives a graph that ONNX
        # Runtime's BERT fusions do not recognise.
        torch.onnx.export(model, (example["input_ids"], example["attention_mask"]), str(raw), dynamo=False,
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          opset_version=OPSET, dynamic_axes={"input_ids": {0: "batch", 1: "length"},
                                                            "attention_mask": {0: "batch", 1: "length"},
                                                            "logits": {0: "batch"}})
    _check_trace(raw, model, tokenizer)
    if precision == "fp32":
        _fuse(raw, out_path, model.config)
    else:  # quantized from the plain graph: the quantizer cannot infer the types of fused operators
        _quantize(raw, out_path, tokenizer)
    raw.unlink()


def _check_trace(path, model, tokenizer):
    """A traced graph can keep a shape of the example as a constant: run it on another batch shape."""
    import numpy as np
    import onnxruntime
    import torch

    texts = ["Rockets hit the base.", "Three checks of the traced graph, each of a different length, ran today.",
             "One more."]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        expected = model(**batch).logits.numpy()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(["logits"], {name: batch[name].numpy() for name in ("input_ids", "attention_mask")})[0]
    if not np.allclose(got, expected, atol=1e-3):
        raise OnnxExportError(f"the traced ONNX graph disagrees with the model (max difference "
                              f"{np.abs(got - expected).max():.3g})")


def _fuse(src, dst, config):
    from onnxruntime.transformers.optimizer import optimize_model

    # BERT's fusion patterns (attention, GELU, layer norm); on another architecture fewer of them match
    optimized = optimize_model(str(src), model_type="bert", num_heads=config.num_attention_heads,
                               hidden_size=config.hidden_size, opt_level=1)
    optimized.save_model_to_file(str(dst))


def _quantize(src, dst, tokenizer):
    """Static int8: weights per channel, activation ranges fixed once from real news sentences. Fixed
    ranges make each sentence's result independent of its batch-mates (dynamic int8 scales each
    activation by the whole batch's range)."""
    import numpy as np
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    sentences = calibration_sentences()
    graph = onnx.load(str(src), load_external_data=False).graph
    weights = {tensor.name for tensor in graph.initializer}
    linear = [node.name for node in graph.node if node.op_type == "MatMul" and node.input[1] in weights
              and QUANTIZED_LAYERS.search(node.name)]

    class OneSentenceAtATime(CalibrationDataReader):  # no padding, so its values do not widen the ranges
        def __init__(self):
            self.texts = iter(sentences)

        def get_next(self):
            text = next(self.texts, None)
            if text is None:
                return None
            encoded = tokenizer([text], truncation=True, max_length=128, return_tensors="np")
            return {name: encoded[name].astype(np.int64) for name in ("input_ids", "attention_mask")}

    # reduce_range: 7-bit weights, as torch's fbgemm does, since AVX2's u8 x s8 products saturate in int16
    logger = logging.getLogger()  # the quantizer logs advice about pre-processing on the root logger
    level, logger.level = logger.level, logging.ERROR
    try:
        quantize_static(str(src), str(dst), OneSentenceAtATime(), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=["MatMul"], nodes_to_quantize=linear, per_channel=True,
                        reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
    finally:
        logger.level = level


def calibration_sentences(n=CALIBRATION_SENTENCES) -> list[str]:
    """A seeded sample of the real-news train split shipped with casus: the kind of text casus tags, and
    never the dev or test sentences it is scored on."""
    import random

    from casus.data.corpus import real_file
    from casus.data.loaders import load_examples

    texts = [ex.text for ex in load_examples(real_file("train"))]
    random.Random(0).shuffle(texts)
    return texts[:n]
