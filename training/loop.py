"""The training loop: fine-tune a BERT-style encoder on labelled sentences, keep the best dev model.

One plain loop on top of accelerate, so the same code runs on the CPU here, on a GPU, or on several
GPUs under `accelerate launch`."""
import dataclasses
import json
import math
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import broadcast_object_list, get_int_from_env, set_seed
from sklearn.utils.class_weight import compute_class_weight
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                          get_linear_schedule_with_warmup)

from casus.data.corpus import real_file
from casus.data.event_codes import load_labelled
from casus.data.labels import ID2LABEL, LABEL2ID, LABELS
from casus.data.loaders import DataError, fingerprint, load_examples
from casus.eval.metrics import ClassificationEvaluator, expected_calibration_error, macro_f1
from casus.model.base import resolve_base_model
from casus.model.card import model_card
from casus.model.calibration import (calibrated_logits, classifier_head, fit_temperature, fold_into_head, log_softmax,
                               mix_shift, nll, unfold_from_head)
from casus.model.checkpoint import METADATA_FILE, check_out_dir, save_checkpoint, update_metadata
from casus.model.inference import encode, predict_logits_ids
from casus.training.config import TrainConfig, config_dict, default_train_files


class LaunchError(RuntimeError):
    """The processes of a multi-process launch did not join into one training run."""


def load_splits(config: TrainConfig):
    """Train and dev examples, and where dev came from. Without a dev file, dev is the shipped real-news
    dev split when training on the shipped data, else a seeded 10% of the training documents (or
    sentences, without doc_id). Each training file's sentences are then repeated as `repeat` asks."""
    columns = (config.label_scheme, config.text_column, config.label_column)
    per_file = [load_labelled(path, *columns) for path in config.train_file]
    train = [ex for examples in per_file for ex in examples]
    if config.dev_file:
        dev, dev_source = load_labelled(config.dev_file, *columns), config.dev_file
    elif _same_files(config.train_file, default_train_files()):
        dev, dev_source = load_examples(real_file("dev")), str(real_file("dev"))
    else:
        train, dev = split_off_dev(train, config.seed)
        dev_source = f"10% of the documents of {', '.join(config.train_file)} (seed {config.seed})"
    if any(n != 1 for n in config.repeat):
        kept = {id(ex) for ex in train}
        train = weighted([[ex for ex in examples if id(ex) in kept] for examples in per_file], config.repeat,
                         config.seed)
    # checked after the repeats: a fraction of a file can leave a tag out
    missing = [label for label in LABELS if label not in {ex.label for ex in train}]
    if missing:
        raise DataError(f"{', '.join(config.train_file)}: no training sentences labelled {', '.join(missing)}; "
                        f"casus learns all of {', '.join(LABELS)}")
    return train, dev, dev_source


def weighted(per_file, repeat, seed) -> list:
    """The examples of each file repeated as `repeat` asks, one seeded draw over the files in order: the
    training loop and the evaluation's baseline take the same sample from the same seed."""
    rng = np.random.default_rng(seed)
    return [ex for examples, times in zip(per_file, repeat) for ex in repeated(examples, times, rng)]


def repeated(examples, times, rng):
    """examples `times` times over: whole copies for the integer part, a seeded sample for the fraction
    (0.25 = a quarter of the file, the same quarter every epoch)."""
    whole, fraction = int(times), times - int(times)
    extra = rng.choice(len(examples), size=round(fraction * len(examples)), replace=False) if fraction else []
    return examples * whole + [examples[i] for i in sorted(extra)]


def _same_files(paths, others):
    return sorted(Path(p).resolve() for p in paths) == sorted(Path(p).resolve() for p in others)


def label_mix(config: TrainConfig, train_examples) -> tuple[list, str]:
    """The label mix the shipped probabilities will assume, and where it came from (see TrainConfig)."""
    if config.label_mix == "train":
        return _train_prior(train_examples, config.class_weights), "as trained"
    path = real_file("train") if config.label_mix == "real" else Path(config.label_mix)
    counts = Counter(ex.label for ex in load_examples(path))
    missing = [label for label in LABELS if not counts[label]]
    if missing:
        raise DataError(f"{path}: no sentences labelled {', '.join(missing)}, so it gives no label mix; "
                        "pass --label-mix train or another file")
    total = sum(counts[label] for label in LABELS)
    return [counts[label] / total for label in LABELS], str(path)


def split_off_dev(examples, seed, fraction=0.1):
    # Whole documents go to one side when doc_id is known, so dev never sees a training article.
    groups = [ex.doc_id if ex.doc_id is not None else f"#{i}" for i, ex in enumerate(examples)]
    unique = sorted(set(groups))
    rng = np.random.default_rng(seed)
    dev_groups = set(rng.choice(unique, size=max(1, round(len(unique) * fraction)), replace=False))
    train = [ex for ex, g in zip(examples, groups) if g not in dev_groups]
    dev = [ex for ex, g in zip(examples, groups) if g in dev_groups]
    if not train:
        raise DataError("too few training examples to hold out a dev set; pass --dev-file")
    return train, dev


class LengthGroupedBatches(torch.utils.data.Sampler):
    """Random batches of sentences of similar length, so dynamic padding wastes little compute.

    Each epoch: shuffle, cut into pools of 50 batches, sort each pool by length, slice it into batches,
    shuffle the batches. Batches stay random in content and order (as in the HF Trainer's
    group_by_length)."""

    def __init__(self, lengths, batch_size, seed, pool_batches=50):
        self.lengths, self.batch_size, self.pool = lengths, batch_size, batch_size * pool_batches
        self.generator = torch.Generator().manual_seed(seed)

    def __iter__(self):
        order = torch.randperm(len(self.lengths), generator=self.generator).tolist()
        batches = []
        for start in range(0, len(order), self.pool):
            pool = sorted(order[start:start + self.pool], key=lambda i: self.lengths[i])
            batches += [pool[i:i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
        for i in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[i]

    def __len__(self):
        return sum(math.ceil(min(self.pool, len(self.lengths) - s) / self.batch_size)
                   for s in range(0, len(self.lengths), self.pool))


def freeze_bottom(model, layers):
    """Freeze the embeddings and the bottom `layers` encoder layers (none when 0): the backward pass then
    stops above them, which makes a CPU step much cheaper at little cost to a sentence classifier."""
    if layers <= 0:
        return
    encoder = model.base_model
    blocks = encoder.encoder.layer
    if layers > len(blocks):
        raise DataError(f"--freeze-layers {layers}: the base model has only {len(blocks)} layers")
    for module in [encoder.embeddings, *blocks[:layers]]:
        for parameter in module.parameters():
            parameter.requires_grad = False


def class_weights(examples) -> torch.Tensor:
    """Inverse class frequency ("balanced"): n / (k * count), so rare tags weigh as much as common ones."""
    weights = compute_class_weight("balanced", classes=np.array(LABELS), y=[ex.label for ex in examples])
    return torch.tensor(weights, dtype=torch.float32)


# How far towards the target label mix the shipped probabilities move: 0 = as trained, 1 = Bayes' rule.
MIX_STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)


def best_mix_strength(logits, gold, shift, calibrate=True) -> tuple[float, float, float]:
    """The share of the label-mix shift with the best dev macro-F1, the temperature fitted with it, and
    that macro-F1. The shipped logits are logits / T + share * shift, so each share is scored with its
    own temperature, as it would ship. Bayes' rule for the target mix (share 1) maximises accuracy;
    macro-F1 rewards recall on the rare tags more, so a part of the shift can serve it better. Ties go to
    the stronger shift (the real mix)."""
    scores = []
    for share in MIX_STRENGTHS:
        temperature = fit_temperature(logits, gold, share * shift) if calibrate else 1.0
        predicted = calibrated_logits(logits, temperature, share * shift).argmax(axis=1)
        scores.append((macro_f1(gold, predicted), share, temperature))
    best = max(score for score, _, _ in scores)
    score, share, temperature = max((s for s in scores if s[0] >= best - 1e-9), key=lambda s: s[1])
    return share, temperature, score


def dev_macro_f1(evaluator, model, tokenizer, max_length, shift, calibrate=True) -> tuple[float, dict, float]:
    """Dev macro-F1 of the probabilities as they would ship: moved towards the target label mix by the
    best share of the shift, with the temperature fitted for it; and that share."""
    logits = predict_logits_ids(model, tokenizer, encode(tokenizer, evaluator.texts, max_length)[0])
    share, temperature, _ = best_mix_strength(logits, evaluator.gold, shift, calibrate)
    metrics = evaluator(lambda texts: np.exp(log_softmax(calibrated_logits(logits, temperature, share * shift))))
    return metrics["macro_f1"], {label: m["f1"] for label, m in metrics["per_class"].items()}, share


def train(config: TrainConfig | None = None, **fields) -> dict:
    """Fine-tune and save a checkpoint to config.out_dir; returns a summary: best dev scores, steps, time.
    `casus.train(TrainConfig(out_dir="runs/x"))`, or fields directly: `casus.train(out_dir="runs/x")`."""
    config = dataclasses.replace(config or TrainConfig(), **fields)
    started = time.time()
    check_out_dir(config.out_dir, config.overwrite)  # now, not at the first save minutes from now
    # The schedule below counts the optimizer steps each process really takes. By default accelerate steps
    # a prepared scheduler num_processes times per optimizer step (it expects a schedule built for one
    # process); stepping it once per call keeps the schedule as long as the training.
    accelerator = Accelerator(cpu=config.cpu, step_scheduler_with_optimizer=False)
    launched = get_int_from_env(["WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"], 1)
    if launched > 1 and accelerator.num_processes == 1:
        # each process would train alone and all would write the same folder
        raise LaunchError(f"started as {launched} processes, but accelerate joined {accelerator.num_processes}; "
                          "on a machine without a GPU pass --cpu to casus")
    set_seed(config.seed)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    main = accelerator.is_main_process
    say = accelerator.print

    train_examples, dev_examples, dev_source = load_splits(config)
    trained_prior = _train_prior(train_examples, config.class_weights)
    target_prior, mix_source = label_mix(config, train_examples)
    shift = mix_shift(trained_prior, target_prior)
    base, base_name = resolve_base_model(config.base_model)
    if main:  # what goes in is progress, on stderr; stdout is kept for the results
        print(f"train {len(train_examples)} sentences {dict(Counter(ex.label for ex in train_examples))}",
              file=sys.stderr)
        print(f"dev   {len(dev_examples)} sentences {dict(Counter(ex.label for ex in dev_examples))}", file=sys.stderr)

    # local_files_only: a folder that will not load must fail here, not send transformers to the hub
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=len(LABELS), id2label=ID2LABEL, label2id=LABEL2ID, local_files_only=True)

    freeze_bottom(model, config.freeze_layers)
    ids, _ = encode(tokenizer, [ex.text for ex in train_examples], config.max_length)
    features = [{"input_ids": x, "labels": LABEL2ID[ex.label]} for x, ex in zip(ids, train_examples)]
    batches = LengthGroupedBatches([len(x) for x in ids], config.batch_size, config.seed)
    # each process gets its share of the batches: the prepared loader's length is one process's epoch
    loader = accelerator.prepare(DataLoader(features, batch_sampler=batches,
                                            collate_fn=DataCollatorWithPadding(tokenizer)))

    # No weight decay on biases and LayerNorm weights, as in BERT's recipe.
    trainable = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in trainable if p.ndim >= 2]
    no_decay = [p for p in trainable if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=config.learning_rate)
    steps_per_epoch = len(loader)
    total_steps = config.epochs * steps_per_epoch
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * total_steps), total_steps)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)

    weights = class_weights(train_examples) if config.class_weights else None
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights.to(accelerator.device) if weights is not None else None)
    eval_every = max(1, steps_per_epoch // max(1, config.evals_per_epoch))
    dev_evaluator = ClassificationEvaluator.from_examples(dev_examples, name="dev", bootstrap_samples=0)

    best = {"dev_macro_f1": -1.0}
    history, evals_without_gain, step = [], 0, 0
    # In a log file (not a terminal) every refresh is a new line: refresh rarely there.
    bar = tqdm(total=total_steps, desc="training", unit="step", disable=not main,
               mininterval=0.1 if sys.stderr.isatty() else 30)
    stop = False
    while not stop:
        for batch in loader:
            model.train()
            labels = batch.pop("labels")
            loss = loss_fn(model(**batch).logits, labels)
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            learning_rate = optimizer.param_groups[0]["lr"]  # the rate this step is taken with
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", best_dev_f1=f"{max(best['dev_macro_f1'], 0):.3f}")

            if step % eval_every == 0 or step == total_steps:
                # Only the main process scores dev, saves and decides; the others take its decision, so
                # no two processes can disagree about stopping and wait for each other for ever.
                if main:
                    unwrapped = accelerator.unwrap_model(model).eval()
                    macro, per_class, strength = dev_macro_f1(dev_evaluator, unwrapped, tokenizer,
                                                              config.max_length, shift, config.calibrate)
                    epoch = step / steps_per_epoch
                    history.append({"step": step, "epoch": round(epoch, 2), "loss": round(loss.item(), 4),
                                    "learning_rate": learning_rate, "dev_macro_f1": round(macro, 4),
                                    "mix_strength": strength})
                    bar.write(f"step {step} (epoch {epoch:.2f}): dev macro-F1 {macro:.4f}", file=sys.stderr)
                    if macro > best["dev_macro_f1"]:
                        best = {"dev_macro_f1": macro, "dev_f1": per_class, "step": step, "epoch": round(epoch, 2),
                                "mix_strength": strength}
                        evals_without_gain = 0
                        # the best model so far is always on disk: a crash loses nothing before it
                        metadata = _metadata(config, base_name, (train_examples, dev_examples, dev_source),
                                             best, history, started, trained_prior)
                        save_checkpoint(unwrapped, tokenizer, config.out_dir, metadata, model_card)
                    else:
                        evals_without_gain += 1
                        if evals_without_gain >= config.patience:
                            bar.write(f"early stop: no better dev macro-F1 in {config.patience} evaluations",
                                      file=sys.stderr)
                            stop = True
                # the others wait here until the main process has saved and decided
                best, history, stop = broadcast_object_list([best, history, stop])
            if stop or step >= total_steps:
                stop = True
                break
    bar.close()
    summary = {**best, "steps": step, "train_seconds": round(time.time() - started, 1),
               "out_dir": config.out_dir, "history": history}
    if main:
        _update_history(config.out_dir, history, summary["train_seconds"])
        summary["calibration"] = calibrate_checkpoint(
            config, dev_examples, dev_source, trained_prior, target_prior, mix_source, say)
    accelerator.wait_for_everyone()
    return summary


def calibrate_checkpoint(config, dev_examples, dev_source, trained_prior, target_prior, mix_source, say):
    """Move the saved best model towards the target label mix and fit its temperature on dev, folding
    both into the classifier head (see model/calibration.py); the checkpoint is saved again, atomically.
    A checkpoint calibrated before is first taken back to its logits as trained, so this can re-fit."""
    out_dir = Path(config.out_dir)
    metadata = json.loads((out_dir / METADATA_FILE).read_text(encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(out_dir, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(out_dir, local_files_only=True).eval()
    head = classifier_head(model)
    if metadata.get("calibration"):
        old = metadata["calibration"]
        unfold_from_head(head, old["temperature"], old["shift"])
    ids, _ = encode(tokenizer, [ex.text for ex in dev_examples], config.max_length)
    logits = predict_logits_ids(model, tokenizer, ids).astype(np.float64)
    gold = np.array([LABEL2ID[ex.label] for ex in dev_examples])
    full_shift = mix_shift(trained_prior, target_prior)
    strength, temperature, _ = best_mix_strength(logits, gold, full_shift, config.calibrate)
    shift = strength * full_shift
    # the label mix the shipped probabilities assume: trained_prior moved `strength` of the way (in logs)
    assumed = np.exp(np.log(trained_prior) + shift)
    assumed = assumed / assumed.sum()
    before = np.exp(log_softmax(logits))
    after = np.exp(log_softmax(calibrated_logits(logits, temperature, shift)))
    calibration = {
        "temperature": temperature,
        "mix_strength": strength,
        "shift": shift.tolist(),
        "trained_prior": list(trained_prior),
        "label_mix": {label: float(p) for label, p in zip(LABELS, target_prior)},
        "label_mix_source": mix_source,
        "fitted_on": dev_source if config.calibrate else None,
        "dev_before": {"nll": nll(logits, gold), "ece": expected_calibration_error(before, gold),
                       "macro_f1": macro_f1(gold, before.argmax(axis=1))},
        "dev_after": {"nll": nll(np.log(after), gold), "ece": expected_calibration_error(after, gold),
                      "macro_f1": macro_f1(gold, after.argmax(axis=1))},
    }
    fold_into_head(head, temperature, shift)
    metadata["train_prior"] = assumed.tolist()  # the mix the shipped probabilities now assume
    metadata["calibration"] = calibration
    save_checkpoint(model, tokenizer, out_dir, metadata, model_card)
    say(f"label mix {', '.join(f'{label} {p:.3f}' for label, p in zip(LABELS, target_prior))} ({mix_source}), "
        f"moved {strength:.0%} of the way; temperature {temperature:.3f}; dev as trained: macro-F1 "
        f"{calibration['dev_before']['macro_f1']:.4f}, ECE {calibration['dev_before']['ece']:.4f}; as shipped: "
        f"macro-F1 {calibration['dev_after']['macro_f1']:.4f}, ECE {calibration['dev_after']['ece']:.4f}")
    return calibration


def _metadata(config, base_name, data, best, history, started, trained_prior):
    train_examples, dev_examples, dev_source = data
    return {
        "casus_checkpoint": 1,
        "labels": list(LABELS),
        "base_model": base_name,
        "max_length": config.max_length,
        # the label mix the model's probabilities assume: class weights make it uniform
        "train_prior": list(trained_prior),
        "train_data": _describe(", ".join(config.train_file), train_examples),
        "dev_data": _describe(dev_source, dev_examples),
        "metrics": best,
        "history": history,
        "config": config_dict(config),
        "train_seconds_at_save": round(time.time() - started, 1),
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _train_prior(examples, weighted):
    if weighted:
        return [1 / len(LABELS)] * len(LABELS)
    counts = Counter(ex.label for ex in examples)
    return [counts[label] / len(examples) for label in LABELS]


def _describe(source, examples):
    return {"source": str(source), "sentences": len(examples), "sha256": fingerprint(examples),
            "labels": dict(Counter(ex.label for ex in examples))}


def _update_history(out_dir, history, seconds):
    # The full history (evaluations after the best one included) goes into the saved metadata.
    if (Path(out_dir) / METADATA_FILE).exists():
        update_metadata(out_dir, {"history": history, "train_seconds_total": seconds})
