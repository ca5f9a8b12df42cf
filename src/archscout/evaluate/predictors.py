"""Learned performance predictors: accuracy from an architecture's encoding, its zero-cost proxy scores, or both.

Every predictor follows scikit-learn's shape: parameters go to the constructor, ``fit``
learns (learned attributes end in ``_``), ``predict`` answers, with the spread of an
ensemble as its uncertainty::

    >>> p = GBTPredictor(space, features="both").fit(archs, accuracies, proxies=scores)  # doctest: +SKIP
    >>> mean, std = p.predict(new_archs, proxies=new_scores, return_std=True)           # doctest: +SKIP

``proxies`` is one dict per architecture, ``{proxy name: value}``, as
:func:`archscout.evaluate.proxies.score_all` gives them (a failed proxy is None or missing).

* :class:`TreePredictor` - gradient-boosted trees (``gbt``) or a random forest (``forest``) on the
  encoding, the proxies, or both, as NAS-Bench-Suite-Zero (Krishnakumar et al., NeurIPS 2022) does
  with XGBoost; uncertainty from the spread of the trees or of a bagged ensemble.
* :class:`EnsemblePredictor` - the average of predictors (``ensemble``: ``gbt`` and ``forest``).
* :class:`ProxyCombination` - a robust weighted vote of proxies learned from a few trained
  architectures, after RoBoT (He et al., ICLR 2024) and ParZC (Dong et al., 2024): proxies are
  put on one robust scale, and the weights that rank the trained architectures best (Spearman
  rho) are found by search, once per bootstrap resample, so that the ensemble of weightings is
  not fitted to one lucky sample; its spread is the uncertainty. An isotonic map turns the
  combined score into an accuracy.

Predictors hold only numbers (no torch); they pickle, and :func:`save` / :func:`load` write them
with a header that names the space and the proxies they need.
"""
from __future__ import annotations

import itertools
import pickle
from collections.abc import Callable

import numpy as np

from ..checks import positive_int
from ..errors import ArchscoutError
from ..registry import Registry

FEATURES = ("encoding", "proxies", "both")
FILE_MAGIC = "archscout-predictor/1"


def proxy_matrix(proxies, names) -> np.ndarray:
    """Proxy scores as features: sign(v) * log(1 + |v|) (the proxies span many orders of magnitude),
    NaN where a proxy failed or is missing."""
    if proxies is None:
        raise ArchscoutError(f"this predictor needs the proxy scores ({', '.join(names)}) of every architecture")
    out = np.full((len(proxies), len(names)), np.nan)
    for i, row in enumerate(proxies):
        for j, name in enumerate(names):
            v = (row or {}).get(name)
            if v is not None and np.isfinite(v):
                out[i, j] = np.sign(v) * np.log1p(abs(v))
    return out


def _check_fit_input(archs, y, proxies) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1 or len(y) != len(archs):
        raise ArchscoutError(f"fit needs one target per architecture, got {len(archs)} architectures and "
                             f"{y.shape} targets")
    if len(y) < 4:
        raise ArchscoutError(f"a predictor needs at least 4 trained architectures to learn from, got {len(y)}")
    if not np.isfinite(y).all():
        raise ArchscoutError("the targets of a predictor must be finite numbers")
    if proxies is not None and len(proxies) != len(archs):
        raise ArchscoutError(f"got {len(proxies)} proxy records for {len(archs)} architectures")
    return y


def _check_proxy_names(proxies) -> tuple:
    from .proxies import PROXIES, check_proxy

    if isinstance(proxies, str):
        proxies = [p.strip() for p in proxies.split(",") if p.strip()]
    names = tuple(check_proxy(n) for n in (PROXIES if proxies is None else proxies))
    if not names:
        raise ArchscoutError("name at least one proxy")
    return names


class Predictor:
    """Base: ``fit(archs, y, proxies=None)`` and ``predict(archs, proxies=None, return_std=False)``."""

    proxies: tuple = ()  # the proxy scores the predictor reads (empty: none)
    n_fitted_: int  # the number of samples fit saw; set by fit (unset: not fitted)

    def fit(self, archs, y, proxies=None) -> Predictor:
        raise NotImplementedError

    def predict(self, archs, proxies=None, return_std: bool = False):
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_fitted_"):
            raise ArchscoutError(f"this {type(self).__name__} is not fitted yet; call fit first")


class TreePredictor(Predictor):
    """Tree ensembles on the architecture encoding, the proxy scores, or both.

    ``kind``: ``gbt`` (gradient-boosted trees; ``n_models`` members, each on a bootstrap resample)
    or ``forest`` (a random forest; its trees are the members). ``features``: ``encoding`` (needs
    ``space``), ``proxies`` or ``both``. ``encoding`` names one of :meth:`Space.encode`'s encodings
    (default: one-hot plus operator counts for ``gbt``, ordinal for ``forest``). Targets in [0, 1]
    (accuracies) are learned on the logit scale, where differences near 100 % count as much as
    those in the middle. ``predict(..., return_std=True)`` gives the members' mean and spread.
    """

    def __init__(self, space=None, features: str = "both", proxies=None, kind: str = "gbt",
                 encoding: str | None = None, n_models: int = 5, seed: int = 0):
        if kind not in ("gbt", "forest"):
            raise ArchscoutError(f"unknown tree predictor {kind!r}; use gbt or forest")
        if features not in FEATURES:
            raise ArchscoutError(f"unknown predictor features {features!r}; use one of {', '.join(FEATURES)}")
        if features != "proxies" and space is None:
            raise ArchscoutError("a predictor on architecture encodings needs the space (space=...)")
        positive_int(n_models, "n_models")
        self.space, self.features, self.kind = space, features, kind
        self.encoding = encoding or ("onehot+counts" if kind == "gbt" else "ordinal")
        self.proxies = _check_proxy_names(proxies) if features != "encoding" else ()
        self.n_models, self.seed = n_models, seed

    def _features(self, archs, proxies) -> np.ndarray:
        parts = []
        if self.features != "proxies":
            parts.append(np.asarray([self.space.encode(a, self.encoding) for a in archs], dtype=np.float64))
        if self.features != "encoding":
            P = proxy_matrix(proxies, self.proxies)
            # a failed proxy says something (no ReLU for nwot, no BatchNorm for zen): below every score
            parts.append(np.where(np.isnan(P), self.failed_ if hasattr(self, "failed_") else np.nan, P))
        return np.hstack(parts)

    def fit(self, archs, y, proxies=None) -> TreePredictor:
        from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor

        y = _check_fit_input(archs, y, proxies)
        if self.features != "encoding":
            P = proxy_matrix(proxies, self.proxies)
            with np.errstate(all="ignore"):
                low = np.nanmin(np.where(np.isnan(P), np.inf, P), 0)
            self.failed_ = np.where(np.isfinite(low), low - 1.0, -1.0)
        X = self._features(archs, proxies)
        self.logit_ = bool(((y >= 0) & (y <= 1)).all())
        t = _logit(y) if self.logit_ else y
        if self.kind == "forest":
            self.models_ = [RandomForestRegressor(n_estimators=300, min_samples_leaf=2, max_features=0.5,
                                                  random_state=self.seed, n_jobs=1).fit(X, t)]
        else:
            rng = np.random.default_rng(self.seed)
            self.models_ = []
            for k in range(self.n_models):
                rows = rng.integers(0, len(y), len(y)) if self.n_models > 1 else np.arange(len(y))
                model = GradientBoostingRegressor(n_estimators=200, learning_rate=0.05, max_depth=3, subsample=0.8,
                                                  random_state=self.seed + k)
                self.models_.append(model.fit(X[rows], t[rows]))
        self.n_fitted_ = len(y)
        return self

    def _members(self, X: np.ndarray) -> np.ndarray:
        if self.kind == "forest":
            per = np.stack([tree.predict(X) for tree in self.models_[0].estimators_])
        else:
            per = np.stack([m.predict(X) for m in self.models_])
        return _sigmoid(per) if self.logit_ else per

    def predict(self, archs, proxies=None, return_std: bool = False):
        self._check_fitted()
        per_member = self._members(self._features(archs, proxies))
        mean = per_member.mean(0)
        return (mean, per_member.std(0)) if return_std else mean


def GBTPredictor(space=None, features: str = "both", proxies=None, **options) -> TreePredictor:
    """Gradient-boosted trees (a :class:`TreePredictor` of kind ``gbt``)."""
    return TreePredictor(space, features, proxies, kind="gbt", **options)


class EnsemblePredictor(Predictor):
    """The average of several predictors; its uncertainty combines theirs with their disagreement."""

    def __init__(self, members: list):
        if not members:
            raise ArchscoutError("an ensemble needs at least one member")
        self.members = list(members)
        self.proxies = tuple(dict.fromkeys(p for m in self.members for p in m.proxies))
        self.space = next((m.space for m in self.members if getattr(m, "space", None) is not None), None)

    def fit(self, archs, y, proxies=None) -> EnsemblePredictor:
        for m in self.members:
            m.fit(archs, y, proxies)
        self.n_fitted_ = self.members[0].n_fitted_
        return self

    def predict(self, archs, proxies=None, return_std: bool = False):
        self._check_fitted()
        mean_parts, std_parts = zip(*(m.predict(archs, proxies, return_std=True) for m in self.members))
        means, stds = np.stack(mean_parts), np.stack(std_parts)
        mean = means.mean(0)
        if not return_std:
            return mean
        return mean, np.sqrt((stds ** 2).mean(0) + means.var(0))


def _logit(y: np.ndarray) -> np.ndarray:
    p = np.clip(y, 1e-3, 1 - 1e-3)
    return np.log(p / (1 - p))


def _sigmoid(t: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-t))


class ProxyCombination(Predictor):
    """A weighted vote of zero-cost proxies, its weights learned from a few trained architectures.

    Each proxy is put on the scale of ranks: its percentile among the fitted architectures'
    values (a failed proxy counts as the median), so that no proxy's range dominates and the
    equal vote is Abdelfattah et al.'s vote. The combined score is ``z @ w``. For each of ``n_bootstrap``
    resamples of the trained architectures, the candidate weightings (see :meth:`_candidates`)
    are scored by Spearman rho on that resample and the best one is kept; the prediction is the mean over
    those weightings, mapped to accuracy by isotonic regression on the fitted architectures.
    """

    def __init__(self, proxies=None, n_bootstrap: int = 32, n_candidates: int = 200, seed: int = 0):
        self.proxies = _check_proxy_names(proxies)
        positive_int(n_bootstrap, "n_bootstrap")
        positive_int(n_candidates, "n_candidates")
        self.n_bootstrap, self.n_candidates, self.seed = n_bootstrap, n_candidates, seed

    def _scaled(self, proxies) -> np.ndarray:
        """Each proxy as its percentile among the fitted architectures' values (0.5 where it failed)."""
        P = proxy_matrix(proxies, self.proxies)
        z = np.full(P.shape, 0.5)
        for j, ref in enumerate(self.sorted_):
            ok = ~np.isnan(P[:, j])
            if len(ref) and ok.any():
                lo = np.searchsorted(ref, P[ok, j], side="left")
                hi = np.searchsorted(ref, P[ok, j], side="right")
                z[ok, j] = (lo + hi) / (2.0 * len(ref))
        return z

    def fit(self, archs, y, proxies=None) -> ProxyCombination:
        from sklearn.isotonic import IsotonicRegression

        y = _check_fit_input(archs, y, proxies)
        raw = proxy_matrix(proxies, self.proxies)
        self.sorted_ = [np.sort(col[~np.isnan(col)]) for col in raw.T]
        z = self._scaled(proxies)
        rng = np.random.default_rng(self.seed)
        candidates = self._candidates(z, y, rng)
        weights = []
        for _ in range(self.n_bootstrap):
            rows = rng.integers(0, len(y), len(y))
            rho = _spearman_columns(z[rows] @ candidates.T, y[rows])
            if np.isfinite(rho).any():  # a resample of tied targets or constant proxies ranks nothing
                weights.append(candidates[int(np.nanargmax(rho))])
        if not weights:
            rho = _spearman_columns(z @ candidates.T, y)
            weights.append(candidates[int(np.nanargmax(rho))] if np.isfinite(rho).any() else
                           np.full(z.shape[1], 1.0 / np.sqrt(z.shape[1])))
        self.weights_ = np.stack(weights)
        self.weight_ = self.weights_.mean(0)
        scores = z @ self.weight_
        self.calibration_ = IsotonicRegression(out_of_bounds="clip").fit(scores, y)
        self.n_fitted_ = len(y)
        return self

    def _candidates(self, z: np.ndarray, y: np.ndarray, rng) -> np.ndarray:
        """Each proxy alone, equal votes of two to four of the best, and random non-negative weightings
        (Dirichlet) of the proxies, each proxy signed by its correlation on the fitted architectures."""
        p = z.shape[1]
        rho = np.nan_to_num(_spearman_columns(z, y))
        sign = np.where(rho < 0, -1.0, 1.0)
        order = np.argsort(-np.abs(rho))[:5]
        votes = [np.isin(np.arange(p), c).astype(float) for k in (2, 3, 4)
                 for c in itertools.combinations(order.tolist(), k)]
        random = rng.dirichlet(np.full(p, 0.5), size=self.n_candidates)
        out = np.vstack([np.eye(p)] + ([np.stack(votes)] if votes else []) + [random]) * sign
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def score(self, proxies) -> np.ndarray:
        """The combined score (higher: predicted better), before calibration to accuracy."""
        self._check_fitted()
        return self._scaled(proxies) @ self.weight_

    def predict(self, archs, proxies=None, return_std: bool = False):
        self._check_fitted()
        z = self._scaled(proxies)
        per_member = np.stack([self.calibration_.predict(z @ w) for w in self.weights_])
        mean = self.calibration_.predict(z @ self.weight_)
        return (mean, per_member.std(0)) if return_std else mean


def _spearman_columns(S: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman rho of each column of S against y (NaN for a constant column)."""
    from scipy.stats import rankdata

    rs = rankdata(S, axis=0)
    ry = rankdata(y)
    rs = rs - rs.mean(0)
    ry = ry - ry.mean()
    denom = np.sqrt((rs ** 2).sum(0) * (ry ** 2).sum())
    with np.errstate(all="ignore"):
        return np.where(denom > 0, (rs * ry[:, None]).sum(0) / denom, np.nan)


PREDICTORS: Registry[Callable[..., Predictor]] = Registry("predictor")


@PREDICTORS.register("ensemble")
def _ensemble(space=None, proxies=None, seed: int = 0) -> Predictor:
    """gbt and forest on the encoding and the proxies, averaged (the default)."""
    return EnsemblePredictor([TreePredictor(space, "both", proxies, "gbt", seed=seed),
                              TreePredictor(space, "both", proxies, "forest", seed=seed)])


@PREDICTORS.register("gbt")
def _gbt(space=None, proxies=None, seed: int = 0) -> Predictor:
    """Gradient-boosted trees on the encoding and the proxies."""
    return TreePredictor(space, "both", proxies, "gbt", seed=seed)


@PREDICTORS.register("forest")
def _forest(space=None, proxies=None, seed: int = 0) -> Predictor:
    """A random forest on the encoding and the proxies."""
    return TreePredictor(space, "both", proxies, "forest", seed=seed)


@PREDICTORS.register("gbt-encoding")
def _gbt_encoding(space=None, proxies=None, seed: int = 0) -> Predictor:
    """Gradient-boosted trees on the encoding only."""
    return TreePredictor(space, "encoding", seed=seed)


@PREDICTORS.register("gbt-proxies")
def _gbt_proxies(space=None, proxies=None, seed: int = 0) -> Predictor:
    """Gradient-boosted trees on the proxies only."""
    return TreePredictor(space, "proxies", proxies, seed=seed)


@PREDICTORS.register("combination")
def _combination(space=None, proxies=None, seed: int = 0) -> Predictor:
    """A learned robust combination of the proxies' ranks."""
    return ProxyCombination(proxies, seed=seed)


def make_predictor(name: str, space=None, proxies=None, seed: int = 0) -> Predictor:
    """A predictor by name: ``ensemble`` (``gbt`` and ``forest`` averaged; the default), ``gbt`` and
    ``forest`` (encoding and proxies), ``gbt-encoding``, ``gbt-proxies``, ``combination``."""
    return PREDICTORS.get(name)(space=space, proxies=proxies, seed=seed)


def save(predictor: Predictor, path: str, **info) -> dict:
    """Write a fitted predictor with a header (its space's name, its proxies, a fingerprint of its contents,
    and ``info``) to ``path``; returns the header."""
    import hashlib

    predictor._check_fitted()
    blob = pickle.dumps(predictor)
    space = getattr(predictor, "space", None)
    header = {"magic": FILE_MAGIC, "space": getattr(space, "name", None),
              "space_fingerprint": space.fingerprint() if space is not None else None,
              "proxies": list(predictor.proxies),
              "type": type(predictor).__name__, "fitted_on": predictor.n_fitted_,
              "fingerprint": hashlib.sha256(blob).hexdigest()[:16], **info}
    with open(path, "wb") as f:
        pickle.dump({"header": header, "predictor": blob}, f)
    return header


def load(path: str) -> tuple[Predictor, dict]:
    """A predictor written by :func:`save`, and its header; a clear error for any other file."""
    try:
        with open(path, "rb") as f:
            blob = pickle.load(f)
        if not isinstance(blob, dict) or not isinstance(blob.get("header"), dict) \
                or blob["header"].get("magic") != FILE_MAGIC:
            raise ArchscoutError(f"{path!r} is not a predictor file written by archscout")
        return pickle.loads(blob["predictor"]), blob["header"]
    except FileNotFoundError:
        raise ArchscoutError(f"no predictor file at {path!r}") from None
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError, TypeError,
            KeyError, IndexError) as e:
        raise ArchscoutError(f"{path!r} is not a predictor file written by archscout ({type(e).__name__})") from None


__all__ = ["EnsemblePredictor", "FEATURES", "GBTPredictor", "PREDICTORS", "TreePredictor", "Predictor",
           "ProxyCombination", "load", "make_predictor",
           "proxy_matrix", "save"]
