"""The local single-node Kafka broker behind ``civicpulse kafka up|down|status``.

A real Apache Kafka 4.1.1 broker (KRaft, broker and controller in one JVM), run from the jars of
Maven Central: no Docker, no tarball. ``ensure_jars`` fetches them once with ``mvn`` from
``deploy/kafka/pom.xml``; ``up`` renders ``deploy/kafka/server.properties`` into the data dir,
formats the storage on first use, starts the JVM detached, waits until the broker answers and
creates the topics of ``deploy/kafka/topics.yaml``; ``down`` stops it.

Layout of a data dir (default ``var/kafka`` under the project root, or ``$CIVICPULSE_KAFKA_DATA``)::

    server.properties   rendered from the template at each start
    kafka.pid           pid of the running broker
    data/               the broker's log.dirs (topics, KRaft metadata, meta.properties)
    logs/               server.log, controller.log, ... and kafka.out (the JVM's stdout/stderr)

The jars live in ``var/kafka/lib`` under the project root (``$CIVICPULSE_KAFKA_HOME/lib`` when
set), shared by every data dir: the integration tests' brokers reuse what the demo fetched.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import string
import struct
import subprocess
import tempfile
import time
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from civicpulse.topics_admin import (
    TopicsError,
    TopicSpec,
    TopicsReport,
    admin_client,
    ensure_topics,
    load_topics,
)

KAFKA_VERSION = "4.1.1"
DEFAULT_HOST = "localhost"
DEFAULT_PORT = 9092
DEFAULT_CONTROLLER_PORT = 9093
DATA_DIR_ENV = "CIVICPULSE_KAFKA_DATA"
KAFKA_HOME_ENV = "CIVICPULSE_KAFKA_HOME"
DEPLOY_SUBDIR = Path("deploy") / "kafka"
HEAP_OPTS = ("-Xmx512m", "-Xms256m")
# What Kafka's own kafka-run-class.sh uses (minus GC logging), plus exiting on OutOfMemoryError.
JVM_OPTS = (
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
# Marks the JVM's command line so that a pid file is never trusted for an unrelated process.
DATA_DIR_PROPERTY = "civicpulse.kafka.dataDir"
MIN_JAVA = 17
STOP_TIMEOUT_S = 30.0
MVN_TIMEOUT_S = 900.0

_PID_FILE = "kafka.pid"
_STAMP_FILE = ".civicpulse-complete.json"
_START_MARKER = "--- civicpulse: starting the broker at"
_T = TypeVar("_T")
# Popen objects of the brokers this process started, so that they are reaped, not left zombies.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}

_JAVA_HINT = (
    "Install a Java 17+ runtime: `sudo apt-get install openjdk-17-jre-headless` (Debian/Ubuntu), "
    "`brew install openjdk@17` (macOS), or `make system-deps`; or point $JAVA_HOME at one."
)
_MVN_HINT = (
    "Install Maven: `sudo apt-get install maven` (Debian/Ubuntu), `brew install maven` (macOS), "
    "or `make system-deps`. It is only needed once, to fetch the Kafka jars."
)


class KafkaLocalError(RuntimeError):
    """Base of the local-broker errors; the message says what to do."""


class MissingToolError(KafkaLocalError):
    """java or mvn is not installed (or too old)."""


class JarFetchError(KafkaLocalError):
    """mvn could not fetch the Kafka jars."""


class PortInUseError(KafkaLocalError):
    """Something that is not a Kafka broker holds the broker's or the controller's port."""


class BrokerStartError(KafkaLocalError):
    """The broker exited, or did not serve in time, during start-up; the message has its log."""


@dataclass(frozen=True)
class BrokerInfo:
    bootstrap: str
    data_dir: Path
    pid: int | None
    """The broker's pid; None when ``up`` found a broker it did not start (no pid file here)."""
    started: bool
    """False when a broker was already serving on the port (``up`` only ensured the topics)."""
    log_dir: Path
    topics: TopicsReport


@dataclass(frozen=True)
class BrokerStatus:
    bootstrap: str
    data_dir: Path
    pid: int | None
    """pid of the broker started from this data dir, when that process is alive."""
    serving: bool
    """A Kafka broker (this one or another) answers on the bootstrap address."""
    log_dir: Path
    topics: tuple[str, ...]
    """Topics on the broker when it serves (internal ones excluded), else empty."""


class _Probe(Enum):
    FREE = "free"
    KAFKA = "kafka"
    OTHER = "other"


# ---------------------------------------------------------------------------- locations


def project_root() -> Path:
    """The checkout that holds ``deploy/kafka``: this module's own (an editable install), else the
    nearest one above the current directory."""
    own = Path(__file__).resolve().parents[1]
    if (own / DEPLOY_SUBDIR / "pom.xml").is_file():
        return own
    cwd = Path.cwd().resolve()
    for candidate in (cwd, *cwd.parents):
        if (candidate / DEPLOY_SUBDIR / "pom.xml").is_file():
            return candidate
    raise KafkaLocalError(
        f"cannot find {DEPLOY_SUBDIR}/pom.xml above {cwd}: run from a CivicPulse checkout"
    )


def deploy_dir() -> Path:
    return project_root() / DEPLOY_SUBDIR


def default_data_dir() -> Path:
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env).expanduser() if env else project_root() / "var" / "kafka"


def default_jars_dir() -> Path:
    env = os.environ.get(KAFKA_HOME_ENV)
    return (Path(env).expanduser() if env else project_root() / "var" / "kafka") / "lib"


# ---------------------------------------------------------------------------- tools


def find_java() -> Path:
    """The ``java`` to run: ``$JAVA_HOME/bin/java`` if set, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return Path(java_home) / "bin" / "java"
    found = shutil.which("java")
    if found is None:
        raise MissingToolError(
            f"the local Kafka broker needs Java {MIN_JAVA}+, and `java` is not on PATH. "
            + _JAVA_HINT
        )
    return Path(found)


def _check_java_version(java: Path) -> None:
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MissingToolError(f"cannot run {java}: {exc}. " + _JAVA_HINT) from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if match is None:
        return  # an unusual build: let the broker itself complain if it must
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_392"
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise MissingToolError(
            f"Kafka {KAFKA_VERSION} needs Java {MIN_JAVA}+, and {java} is Java {major}. "
            + _JAVA_HINT
        )


def _find_mvn() -> Path:
    found = shutil.which("mvn")
    if found is None:
        raise MissingToolError(
            "the Kafka jars are not fetched yet and `mvn` is not on PATH. " + _MVN_HINT
        )
    return Path(found)


# ---------------------------------------------------------------------------- jars


def ensure_jars(dest: Path | str | None = None) -> Path:
    """Fetches the broker's jars with ``mvn`` into ``dest`` (default: ``default_jars_dir()``),
    unless a complete copy for the current ``pom.xml`` is already there. Returns ``dest``.

    Safe against concurrent callers (a file lock) and interrupted runs (the jars are copied to a
    temporary sibling directory, which replaces ``dest`` only once complete)."""
    dest = Path(dest) if dest is not None else default_jars_dir()
    pom = deploy_dir() / "pom.xml"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    if _jars_complete(dest, digest):
        return dest
    mvn = _find_mvn()
    find_java()  # mvn itself runs on Java: say so clearly instead of mvn's JAVA_HOME message
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(dest.parent / f".{dest.name}.lock"):
        if _jars_complete(dest, digest):
            return dest
        staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; the jars are not secret
        try:
            _mvn_copy_dependencies(mvn, pom, staging)
            jars = sorted(p.name for p in staging.glob("*.jar"))
            needed = (f"kafka_2.13-{KAFKA_VERSION}.jar", "log4j-slf4j-impl-")
            if not all(any(j.startswith(n) for j in jars) for n in needed):
                raise JarFetchError(f"mvn ran but {staging} lacks one of {needed}: {jars}")
            stamp = {"pom_sha256": digest, "jars": jars}
            (staging / _STAMP_FILE).write_text(json.dumps(stamp, indent=1), encoding="utf-8")
            if dest.exists():
                shutil.rmtree(dest)
            staging.rename(dest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return dest


def _jars_complete(dest: Path, digest: str) -> bool:
    try:
        stamp = json.loads((dest / _STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(stamp, dict)
        and stamp.get("pom_sha256") == digest
        and bool(stamp.get("jars"))
        and all((dest / name).is_file() for name in stamp["jars"])
    )


def _mvn_copy_dependencies(mvn: Path, pom: Path, out_dir: Path) -> None:
    cmd = [
        str(mvn),
        "-q",
        "-B",
        "-Dstyle.color=never",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={out_dir}",
    ]
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=MVN_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise JarFetchError(
            f"mvn did not finish fetching the Kafka jars within {MVN_TIMEOUT_S:.0f} s "
            "(network? a Maven mirror in ~/.m2/settings.xml?)"
        ) from exc
    if done.returncode != 0:
        tail = _tail_text(done.stdout + done.stderr, 30)
        raise JarFetchError(
            f"mvn failed (exit {done.returncode}) fetching the Kafka {KAFKA_VERSION} jars from "
            f"Maven Central (network? a Maven mirror in ~/.m2/settings.xml?):\n{tail}"
        )


def _classpath(jars: Path) -> str:
    return str(jars / "*")


# ---------------------------------------------------------------------------- up / down / status


def up(
    data_dir: Path | str | None = None,
    port: int = DEFAULT_PORT,
    controller_port: int = DEFAULT_CONTROLLER_PORT,
    timeout: float = 60.0,
    *,
    host: str = DEFAULT_HOST,
    jars_dir: Path | str | None = None,
    topics_file: Path | str | None = None,
) -> BrokerInfo:
    """Starts the local broker, unless one already serves on ``host:port``, and creates the
    missing topics of ``topics.yaml``. Returns once the broker answers metadata requests and every
    topic partition has a leader; raises ``KafkaLocalError`` (with advice) otherwise.

    Idempotent: with a broker already serving, it only ensures the topics (well under a second).
    ``timeout`` bounds the wait for the broker to serve and the topics to be ready; the one-off jar
    fetch (``ensure_jars``) and storage format before the first start are not counted.
    """
    data_dir = _resolve_data_dir(data_dir)
    deadline = time.monotonic() + timeout
    bootstrap = f"{host}:{port}"
    specs = _load_specs(topics_file)
    data_dir.mkdir(parents=True, exist_ok=True)
    with _file_lock(data_dir / ".lock"):
        pid = _running_pid(data_dir)
        if pid is not None:
            running_port = _configured_port(data_dir)
            if running_port not in (None, port):
                raise KafkaLocalError(
                    f"the broker of {data_dir} (pid {pid}) is running on port {running_port}, "
                    f"not {port}: stop it first (`civicpulse kafka down`)"
                )
        probe = _probe(host, port, patient=pid is None)
        if pid is not None and probe is not _Probe.KAFKA:
            # Ours, alive, not answering (yet): still starting, or stuck (then this times out).
            _wait_until_serving(host, port, pid, None, deadline, data_dir)
            probe = _Probe.KAFKA
        if probe is _Probe.KAFKA:
            topics = _ensure_topics(bootstrap, specs, deadline)
            return BrokerInfo(bootstrap, data_dir, pid, False, data_dir / "logs", topics)
        if probe is _Probe.OTHER:
            raise PortInUseError(_port_taken_message(host, port, "broker"))
        if not _port_free(host, controller_port):
            raise PortInUseError(_port_taken_message(host, controller_port, "controller"))

        java = find_java()
        _check_java_version(java)
        jars = ensure_jars(jars_dir)
        props = _render_server_properties(data_dir, host, port, controller_port)
        _format_storage_once(java, jars, data_dir, props)
        proc = _spawn_broker(java, jars, data_dir, props)
        deadline = time.monotonic() + timeout
        try:
            _wait_until_serving(host, port, proc.pid, proc, deadline, data_dir)
            topics = _ensure_topics(bootstrap, specs, deadline)
        except BaseException:
            _stop_pid(proc.pid, STOP_TIMEOUT_S)
            _remove_pid_file(data_dir)
            raise
        return BrokerInfo(bootstrap, data_dir, proc.pid, True, data_dir / "logs", topics)


def down(data_dir: Path | str | None = None, timeout: float = STOP_TIMEOUT_S) -> bool:
    """Stops the broker started from ``data_dir``: SIGTERM (a clean shutdown, which the next start
    does not have to recover from), SIGKILL after ``timeout`` seconds. Removes the pid file.
    Returns whether a broker was running; not running is not an error."""
    data_dir = _resolve_data_dir(data_dir)
    if not data_dir.is_dir():
        return False
    with _file_lock(data_dir / ".lock"):
        pid = _running_pid(data_dir)
        if pid is not None:
            _stop_pid(pid, timeout)
        _remove_pid_file(data_dir)
    return pid is not None


def status(
    data_dir: Path | str | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int | None = None,
) -> BrokerStatus:
    """Whether this data dir's broker runs, and whether a broker serves on ``host:port``
    (``port`` defaults to the one this data dir's broker was last started with, else 9092)."""
    data_dir = _resolve_data_dir(data_dir)
    pid = _running_pid(data_dir)
    port = port or _configured_port(data_dir) or DEFAULT_PORT
    bootstrap = f"{host}:{port}"
    serving = _probe(host, port) is _Probe.KAFKA
    topics: tuple[str, ...] = ()
    if serving:
        with contextlib.suppress(TopicsError):
            topics = _run(_list_topics(bootstrap))
    return BrokerStatus(bootstrap, data_dir, pid, serving, data_dir / "logs", topics)


def _resolve_data_dir(data_dir: Path | str | None) -> Path:
    return (Path(data_dir) if data_dir is not None else default_data_dir()).expanduser().resolve()


def _load_specs(topics_file: Path | str | None) -> tuple[TopicSpec, ...]:
    try:
        return load_topics(topics_file if topics_file is not None else deploy_dir() / "topics.yaml")
    except TopicsError as exc:
        raise KafkaLocalError(str(exc)) from exc


def _ensure_topics(bootstrap: str, specs: tuple[TopicSpec, ...], deadline: float) -> TopicsReport:
    remaining = max(10.0, deadline - time.monotonic())
    try:
        return _run(ensure_topics(bootstrap, specs, budget_s=remaining))
    except TopicsError as exc:
        raise KafkaLocalError(f"the broker at {bootstrap} serves, but: {exc}") from exc


async def _list_topics(bootstrap: str) -> tuple[str, ...]:
    async with admin_client(bootstrap, budget_s=5.0) as admin:
        names = await admin.list_topics()
    return tuple(sorted(str(n) for n in names if not str(n).startswith("__")))


def _run(coro: Coroutine[Any, Any, _T]) -> _T:
    """asyncio.run, also from code that already runs an event loop (in a worker thread then)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


# ---------------------------------------------------------------------------- start-up steps


def _render_server_properties(data_dir: Path, host: str, port: int, controller_port: int) -> Path:
    template = string.Template((deploy_dir() / "server.properties").read_text(encoding="utf-8"))
    text = template.substitute(
        host=host,
        port=port,
        controller_port=controller_port,
        log_dirs=str(data_dir / "data"),
    )
    props = data_dir / "server.properties"
    props.write_text(text, encoding="utf-8")
    return props


def _logging_opts(data_dir: Path) -> list[str]:
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return [
        f"-Dlog4j2.configurationFile={deploy_dir() / 'log4j2.yaml'}",
        f"-Dkafka.logs.dir={logs}",
    ]


def _format_storage_once(java: Path, jars: Path, data_dir: Path, props: Path) -> None:
    if (data_dir / "data" / "meta.properties").is_file():
        return
    cmd = [
        str(java),
        *HEAP_OPTS,
        "-XX:TieredStopAtLevel=1",  # a short-lived tool: start fast rather than run fast
        *_logging_opts(data_dir),
        "-cp",
        _classpath(jars),
        "kafka.tools.StorageTool",
        "format",
        "-t",
        new_cluster_id(),
        "-c",
        str(props),
        "--ignore-formatted",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise BrokerStartError(
            f"formatting the Kafka storage in {data_dir / 'data'} failed "
            f"(exit {done.returncode}):\n{_tail_text(done.stdout + done.stderr, 30)}"
        )


def new_cluster_id() -> str:
    """A KRaft cluster id as ``kafka-storage random-uuid`` makes it: 16 random bytes, base64url
    without padding, never starting with '-' (it would read as a command-line flag)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cid.startswith("-"):
            return cid


def _spawn_broker(java: Path, jars: Path, data_dir: Path, props: Path) -> subprocess.Popen[bytes]:
    cmd = [
        str(java),
        *HEAP_OPTS,
        *JVM_OPTS,
        *_logging_opts(data_dir),
        f"-D{DATA_DIR_PROPERTY}={data_dir}",
        "-cp",
        _classpath(jars),
        "kafka.Kafka",
        str(props),
    ]
    out_path = data_dir / "logs" / "kafka.out"
    with out_path.open("ab") as out:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        out.write(f"{_START_MARKER} {stamp}: {' '.join(cmd)}\n".encode())
        out.flush()
        # Own session: the broker outlives the CLI and ignores the terminal's Ctrl-C and hang-up.
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=data_dir,
            start_new_session=True,
        )
    _CHILDREN[proc.pid] = proc
    pid_file = data_dir / _PID_FILE
    tmp = pid_file.with_suffix(".tmp")
    tmp.write_text(f"{proc.pid}\n", encoding="ascii")
    tmp.replace(pid_file)
    return proc


def _wait_until_serving(
    host: str,
    port: int,
    pid: int,
    proc: subprocess.Popen[bytes] | None,
    deadline: float,
    data_dir: Path,
) -> None:
    while True:
        if not _alive(pid):
            code = proc.returncode if proc is not None else None
            raise BrokerStartError(
                f"the Kafka broker (pid {pid}) exited during start-up"
                + (f" with code {code}" if code is not None else "")
                + f". {_log_tails(data_dir)}"
            )
        if _probe(host, port) is _Probe.KAFKA:
            return
        if time.monotonic() >= deadline:
            raise BrokerStartError(
                f"the Kafka broker (pid {pid}) did not serve on {host}:{port} in time. "
                f"{_log_tails(data_dir)}"
            )
        time.sleep(0.25)


# ---------------------------------------------------------------------------- processes


def _running_pid(data_dir: Path) -> int | None:
    """The pid in the pid file, if that process is alive and is this data dir's broker."""
    try:
        pid = int((data_dir / _PID_FILE).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None
    if not _alive(pid):
        return None
    cmdline = _cmdline(pid)
    if cmdline is not None and (
        "kafka.Kafka" not in cmdline or f"-D{DATA_DIR_PROPERTY}={data_dir}" not in cmdline
    ):
        return None  # the pid was reused by an unrelated process
    return pid


def _cmdline(pid: int) -> list[str] | None:
    """The process's argv (Linux /proc), None where that is not available."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.decode(errors="replace").split("\0")


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _CHILDREN[pid]
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (dead, not yet reaped by its parent) does not count
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _stop_pid(pid: int, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() >= deadline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)  # the broker leads its own process group
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            end = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < end:
                time.sleep(0.1)
            return
        time.sleep(0.1)


def _remove_pid_file(data_dir: Path) -> None:
    (data_dir / _PID_FILE).unlink(missing_ok=True)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _configured_port(data_dir: Path) -> int | None:
    try:
        text = (data_dir / "server.properties").read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"^listeners=.*?PLAINTEXT://[^,\s]*:(\d+)", text, re.MULTILINE)
    return int(match.group(1)) if match else None


# ---------------------------------------------------------------------------- network


def _probe(host: str, port: int, *, patient: bool = False) -> _Probe:
    """FREE when nothing listens on host:port; KAFKA when it answers a Kafka ApiVersions request
    (which a broker only does once it processes requests); OTHER otherwise. ``patient``: before
    saying OTHER, try again for a few seconds (a broker that is still starting accepts connections
    before it answers)."""
    result = _probe_once(host, port)
    for _ in range(3 if patient else 0):
        if result is not _Probe.OTHER:
            break
        time.sleep(1.0)
        result = _probe_once(host, port)
    return result


def _probe_once(host: str, port: int, timeout: float = 2.0) -> _Probe:
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError:
        return _Probe.FREE
    with sock:
        correlation_id = 0x0C1C
        client_id = b"civicpulse-probe"
        # ApiVersions (key 18) v0 request header: api key, version, correlation id, client id.
        body = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
        try:
            sock.sendall(struct.pack(">i", len(body)) + body)
            head = _recv_exactly(sock, 8)
        except OSError:
            return _Probe.OTHER
        if head is None:
            return _Probe.OTHER
        size, echoed = struct.unpack(">ii", head)
        return _Probe.KAFKA if echoed == correlation_id and 6 <= size < 1 << 20 else _Probe.OTHER


def _recv_exactly(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _port_free(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return False
    except OSError:
        return True


def _port_taken_message(host: str, port: int, role: str) -> str:
    if role == "broker":
        what = "by a process that is not a Kafka broker (it did not answer a Kafka request)"
    else:
        what = "(the broker's controller port must be free too)"
    return (
        f"port {port} on {host} is taken {what}. Stop that process or pick another port; "
        f"`ss -ltnp 'sport = :{port}'` shows who holds it."
    )


# ---------------------------------------------------------------------------- logs


def _tail_text(text: str, lines: int) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _tail_file(path: Path, lines: int) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return _tail_text(text, lines)


def _log_tails(data_dir: Path, lines: int = 30) -> str:
    """What the broker printed since it was last started (WARN and worse, and JVM errors), else
    the end of server.log."""
    out = data_dir / "logs" / "kafka.out"
    since_start = _tail_file(out, 1000).rpartition(_START_MARKER)[2].partition("\n")[2].strip()
    if since_start:
        return f"Last lines of {out}:\n{_tail_text(since_start, lines)}"
    server_log = data_dir / "logs" / "server.log"
    tail = _tail_file(server_log, lines)
    return f"Last lines of {server_log}:\n{tail}" if tail else f"(nothing in {data_dir / 'logs'})"
