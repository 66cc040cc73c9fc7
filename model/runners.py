"""What turns a padded batch of token ids into logits: a torch model (fp32, int8, or fp16/bf16 autocast on a
GPU) or an ONNX Runtime session. Each runner takes numpy int64 arrays [batch, length] and returns float32
logits [batch, num_labels]; model/inference.py does the batching around it.

`one_row_at_a_time`: dynamic int8 computes each activation's scale over the whole tensor it multiplies, so
a sentence's logits would depend on the other sentences (and the padding) in its batch. Such a runner is
handed one unpadded sentence per call, which makes its output the same whatever the batch."""
import numpy as np
import torch


class TorchRunner:
    def __init__(self, model, autocast_dtype=None, one_row_at_a_time=False):
        self.model = model
        self.num_labels = model.config.num_labels
        self.autocast_dtype = autocast_dtype  # torch.float16 / torch.bfloat16, or None for the model's own
        self.one_row_at_a_time = one_row_at_a_time

    @torch.inference_mode()
    def __call__(self, input_ids, attention_mask) -> np.ndarray:
        device = next(self.model.parameters()).device
        batch = {"input_ids": torch.from_numpy(input_ids).to(device),
                 "attention_mask": torch.from_numpy(attention_mask).to(device)}
        if self.autocast_dtype is None:
            return self.model(**batch).logits.float().cpu().numpy()
        with torch.autocast(device_type=device.type, dtype=self.autocast_dtype):
            return self.model(**batch).logits.float().cpu().numpy()


class OnnxRunner:
    def __init__(self, path, num_labels, threads=None, one_row_at_a_time=False):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        # as many threads as torch uses, so the backends compare like for like (ORT's default: all cores)
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: ORT warns about unused initialisers on every load
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.num_labels = num_labels
        self.one_row_at_a_time = one_row_at_a_time

    def __call__(self, input_ids, attention_mask) -> np.ndarray:
        feed = {"input_ids": input_ids.astype(np.int64), "attention_mask": attention_mask.astype(np.int64)}
        return self.session.run(["logits"], feed)[0].astype(np.float32)
