"""archscout: hardware-aware neural architecture search that measures every candidate for real.

Public API::

    import archscout as asc
    study = asc.Study("mnist1d-small", space="conv1d", task="mnist1d", train={"steps": 1000})
    study.run(trials=50)
    model = asc.load_model("model/")        # after `archscout export` or study.best().export("model/")
"""
from . import spaces, strategies, tasks
from .errors import ArchscoutError, TrialFailed
from .evaluate import TrainingEvaluator
from .evaluate.training import TrainConfig
from .export import load_model
from .metrics import METRICS, Constraint
from .space import Architecture, Block, Choice, Integer, Repeat, Space
from .storage import Storage
from .study import Study, Trial

load = Study.load

__version__ = "0.1.0"
__all__ = ["Study", "Trial", "Space", "Choice", "Integer", "Repeat", "Block", "Architecture", "TrainConfig",
           "TrainingEvaluator", "Storage", "Constraint", "METRICS", "ArchscoutError", "TrialFailed", "load",
           "load_model", "spaces", "tasks", "strategies"]
