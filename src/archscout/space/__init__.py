"""Search spaces: declarative choices, immutable architectures, built-in spaces."""
from ._architecture import Architecture
from ._choices import CONFIDENCE, Block, Choice, Integer, Repeat, prior_weights
from ._space import Space
from .builtin import conv1d, conv2d, get_space, mlp
from .cell import CellSpace, cell
from .gnn import GNNSpace, benchmark_key, gnn, gnn_proteins
from .names import SPACES, find_space, list_spaces

__all__ = ["CONFIDENCE", "prior_weights", "SPACES", "Architecture", "Block", "Choice", "Integer", "Repeat", "Space", "CellSpace", "cell", "GNNSpace", "conv1d", "conv2d", "mlp",
           "gnn", "gnn_proteins", "benchmark_key", "find_space", "get_space", "list_spaces"]
