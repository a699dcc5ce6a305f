"""Hosts of their own on one machine, for end-to-end tests: network namespaces joined to the root one by
veth pairs, a Redis on a Unix socket, and nginx with the production guide's config (deploy/nginx/).

Every part is registered on an `ExitStack` the moment it exists, so a failing test still removes it.
Names carry the test process's id: two runs at once do not collide, and a run killed before its
cleanup is swept by the next one (`sweep_stale`). Traffic stays on loopback and on the veth pairs.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.e2e.live import ROOT, free_port

NGINX_SITE = ROOT / "deploy" / "nginx" / "mosaic.conf"
TOOLS = ("ip", "nginx", "redis-server", "curl")
NETWORK = ipaddress.IPv4Network("10.231.0.0/16")  # carved into /30s, one per host
NAMESPACE_PREFIX = "mosaic-e2e-"
VETH_PREFIX = "mze"  # veth names: at most 15 characters, so mze<pid>r<n> and mze<pid>n<n>
COMMAND_TIMEOUT_S = 30.0
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0
_PLACEHOLDER = re.compile(r"@[A-Z_]+@")
# ip and nginx live in sbin, which a non-login shell's PATH may leave out
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def tool(name: str) -> str:
    """The program's full path (`name` itself if it is not found: the command then fails, naming it)."""
    return shutil.which(name, path=_SEARCH_PATH) or name


def require_tools() -> None:
    """Fail (never skip) when the machine cannot run hosts of their own, naming what sets it up."""
    missing = [name for name in TOOLS if shutil.which(name, path=_SEARCH_PATH) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run scripts/services (it installs them)", pytrace=False)
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root (ip netns add); run the tests as root", pytrace=False)
    netns = subprocess.run([tool("ip"), "netns", "list"], check=False, capture_output=True, text=True, timeout=10)
    if netns.returncode != 0:
        pytest.fail(f"`ip netns` does not work ({netns.stderr.strip()}): run scripts/services (iproute2)", pytrace=False)


def run(*command: str) -> str:
    command = (tool(command[0]), *command[1:])
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


@dataclass(frozen=True, slots=True)
class Namespace:
    """A network namespace and the veth pair to it: `address` inside, `gateway` on the root side."""

    name: str
    veth: str  # the root side's end
    address: str
    gateway: str

    @property
    def exec_prefix(self) -> tuple[str, ...]:
        return (tool("ip"), "netns", "exec", self.name)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale() -> None:
    """Remove namespaces and veths left by a run that was killed before its cleanup (its pid is gone)."""
    for line in run("ip", "netns", "list").splitlines():
        name = line.split()[0] if line.split() else ""
        found = re.fullmatch(rf"{NAMESPACE_PREFIX}(\d+)-\d+", name)
        if found and not _pid_alive(int(found.group(1))):
            run("ip", "netns", "delete", name)
    for line in run("ip", "-o", "link", "show").splitlines():
        found = re.search(rf"^\d+: ({VETH_PREFIX}(\d+)r\d+)@", line)
        if found and not _pid_alive(int(found.group(2))):
            run("ip", "link", "delete", found.group(1))


def _subnets_in_use() -> list[ipaddress.IPv4Network]:
    used = []
    for line in run("ip", "-o", "-4", "addr", "show").splitlines() + run("ip", "-4", "route").splitlines():
        for text in re.findall(r"(\d+\.\d+\.\d+\.\d+(?:/\d+)?)", line):
            net = ipaddress.ip_network(text, strict=False)
            if isinstance(net, ipaddress.IPv4Network):
                used.append(net)
    return used


def _free_subnets(count: int) -> list[ipaddress.IPv4Network]:
    """`count` /30s of NETWORK no interface or route uses, starting at an offset drawn from our pid."""
    used = _subnets_in_use()
    subnets = list(NETWORK.subnets(new_prefix=30))
    start = (os.getpid() * 7) % len(subnets)
    free = []
    for n in range(len(subnets)):
        subnet = subnets[(start + n) % len(subnets)]
        if not any(subnet.overlaps(other) for other in used):
            free.append(subnet)
            if len(free) == count:
                return free
    raise AssertionError(f"no {count} free /30 networks in {NETWORK}")


def make_namespaces(stack: ExitStack, count: int) -> list[Namespace]:
    """`count` namespaces, each with lo up and a veth pair to the root namespace (a /30 each)."""
    sweep_stale()
    made = []
    for index, subnet in enumerate(_free_subnets(count), start=1):
        name = f"{NAMESPACE_PREFIX}{os.getpid()}-{index}"
        veth, peer = f"{VETH_PREFIX}{os.getpid()}r{index}", f"{VETH_PREFIX}{os.getpid()}n{index}"
        gateway, address = (str(host) for host in subnet.hosts())
        run("ip", "netns", "add", name)
        stack.callback(_delete_namespace, name, veth)
        run("ip", "link", "add", veth, "type", "veth", "peer", "name", peer)
        run("ip", "link", "set", peer, "netns", name)
        run("ip", "addr", "add", f"{gateway}/30", "dev", veth)
        run("ip", "link", "set", veth, "up")
        inside = ("ip", "netns", "exec", name, tool("ip"))
        run(*inside, "link", "set", "lo", "up")
        run(*inside, "addr", "add", f"{address}/30", "dev", peer)
        run(*inside, "link", "set", peer, "up")
        made.append(Namespace(name, veth, address, gateway))
    return made


def _delete_namespace(name: str, veth: str) -> None:
    """Delete the namespace (its end of the veth pair goes with it, and so the other end)."""
    with contextlib.suppress(AssertionError):
        run("ip", "link", "delete", veth)  # gone already if the namespace went first
    run("ip", "netns", "delete", name)
    left = [line for line in run("ip", "netns", "list").splitlines() if line.split()[:1] == [name]]
    assert not left, f"namespace {name} is still there after its deletion"


def work_directory(stack: ExitStack) -> Path:
    """A directory for sockets, nginx's files and logs. Short (a Unix socket's path has at most 107
    bytes, pytest's tmp_path may be longer) and open to nginx's workers (www-data)."""
    path = Path(tempfile.mkdtemp(prefix="mosaic-hosts-"))
    path.chmod(0o755)
    stack.callback(shutil.rmtree, path, ignore_errors=True)
    return path


def _stop(process: subprocess.Popen[bytes], stop_signal: int) -> None:
    if process.poll() is None:
        process.send_signal(stop_signal)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT_S)
    with contextlib.suppress(ProcessLookupError):  # what is left of its group (nginx's workers)
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=STOP_TIMEOUT_S)


def start_redis(stack: ExitStack, directory: Path) -> str:
    """A redis-server of this test's own on a Unix socket, no TCP port: namespaces share the file
    system, so every host reaches it. Returns its `limits` storage URI."""
    sock = directory / "redis.sock"
    process = subprocess.Popen(
        [
            tool("redis-server"), "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
            "--save", "", "--appendonly", "no", "--dir", str(directory),
            "--logfile", str(directory / "redis.log"),
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    stack.callback(_stop, process, signal.SIGTERM)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, (directory / "redis.log").read_text(errors="replace")
        with contextlib.suppress(redis.exceptions.ConnectionError, FileNotFoundError):
            if redis.Redis(unix_socket_path=str(sock), socket_timeout=1.0).ping():
                return f"redis+unix://{sock}"
        time.sleep(0.05)  # waiting for a process to listen
    raise AssertionError("redis-server did not start")


def render_site(upstreams: list[str], *, listen: str, internal_network: str, access_log: Path) -> str:
    """deploy/nginx/mosaic.conf with its placeholders filled in, as the guide says: the @UPSTREAM@
    line once per host."""
    lines = []
    for line in NGINX_SITE.read_text().splitlines():
        if line.lstrip().startswith("#"):
            lines.append(line)  # the comments name the placeholders
        elif "@UPSTREAM@" in line:
            lines.extend(line.replace("@UPSTREAM@", upstream) for upstream in upstreams)
        else:
            lines.append(
                line.replace("@LISTEN@", listen)
                .replace("@INTERNAL_NETWORK@", internal_network)
                .replace("@ACCESS_LOG@", str(access_log))
            )
    site = "\n".join(lines) + "\n"
    code = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    assert not _PLACEHOLDER.search(code), f"a placeholder is left: {_PLACEHOLDER.search(code)}"
    return site


def _main_conf(directory: Path, site: Path) -> str:
    """What Debian's /etc/nginx/nginx.conf provides around a conf.d file, with every path in `directory`."""
    temp = "\n".join(
        f"    {kind}_temp_path {directory / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""user www-data;
worker_processes 1;
pid {directory / 'nginx.pid'};
error_log {directory / 'nginx-error.log'} info;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
{temp}
    include {site};
}}
"""


@dataclass(frozen=True, slots=True)
class Nginx:
    port: int
    access_log: Path
    error_log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_nginx(stack: ExitStack, directory: Path, upstreams: list[str], *, internal_network: str) -> Nginx:
    """nginx in the root namespace on 127.0.0.1:<free port>, proxying to `upstreams` with the guide's
    site config; in the foreground (daemon off), so it is our child and stops with the test."""
    port = free_port()
    nginx = Nginx(port, directory / "nginx-access.log", directory / "nginx-error.log")
    site = directory / "mosaic.conf"
    site.write_text(
        render_site(upstreams, listen=f"127.0.0.1:{port}", internal_network=internal_network,
                    access_log=nginx.access_log)
    )
    conf = directory / "nginx.conf"
    conf.write_text(_main_conf(directory, site))
    command = [tool("nginx"), "-e", str(nginx.error_log), "-p", str(directory), "-c", str(conf)]
    run(*command, "-t")  # a config nginx refuses fails here, with nginx's message
    process = subprocess.Popen(
        [*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    stack.callback(_stop, process, signal.SIGQUIT)  # QUIT: finish what is in flight, then stop
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, nginx.error_log.read_text(errors="replace")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return nginx
        time.sleep(0.05)  # waiting for a process to listen
    raise AssertionError(f"nginx did not start: {nginx.error_log.read_text(errors='replace')}")
