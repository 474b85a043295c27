"""Real servers for the tests: an ``mlflow server`` process and a PostgreSQL cluster.

PostgreSQL comes from the machine (Debian's ``postgresql`` package, which ``.ci/run``
installs when ``initdb`` is missing): :func:`postgres_bindir` finds ``initdb`` /
``pg_ctl`` / ``postgres`` (``COCO_PIPE_PG_BINDIR``, ``pg_config --bindir``,
``/usr/lib/postgresql/<version>/bin``, ``PATH``). :class:`PostgresServer` makes a
throw-away cluster in a temporary folder (trust authentication, no fsync), listening on
127.0.0.1 at a free port and on a Unix socket in that folder, and removes it on
:meth:`~PostgresServer.stop`. PostgreSQL refuses to run as root, so as root the server
runs as the ``postgres`` user (or ``nobody``), which then owns the folder.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

PG_TOOLS = ("initdb", "pg_ctl", "postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(proc, url: str, log: Path, timeout: float) -> None:
    """Return once ``url`` answers HTTP 200; RuntimeError with the log's tail if ``proc`` exits
    or ``timeout`` seconds pass (the caller stops ``proc``)."""
    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"{' '.join(map(str, proc.args[:3]))} did not start:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)


@contextlib.contextmanager
def mlflow_server_process(root: Path, backend_store_uri: str) -> Iterator[str]:
    """A real ``mlflow server`` on 127.0.0.1 (free port) with proxied artifacts under
    ``root/artifacts``; yields its URI and stops it on exit."""
    port = free_port()
    mlflow_bin = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    log_path = root / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [mlflow_bin, "server", "--host", "127.0.0.1", "--port", str(port),
             "--backend-store-uri", backend_store_uri,
             "--artifacts-destination", str(root / "artifacts"), "--workers", "1"],
            stdout=log, stderr=subprocess.STDOUT, cwd=root,
        )  # fmt: skip
        uri = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(proc, uri + "/health", log_path, timeout=90)
            yield uri
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def postgres_bindir() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, or None."""
    candidates = [os.environ.get("COCO_PIPE_PG_BINDIR")]
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        candidates.append(out.stdout.strip())
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                      if Path(p).parent.name.isdigit() else 0, reverse=True)  # fmt: skip
    candidates += versions
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(os.path.realpath(initdb)).parent))
    for folder in filter(None, candidates):
        if all((Path(folder) / tool).is_file() for tool in PG_TOOLS):
            return Path(folder)
    return None


def _server_user() -> pwd.struct_passwd | None:
    """Who runs the server: None (this user) unless this is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists")


class PostgresServer:
    """A throw-away PostgreSQL cluster (see the module)."""

    def __init__(self, bindir: Path):
        self.bindir = Path(bindir)
        self.user = _server_user()
        self.root = Path(tempfile.mkdtemp(prefix="coco-pipe-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self._started = False

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        kw = {} if self.user is None else {"user": self.user.pw_uid, "group": self.user.pw_gid,
                                           "extra_groups": []}  # fmt: skip
        proc = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]], capture_output=True, text=True,
            cwd=self.root, **kw,
        )  # fmt: skip
        if proc.returncode:
            log = self.root / "server.log"
            tail = log.read_text()[-3000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed:\n{proc.stdout}{proc.stderr}{tail}")
        return proc

    def start(self) -> PostgresServer:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--locale=C", "--no-sync")  # fmt: skip
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")  # fmt: skip
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"),
                  "-w", "-t", "60", "start")  # fmt: skip
        self._started = True
        return self

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` over TCP (the form MLflow and Optuna take)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres", autocommit: bool = False):
        """A psycopg (3) connection, the driver SQLAlchemy uses for ``postgresql://``."""
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                               dbname=database, autocommit=autocommit)  # fmt: skip

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        with self.connect(autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            if self._started:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            self._started = False
            shutil.rmtree(self.root, ignore_errors=True)
