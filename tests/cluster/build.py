"""Build the Kubernetes control plane the real-cluster tests run on, or reuse a cached build.

    python tests/cluster/build.py            # prints the folder holding the binaries
    python tests/cluster/build.py --force    # build again even if the cache has them

kube-apiserver, kube-controller-manager and etcd are compiled from the Go modules pinned in
`tests/cluster/controlplane/go.mod` (one Kubernetes release and the etcd it requires). No
Kubernetes binary is packaged for PyPI or Debian, and downloading release binaries is not
possible here, so the Go module proxy is the source. The binaries are cached under
`$AIMCORE_CLUSTER_CACHE` (default `${XDG_CACHE_HOME:-~/.cache}/aimcore/controlplane`) in a
folder named for the versions and a hash of go.mod and go.sum: only the first run on a
machine pays for the build. Progress goes to stderr; the folder is the one line on stdout.

Standard library only: the fixture and `.ci/run` call it before anything else is set up.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MODULE = Path(__file__).resolve().parent / "controlplane"
#: Binary name -> the Go package it is built from.
COMMANDS = {
    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
    "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
    "etcd": "go.etcd.io/etcd/server/v3",
}


class BuildError(Exception):
    """The build failed or cannot start; the message says why, with the compiler's last words."""


def pinned_versions() -> tuple[str, str]:
    """The Kubernetes and etcd versions go.mod pins."""
    text = (MODULE / "go.mod").read_text()
    kube = re.search(r"^\s*k8s\.io/kubernetes (v\S+)", text, re.M)
    etcd = re.search(r"^\s*go\.etcd\.io/etcd/server/v3 (v\S+)", text, re.M)
    if not kube or not etcd:
        raise BuildError(f"{MODULE / 'go.mod'} does not pin k8s.io/kubernetes and go.etcd.io/etcd/server/v3")
    return kube.group(1), etcd.group(1)


def cache_root() -> Path:
    configured = os.environ.get("AIMCORE_CLUSTER_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aimcore" / "controlplane"


def build_dir() -> Path:
    """Where this pin's binaries live: versions for people, a hash of the module for exactness."""
    kube, etcd = pinned_versions()
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum"):
        digest.update((MODULE / name).read_bytes())
    return cache_root() / f"kubernetes-{kube}-etcd-{etcd}-{digest.hexdigest()[:12]}"


def cached() -> Path | None:
    """The folder of a complete earlier build, if there is one."""
    folder = build_dir()
    if (folder / "COMPLETE").is_file() and all((folder / name).is_file() for name in COMMANDS):
        return folder
    return None


def _say(message: str) -> None:
    print(f"[controlplane] {message}", file=sys.stderr, flush=True)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def build(force: bool = False) -> Path:
    """The folder holding kube-apiserver, kube-controller-manager and etcd, built if needed."""
    if not force and (found := cached()) is not None:
        return found
    go = shutil.which("go") or shutil.which("go", path="/usr/local/go/bin")
    if go is None:
        raise BuildError("the Go toolchain is not installed (no 'go' on PATH): it builds the control plane")
    kube, etcd = pinned_versions()
    target = build_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
    _say(f"building kube-apiserver and kube-controller-manager {kube} and etcd {etcd} from Go modules")
    _say(f"into {target}; the first build takes 15-30 minutes on two cores, later runs reuse it")
    minor = kube.lstrip("v").split(".")[1]
    version_flags = " ".join(
        f"-X k8s.io/component-base/version.{name}={value}"
        for name, value in (("gitVersion", kube), ("gitMajor", "1"), ("gitMinor", minor),
                            ("gitTreeState", "clean"))
    )
    command = [go, "build", "-v", "-trimpath", f"-ldflags=-s -w {version_flags}", "-o", str(staging) + "/",
               *COMMANDS.values()]
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly -buildvcs=false"}
    started = time.monotonic()
    try:
        _run_with_progress(command, env, started)
        # A main package is named for its path's last element without a major-version suffix.
        os.replace(staging / "server", staging / "etcd")
        for name in COMMANDS:
            if not (staging / name).is_file():
                raise BuildError(f"the build finished but left no {name} in {staging}")
        (staging / "COMPLETE").write_text(f"kubernetes {kube}\netcd {etcd}\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    _say(f"built in {_clock(time.monotonic() - started)}: {target}")
    return target


def _run_with_progress(command: list[str], env: dict[str, str], started: float) -> None:
    """Run `go build -v`, turning its one-line-per-package output into a progress line every 30 s."""
    process = subprocess.Popen(command, cwd=MODULE, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines: list[str] = []
    done = threading.Event()

    def report() -> None:
        while not done.wait(30):
            last = lines[-1] if lines else "resolving modules"
            _say(f"{_clock(time.monotonic() - started)}: {len(lines)} packages compiled (last: {last})")

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    try:
        for line in process.stdout:
            lines.append(line.strip())
    finally:
        done.set()
        code = process.wait()
    if code != 0:
        tail = "\n".join(lines[-40:])
        raise BuildError(f"go build failed (exit {code}); its last output:\n{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="build even when the cache has the binaries")
    args = parser.parse_args(argv)
    try:
        folder = cached() if not args.force else None
        if folder is not None:
            _say(f"reusing the cached build in {folder}")
        else:
            folder = build(force=args.force)
    except BuildError as err:
        _say(f"error: {err}")
        return 1
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
