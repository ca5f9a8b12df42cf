"""What every evaluator that builds networks shares: building a candidate for the task, measuring its costs
(params, FLOPs, sizes, latency on PyTorch / ONNX Runtime, INT8), its zero-cost proxies, and the final retraining."""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import io
from dataclasses import dataclass
from typing import ClassVar, cast

from ..cost import count_flops, count_params, measure_latency, size_bytes
from ..errors import ArchscoutError, TrialFailed
from ..metrics import is_int8, latency_spec
from ..space import Architecture
from ..tasks import Task
from .base import Evaluation, Evaluator, Infeasible
from .training import TrainConfig, fit, predict, scores


def release_memory() -> None:
    """Give freed memory back to the OS between trials, so a long search stays flat in RSS.

    Networks of many different shapes leave the C heap fragmented; glibc's malloc_trim
    returns the free pages (a no-op on other C libraries).
    """
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    name = ctypes.util.find_library("c")  # slow (it may run ldconfig): once per process
    if not name:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None


@dataclass(frozen=True)
class LatencyConfig:
    """How latency is measured: warm-up runs, at least ``repeats`` timed runs (more until the median is
    stable), and the thread count (one by default, for steady figures while other trials train; None:
    PyTorch's current setting)."""

    batch_size: int = 1
    warmup: int = 5
    repeats: int = 30
    threads: int | None = 1


CALIBRATION_SAMPLES = 256  # training samples that calibrate INT8 quantization: a stratified random subset
CALIBRATION_SEED = 0  # one subset for every candidate of a study, its final retraining and its export
PRESCREEN_MARGIN = 0.25  # an estimate this far over a latency bound rejects a candidate unmeasured


class NetworkEvaluator(Evaluator):
    """Builds each candidate for the study's task and measures it; subclasses say what they score it by.

    Cost metrics (params, FLOPs, fp32 size, latency) are measured on the untrained network so
    that cost constraints can reject a candidate before any training or scoring; the proxies a
    study names are computed on it too. ``final`` retrains a chosen candidate on all training data.
    """

    needs_task = True
    # measured when a study names them: latency_ms@RUNTIME:bN, size_bytes@fp16 / @int8, memory_mb, accuracy@int8,
    # and zero-cost proxies of the untrained network (proxy@NAME)
    on_request: ClassVar[tuple[str, ...]] = ("latency_ms@", "size_bytes@", "memory_mb", "accuracy@int8", "proxy@")

    def __init__(self, task: Task, train: TrainConfig | None = None, latency: LatencyConfig | None = None,
                 metrics: tuple | list = ()):
        self.task = task
        self.train_config = train or TrainConfig()
        self.latency = latency or LatencyConfig()
        self.proxies = [m.split("@", 1)[1] for m in metrics if m.startswith("proxy@")]
        self.extra = [m for m in metrics if m not in self.measures and m.startswith(self.on_request)
                      and not m.startswith("proxy@")]
        self.prescreen: dict = {}  # latency metric -> (LatencyTable, bound): see prescreen_latency

    @classmethod
    def create(cls, options: str = "", *, task=None, train: TrainConfig | None = None,
               latency: LatencyConfig | None = None, metrics: tuple | list = ()) -> NetworkEvaluator:
        return cls(task, train, latency, metrics)

    def after_trial(self) -> None:
        """Between trials: return freed memory to the OS (about 10 ms; a lookup evaluator skips it)."""
        release_memory()

    @staticmethod
    def with_recipe(config: TrainConfig, arch: Architecture) -> TrainConfig:
        """``config`` with the training settings the architecture chooses (a space with a searched recipe); the
        budget (steps or epochs) stays ``config``'s."""
        chosen = arch.space.recipe(arch) if arch.space is not None and hasattr(arch.space, "recipe") else {}
        return config.with_(**chosen) if chosen else config

    def build(self, arch: Architecture, seed: int):
        import torch

        torch.manual_seed(seed)
        try:
            return arch.build(self.task.input_shape, self.task.num_classes)
        except ArchscoutError as e:
            raise TrialFailed(f"cannot build: {e}") from None
        except (RuntimeError, ValueError) as e:
            raise TrialFailed(f"cannot build: {type(e).__name__}: {e}") from None

    def static_costs(self, model, arch: Architecture | None = None) -> dict:
        """Parameters, FLOPs and fp32 / fp16 sizes: what needs no timing."""
        try:
            flops = count_flops(model, self.task.input_shape)
        except RuntimeError as e:
            raise TrialFailed(f"forward pass failed on the task's input shape: {e}") from None
        return {"params": count_params(model), "flops": flops, "size_bytes@fp32": size_bytes(model, 32),
                "size_bytes@fp16": size_bytes(model, 16)}

    def costs(self, model, arch: Architecture | None = None, details: dict | None = None) -> dict:
        """Cost metrics of the untrained network: parameters, FLOPs, fp32 size, PyTorch latency at batch 1,
        and what the study asked for besides (other runtimes and batches, fp16 / INT8 size, peak memory).
        Latency records (median, quartiles, repetitions, threads) go to ``details["latencies"]``."""
        metrics = self.static_costs(model, arch)
        if "size_bytes@fp16" not in self.extra:
            del metrics["size_bytes@fp16"]
        latencies = {}
        onnx = int8 = None
        for metric in ["latency_ms"] + [m for m in self.extra if m != "accuracy@int8"]:
            # indexed only in the branches of latency metrics, for which it is not None
            spec = cast("tuple[str, int]", latency_spec(metric))
            if metric in self.prescreen:  # the prescreen table needs the architecture: callers pass it
                self._prescreen(metric, cast(Architecture, arch), metrics)
            if metric == "size_bytes@fp16":
                continue
            if metric == "memory_mb":
                from ..cost.runtime import peak_memory_mb
                metrics[metric] = peak_memory_mb(model, self.task.input_shape, 1)
            elif is_int8(metric):
                if int8 is None:
                    onnx = onnx or self._onnx(model)
                    int8 = self.quantize(onnx, arch)
                if metric == "size_bytes@int8":
                    metrics[metric] = int8.size_bytes
                else:
                    latencies[metric] = self._latency_onnx(int8.model_bytes, spec[1], "onnxruntime-int8")
            elif spec[0] == "cuda":
                from ..cost import measure_latency_device
                device = self.torch_device()
                latencies[metric] = measure_latency_device(model, self.task.input_shape, spec[1], self.latency.warmup,
                                                           self.latency.repeats,
                                                           device if device.type == "cuda" else "cuda")
            elif spec[0] == "pytorch":
                latencies[metric] = measure_latency(model, self.task.input_shape, spec[1], self.latency.warmup,
                                                    self.latency.repeats, self.latency.threads)
            else:
                onnx = onnx or self._onnx(model)
                latencies[metric] = self._latency_onnx(onnx, spec[1], "onnxruntime")
        for metric, lat in latencies.items():
            metrics[metric] = lat.median_ms
        if details is not None:
            details["latency"] = latencies["latency_ms"].as_dict()
            details["latencies"] = {m: lat.as_dict() for m, lat in latencies.items()}
            if int8 is not None:
                details["int8"] = {"quantized_nodes": len(int8.quantized_nodes), "fp32_nodes": int8.fp32_nodes}
        return metrics

    def _prescreen(self, metric: str, arch: Architecture, metrics: dict) -> None:
        """Reject without measuring a candidate whose latency the lookup table puts clearly over the bound."""
        table, bound = self.prescreen[metric]
        estimate = table.estimate(arch)
        if estimate > bound * (1 + PRESCREEN_MARGIN):
            raise Infeasible(f"{metric} estimated at {estimate:.4g} ms by the per-operator lookup table, more than "
                             f"{PRESCREEN_MARGIN:.0%} over the bound {bound:g}; not measured", metrics)

    def _onnx(self, model) -> bytes:
        from ..cost.runtime import onnx_bytes
        try:
            return onnx_bytes(model, self.task.input_shape)
        except Exception as e:  # noqa: BLE001 - an operator ONNX cannot express fails this candidate only
            raise TrialFailed(f"cannot export to ONNX: {type(e).__name__}: {str(e)[:300]}") from None

    def _threads(self) -> int:
        import torch
        return self.latency.threads or torch.get_num_threads()

    def _latency_onnx(self, model_bytes: bytes, batch: int, runtime: str):
        from ..cost.runtime import measure_latency_onnx
        return measure_latency_onnx(model_bytes, self.task.input_shape, batch, self.latency.warmup,
                                    self.latency.repeats, self._threads(), runtime=runtime)

    def calibration_samples(self):
        """The training samples that calibrate INT8 quantization: ``CALIBRATION_SAMPLES`` of them, drawn per
        class in proportion (see :func:`archscout.cost.quantize.calibration_indices`), the same every time."""
        from ..cost.quantize import calibration_indices
        train = self.task.train
        return train.take(calibration_indices(train.y, CALIBRATION_SAMPLES, CALIBRATION_SEED))  # a dataset: only these

    def quantize(self, model_bytes: bytes, arch: Architecture | None):
        """INT8 post-training quantization (ONNX Runtime, static), calibrated on :meth:`calibration_samples`;
        the architecture's quantization policy (if its space has one) keeps some layers in fp32."""
        from ..cost.quantize import quantize_int8
        scopes = arch.space.fp32_scopes(arch) if arch is not None and arch.space is not None else []
        try:
            return quantize_int8(model_bytes, self.calibration_samples(), fp32_scopes=scopes)
        except Exception as e:  # noqa: BLE001 - a graph the quantizer cannot handle fails this candidate only
            raise TrialFailed(f"INT8 quantization failed: {type(e).__name__}: {str(e)[:300]}") from None

    def quantized_accuracy(self, model, arch: Architecture | None, split: str = "valid") -> dict:
        """Accuracy and loss of the trained network after INT8 quantization (ONNX Runtime) on the validation
        (or test) part, and the quantized size."""
        from ..cost.quantize import onnx_accuracy
        int8 = self.quantize(self._onnx(model), arch)
        data = getattr(self.task, split)
        res = onnx_accuracy(int8.model_bytes, data.X, data.y, threads=self._threads())
        prefix = "" if split == "valid" else "test_"
        return {f"{prefix}accuracy@int8": res["accuracy"], f"{prefix}loss@int8": res["loss"],
                "size_bytes@int8": int8.size_bytes}

    def proxy_scores(self, model, details: dict | None = None) -> dict:
        """The zero-cost proxies the study names (``proxy@NAME``) of the untrained network, on one batch of
        training samples; a proxy that cannot score it is left out, with its reason in
        ``details["proxy_errors"]``. Time per proxy goes to ``details["proxy_seconds"]``."""
        from .proxies import score_all

        inputs, targets, mask = self.proxy_inputs()
        loss = None
        if getattr(self.task, "kind", "classification") == "regression":  # gradients of the loss training uses
            from .training import loss_function
            loss = loss_function("regression")
        results = score_all(model, inputs, targets, self.proxies, mask=mask, loss=loss)
        if details is not None:
            details["proxy_seconds"] = {k: round(v["seconds"], 5) for k, v in results.items()}
            errors = {k: v["error"] for k, v in results.items() if v["error"]}
            if errors:
                details["proxy_errors"] = errors
        return {f"proxy@{k}": v["value"] for k, v in results.items() if v["value"] is not None}

    def proxy_inputs(self) -> tuple:
        """``(inputs, targets, mask)``: the batch of training data every proxy is computed on (see
        :func:`archscout.evaluate.proxies.proxy_batch`), built once."""
        if getattr(self, "_proxy_batch", None) is None:
            from .proxies import proxy_batch
            self._proxy_batch = proxy_batch(self.task)
        return self._proxy_batch

    def __getstate__(self):  # the proxy batch is rebuilt in each worker
        return {**self.__dict__, "_proxy_batch": None}

    def build_and_cost(self, arch: Architecture, seed: int, cost_check=None, details: dict | None = None) -> tuple:
        """The untrained network, its cost metrics and the proxies the study names; Infeasible when
        ``cost_check`` gives a reason, checked on the costs (before any proxy is computed) and again with
        the proxies (a constraint on a proxy), so nothing is trained that breaks either."""
        model = self.build(arch, seed)
        metrics = self.costs(model, arch, details)
        if cost_check is not None:
            reason = cost_check(metrics)
            if reason:
                raise Infeasible(reason, metrics)
        if self.proxies:
            details = {} if details is None else details
            metrics.update(self.proxy_scores(model, details))
            if cost_check is not None:
                try:
                    reason = cost_check(metrics, proxies_done=True)
                except TrialFailed as e:  # a constrained proxy failed: say why
                    why = "; ".join(details.get("proxy_errors", {}).values())
                    raise TrialFailed(f"{e}" + (f" ({why})" if why else "")) from None
                if reason:
                    raise Infeasible(reason, metrics)
        return model, metrics

    def final(self, arch: Architecture, seed: int, train_config: TrainConfig) -> tuple[Evaluation, bytes]:
        """Retrain on training + validation data, score on the test part (``test_`` and every metric of the task's
        kind); returns the state dict bytes too."""
        import torch

        task = self.task
        if task.test is None:
            raise ArchscoutError(f"task {task.name!r} has no test split to report on")
        device = self.torch_device()
        train_config = self.with_recipe(train_config, arch)
        model = self.build(arch, seed)
        stats = fit(model, task.full_train(), train_config, seed=seed, kind=task.kind, device=device,
                    amp=train_config.amp)
        res = scores(predict(model, task.test, device=device, amp=train_config.amp), task.test.y, task.kind,
                     task.preprocessing)
        model.to("cpu")
        lat = measure_latency(model, task.input_shape, self.latency.batch_size, self.latency.warmup,
                              self.latency.repeats, self.latency.threads)  # as the search measured it
        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
        metrics = {f"test_{k}": v for k, v in res.items()}
        metrics.update({"train_seconds": stats["train_seconds"], "params": count_params(model),
                        "latency_ms": lat.median_ms})
        if "accuracy@int8" in self.extra:  # the retrained network as it would be deployed in INT8
            metrics.update(self.quantized_accuracy(model, arch, "test"))
        details: dict = {"latency": lat.as_dict(), "train": train_config.as_dict()}
        if device.type != "cpu":
            details["device"] = str(device)
        return Evaluation(metrics, details), buf.getvalue()
