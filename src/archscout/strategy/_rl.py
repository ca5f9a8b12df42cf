"""A reinforcement-learning controller (Zoph & Le style, ENAS squashing): a numpy Elman RNN policy trained with REINFORCE."""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from ..checks import boolean, fraction, non_negative_number, positive_int, positive_number
from ..errors import ArchscoutError
from ..space import Architecture, Block, Choice, Repeat, Space
from ._base import Strategy

# a decision as the policy sees it: (slot number, index of the chosen value within that slot)
Step = tuple[int, int]
_MAX_TRIES = 100  # samples per proposal while they break a space constraint (or, resample_seen, were seen)
_MAX_REPEATS = 10  # repeats learned from per proposal before one is proposed as it is


class Slots:
    """The softmax heads of a space: one per decision kind, shared by every block of a Repeat.

    A slot is named by its path with the block indices left out (``stages.width``), so a space
    whose Repeat holds up to five stages still has one width head, as in GraphNAS where one
    decoder per component type serves every layer; the recurrent state tells the positions apart.
    A Repeat of variable length has a length slot (``stages.#len``, value ``k`` = ``min + k`` blocks).
    Choices with a single value and Repeats of fixed length are not decisions and have no slot.
    """

    def __init__(self, root: Block):
        self.keys: list[str] = []
        self.sizes: list[int] = []
        self._index: dict[str, int] = {}
        self._collect(root, "")
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self.vocab = int(self.offsets[-1])

    def _add(self, key: str, size: int) -> None:
        self._index[key] = len(self.keys)
        self.keys.append(key)
        self.sizes.append(size)

    def _collect(self, block: Block, prefix: str) -> None:
        for name, node in block.fields.items():
            if isinstance(node, Choice):
                if len(node.values) > 1:
                    self._add(prefix + name, len(node.values))
            elif isinstance(node, Repeat):
                if node.min != node.max:
                    self._add(prefix + name + ".#len", node.max - node.min + 1)
                self._collect(node.block, prefix + name + ".")
            else:
                self._collect(node, prefix + name + ".")

    def slot(self, key: str) -> int | None:
        return self._index.get(key)

    def walk(self, root: Block, given: dict | None, choose: Callable[[int, int | None], int]) -> dict:
        """Values for ``root``, deciding in emission order.

        ``choose(slot, index)`` is called for every decision: while sampling ``given`` is None and
        ``index`` is None (the callback picks one); while reading an architecture ``index`` is the
        index of its value. Inactive choices are not decisions, so they take no step.
        """
        return self._walk(root, given, "", choose)

    def _walk(self, block: Block, given: dict | None, prefix: str, choose) -> dict:
        out: dict[str, Any] = {}
        for name, node in block.fields.items():
            key = prefix + name
            v: Any = None if given is None else given[name]
            if isinstance(node, Choice):
                active = node.is_active(out) if given is None else v is not None
                if not active:
                    out[name] = None
                    continue
                s = self.slot(key)
                if s is None:
                    out[name] = node.values[0]
                else:
                    out[name] = node.values[choose(s, None if given is None else node.index(v))]
            elif isinstance(node, Repeat):
                s = self.slot(key + ".#len")
                if s is None:
                    n = node.min
                elif given is None:
                    n = node.min + choose(s, None)
                else:
                    n = node.min + choose(s, len(v) - node.min)
                out[name] = [self._walk(node.block, None if given is None else v[i], key + ".", choose)
                             for i in range(n)]
            else:
                out[name] = self._walk(node, v, key + ".", choose)
        return out


class RecurrentPolicy:
    """An Elman (tanh) RNN over a space's decisions, with one softmax head per slot.

    Step ``t`` deciding slot ``s_t`` reads ``x_t = E[previous choice] + Q[s_t]`` (the embedding of
    the previous decision, or of a start token, plus a query naming what is decided now), updates
    ``h_t = tanh(Wx x_t + Wh h_{t-1} + b)`` and scores the slot's values with ``Wo[s_t] h_t + bo[s_t]``.
    ``loss_and_grad`` is backpropagation through time of the REINFORCE loss with an entropy bonus.
    """

    def __init__(self, slots: Slots, hidden: int, rng: np.random.Generator, tanh_constant: float | None = None):
        self.slots = slots
        self.tanh_constant = tanh_constant
        v, s, h = slots.vocab, len(slots.keys), hidden
        init = 0.1  # the init range of ENAS and GraphNAS: a near-uniform first policy
        self.params = {
            "E": rng.uniform(-init, init, (v + 1, h)),  # row v: the start token
            "Q": rng.uniform(-init, init, (s, h)),
            "Wx": rng.uniform(-init, init, (h, h)),
            "Wh": rng.uniform(-init, init, (h, h)),
            "b": np.zeros(h),
            "Wo": rng.uniform(-init, init, (v, h)),
            "bo": np.zeros(v),
        }
        self.hidden = hidden

    def start(self) -> tuple[np.ndarray, int]:
        return np.zeros(self.hidden), self.slots.vocab

    def step(self, h: np.ndarray, prev: int, s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One step: the input, the new state and the slot's probabilities."""
        p = self.params
        x = p["E"][prev] + p["Q"][s]
        h = np.tanh(p["Wx"] @ x + p["Wh"] @ h + p["b"])
        lo, hi = self.slots.offsets[s], self.slots.offsets[s + 1]
        z = p["Wo"][lo:hi] @ h + p["bo"][lo:hi]
        if self.tanh_constant:
            z = self.tanh_constant * np.tanh(z)
        z = np.exp(z - z.max())
        return x, h, z / z.sum()

    def loss_and_grad(self, episodes: list[tuple[list[Step], float]],
                      entropy_weight: float) -> tuple[float, dict[str, np.ndarray]]:
        """Mean over episodes of ``-(advantage * log pi(decisions) + entropy_weight * entropy)``.

        The entropy is the sum over the steps taken of each head's entropy (ENAS, GraphNAS).
        """
        p = self.params
        grads = {k: np.zeros_like(v) for k, v in p.items()}
        loss = 0.0
        offsets = self.slots.offsets
        for steps, adv in episodes:
            h, prev = self.start()
            trace = []
            for s, k in steps:
                x, h_new, probs = self.step(h, prev, s)
                trace.append((s, k, prev, x, h, h_new, probs))
                h, prev = h_new, offsets[s] + k
            dh_next = np.zeros(self.hidden)
            for s, k, prev, x, h_prev, h, probs in reversed(trace):
                logp = np.log(np.maximum(probs, 1e-300))
                ent = -float(probs @ logp)
                loss -= adv * logp[k] + entropy_weight * ent
                # d(-adv log p_k)/dz = -adv (onehot_k - p); d(-w H)/dz = w p (log p + H)
                dz = adv * probs + entropy_weight * probs * (logp + ent)
                dz[k] -= adv
                lo, hi = offsets[s], offsets[s + 1]
                if self.tanh_constant:  # back through the squashing z' = c tanh(z)
                    raw = p["Wo"][lo:hi] @ h + p["bo"][lo:hi]
                    dz = dz * self.tanh_constant * (1.0 - np.tanh(raw) ** 2)
                grads["Wo"][lo:hi] += np.outer(dz, h)
                grads["bo"][lo:hi] += dz
                dh = p["Wo"][lo:hi].T @ dz + dh_next
                da = dh * (1.0 - h * h)
                grads["Wx"] += np.outer(da, x)
                grads["Wh"] += np.outer(da, h_prev)
                grads["b"] += da
                dx = p["Wx"].T @ da
                grads["E"][prev] += dx
                grads["Q"][s] += dx
                dh_next = p["Wh"].T @ da
        n = max(len(episodes), 1)
        return loss / n, {k: g / n for k, g in grads.items()}


class ReinforceController(Strategy):
    """A recurrent controller trained with REINFORCE, as in Zoph & Le (2017), with ENAS's logit squashing.

    A recurrent policy (a numpy Elman RNN, ``hidden_size`` tanh units) emits an architecture one
    decision after another: for each Repeat of variable length first its length, then every
    block's fields; inactive conditional choices are not emitted. Each step reads the embedding
    of the previous decision and picks a value from the softmax head of its slot (one head per
    decision kind, shared by the blocks of a Repeat).

    It is trained with REINFORCE: every told result contributes ``(score - baseline) * grad log
    pi(decisions)``, where the baseline is an exponential moving average of the scores
    (``baseline_decay``) and advantages are divided by the standard deviation of the scores told
    so far, so the step size does not depend on the objective's units. An entropy bonus
    (``entropy_weight``) keeps the policy from collapsing early. Every ``batch_size`` told results
    make one Adam step (``lr``). The decisions of a told architecture are read from its canonical
    values, so results the controller never proposed (a resumed history, requeued trials) and
    results told out of order train it the same way (off-policy samples, as those are). A failed
    result (score None) counts as the worst score seen so far, so the controller learns to avoid
    failing regions; before any score is known a failure teaches nothing and is skipped. A
    proposal that breaks a constraint of the space counts as a failure too, and the controller
    samples again.

    Logits are squashed to ``tanh_constant * tanh(logit)`` as in ENAS (None: not squashed), which
    bounds how sure a head can get: without it the policy soon emits one architecture with
    probability ~1.

    Repeats: by default (``resample_seen=False``) every sample the policy draws is learned from
    exactly once with its score, so the gradient is the policy's own. A sample of an architecture
    already told is learned from at once with its known score (as if the study had evaluated it
    again), and the controller samples again; a sample of one proposed and still running is learned
    from when its result comes; the first other sample is proposed. After 10 repeats, the next
    repeat is proposed as it is: the study answers it from its records, without evaluating it
    again or counting a trial, and tells its score. So a policy that has concentrated still
    proposes the new architectures it draws instead of stalling on repeats; one that has
    converged on a single architecture proposes it again and again, and a study stops after 500
    such proposals in a row. With ``resample_seen=True`` the controller samples again without learning from the
    repeats: the proposals follow the policy conditioned on "not seen" while the update uses the
    unconditional log-probability, a biased gradient that favours what the policy had not yet
    concentrated on (this was the only behaviour before).

    How it differs from the papers: Zoph & Le's controller is a two-layer LSTM, ENAS's (Pham et
    al. 2018) and GraphNAS's (Gao et al. 2020) are LSTMs of 100 units, and ENAS trains one set of
    weights shared by all sampled networks; here an Elman RNN drives REINFORCE over architectures
    that are each evaluated on their own, and the Adam step, the normalised advantages and the
    batch size are this implementation's.
    """

    name = "rl"

    def __init__(self, space: Space, seed: int = 0, hidden_size: int = 32, lr: float = 0.02,
                 batch_size: int = 5, baseline_decay: float = 0.95, entropy_weight: float = 0.01,
                 tanh_constant: float | None = 2.5, resample_seen: bool = False):
        super().__init__(space, seed)
        boolean(resample_seen, "resample_seen")
        positive_int(hidden_size, "hidden_size")
        positive_int(batch_size, "batch_size")
        positive_number(lr, "lr")
        fraction(baseline_decay, "baseline_decay", inclusive="left")
        non_negative_number(entropy_weight, "entropy_weight")
        if tanh_constant is not None:
            positive_number(tanh_constant, "tanh_constant (or None)")
        self.lr, self.batch_size = float(lr), batch_size
        self.resample_seen = resample_seen
        self.baseline_decay, self.entropy_weight = float(baseline_decay), float(entropy_weight)
        self.slots = Slots(space.root)
        self.policy = RecurrentPolicy(self.slots, hidden_size, np.random.default_rng(seed), tanh_constant)
        self._adam = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in self.policy.params.items()}
        self._adam_t = 0
        self.baseline: float | None = None
        self.worst: float | None = None
        self._n, self._mean, self._m2 = 0, 0.0, 0.0  # Welford running moments of the scores
        self.batch: list[tuple[list[Step], float]] = []
        self.seen: set[Architecture] = set()  # proposed or told: with resample_seen, sampled again
        self.scores: dict[Architecture, float | None] = {}  # told results: a sample of one is learned from at once
        self.drawn: dict[Architecture, deque[list[Step]]] = {}  # the decisions sampled for proposals not yet told
        self.held: dict[Architecture, list[list[Step]]] = {}  # samples of proposals not yet told: learned with them

    # -- proposing -------------------------------------------------------------------------
    def _sample(self) -> tuple[dict, list[Step]]:
        policy, offsets = self.policy, self.slots.offsets
        h, prev = policy.start()
        steps: list[Step] = []

        def choose(s: int, _index: int | None) -> int:
            nonlocal h, prev
            _, h, probs = policy.step(h, prev, s)
            k = min(int(np.searchsorted(np.cumsum(probs), self.rng.random(), side="right")), len(probs) - 1)
            steps.append((s, k))
            prev = int(offsets[s] + k)
            return k

        return self.slots.walk(self.space.root, None, choose), steps

    def ask(self) -> Architecture:
        arch, drawn = None, None
        repeats = 0
        for _ in range(_MAX_TRIES):
            values, steps = self._sample()
            try:
                arch, drawn = self.space.architecture(values), steps
            except ArchscoutError:  # breaks a constraint of the space: a failure to learn from
                self._learn(steps, None)
                continue
            if self.resample_seen:
                if arch not in self.seen:
                    break
            elif arch not in self.scores and arch not in self.drawn:
                break
            elif repeats == _MAX_REPEATS:
                break  # proposed as it is: the study answers a repeat from its records and tells its score
            else:
                repeats += 1
                if arch in self.scores:  # a repeat: learned from with its known score, and sampled again
                    self._learn(steps, self.scores[arch])
                else:  # proposed and still running: learned from when its result comes
                    self.held.setdefault(arch, []).append(steps)
                arch, drawn = None, None
        if arch is None or drawn is None:
            arch = self.space.sample(self.rng)
        else:
            self.drawn.setdefault(arch, deque()).append(drawn)
        self.seen.add(arch)
        return arch

    def discard(self, arch: Architecture) -> None:
        self._drawn_steps(arch)

    # -- learning --------------------------------------------------------------------------
    def decisions(self, arch: Architecture) -> list[Step]:
        """The decision sequence that produces ``arch`` (read from its canonical values)."""
        steps: list[Step] = []

        def record(s: int, index: int | None) -> int:
            assert index is not None  # reading an architecture's values, every decision has its index
            steps.append((s, index))
            return index

        self.slots.walk(self.space.root, arch.values, record)
        return steps

    # single-objective: told a float or None, never the tuple the base class allows
    def tell(self, arch: Architecture, score: float | None) -> None:  # type: ignore[override]
        """Learn from a result: for an architecture this controller proposed, from the decisions it sampled
        (a space with symmetries may store another, canonical form of them); otherwise from the decisions
        of its canonical values."""
        self.seen.add(arch)
        self.scores[arch] = score
        self._learn(self._drawn_steps(arch) or self.decisions(arch), score)
        for steps in self.held.pop(arch, []):
            self._learn(steps, score)

    def _drawn_steps(self, arch: Architecture) -> list[Step] | None:
        queue = self.drawn.get(arch)
        if not queue:
            return None
        steps = queue.popleft()
        if not queue:
            del self.drawn[arch]
        return steps

    def _learn(self, steps: list[Step], score: float | None) -> None:
        if score is None or not math.isfinite(score):
            if self.worst is None:
                return
            reward = self.worst
        else:
            reward = float(score)
            self.worst = reward if self.worst is None else min(self.worst, reward)
            self._n += 1
            delta = reward - self._mean
            self._mean += delta / self._n
            self._m2 += delta * (reward - self._mean)
        if self.baseline is None:
            self.baseline = reward
        std = math.sqrt(self._m2 / self._n) if self._n > 1 else 0.0
        advantage = (reward - self.baseline) / (std if std > 0 else 1.0)
        self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * reward
        if steps:
            self.batch.append((steps, advantage))
        if len(self.batch) >= self.batch_size:
            self._update()

    def _update(self) -> None:
        _, grads = self.policy.loss_and_grad(self.batch, self.entropy_weight)
        self.batch = []
        self._adam_t += 1
        b1, b2, eps = 0.9, 0.999, 1e-8
        for k, g in grads.items():
            m, v = self._adam[k]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            m_hat = m / (1 - b1 ** self._adam_t)
            v_hat = v / (1 - b2 ** self._adam_t)
            self.policy.params[k] -= self.lr * m_hat / (np.sqrt(v_hat) + eps)
