"""The image facts file: what a registry would answer, so no registry is needed.

A mapping from image reference to `{config: {Labels, Env}, digest, dryRun}` or to
`{error: unauthorized | not-found | unreachable | registry-error | malformed}`.
References are matched after normalisation. An image the file does not list is
treated as not found in its registry. `dryRun` is what the image prints in dry-run mode
(D28): a list of result objects (`dry-run --format=json`), or a string taken as the raw log.
`startFailure` says why the image's server does not start (the simulated InferenceService then
stays not Ready with that message); without it the server starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aimcore.adapters.files.manifests import Located, read_documents
from aimcore.facts import FailureKind, ImageFacts, InspectFailure, InspectResult
from aimcore.images import InvalidImageReference, normalize_image
from aimcore.snapshot import InspectKey

ERRORS = {kind.value: kind for kind in FailureKind}


class ImageFactsFile:
    """Answers inspections from a file; every answer is known before any is asked."""

    def __init__(
        self, entries: Mapping[str, InspectResult], source: str,
        dry_runs: Mapping[str, list[dict[str, Any]] | str] | None = None,
        start_failures: Mapping[str, str] | None = None,
    ) -> None:
        self.entries = dict(entries)
        self.source = source
        #: Normalised image -> its dryRun entry, for the simulated discovery Job runner.
        self.dry_runs = dict(dry_runs or {})
        #: Normalised image -> why its server does not start, for the simulated KServe.
        self.start_failures = dict(start_failures or {})

    def dry_run(self, image: str) -> list[dict[str, Any]] | str | None:
        """The image's dryRun entry (matched after normalisation, as inspections are); None without one."""
        try:
            return self.dry_runs.get(normalize_image(image))
        except InvalidImageReference:
            return None

    def start_failure(self, image: str) -> str | None:
        """Why the image's server does not start (its startFailure); None when it starts."""
        try:
            return self.start_failures.get(normalize_image(image))
        except InvalidImageReference:
            return None

    def inspect(self, request: InspectKey) -> InspectResult:
        found = self.entries.get(request.image)
        if found is not None:
            return found
        return InspectFailure(
            FailureKind.NOT_FOUND,
            f"image {request.image} is not listed in the image facts file {self.source}",
        )


def load_image_facts(path: str) -> tuple[ImageFactsFile, list[Located]]:
    """Read the file; every malformed entry is a problem with its line, never a traceback."""
    from pathlib import Path as FsPath

    problems: list[Located] = []
    entries: dict[str, InspectResult] = {}
    dry_runs: dict[str, list[dict[str, Any]] | str] = {}
    start_failures: dict[str, str] = {}
    file = FsPath(path)
    if not file.is_file():
        return ImageFactsFile({}, path), [Located(path, 0, "", "no such file")]
    for doc in read_documents([file]):
        if isinstance(doc, Located):
            problems.append(doc)
            continue
        if not isinstance(doc.data, dict):
            problems.append(
                Located(path, doc.line, "", "the image facts file must be a mapping of image references")
            )
            continue
        for ref, entry in doc.data.items():
            line = doc.line_of((ref,))
            result, message = _entry(str(ref), entry)
            if message:
                problems.append(Located(path, line, str(ref), message))
                continue
            try:
                key = normalize_image(str(ref))
            except InvalidImageReference as err:
                problems.append(Located(path, line, str(ref), f"not an image reference: {err}"))
                continue
            if result is not None:
                entries[key] = result
            if isinstance(entry, dict) and "dryRun" in entry:
                dry_run = entry["dryRun"]
                if isinstance(dry_run, str) or (
                    isinstance(dry_run, list) and all(isinstance(item, dict) for item in dry_run)
                ):
                    dry_runs[key] = dry_run
                else:
                    problems.append(Located(path, doc.line_of((ref, "dryRun")), f"{ref}.dryRun",
                                            "must be a list of dry-run result objects, or a string "
                                            "(the raw log)"))
            if isinstance(entry, dict) and "startFailure" in entry:
                failure = entry["startFailure"]
                if isinstance(failure, str) and failure.strip():
                    start_failures[key] = failure.strip()
                else:
                    problems.append(Located(
                        path, doc.line_of((ref, "startFailure")), f"{ref}.startFailure",
                        "must be a non-empty string: why the image's server does not start"))
    return ImageFactsFile(entries, path, dry_runs, start_failures), problems


def _entry(ref: str, entry: Any) -> tuple[InspectResult | None, str]:
    if not isinstance(entry, dict):
        return None, "must be a mapping with config (and optionally digest), or error"
    unknown = sorted(set(entry) - {"config", "digest", "error", "dryRun", "startFailure"})
    if unknown:
        return None, (f"unknown key(s) {', '.join(unknown)}: expected config, digest, dryRun, startFailure "
                      "or error")
    if "error" in entry:
        kind = ERRORS.get(str(entry["error"]))
        if kind is None:
            return None, f"error {entry['error']!r} is not one of {', '.join(ERRORS)}"
        return InspectFailure(kind, _error_message(kind, ref)), ""
    config = entry.get("config") or {}
    if not isinstance(config, dict):
        return None, "config must be a mapping (the image config: Labels, Env)"
    labels = config.get("Labels") or {}
    env = config.get("Env") or []
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        return None, "config.Labels must map label names to strings"
    if not isinstance(env, list) or not all(isinstance(v, str) for v in env):
        return None, "config.Env must be a list of NAME=value strings"
    digest = entry.get("digest")
    if digest is not None and not isinstance(digest, str):
        return None, "digest must be a string such as sha256:0123..."
    return ImageFacts(labels={str(k): v for k, v in labels.items()}, env=tuple(env), digest=digest), ""


def _error_message(kind: FailureKind, ref: str) -> str:
    return {
        FailureKind.UNAUTHORIZED: f"the registry refused access to {ref} (unauthorized)",
        FailureKind.NOT_FOUND: f"image {ref} was not found in its registry",
        FailureKind.UNREACHABLE: f"the registry of {ref} could not be reached",
        FailureKind.REGISTRY_ERROR: f"the registry of {ref} answered with a server error",
        FailureKind.MALFORMED: f"the registry's answer for {ref} could not be read",
    }[kind]
