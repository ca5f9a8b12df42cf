"""Names of the built-in strategies: ``archscout.strategies.list()``, ``archscout.strategies.get("evolution")`` (the
class) and ``archscout.strategies.make(name, space, ...)`` (an instance)."""
from .strategy import STRATEGIES
from .strategy import list_strategies as list
from .strategy import make_strategy as make

get = STRATEGIES.get

__all__ = ["get", "list", "make"]
