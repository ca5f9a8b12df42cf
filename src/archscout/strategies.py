"""Names of the built-in strategies: ``archscout.strategies.list()``, ``archscout.strategies.make(...)``."""
from .strategy import list_strategies as list
from .strategy import make_strategy as make

__all__ = ["list", "make"]
