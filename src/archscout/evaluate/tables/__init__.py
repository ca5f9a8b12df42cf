"""Table benchmarks: the :class:`TableBenchmark` interface, the evaluator skeleton they share, and one module per
table (:mod:`.nas_bench_graph`, :mod:`.nas_bench_201`, and the :mod:`.synthetic` stand-in). Importing this package
registers them; a new table is one more module imported here."""
from . import nas_bench_graph  # first: the order of TABLES is the order of ``archscout bench``'s benchmarks

# isort: split
from . import nas_bench_201, synthetic
from .base import TABLES, BenchRow, LookupEvaluator, TableBenchmark, TableEvaluator, table_of

__all__ = ["TABLES", "BenchRow", "LookupEvaluator", "TableBenchmark", "TableEvaluator", "nas_bench_201",
           "nas_bench_graph", "synthetic", "table_of"]
