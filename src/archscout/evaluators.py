"""Names of the evaluators: ``archscout.evaluators.list()``, ``archscout.evaluators.get("train")`` (the class)."""
from .evaluate import EVALUATORS
from .evaluate import list_evaluators as list

get = EVALUATORS.get

__all__ = ["get", "list"]
