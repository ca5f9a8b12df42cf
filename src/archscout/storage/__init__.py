"""Storage: every study, trial, search session and final retraining in a database (:class:`Storage`).

The parts, one module each: :mod:`.storage` (the :class:`Storage` class and what it guarantees), :mod:`.engine`
(opening a database, read-only SQLite files), :mod:`.migrations` (creating, checking and migrating the schema),
:mod:`.studies` (studies and search sessions), :mod:`.trials` (claims, trials, final retrainings), :mod:`.rows`
(the rows returned) and :mod:`.schema` (the tables).
"""
from .engine import HOST as HOST
from .engine import _normalise_url as _normalise_url
from .engine import _uri_path as _uri_path
from .engine import pid_alive as pid_alive
from .engine import read_only_reason as read_only_reason
from .rows import FINISHED, FinalRow, SessionRow, StudyRow, TrialRow
from .rows import PROCESS_DIED as PROCESS_DIED
from .rows import Claim as Claim
from .rows import _dumps as _dumps
from .rows import version_stamp as version_stamp
from .schema import SCHEMA_VERSION, claim_key
from .storage import Storage

__all__ = ["Storage", "TrialRow", "FinalRow", "StudyRow", "SessionRow", "FINISHED", "SCHEMA_VERSION", "claim_key"]
