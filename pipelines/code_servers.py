"""Every platform's code server started side by side, sharing one process's imports and catalogue.

A workspace of ``python_module`` locations makes Dagster start one code server per location, one after
another, each importing Dagster and the project and loading the whole catalogue again before it builds
its own platform: 15 platforms of a 5,000-item province took over a minute and a half before the webserver
answered. Here one process pays the imports and the catalogue once, then forks a ``dagster api grpc``
server per platform (``pipelines.locations``), which builds only its own definitions and serializes its
snapshot before it answers (Dagster's server would make it on each request, and the webserver asks one
location after another). The workspace it writes names them as ``grpc_server`` locations, the deployment
Dagster documents for code that is not reloaded with the webserver. A code server started this way does
not reload code: restart it (``python -m pipelines code-servers``) to load an edited catalogue.

gRPC must not be running in a process that forks, so the parent forks every server before it opens any
connection, and learns that a server is up from its port accepting one (Dagster binds the port only once
the location is loaded).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CodeServer:
    location: str
    host: str
    port: int
    pid: int


class CodeServerFailed(RuntimeError):
    """A code server exited before its port opened (its own log, on standard error, says why)."""


def workspace(servers: Sequence[CodeServer]) -> dict[str, Any]:
    """A workspace.yaml document naming the running servers."""
    return {"load_from": [{"grpc_server": {"host": s.host, "port": s.port, "location_name": s.location}}
                          for s in servers]}


def free_ports(count: int, host: str) -> list[int]:
    """Ports nothing listens on now, all held at once so that no two are the same."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((host, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def preload() -> None:
    """What every server would otherwise pay on its own: Dagster's code-server modules, the project's and
    the catalogue (``pipelines.definitions`` keeps it for the forked servers, keyed by the files)."""
    import dagster._cli.api
    import dagster._grpc.server

    import pipelines.locations  # noqa: F401
    from pipelines.definitions import import_builders, settings_catalogue

    import_builders()
    settings_catalogue()
    if os.environ.get("DAGSTER_HOME"):
        import dagster as dg

        # each server opens the instance as it starts: made here once, since servers creating its SQLite
        # files at the same moment collide ("table secondary_indexes already exists")
        with dg.DagsterInstance.get():
            pass


def _snapshot_made_before_serving() -> None:
    """The server serializes its repository's snapshot once, as it loads, and answers the webserver with it.

    Dagster's server makes the snapshot on each request for it, and the webserver asks one location after
    another: 15 platforms' snapshots were made one at a time, 8.6 s CPU of the webserver's 18 s wait. Made
    while the servers start side by side, they cost the same CPU on both cores at once. The snapshot cannot
    change afterwards: a ``dagster api grpc`` server never reloads its code. Installed in the forked child only,
    where ``dagster api grpc`` looks the server class up by name as it starts."""
    import dagster._grpc.server as server_module
    from dagster._core.remote_origin import RemoteRepositoryOrigin
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster_shared.serdes import deserialize_value, serialize_value

    class SnapshotOnceApiServer(server_module.DagsterApiServer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            loaded = self._loaded_repositories
            self._deferred_snapshots = {
                name: serialize_value(RepositorySnap.from_def(definition, defer_snapshots=True))
                for name, definition in (loaded.definitions_by_name.items() if loaded else ())}

        def _get_serialized_external_repository_data(self, request: Any) -> str:
            if request.defer_snapshots:  # what the webserver asks for
                origin = deserialize_value(request.serialized_repository_python_origin, RemoteRepositoryOrigin)
                if origin.repository_name in self._deferred_snapshots:
                    return self._deferred_snapshots[origin.repository_name]
            return super()._get_serialized_external_repository_data(request)

    server_module.DagsterApiServer = SnapshotOnceApiServer  # type: ignore[misc]


def _serve(location: str, host: str, port: int) -> None:
    """In the forked child: Dagster's own ``dagster api grpc`` for one platform's location."""
    from dagster._cli.api import api_cli

    from pipelines.locations import __name__ as module
    from pipelines.locations import location_attribute

    _stop_with_parent()
    _snapshot_made_before_serving()
    # Dagster maps SIGTERM to the SIGINT handler; inherited, SIGINT may be ignored (started with &) or the
    # parent's. A Ctrl-C reaches parent and servers both and the parent then stops them too: one is enough.
    signal.signal(signal.SIGINT, _interrupt_once)
    code = 0
    try:
        api_cli.main(["grpc", "--module-name", module, "--attribute", location_attribute(location),
                      "--host", host, "--port", str(port), "--location-name", location], standalone_mode=False)
    except BaseException as exc:
        code = exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) else 1
        if not isinstance(exc, (SystemExit, KeyboardInterrupt)):
            import traceback

            traceback.print_exc()
            code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _stop_with_parent() -> None:
    """On Linux, SIGTERM to the server should its parent die without stopping it (killed, say): no code
    server outlives the command that started it."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: stopped by the parent only


_interrupted: list[int] = []


def _interrupt_once(signum: int, frame: Any) -> None:
    """The first SIGINT or SIGTERM stops the server; later ones would break its shutdown half way."""
    if not _interrupted:
        _interrupted.append(signum)
        raise KeyboardInterrupt


def fork_servers(locations: Sequence[str], host: str = "127.0.0.1") -> list[CodeServer]:
    """One forked ``dagster api grpc`` per location; returns at once, before they answer."""
    servers = []
    for location, port in zip(locations, free_ports(len(locations), host), strict=True):
        pid = os.fork()
        if pid == 0:
            _serve(location, host, port)
        servers.append(CodeServer(location, host, port, pid))
    return servers


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def wait_until_up(servers: Sequence[CodeServer], timeout: float = 600.0,
                  progress: Callable[[CodeServer, int, int], None] | None = None) -> None:
    """Until every server's port accepts a connection; a server that exits first fails it, naming it."""
    waiting = list(servers)
    deadline = time.monotonic() + timeout
    while waiting:
        for server in list(waiting):
            exited, status = os.waitpid(server.pid, os.WNOHANG)
            if exited:
                raise CodeServerFailed(f"the code server of {server.location} exited "
                                       f"({_describe(status)}) before it answered on port {server.port}")
            if _accepts(server.host, server.port):
                waiting.remove(server)
                if progress:
                    progress(server, len(servers) - len(waiting), len(servers))
        if waiting and time.monotonic() > deadline:
            raise CodeServerFailed(f"not up after {timeout:.0f} s: {', '.join(s.location for s in waiting)}")
        if waiting:
            time.sleep(0.2)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def stop(servers: Sequence[CodeServer], grace: float = 30.0) -> None:
    """SIGTERM to each (Dagster's server shuts down on it), then SIGKILL to any still there after ``grace``."""
    alive = {s.pid for s in servers}
    for pid in alive:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        for pid in list(alive):
            if _reaped(pid):
                alive.discard(pid)
        time.sleep(0.1)
    for pid in alive:
        _signal(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _signal(pid: int, signum: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signum)


def _reaped(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return True


@contextmanager
def running(locations: Sequence[str], host: str = "127.0.0.1", timeout: float = 600.0,
            progress: Callable[[CodeServer, int, int], None] | None = None) -> Iterator[list[CodeServer]]:
    """The servers of ``locations``, up, for the block; stopped after it however it ends."""
    preload()
    servers = fork_servers(locations, host)
    try:
        wait_until_up(servers, timeout, progress)
        yield servers
    finally:
        stop(servers)


@contextmanager
def written_workspace(servers: Sequence[CodeServer], path: Path) -> Iterator[Path]:
    """The workspace naming ``servers`` at ``path`` for the block, removed after it: it names ports that are
    closed once the servers stop."""
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# written by `python -m pipelines code-servers`: valid while those servers run\n"
                    + yaml.safe_dump(workspace(servers), sort_keys=False), encoding="utf-8")
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
