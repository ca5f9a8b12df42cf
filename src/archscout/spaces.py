"""Names of the built-in search spaces: ``archscout.spaces.list()``, ``archscout.spaces.get("conv1d")``."""
from .space import get_space as get
from .space import list_spaces as list

__all__ = ["get", "list"]
