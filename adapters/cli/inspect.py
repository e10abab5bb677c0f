"""`aimcore inspect IMAGE [--pull-secret FILE]`: read an image's labels, show its metadata."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

import yaml

from aimcore import codec
from aimcore.adapters.registry.client import RegistryClient
from aimcore.adapters.registry.credentials import (
    CredentialsError,
    Keyring,
    config_from_secret,
    parse_docker_config,
)
from aimcore.facts import InspectFailure
from aimcore.labels import MalformedLabel, parse_image_metadata


def _keyring(path: str | None) -> Keyring:
    """A Secret manifest (YAML or JSON) or a docker config.json."""
    if path is None:
        return Keyring(())
    text = Path(path).read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    if isinstance(document, dict) and document.get("kind") == "Secret":
        return Keyring((config_from_secret(document),))
    return Keyring((parse_docker_config(text, source=path),))


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        keyring = _keyring(args.pull_secret)
    except (OSError, yaml.YAMLError, CredentialsError) as problem:
        print(f"aimcore inspect: cannot read --pull-secret {args.pull_secret}: {problem}", file=err)
        return 1
    client = RegistryClient(insecure_registries=args.insecure_registry or ())
    try:
        result = client.inspect(args.image, keyring)
    finally:
        client.close()
    if isinstance(result, InspectFailure):
        print(f"aimcore inspect: {result.kind.value}: {result.message}", file=err)
        return 1
    try:
        metadata = parse_image_metadata(result)
    except MalformedLabel as problem:
        print(f"aimcore inspect: {args.image}: {problem}", file=err)
        return 1
    dumped = codec.dump(metadata)
    report: dict[str, Any] = {"image": args.image, "digest": result.digest, "imageMetadata": dumped}
    if args.output == "json":
        out.write(json.dumps(report, indent=2) + "\n")
    elif args.output == "yaml":
        out.write(yaml.safe_dump(report, sort_keys=False))
    else:
        model = dumped.get("model") or {}
        rows = [
            ("image", args.image),
            ("digest", result.digest or "-"),
            ("canonical name", model.get("canonicalName") or "-"),
            ("base image", dumped.get("baseImageRef") or "-"),
        ]
        for row in rows:
            out.write(f"{row[0]:<16}{row[1]}\n")
        deployments = model.get("recommendedDeployments") or []
        out.write(f"{'deployments':<16}{len(deployments)}\n")
        for d in deployments:
            parts = [
                f"{d.get('gpuCount', '?')} x {d.get('gpuModel', '?')}",
                d.get("metric"),
                d.get("precision"),
            ]
            out.write("  - " + ", ".join(str(p) for p in parts if p) + "\n")
    return 0


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "inspect", help="read an image's labels from its registry, show its metadata"
    )
    parser.add_argument("image", metavar="IMAGE")
    parser.add_argument("--pull-secret", metavar="FILE", help="a Secret manifest or a docker config.json")
    parser.add_argument(
        "--insecure-registry", action="append", metavar="HOST", help="also use plain HTTP for this registry"
    )
    parser.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table")
    parser.set_defaults(run=run)
