"""archscout: hardware-aware neural architecture search that measures every candidate for real.

Public API::

    import archscout as asc
    study = asc.Study("mnist1d-small", space="conv1d", task="mnist1d", train={"steps": 1000})
    study.run(trials=50)
    study.best().export("model/", formats=["onnx", "torchscript", "state"])  # or `archscout export`
    model = asc.load("model/")              # the nn.Module with its weights (load_model: the same)
    again = asc.Study.load("mnist1d-small")  # reopen a stored study
    asc.write_report(study)                 # the HTML report (or `archscout report`)
    df = study.trials_dataframe()           # pandas; asc.plots.front(study) etc. return matplotlib figures
"""
# oneshot: registers its evaluator, spaces, strategies
from . import evaluators, oneshot, plots, spaces, strategies, tasks
from .errors import ArchscoutError, TrialFailed
from .evaluate import TrainingEvaluator
from .evaluate.user import Context, evaluator
from .export import load, load_model
from .metrics import METRICS, Constraint
from .recipe import TrainConfig
from .report import write_report
from .space import Architecture, Block, Choice, Integer, Repeat, Space
from .storage import Storage
from .study import Study, Trial

__version__ = "0.1.0"
__all__ = ["Study", "Trial", "evaluator", "Context", "Space", "Choice", "Integer", "Repeat", "Block", "Architecture", "TrainConfig",
           "TrainingEvaluator", "Storage", "Constraint", "METRICS", "ArchscoutError", "TrialFailed", "load",
           "load_model", "write_report", "oneshot", "evaluators", "spaces", "tasks", "strategies", "plots"]
