"""Studies: one named search, stored in a database, resumed by name (:class:`Study`), and its parts."""
from .config import StudyConfig
from .fronts import spread
from .preflight import DEFAULT_MAX_FAILURES, check_budget, check_search_options, parse_duration
from .recovery import HEARTBEAT_EVERY, INTERRUPT_POLICIES, MAX_INTERRUPTIONS, STALE_AFTER
from .study import Study
from .trial import Trial

__all__ = ["Study", "Trial", "StudyConfig", "spread", "check_budget", "check_search_options", "parse_duration",
           "DEFAULT_MAX_FAILURES", "HEARTBEAT_EVERY", "INTERRUPT_POLICIES", "MAX_INTERRUPTIONS", "STALE_AFTER"]
