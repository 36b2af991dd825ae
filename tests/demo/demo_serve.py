"""Starting `scripts/demo --serve` and reading what it prints, for the checks that use it from
outside (tests/demo/test_serve.py, tests/attack/test_attack.py).

`Demo(args).start()` runs the demo in its own process group with stderr in a temporary log, reads
stdout up to `ready` and keeps the lines before it (`printed`) and the services they name
(`service`: simulator, aws, query-api, console, token). `stop()` sends SIGTERM and returns the exit
status; `kill()` ends it for good (both end only the process group this module started).
Standard library only.
"""

import os
import queue
import signal
import subprocess
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONTRACT = ["simulator", "aws", "query-api", "console", "token"]
READY_WITHIN_SECS = 1500


class DemoError(Exception):
    """The demo did not come up: why, with where its log is."""


class Demo:
    def __init__(self, args):
        self.args = list(args)
        self.proc = None
        self.printed = []
        self.service = {}
        self.log = tempfile.NamedTemporaryFile("w+", prefix="demo-serve-", suffix=".log", delete=False)

    def start(self):
        """Starts the demo and waits for `ready`; raises DemoError when it does not come."""
        self.proc = subprocess.Popen(
            [os.path.join(ROOT, "scripts", "demo"), "--serve", *self.args],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            start_new_session=True,
        )
        lines = queue.Queue()

        def pump():
            for line in self.proc.stdout:
                lines.put(line.rstrip("\n"))
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + READY_WITHIN_SECS
        while True:
            try:
                line = lines.get(timeout=max(1.0, deadline - time.monotonic()))
            except queue.Empty:
                raise DemoError(f"no `ready` within {READY_WITHIN_SECS} s (demo log: {self.log.name})")
            if line is None:
                raise DemoError(f"the demo exited before `ready` (status {self.proc.wait()}; log: {self.log.name})")
            if line == "ready":
                break
            self.printed.append(line)
        self.service = dict(l.split(": ", 1) for l in self.printed if ": " in l)
        return self

    def log_text(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def stop(self, timeout=60):
        """SIGTERM, then the exit status (None when it did not stop within `timeout`)."""
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def remove_log(self):
        os.unlink(self.log.name)


def parse_lines(text):
    """The services of a saved `scripts/demo --serve` stdout (the lines before `ready`)."""
    service = {}
    for line in text.splitlines():
        if line == "ready":
            break
        if ": " in line:
            key, value = line.split(": ", 1)
            service[key] = value
    return service
