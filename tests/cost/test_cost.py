import logging
import tempfile

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from archscout.cost import _time_runs, measure_latency
from archscout.cost.quantize import (
    in_scope,
    node_module,
    onnx_accuracy,
    onnx_weight_bytes,
    quantizable_scopes,
    quantize_int8,
)
from archscout.cost.runtime import inference_session, measure_latency_onnx, onnx_bytes, peak_memory_mb


class Stage(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, 3, padding=1)
        self.norm = nn.BatchNorm1d(c_out)
        self.act = nn.ReLU()
        self.pool = nn.MaxPool1d(2)

    def forward(self, x):
        return self.pool(self.act(self.norm(self.conv(x))))


class ConvNet(nn.Module):
    """Named like the macro builder's networks: convs.J.conv, fcs.K, classifier."""

    def __init__(self):
        super().__init__()
        self.convs = nn.Sequential(Stage(1, 16), Stage(16, 32))
        self.fcs = nn.Sequential(nn.Linear(32 * 16, 64), nn.ReLU())
        self.classifier = nn.Linear(64, 10)

    def forward(self, x):
        return self.classifier(self.fcs(self.convs(x.reshape(x.shape[0], 1, 64)).flatten(1)))


def mlp():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))
    X, y = (X[order] / 16.0).astype(np.float32), y[order].astype(np.int64)
    return X[:1400], y[:1400], X[1400:], y[1400:]


def trained(model, X, y, steps=250):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batches: a second thread only adds waiting on a busy machine
    try:
        for _ in range(steps):
            i = torch.randint(0, len(X), (64,))
            loss = nn.functional.cross_entropy(model(X[i]), y[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval()


@pytest.fixture(scope="module")
def mlp_onnx(digits):
    return onnx_bytes(trained(mlp(), *digits[:2]), (64,))


@pytest.fixture(scope="module")
def conv_net(digits):
    return trained(ConvNet(), *digits[:2])


class FakeClock:
    """A nanosecond clock that moves only when the timed call runs, by the next of ``durations_ms``."""

    def __init__(self, durations_ms):
        self.now, self.durations = 0, iter(durations_ms)

    def __call__(self):
        return self.now

    def run(self):
        self.now += int(next(self.durations) * 1e6)


def test_stopping_rule_stops_after_the_minimum_when_times_are_stable():
    clock = FakeClock([5.0] * 3 + [1.0] * 1000)
    times, stable = _time_runs(clock.run, warmup=3, repeats=20, rel_tol=0.03, max_repeats=200, max_seconds=10,
                               clock=clock)
    assert stable and times == [1.0] * 20  # the warmup runs are not timed


def test_stopping_rule_runs_to_the_cap_when_times_are_noisy():
    clock = FakeClock(np.random.default_rng(0).uniform(1.0, 3.0, 1000))
    times, stable = _time_runs(clock.run, warmup=0, repeats=20, rel_tol=0.03, max_repeats=70, max_seconds=10,
                               clock=clock)
    assert not stable and len(times) == 70


def test_stopping_rule_adds_rounds_until_the_median_settles():
    # noisy at first, then steady: a few rounds make the median's interval narrow
    clock = FakeClock(list(np.random.default_rng(0).uniform(1.0, 3.0, 10)) + [2.0] * 1000)
    times, stable = _time_runs(clock.run, warmup=0, repeats=10, rel_tol=0.03, max_repeats=1000, max_seconds=100,
                               clock=clock)
    assert stable and 10 < len(times) < 1000 and len(times) % 10 == 0


def test_stopping_rule_respects_the_time_limit_but_always_does_the_minimum():
    noisy = np.random.default_rng(1).uniform(50.0, 150.0, 1000)
    clock = FakeClock(noisy)
    times, stable = _time_runs(clock.run, 0, 5, 0.03, 1000, max_seconds=1.0, clock=clock)
    assert not stable and len(times) > 5 and sum(times[:-1]) < 1000 <= sum(times)
    clock = FakeClock(noisy)
    times, _ = _time_runs(clock.run, 0, 5, 0.03, 1000, max_seconds=0.001, clock=clock)
    assert len(times) == 5


def test_pytorch_latency_states_its_conditions():
    model = mlp().train()
    lat = measure_latency(model, (64,), batch_size=4, warmup=2, repeats=5, max_seconds=0.5)
    assert lat.runtime == "pytorch" and lat.batch_size == 4 and lat.warmup == 2
    assert lat.repeats >= 5 and lat.threads == torch.get_num_threads()
    assert 0 < lat.p25_ms <= lat.median_ms <= lat.p75_ms and lat.iqr_ms == pytest.approx(lat.p75_ms - lat.p25_ms)
    assert lat.as_dict()["stable"] == lat.stable and lat.as_dict()["iqr_ms"] == lat.iqr_ms
    assert model.training  # mode restored

    before = torch.get_num_threads()
    one = measure_latency(model, (64,), repeats=3, max_repeats=3, threads=1)
    assert one.threads == 1 and one.repeats == 3 and torch.get_num_threads() == before


@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.slow
def test_onnx_latency_and_export_at_any_batch(conv_net, batch):
    model = onnx_bytes(conv_net.train(), (64,))
    assert conv_net.training  # mode restored
    conv_net.eval()
    x = np.random.default_rng(0).standard_normal((batch, 64)).astype(np.float32)
    session = inference_session(model)
    assert [i.name for i in session.get_inputs()] == ["input"] and session.get_outputs()[0].name == "logits"
    with torch.inference_mode():
        expected = conv_net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(session.run(None, {"input": x})[0], expected, rtol=1e-4, atol=1e-4)

    lat = measure_latency_onnx(model, (64,), batch_size=batch, warmup=2, repeats=10, max_seconds=0.5)
    assert lat.runtime == "onnxruntime" and lat.batch_size == batch and lat.threads == 1 and lat.repeats >= 10
    assert 0 < lat.p25_ms <= lat.median_ms <= lat.p75_ms
    assert measure_latency_onnx(model, (64,), repeats=2, max_repeats=2, runtime="onnxruntime-int8").runtime \
        == "onnxruntime-int8"


def test_peak_memory_counts_weights_and_grows_with_the_batch(conv_net):
    weights_mb = sum(p.numel() * 4 for p in conv_net.parameters()) / 2**20
    one, many = peak_memory_mb(conv_net, (64,), 1), peak_memory_mb(conv_net, (64,), 32)
    # 31 more samples hold at least 31 more copies of the largest activation (16 channels x 64 floats)
    assert weights_mb < one and many - one >= 31 * 16 * 64 * 4 / 2**20


def test_node_names_map_to_module_names():
    assert node_module("/convs/convs.1/conv/Conv") == "convs.1.conv"
    assert node_module("/convs/convs.1/convs.1.0/conv/conv.0/Conv") == "convs.1.0.conv.0"
    assert node_module("/conv/conv/Conv") == "conv.conv"
    assert node_module("/classifier/Gemm") == "classifier" and node_module("Constant_7") == ""
    assert in_scope("/convs/convs.1/conv/Conv", "convs.1") and in_scope("/convs/convs.1/conv/Conv", "convs.1.conv")
    assert not in_scope("/convs/convs.10/conv/Conv", "convs.1") and not in_scope("/classifier/Gemm", "convs")


def test_every_quantizable_layer_is_found_in_the_exported_graph():
    class Separable(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Sequential(nn.Conv1d(4, 4, 3, padding=1, groups=4), nn.Conv1d(4, 8, 1))
            self.skip = nn.Sequential(nn.Conv1d(4, 8, 1, bias=False))

        def forward(self, x):
            return self.conv(x) + self.skip(x)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.Sequential(Separable(), nn.Sequential(nn.Conv1d(8, 8, 3), nn.ReLU()))
            self.heads = nn.ModuleList([nn.Linear(48, 16), nn.Linear(16, 3, bias=False)])

        def forward(self, x):
            x = self.convs(x).flatten(1)
            for head in self.heads:
                x = head(x)
            return x

    model = Net()
    result = quantize_int8(onnx_bytes(model, (4, 8)), np.random.default_rng(0).standard_normal((16, 4, 8)))
    assert sorted(node_module(n) for n in result.quantized_nodes) == sorted(quantizable_scopes(model))
    assert result.fp32_nodes == ()


def test_int8_model_is_small_and_as_accurate(digits, mlp_onnx):
    X, y, X_test, y_test = digits
    fp32 = onnx_accuracy(mlp_onnx, X_test, y_test)
    int8 = quantize_int8(mlp_onnx, X[:256])
    quantized = onnx_accuracy(int8.model_bytes, X_test, y_test)
    assert fp32["accuracy"] > 0.9 and abs(quantized["accuracy"] - fp32["accuracy"]) <= 0.02
    assert abs(quantized["loss"] - fp32["loss"]) < 0.05
    assert int8.size_bytes < 0.4 * onnx_weight_bytes(mlp_onnx)
    assert sorted(int8.quantized_nodes) == ["/0/Gemm", "/2/Gemm", "/4/Gemm"] and int8.fp32_nodes == ()
    lat = measure_latency_onnx(int8.model_bytes, (64,), repeats=3, max_seconds=0.2, runtime="onnxruntime-int8")
    assert lat.median_ms > 0


def test_onnx_accuracy_agrees_with_pytorch(digits, conv_net):
    X_test, y_test = digits[2:]
    with torch.inference_mode():
        logits = conv_net(torch.from_numpy(X_test))
    expected_loss = float(nn.functional.cross_entropy(logits, torch.from_numpy(y_test)))
    expected_acc = float((logits.argmax(1).numpy() == y_test).mean())
    res = onnx_accuracy(onnx_bytes(conv_net, (64,)), X_test, y_test, batch_size=100)
    assert res["accuracy"] == pytest.approx(expected_acc) and res["loss"] == pytest.approx(expected_loss, rel=1e-4)


def test_fp32_scopes_keep_those_layers_in_float(digits, conv_net):
    X, _, X_test, y_test = digits
    model = onnx_bytes(conv_net, (64,))
    fp32 = onnx_accuracy(model, X_test, y_test)

    none = quantize_int8(model, X[:128], fp32_scopes=quantizable_scopes(conv_net))
    assert none.quantized_nodes == () and len(none.fp32_nodes) == 4
    assert none.size_bytes == onnx_weight_bytes(model)
    assert onnx_accuracy(none.model_bytes, X_test, y_test)["accuracy"] == pytest.approx(fp32["accuracy"], abs=0.005)

    mixed = quantize_int8(model, X[:128], fp32_scopes=["convs.1", "classifier"])
    assert sorted(mixed.fp32_nodes) == ["/classifier/Gemm", "/convs/convs.1/conv/Conv"]
    assert sorted(mixed.quantized_nodes) == ["/convs/convs.0/conv/Conv", "/fcs/fcs.0/Gemm"]
    every = quantize_int8(model, X[:128])
    assert every.size_bytes < mixed.size_bytes < none.size_bytes


def test_quantization_is_quiet_and_leaves_no_files(digits, tmp_path, monkeypatch, caplog):
    # batch norm after a linear layer: the quantizer falls back to a per-tensor scale and says so
    model = nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10)).eval()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with caplog.at_level(logging.INFO):
        quantize_int8(onnx_bytes(model, (64,)), digits[0][:64])
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("call, message", [
    (lambda: measure_latency(mlp(), (64,), batch_size=0), "batch_size >= 1"),
    (lambda: measure_latency(mlp(), (64,), repeats=0), "repeats >= 1"),
    (lambda: measure_latency(mlp(), (64,), repeats=10, max_repeats=5), "max_repeats >= repeats"),
    (lambda: measure_latency_onnx(b"", (64,), batch_size=0), "batch_size >= 1"),
    (lambda: measure_latency_onnx(b"", (64,), repeats=0), "repeats >= 1"),
    (lambda: peak_memory_mb(mlp(), (64,), batch_size=0), "batch_size >= 1"),
    (lambda: quantize_int8(b"", np.zeros((0, 64))), "calibration sample"),
    (lambda: onnx_accuracy(b"", np.zeros((3, 64)), np.zeros(2)), "as many labels"),
])
def test_bad_arguments_are_refused_with_a_reason(call, message):
    with pytest.raises(ValueError, match=message):
        call()
