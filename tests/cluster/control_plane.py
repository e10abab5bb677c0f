"""A real Kubernetes control plane on loopback: etcd, kube-apiserver and kube-controller-manager.

`ControlPlane.start(workdir, binaries)` makes a certificate authority, serving and client
certificates and a service-account key pair (openssl), starts etcd and kube-apiserver on free
loopback ports, waits until each answers its health check, and writes an admin kubeconfig
(client certificate, group system:masters); `start_controllers()` then starts the
controller-manager. Every wait has a deadline: a component that
exits or does not become healthy in time raises `StartError` with the tail of its own log,
so a broken start fails loudly instead of hanging. `stop()` ends only the processes this
object started (and the kernel ends them too if the test process dies first).

The controller-manager runs the garbage collector and the namespace controller only: that
is what ownerReference cascades and namespace deletion need. No kubelet or scheduler runs,
so Pods never start.
"""

from __future__ import annotations

import ctypes
import json
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

_PR_SET_PDEATHSIG = 1
#: Every write is recorded (who, with which user agent, what, the answer's code): the tests count
#: the operator's requests from it. Reads are not recorded.
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
  - level: None
    verbs: [get, list, watch]
  - level: Metadata
"""


class StartError(Exception):
    """A component did not come up; the message carries the tail of its log."""


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel kills it when the test process goes away."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise StartError(f"openssl {' '.join(args)} failed:\n{result.stderr}")


@attrs.frozen
class Pki:
    """The files of a self-made PKI in one folder."""

    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    def cert(self, name: str) -> Path:
        return self.folder / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.folder / f"{name}.key"

    @classmethod
    def create(cls, folder: Path) -> Pki:
        folder.mkdir(parents=True, exist_ok=True)
        pki = cls(folder)
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
                 "-days", "30", "-subj", "/CN=aimcore-test-ca", cwd=folder)
        pki.issue("apiserver", "/CN=kube-apiserver",
                  alt_names="IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc", server=True)
        _openssl("genrsa", "-out", "service-account.key", "2048", cwd=folder)
        _openssl("rsa", "-in", "service-account.key", "-pubout", "-out", "service-account.pub", cwd=folder)
        return pki

    def issue(self, name: str, subject: str, *, alt_names: str | None = None, server: bool = False) -> None:
        """A key and a certificate signed by the CA: a serving one, or a client one for `subject`."""
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", subject, cwd=self.folder)
        usage = "serverAuth" if server else "clientAuth"
        lines = ["basicConstraints=CA:FALSE", "keyUsage=digitalSignature,keyEncipherment",
                 f"extendedKeyUsage={usage}"]
        if alt_names:
            lines.append(f"subjectAltName={alt_names}")
        (self.folder / f"{name}.ext").write_text("\n".join(lines) + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.crt", "-days", "30", "-extfile", f"{name}.ext",
                 cwd=self.folder)


@attrs.define
class Component:
    """One process we started: its command, its log file and its handle."""

    name: str
    command: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        handle = self.log.open("ab")
        try:
            self.process = subprocess.Popen(
                self.command, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        finally:
            handle.close()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def tail(self, lines: int = 60) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])


def wait_until(
    component: Component, healthy: Callable[[], bool], timeout: float, what: str
) -> None:
    """Poll `healthy` until it holds; raise with the component's log if it exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if not component.running():
            code = component.process.returncode if component.process else None
            raise StartError(f"{component.name} exited (code {code}) before {what}; its log "
                             f"({component.log}) ends:\n{component.tail()}")
        try:
            if healthy():
                return
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise StartError(f"{component.name} did not become {what} within {timeout:.0f} s; its log "
                             f"({component.log}) ends:\n{component.tail()}")
        time.sleep(0.25)


def _kubeconfig(server: str, pki: Pki, user: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "aimcore-test", "cluster": {
            "server": server, "certificate-authority": str(pki.ca_cert)}}],
        "users": [{"name": user, "user": {
            "client-certificate": str(pki.cert(user)), "client-key": str(pki.key(user))}}],
        "contexts": [{"name": user, "context": {"cluster": "aimcore-test", "user": user}}],
        "current-context": user,
    }


@attrs.define
class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager on loopback, and how to reach them."""

    workdir: Path
    binaries: Path
    pki: Pki
    etcd_url: str
    server: str
    kubeconfig: Path
    etcd: Component
    apiserver: Component
    controller_manager: Component

    @classmethod
    def start(cls, workdir: Path, binaries: Path) -> ControlPlane:
        workdir.mkdir(parents=True, exist_ok=True)
        pki = Pki.create(workdir / "pki")
        pki.issue("admin", "/O=system:masters/CN=aimcore-admin")
        etcd_port, peer_port, api_port, kcm_port = free_port(), free_port(), free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        audit_policy = workdir / "audit-policy.yaml"
        audit_policy.write_text(AUDIT_POLICY)
        server = f"https://127.0.0.1:{api_port}"
        etcd = Component("etcd", [
            str(binaries / "etcd"), "--name", "aimcore-test", "--data-dir", str(workdir / "etcd-data"),
            "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
            "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-cluster", f"aimcore-test=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync", "--log-level", "warn",
        ], workdir / "etcd.log")
        apiserver = Component("kube-apiserver", [
            str(binaries / "kube-apiserver"),
            "--etcd-servers", etcd_url,
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
            "--secure-port", str(api_port),
            "--tls-cert-file", str(pki.cert("apiserver")),
            "--tls-private-key-file", str(pki.key("apiserver")),
            "--client-ca-file", str(pki.ca_cert),
            "--service-account-issuer", "https://kubernetes.default.svc",
            "--service-account-key-file", str(workdir / "pki" / "service-account.pub"),
            "--service-account-signing-key-file", str(workdir / "pki" / "service-account.key"),
            "--service-cluster-ip-range", "10.96.0.0/24",
            "--authorization-mode", "RBAC",
            "--endpoint-reconciler-type", "none",  # no Service endpoints: nothing routes to loopback
            "--disable-admission-plugins", "ServiceAccount",
            "--enable-priority-and-fairness=false",
            "--profiling=false",
            "--audit-policy-file", str(audit_policy), "--audit-log-path", str(workdir / "audit.log"),
            "--audit-log-mode", "blocking", "--audit-log-maxsize", "0",
            "--v", "1",
        ], workdir / "kube-apiserver.log")
        kubeconfig = workdir / "admin.kubeconfig"
        kubeconfig.write_text(json.dumps(_kubeconfig(server, pki, "admin"), indent=2))
        controller_manager = Component("kube-controller-manager", [
            str(binaries / "kube-controller-manager"),
            "--kubeconfig", str(kubeconfig),
            "--authentication-kubeconfig", str(kubeconfig), "--authorization-kubeconfig", str(kubeconfig),
            "--controllers", "garbagecollector,namespace",
            "--leader-elect=false",
            "--bind-address", "127.0.0.1", "--secure-port", str(kcm_port),
            "--concurrent-gc-syncs", "5",
            "--v", "1",
        ], workdir / "kube-controller-manager.log")
        plane = cls(workdir, binaries, pki, etcd_url, server, kubeconfig, etcd, apiserver, controller_manager)
        try:
            etcd.start()
            wait_until(etcd, plane._etcd_healthy, 60, "healthy")
            plane.start_apiserver()
        except BaseException:
            plane.stop()
            raise
        return plane

    def start_controllers(self) -> None:
        """Start the controller-manager. The garbage collector looks for new resources only every
        30 s, so starting it after the CRDs are installed saves a test session that wait."""
        port = self.controller_manager.command[self.controller_manager.command.index("--secure-port") + 1]
        self.controller_manager.start()
        wait_until(self.controller_manager, lambda: _get_ok(f"https://127.0.0.1:{port}/healthz", None),
                   90, "healthy")

    def _etcd_healthy(self) -> bool:
        with urllib.request.urlopen(f"{self.etcd_url}/health", timeout=2) as response:
            return bool(json.loads(response.read()).get("health") == "true")

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        context.load_cert_chain(str(self.pki.cert("admin")), str(self.pki.key("admin")))
        return context

    def start_apiserver(self, timeout: float = 120.0) -> None:
        self.apiserver.start()
        wait_until(self.apiserver, lambda: _get_ok(f"{self.server}/readyz", self._tls()), timeout, "ready")

    def restart_apiserver(self, down_for: float = 0.0) -> None:
        """Stop the API server (watches break, requests fail) and start it again on the same port."""
        self.apiserver.stop()
        time.sleep(down_for)
        self.start_apiserver()

    def user_kubeconfig(self, user: str, groups: Sequence[str] = ()) -> Path:
        """A kubeconfig for a client certificate of `user` in `groups` (RBAC decides what it may do)."""
        subject = "".join(f"/O={group}" for group in groups) + f"/CN={user}"
        self.pki.issue(user, subject)
        path = self.workdir / f"{user}.kubeconfig"
        path.write_text(json.dumps(_kubeconfig(self.server, self.pki, user), indent=2))
        return path

    def audit(self) -> list[dict[str, Any]]:
        """Every write request so far, oldest first, as the API server's audit log has it."""
        path = self.workdir / "audit.log"
        if not path.exists():
            return []
        # The API server may be mid-way through writing the newest event: read whole lines only.
        complete = path.read_text().rpartition("\n")[0]
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def stop(self) -> None:
        for component in (self.controller_manager, self.apiserver, self.etcd):
            component.stop()

    def logs(self) -> str:
        return "\n\n".join(f"== {c.name} ({c.log})\n{c.tail(30)}"
                           for c in (self.etcd, self.apiserver, self.controller_manager))


def _get_ok(url: str, context: ssl.SSLContext | None) -> bool:
    if context is None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError:
        return False
