"""BANANAS (White, Neiswanger & Savani, AAAI 2021): a path-encoding neural ensemble with independent Thompson sampling."""
from __future__ import annotations

import math

import numpy as np
from threadpoolctl import threadpool_limits

from ..checks import positive_number
from ..errors import ArchscoutError
from ..space import Architecture, Space
from ._base import Strategy
from ._nsga2 import check_options, fresh_sample


class BANANAS(Strategy):
    """BANANAS (White et al., AAAI 2021): a neural ensemble on path encodings, independent Thompson sampling.

    As in the paper and its code (naszilla/bananas; NASLib's ``bananas`` for comparison):

    * The first ``num_init`` (10) successful results come from random samples.
    * Then each round trains the meta neural network on every result so far: an ensemble of
      ``num_ensemble`` (5) feed-forward networks on the space's path encoding (one feature per
      input-to-output path, :meth:`Space.encode`), each from its own random initialisation on
      all the data (not bootstrap samples). Each network has ``num_layers`` (10) ReLU layers of
      ``layer_width`` (20) units and a linear output, Glorot-uniform weights and zero biases, and
      is trained for ``epochs`` (150) epochs of mini-batches of ``batch_size`` (32) with the mean
      absolute error and Adam (``lr`` 0.01, betas 0.9 and 0.99).
    * Candidates: ``num_candidates`` (100) mutations of the ``num_arches_to_mutate`` (1) best
      architectures, at mutation rates 1 to ``max_mutation_rate`` (1); when the best one's
      mutations are used up (already evaluated or proposed) the next best are mutated, down to
      the fifth best (the reference's patience factor, 5 × ``num_arches_to_mutate``).
    * Acquisition: independent Thompson sampling: for each candidate one draw from a normal
      with the ensemble's mean and standard deviation; the ``k`` (10) best draws are the next
      proposals, and the next round starts when they are used up.

    Those are the defaults of the reference code for NAS-Bench-101 and 201 (NASLib's port uses
    others: 3 networks of 20 layers, lr 0.001, 500 epochs, an L1 penalty on the output weights, the
    2 best mutated). Where this differs from the reference code:

    * a mutation changes one decision of the space (:meth:`Space.mutate`; rate r is r such
      changes); the reference flips each edge and operation of a cell with a probability that
      makes one change expected;
    * the whole path encoding is used, not truncated to its first 40 paths, and features that
      are zero for every result and candidate are left out of the computation (they do not
      change a prediction: a zero input adds nothing, whatever its weights);
    * the networks learn the scores standardised (mean 0, standard deviation 1): the reference
      learned validation errors in percent, archscout's scores come in any unit;
    * a failed result (score None) is left out of the training data but never proposed again;
    * asks that arrive before the results of a round (parallel workers) start a new round on
      the results known, and until ``num_init`` results are in, they get more random samples.
    """

    name = "bananas"

    def __init__(self, space: Space, seed: int = 0, num_init: int = 10, k: int = 10, num_ensemble: int = 5,
                 num_candidates: int = 100, num_arches_to_mutate: int = 1, max_mutation_rate: int = 1,
                 num_layers: int = 10, layer_width: int = 20, epochs: int = 150, batch_size: int = 32,
                 lr: float = 0.01, encoding: str = "path"):
        super().__init__(space, seed)
        check_options("bananas", num_init=(num_init, 1), k=(k, 1), num_ensemble=(num_ensemble, 2),
                      num_candidates=(num_candidates, 1), num_arches_to_mutate=(num_arches_to_mutate, 1),
                      max_mutation_rate=(max_mutation_rate, 1), num_layers=(num_layers, 1),
                      layer_width=(layer_width, 1), epochs=(epochs, 1), batch_size=(batch_size, 1))
        positive_number(lr, "bananas: lr")
        if not isinstance(encoding, str) or any(part not in space.ENCODINGS for part in encoding.split("+")):
            raise ArchscoutError(f"bananas: encoding must be one of {', '.join(space.ENCODINGS)}, got {encoding!r}")
        self.num_init, self.k, self.num_ensemble = num_init, k, num_ensemble
        self.num_candidates, self.num_arches_to_mutate = num_candidates, num_arches_to_mutate
        self.max_mutation_rate = max_mutation_rate
        self.num_layers, self.layer_width, self.epochs = num_layers, layer_width, epochs
        self.batch_size, self.lr, self.encoding = batch_size, float(lr), encoding
        self.scores: dict[Architecture, float | None] = {}
        self.asked: set[Architecture] = set()
        self.pending: list[Architecture] = []
        self._codes: dict[Architecture, np.ndarray] = {}

    # -- ask / tell ---------------------------------------------------------------------
    def ask(self) -> Architecture:
        arch: Architecture | None = None
        while self.pending and arch is None:
            candidate = self.pending.pop(0)
            if not self._seen(candidate):
                arch = candidate
        if arch is None:
            scored = [(a, s) for a, s in self.scores.items() if s is not None]
            if len(scored) >= self.num_init:
                self.pending = self._propose(scored)
                arch = self.pending.pop(0) if self.pending else None
            if arch is None:
                arch = fresh_sample(self.space, self.rng, self._seen)
        self.asked.add(arch)
        return arch

    def tell(self, arch: Architecture, score: float | tuple | None) -> None:
        if isinstance(score, (tuple, list)) and len(score) == 1:
            score = score[0]
        valid = isinstance(score, (int, float)) and not isinstance(score, bool) and math.isfinite(score)
        self.scores[arch] = float(score) if valid else None  # type: ignore[arg-type]
        self.asked.discard(arch)

    def _seen(self, arch: Architecture) -> bool:
        return arch in self.scores or arch in self.asked

    # -- one round ----------------------------------------------------------------------
    def _code(self, arch: Architecture) -> np.ndarray:
        code = self._codes.get(arch)
        if code is None:
            code = self._codes[arch] = np.asarray(self.space.encode(arch, self.encoding), dtype=np.float64)
        return code

    def candidates(self, scored: list[tuple[Architecture, float]]) -> list[Architecture]:
        """Mutations of the best results, best first, never one already evaluated or proposed."""
        ranked = [a for a, _ in sorted(scored, key=lambda item: -item[1])]
        parents = ranked[:self.num_arches_to_mutate * 5]
        per_parent = max(self.num_candidates // self.num_arches_to_mutate // self.max_mutation_rate, 1)
        out: dict[Architecture, None] = {}
        for parent in parents:
            if len(out) >= self.num_candidates:
                break
            for _ in range(per_parent):
                for rate in range(1, self.max_mutation_rate + 1):
                    child = parent
                    for _ in range(rate):
                        child = self.space.mutate(child, self.rng)
                    if not self._seen(child):
                        out[child] = None
        return list(out)

    def _propose(self, scored: list[tuple[Architecture, float]]) -> list[Architecture]:
        candidates = self.candidates(scored)
        if not candidates:
            return []
        X = np.stack([self._code(a) for a, _ in scored])
        Z = np.stack([self._code(a) for a in candidates])
        y = np.array([s for _, s in scored])
        y = (y - y.mean()) / (y.std() or 1.0)
        # only features some result or candidate has: the others multiply zeros (see the class docstring)
        used = np.flatnonzero((X != 0).any(0) | (Z != 0).any(0))
        rng = np.random.default_rng(self.rng.randrange(2**32))
        net = PathEnsemble(self.num_ensemble, self.num_layers, self.layer_width, self.epochs, self.batch_size,
                           self.lr)
        # matrices this small are slower with several BLAS threads, and much slower when the cores are busy
        with threadpool_limits(1):
            net.fit(X[:, used], y, rng, fan_in=X.shape[1])
            predictions = net.predict(Z[:, used])
        draws = rng.normal(predictions.mean(0), predictions.std(0))
        order = np.argsort(-draws, kind="stable")[:self.k]
        return [candidates[i] for i in order]


class PathEnsemble:
    """``size`` feed-forward ReLU networks trained side by side (one batched matrix product per layer) with the
    mean absolute error and Adam, as BANANAS' meta neural network; ``predict`` gives one row per network."""

    def __init__(self, size: int, num_layers: int, layer_width: int, epochs: int, batch_size: int, lr: float):
        self.size, self.num_layers, self.layer_width = size, num_layers, layer_width
        self.epochs, self.batch_size, self.lr = epochs, batch_size, lr

    def _shapes(self, d: int) -> list[tuple[int, int]]:
        widths = [d] + [self.layer_width] * self.num_layers + [1]
        return list(zip(widths[:-1], widths[1:]))

    def fit(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator, fan_in: int | None = None) -> PathEnsemble:
        """Train on all of (X, y), each network from its own Glorot-uniform draw (``fan_in``: the width of the
        full input, when X holds only some of its columns)."""
        n, d = X.shape
        E = self.size
        shapes = self._shapes(d)
        sizes = [E * a * b + E * b for a, b in shapes]
        theta = np.zeros(sum(sizes))
        grad = np.zeros_like(theta)
        self.W: list[np.ndarray] = []
        self.b: list[np.ndarray] = []
        gW: list[np.ndarray] = []
        gb: list[np.ndarray] = []
        at = 0
        for i, (a, b) in enumerate(shapes):
            for store, gstore, shape in ((self.W, gW, (E, a, b)), (self.b, gb, (E, 1, b))):
                count = int(np.prod(shape))
                store.append(theta[at:at + count].reshape(shape))
                gstore.append(grad[at:at + count].reshape(shape))
                at += count
            fan = (fan_in or d) if i == 0 else a
            limit = math.sqrt(6.0 / (fan + b))
            self.W[-1][...] = rng.uniform(-limit, limit, (E, a, b))
        m, v = np.zeros_like(theta), np.zeros_like(theta)
        beta1, beta2, eps = 0.9, 0.99, 1e-7
        t = 0
        for _ in range(self.epochs):
            order = np.argsort(rng.random((E, n)), axis=1)  # each network its own shuffle
            for start in range(0, n, self.batch_size):
                rows = order[:, start:start + self.batch_size]
                hs, zs = self._forward(X[rows])
                out = hs[-1][..., 0]
                g = (np.sign(out - y[rows]) / rows.shape[1])[..., None]  # d mean|out - y| / d out
                for layer in range(len(self.W) - 1, -1, -1):
                    np.matmul(hs[layer].transpose(0, 2, 1), g, out=gW[layer])
                    gb[layer][...] = g.sum(1, keepdims=True)
                    if layer:
                        g = (g @ self.W[layer].transpose(0, 2, 1)) * (zs[layer - 1] > 0)
                t += 1
                m *= beta1
                m += (1 - beta1) * grad
                v *= beta2
                v += (1 - beta2) * grad * grad
                step = self.lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
                theta -= step * m / (np.sqrt(v) + eps)
        return self

    def _forward(self, H: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Inputs of every layer (the last entry is the output) and the pre-activations of the hidden layers."""
        hs, zs = [H], []
        for layer, (W, b) in enumerate(zip(self.W, self.b)):
            z = hs[-1] @ W + b
            if layer < len(self.W) - 1:
                zs.append(z)
                z = np.maximum(z, 0.0)
            hs.append(z)
        return hs, zs

    def predict(self, Z: np.ndarray) -> np.ndarray:
        hs, _ = self._forward(np.broadcast_to(Z, (self.size, *Z.shape)))
        return hs[-1][..., 0]
