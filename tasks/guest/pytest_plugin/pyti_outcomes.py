"""pytest plugin of PyTI's test task: one JSON line per test, with pytest's own node id.

Loaded with `-p pyti_outcomes` from a directory on PYTHONPATH that holds only this module; writes
to the file named by $PYTI_OUTCOMES (nothing when unset). Lines:
  {"pyti": "outcomes", "version": 1, "rootdir": ..., "args": [...]}            first
  {"nodeid", "outcome", "when", "duration", "call", "message"?, "longrepr"?}   one per test
  {"summary": {outcome: count}, "exitstatus": n, "records": n, "omitted": n}   last
outcome: passed, failed, error, skipped, xfailed, xpassed. Collection errors and collection-time
skips are records with when = "collect". Sizes are capped: the file leaves the sandbox.
"""
import json
import os

MAX_RECORDS = int(os.environ.get("PYTI_OUTCOMES_MAX", "100000"))
MAX_MESSAGE = 1000
MAX_LONGREPR = 8192
LONGREPR_BUDGET = 12 * 1024 * 1024
FILE_BUDGET = 30 * 1024 * 1024


def _message(report):
    """The one-line reason of a failure, skip or xfail."""
    if hasattr(report, "wasxfail") and report.wasxfail:
        return str(report.wasxfail)
    lr = report.longrepr
    if lr is None:
        return ""
    if isinstance(lr, tuple) and len(lr) == 3:  # a skip: (path, line, reason)
        reason = str(lr[2])
        return reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason
    crash = getattr(lr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message)
    return str(lr).strip().split("\n")[-1]


class _Recorder:
    def __init__(self, path, config):
        self.out = open(path, "w", encoding="utf-8")
        self.written = 0
        self.records = 0
        self.omitted = 0
        self.longrepr_left = LONGREPR_BUDGET
        self.summary = {}
        self.pending = {}
        self._line({"pyti": "outcomes", "version": 1, "rootdir": str(config.rootpath),
                    "args": [str(a) for a in config.args][:200]})

    def _line(self, obj):
        text = json.dumps(obj, ensure_ascii=False) + "\n"
        self.written += len(text.encode("utf-8"))
        self.out.write(text)

    def record(self, nodeid, outcome, when, duration, call, report):
        self.summary[outcome] = self.summary.get(outcome, 0) + 1
        if self.records >= MAX_RECORDS or self.written > FILE_BUDGET:
            self.omitted += 1
            return
        rec = {"nodeid": nodeid, "outcome": outcome, "when": when,
               "duration": round(duration, 6), "call": round(call, 6)}
        if outcome != "passed" and report is not None:
            msg = _message(report)
            if msg:
                rec["message"] = msg[:MAX_MESSAGE]
            if outcome in ("failed", "error") and self.longrepr_left > 0:
                text = getattr(report, "longreprtext", "") or ""
                if text:
                    text = text[-MAX_LONGREPR:]
                    self.longrepr_left -= len(text)
                    rec["longrepr"] = text
        self.records += 1
        self._line(rec)

    # --- hooks ---
    def pytest_collectreport(self, report):
        if report.failed:
            self.record(report.nodeid or "<collection>", "error", "collect", 0.0, 0.0, report)
        elif report.skipped:
            self.record(report.nodeid or "<collection>", "skipped", "collect", 0.0, 0.0, report)

    def pytest_runtest_logreport(self, report):
        phases = self.pending.setdefault(report.nodeid, {})
        phases[report.when] = report
        if report.when != "teardown":
            return
        del self.pending[report.nodeid]
        setup, call, teardown = phases.get("setup"), phases.get("call"), report
        xfail = lambda r: bool(getattr(r, "wasxfail", ""))  # noqa: E731
        decisive = call
        if setup is not None and setup.failed:
            outcome, decisive = "error", setup
        elif setup is not None and setup.skipped:
            outcome, decisive = ("xfailed" if xfail(setup) else "skipped"), setup
        elif call is None:
            outcome, decisive = "error", teardown
        elif call.failed:
            outcome = "failed"
        elif call.skipped:
            outcome = "xfailed" if xfail(call) else "skipped"
        elif xfail(call):
            outcome = "xpassed"
        else:
            outcome = "passed"
        if teardown.failed and outcome not in ("failed", "error"):
            outcome, decisive = "error", teardown
        duration = sum(r.duration for r in phases.values() if r is not None)
        self.record(report.nodeid, outcome, decisive.when if decisive is not None else "teardown",
                    duration, call.duration if call is not None else 0.0, decisive)

    def pytest_sessionfinish(self, session, exitstatus):
        self._line({"summary": self.summary, "exitstatus": int(exitstatus), "records": self.records,
                    "omitted": self.omitted})
        self.out.close()


def pytest_configure(config):
    path = os.environ.get("PYTI_OUTCOMES")
    # Under pytest-xdist only the controller writes: it receives every worker's reports.
    if not path or hasattr(config, "workerinput"):
        return
    config.pluginmanager.register(_Recorder(path, config), "pyti-outcomes-recorder")
