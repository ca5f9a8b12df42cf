"""A read-only web dashboard that reads the storage live: studies, a study's trials as they finish, the report's
plots, and each trial's architecture and metrics.

It is a small HTTP server from the standard library (no web framework to install): pages are the report's
HTML fragments, and a few lines of script poll a version stamp and swap in the new content when trials finish.
It answers GET and HEAD only; unknown studies, trials and paths get a 404 page.
"""
from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast
from urllib.parse import quote, unquote, urlsplit

from ..errors import ArchscoutError
from ..storage import version_stamp
from . import html as H
from .differentiable import precision_section
from .differentiable import section as differentiable_section
from .supernet import section as supernet_section

log = logging.getLogger("archscout.dashboard")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
MIN_REFRESH = 0.5  # seconds between a page's checks for new trials

LIVE = """<script>
(function () {
  const state = document.getElementById("live");
  let version = state.dataset.version;
  async function poll() {
    try {
      const r = await fetch(state.dataset.versionUrl, {cache: "no-store"});
      if (r.ok) {
        const answer = await r.json();
        const v = answer.next || answer.version;  // what the content would show now
        if (v !== version) {
          const c = await fetch(state.dataset.contentUrl, {cache: "no-store"});
          if (c.ok) {
            document.getElementById("content").innerHTML = await c.text();
            version = c.headers.get("X-Archscout-Version") || v;  // what the content shows, maybe older than v
          }
        }
        state.textContent = "live: checked " + new Date().toLocaleTimeString();
      } else { state.textContent = "the study is no longer readable (" + r.status + ")"; }
    } catch (e) { state.textContent = "dashboard unreachable; retrying"; }
    setTimeout(poll, REFRESH_MS);
  }
  setTimeout(poll, REFRESH_MS);
})();
</script>"""


class Unavailable(Exception):
    """A study that exists but cannot be shown here (a custom space): answered with a page that says why."""


class NotFound(Exception):
    """A study, trial or page that does not exist: answered with a 404 page."""

    def __init__(self, message: str, body: str = ""):
        super().__init__(message)
        self.body = body


def study_url(name: str) -> str:
    return f"/study/{quote(name, safe='')}"


TRIAL_ROWS = 500  # a study page lists the newest trials; the report and /api/study/NAME have them all
RENDER_GAP = 4.0  # a study's content is drawn again at most once per this many times its last drawing took


class Dashboard:
    """The pages, read from ``storage`` on each request.

    A study's content (tables and figures) is cached with the version it shows. When trials finish
    faster than the figures can be drawn, it is drawn again only after ``RENDER_GAP`` times the last
    drawing's duration, so a dashboard on a large running study does not take a core from the search;
    the page then shows the older version until the next check.
    """

    def __init__(self, storage, refresh: float = 2.0):
        self.storage = storage
        self.refresh = refresh
        self._cache: dict[str, tuple[str, str, float, float]] = {}  # study -> (version, content, drawn at, took)
        self._lock = threading.Lock()
        self._drawing: dict[str, threading.Lock] = {}  # one drawing of a study at a time

    # -- reading ----------------------------------------------------------------------
    def names(self) -> list[str]:
        return [r["name"] for r in self.storage.list_studies()]

    def study(self, name: str):
        from ..study import Study

        if self.storage.get_study(name) is None:
            raise NotFound(f"no study named {name!r}", self._known_studies())
        try:  # the task's data is never needed: a study of arrays given in Python opens too
            return Study.load(name, self.storage, check_task=False)
        except ArchscoutError as e:  # a custom space, which only the Python code that defines it can open
            raise Unavailable(f"study {name!r} cannot be shown here: {e}; then archscout.write_report(study) writes its "
                              f"report") from None

    def _known_studies(self) -> str:
        names = self.names()
        if not names:
            return "<p>The database holds no studies.</p>"
        links = "".join(f'<li><a href="{H.esc(study_url(n))}">{H.esc(n)}</a></li>' for n in names)
        return f"<p>The studies in this database:</p><ul>{links}</ul>"

    def version(self, study, trials=None) -> str:
        """Changes whenever a trial starts or finishes or a final retraining is stored (``trials``: the
        study's trials as already read, e.g. a snapshot; else one aggregate query)."""
        if trials is None:
            return self.storage.study_version(study.id)
        finals = len(self.storage.finals(study.id))
        last = max((r.finished_at or r.started_at or 0.0 for r in trials), default=0.0)
        return version_stamp(len(trials), sum(r.status == "running" for r in trials), finals, last)

    def next_version(self, name: str) -> dict:
        """The study's version, and the version a content request would get now (older while a redraw is
        held back): a page fetches the content only when that differs from what it shows."""
        row = self.storage.get_study(name)
        if row is None:
            raise NotFound(f"no study named {name!r}", self._known_studies())
        version = self.storage.study_version(row.id)
        with self._lock:
            cached = self._cache.get(name)
        held = cached is not None and cached[0] != version and time.monotonic() - cached[2] < RENDER_GAP * cached[3]
        return {"version": version, "next": cached[0] if held and cached is not None else version}

    def content(self, study, version: str) -> tuple[str, str]:
        """The study's content and the version it shows."""
        with self._lock:
            drawing = self._drawing.setdefault(study.name, threading.Lock())
        with drawing:  # other requests for this study wait for this drawing and reuse it
            with self._lock:
                cached = self._cache.get(study.name)
            if cached and (cached[0] == version or time.monotonic() - cached[2] < RENDER_GAP * cached[3]):
                return cached[1], cached[0]
            return self._draw(study, version)

    def _draw(self, study, version: str) -> tuple[str, str]:
        start = time.monotonic()
        with study.snapshot() as trials:  # the tables and figures show the same trials
            return self._draw_snapshot(study, trials, start)

    def _draw_snapshot(self, study, trials, start: float) -> tuple[str, str]:
        version = self.version(study, trials)
        link = lambda n: f"{study_url(study.name)}/trial/{n}"  # noqa: E731
        retrains = study.evaluator_spec.needs_task
        text = H.summary(study, trials) + H.leaderboard(study, 10, link, retrains) \
            + (H.finals(study, link) if retrains else "")
        if study.leaderboard(1):
            text += H.progress_figures(study)
        text += H.fidelities(study, trials, top=3, board_n=10)
        text += supernet_section(study, H.figure, H.esc) + differentiable_section(study, trials, H.figure, H.esc) \
            + precision_section(study, trials, H.figure, H.esc)  # the report's sections, as it draws them
        if study.leaderboard(1):
            text += H.top_architectures(study, 3, link)
        text += H.trials_table(study, trials, link, expand=False, limit=TRIAL_ROWS)
        with self._lock:
            self._cache[study.name] = (version, text, time.monotonic(), time.monotonic() - start)
        return text, version

    # -- pages ------------------------------------------------------------------------
    def index(self) -> str:
        from .tables import status_columns

        rows = []
        studies = self.storage.list_studies()
        columns = status_columns(studies)
        for r in studies:
            c, n = r["config"], r["counts"]
            cells = "".join(f"<td>{n.get(k, 0)}</td>" for k in columns)
            rows.append(f'<tr><td class="l"><a href="{H.esc(study_url(r["name"]))}">{H.esc(r["name"])}</a></td>'
                        f'<td class="l">{H.esc(c["task"])}</td><td class="l">{H.esc(c["space"])}</td>'
                        f'<td class="l">{H.esc(c["strategy"])}</td>{cells}'
                        f'<td>{r["search_seconds"] / 60:.1f}</td></tr>')
        head = "".join(f"<th>{k}</th>" for k in columns)
        body = (f'<section><h2>Studies</h2><table id="studies"><tr><th class="l">study</th><th class="l">task</th>'
                f'<th class="l">space</th><th class="l">strategy</th>{head}<th>search min</th></tr>{"".join(rows)}'
                f'</table></section>' if rows else "<section><p>The database holds no studies yet.</p></section>")
        return H.page("archscout dashboard", H.esc(self.storage.shown_url), body)

    def study_page(self, name: str) -> str:
        study = self.study(name)
        text, shown = self.content(study, self.version(study))
        url = study_url(study.name)
        live = (f'<p id="live" class="muted" data-version="{H.esc(shown)}" '
                f'data-version-url="{H.esc("/api" + url + "/version")}" '
                f'data-content-url="{H.esc(url + "/content")}">live</p>')
        script = LIVE.replace("REFRESH_MS", str(int(self.refresh * 1000)))
        return H.page(f"study {study.name}", f'<a href="/">all studies</a> · read live from '
                      f'{H.esc(self.storage.shown_url)}', live + f'<div id="content">{text}</div>', script=script)

    def trial(self, study, number: str):
        rows = [r for r in self.storage.trials(study.id) if str(r.number) == number]
        if not rows:
            raise NotFound(f"study {study.name!r} has no trial #{number}",
                           f'<p><a href="{H.esc(study_url(study.name))}">back to the study</a></p>')
        return study.trial(rows[0].number)

    def trial_page(self, name: str, number: str) -> str:
        study = self.study(name)
        trial = self.trial(study, number)
        return H.page(f"{study.name} · trial #{trial.number}",
                      f'<a href="/">all studies</a> · <a href="{H.esc(study_url(study.name))}">study '
                      f'{H.esc(study.name)}</a>', H.trial_detail(study, trial))

    def not_found(self, message: str, body: str = "") -> str:
        return H.page("not found", '<a href="/">all studies</a>', f"<section><h2>{H.esc(message)}</h2>{body}</section>")

    # -- JSON -------------------------------------------------------------------------
    def study_json(self, name: str) -> dict:
        from . import fidelity as F

        study = self.study(name)
        with study.snapshot() as trials:
            front = {t.number for t in study.front()}
            rungs = [{k: r[k] for k in ("label", "fidelity", "trials", "complete", "stopped", "failed", "promoted",
                                        "best", "seconds", "share", "ranked")} for r in F.rungs(study, trials)]
            return {"study": study.name, "objectives": [list(o) for o in study.objectives],
                    "version": self.version(study), "fidelities": rungs,
                    "trials": [{"number": t.number, "status": t.status, "metrics": t.metrics, "error": t.error,
                                "architecture": t.arch.to_dict(), "on_front": t.number in front,
                                "final": t.final or None, "fidelity": t.fidelity, "parent": t.parent,
                                "learning_curve": (t.details or {}).get("learning_curve")} for t in trials]}

    def trial_json(self, name: str, number: str) -> dict:
        study = self.study(name)
        t = self.trial(study, number)
        return {"study": study.name, "number": t.number, "status": t.status, "error": t.error,
                "metrics": t.metrics, "details": t.details, "architecture": t.arch.to_dict(),
                "fidelity": t.fidelity, "parent": t.parent,
                "graph": t.arch.to_graph(), "final": t.final or None, "started_at": t.started_at,
                "finished_at": t.finished_at}

    def route(self, path: str) -> tuple[int, str, str] | tuple[int, str, str, dict]:
        """(status, content type, body[, headers]) for a GET of ``path``."""
        parts = [unquote(p) for p in urlsplit(path).path.split("/") if p]
        html, js = "text/html; charset=utf-8", "application/json"
        try:
            match parts:
                case []:
                    return 200, html, self.index()
                case ["study", name]:
                    return 200, html, self.study_page(name)
                case ["study", name, "content"]:
                    study = self.study(name)
                    text, shown = self.content(study, self.version(study))
                    return 200, html, text, {"X-Archscout-Version": shown}
                case ["study", name, "trial", number]:
                    return 200, html, self.trial_page(name, number)
                case ["api", "studies"]:
                    return 200, js, json.dumps({"studies": self.names()})
                case ["api", "study", name]:
                    return 200, js, json.dumps(self.study_json(name), default=str)
                case ["api", "study", name, "version"]:
                    return 200, js, json.dumps(self.next_version(name))
                case ["api", "study", name, "trial", number]:
                    return 200, js, json.dumps(self.trial_json(name, number), default=str)
                case _:
                    raise NotFound(f"no page at {path}")
        except NotFound as e:
            if parts[:1] == ["api"]:
                return 404, js, json.dumps({"error": str(e)})
            return 404, html, self.not_found(str(e), e.body)
        except Unavailable as e:
            if parts[:1] == ["api"]:
                return 409, js, json.dumps({"error": str(e)})
            return 409, html, H.page("cannot show this study", '<a href="/">all studies</a>',
                                     f"<section><h2>{H.esc(e)}</h2></section>")


class _Handler(BaseHTTPRequestHandler):
    server_version = "archscout-dashboard"
    dashboard: Dashboard

    def _host_allowed(self) -> bool:
        """On a loopback address, only requests that name a loopback host: a web page elsewhere cannot read
        the dashboard through a DNS name that resolves to 127.0.0.1 (DNS rebinding)."""
        if cast(tuple, self.server.server_address)[0] not in LOOPBACK:  # an IP server: (host, port, ...)
            return True
        host = (self.headers.get("Host") or "").strip().lower()
        name = host[1:host.index("]")] if host.startswith("[") and "]" in host else host.rsplit(":", 1)[0]
        return name in LOOPBACK

    def _answer(self, head_only: bool) -> None:
        if not self._host_allowed():
            self.send_error(HTTPStatus.FORBIDDEN, "the dashboard answers requests for 127.0.0.1 or localhost only")
            return
        headers: dict = {}
        try:
            status, kind, body, *extra = self.dashboard.route(self.path)
            headers = extra[0] if extra else {}
        except Exception as e:  # noqa: BLE001 - one broken page must not stop the dashboard
            log.exception("dashboard page %s failed", self.path)
            status, kind = 500, "text/html; charset=utf-8"
            body = H.page("error", '<a href="/">all studies</a>',
                          f"<section><h2>This page failed: {H.esc(type(e).__name__)}: {H.esc(e)}</h2></section>")
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", kind)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head_only:
            self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - the name http.server calls
        self._answer(False)

    def do_HEAD(self):  # noqa: N802
        self._answer(True)

    def _read_only(self):
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED, "the dashboard is read-only")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _read_only

    def log_message(self, fmt, *args):
        log.debug("%s %s", self.address_string(), fmt % args)


def make_server(storage, host: str = "127.0.0.1", port: int = 8050, refresh: float = 2.0) -> ThreadingHTTPServer:
    """A dashboard server for ``storage`` (a Storage or URL) on ``host:port`` (port 0: any free port);
    call ``serve_forever()`` on it, ``shutdown()`` to stop."""
    from ..storage import Storage

    store = storage if isinstance(storage, Storage) else Storage(storage, create=False)
    if not (isinstance(refresh, (int, float)) and math.isfinite(refresh) and refresh >= MIN_REFRESH):
        raise ArchscoutError(f"--refresh must be a number of seconds, at least {MIN_REFRESH:g} (each check reads "
                             f"the storage), got {refresh}")
    handler = type("Handler", (_Handler,), {"dashboard": Dashboard(store, refresh)})
    server_class = ThreadingHTTPServer
    if ":" in host:  # an IPv6 address such as ::1
        server_class = cast("type[ThreadingHTTPServer]",
                            type("IPv6Server", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6}))
    try:
        server = server_class((host, port), handler)
    except OSError as e:
        raise ArchscoutError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    server.daemon_threads = True
    return server


def serve(storage, host: str = "127.0.0.1", port: int = 8050, refresh: float = 2.0, ready=None) -> None:
    server = make_server(storage, host, port, refresh)
    if ready:
        ready(server)
    try:
        server.serve_forever(poll_interval=0.25)
    finally:
        server.server_close()


__all__ = ["Dashboard", "make_server", "serve", "study_url"]
