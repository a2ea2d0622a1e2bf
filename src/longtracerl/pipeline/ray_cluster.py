"""Joining a Ray cluster: connect to the one the user names, start a local one only without an address.

The address comes from ``executor.ray.address`` (``--ray-address``), else ``$RAY_ADDRESS``; an address that
does not answer is reported in one line within ``connect_timeout`` seconds (a TCP probe before ``ray.init``,
which would otherwise retry for a long time). The project reaches the workers the Ray way: a runtime_env
whose ``py_modules`` holds this very ``longtracerl`` package (so workers run the driver's code, whatever is
installed on the nodes), plus the user's own runtime_env entries.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
from pathlib import Path
from typing import Any

from longtracerl.config import RaySettings


class RayConnectError(RuntimeError):
    """The Ray cluster named by the user cannot be reached."""


def resolve_address(rs: RaySettings) -> str | None:
    """``executor.ray.address``, else ``$RAY_ADDRESS``, else None (start a local Ray)."""
    return rs.address or os.environ.get("RAY_ADDRESS") or None


def _host_port(address: str) -> tuple[str, int] | None:
    if address in ("auto", "local"):
        return None
    client = address.startswith("ray://")
    rest = address.split("://", 1)[-1].rstrip("/")
    host, _, port = rest.rpartition(":")
    if not host:
        host, port = rest, ""
    try:
        return host.strip("[]"), int(port) if port else (10001 if client else 6379)
    except ValueError:
        raise RayConnectError(f"bad Ray address {address!r}: expected HOST:PORT, ray://HOST:PORT or auto") from None


def check_reachable(address: str, timeout: float) -> None:
    """Raise ``RayConnectError`` unless something listens at the address (no hang: ``timeout`` seconds)."""
    hp = _host_port(address)
    if hp is None:
        return
    try:
        with socket.create_connection(hp, timeout=timeout):
            pass
    except OSError as e:
        raise RayConnectError(
            f"cannot reach the Ray cluster at {address} ({e.strerror or type(e).__name__}); start one with "
            "`ray start --head` or fix --ray-address / RAY_ADDRESS / executor.ray.address") from None


@functools.cache
def package_fingerprint() -> str:
    """sha256 over this package's Python sources: equal on driver and workers when they run the same code.

    Computed once per process (the driver: when it ships the package), so edits on disk during a run do not
    count as another version.
    """
    import longtracerl

    root = Path(longtracerl.__file__).parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def runtime_env(rs: RaySettings) -> dict[str, Any]:
    """The user's runtime_env plus, with ``ship_code``, this package as a py_module."""
    import longtracerl

    env: dict[str, Any] = {k: (list(v) if isinstance(v, list) else v) for k, v in rs.runtime_env.items()}
    if rs.ship_code:
        pkg = str(Path(longtracerl.__file__).parent)
        env["py_modules"] = [pkg, *[m for m in env.get("py_modules", []) if m != pkg]]
        env.setdefault("excludes", ["__pycache__", "*.pyc"])
    return env


def connect(rs: RaySettings) -> dict[str, Any]:
    """Join (or start) Ray once per process; returns what the report shows (address, nodes, CPUs)."""
    try:
        import ray
    except ImportError:
        raise RayConnectError("--executor ray needs Ray: pip install 'longtracerl[ray]'") from None

    address = resolve_address(rs)
    shipped = "job runtime_env (Ray was started by the caller)"
    if not ray.is_initialized():
        # local directories in py_modules can only be uploaded at the job level, i.e. here
        env = runtime_env(rs)
        package_fingerprint()  # of the code shipped now
        kw: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, configure_logging=False,
                                  runtime_env=env or None)
        shipped = "py_modules (this package)" if rs.ship_code else "installed on the nodes"
        if address is not None:
            check_reachable(address, rs.connect_timeout)
            try:
                ray.init(address=address, **kw)
            except (ConnectionError, RuntimeError) as e:
                raise RayConnectError(f"cannot join the Ray cluster at {address}: {str(e).splitlines()[0]}") from None
        else:
            ray.init(num_cpus=rs.local_cpus or os.cpu_count() or 1, **kw)
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    cpus = sum(float(n.get("Resources", {}).get("CPU", 0)) for n in nodes)
    return {"address": address or "local", "nodes": len(nodes), "cpus": cpus, "code": shipped}
