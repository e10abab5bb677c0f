"""Read manifests from files and directories, keeping where every field was written.

The core reports problems by field path; this adapter turns a path back into
the file and line the user should open.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path as FsPath
from typing import Any

import attrs
import yaml

from aimcore import resources as r
from aimcore.validation import Path, Problem, check_document, check_update, render_path

SUFFIXES = (".yaml", ".yml", ".json")


@attrs.frozen
class Located:
    """A problem or note with the file and line it belongs to."""

    file: str
    line: int
    path: str
    message: str

    def render(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def render_note(self) -> str:
        """A note as the commands print it: `FILE:LINE: note: PATH: MESSAGE`."""
        where = f"{self.file}:{self.line}: note"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "path": self.path, "message": self.message}


@attrs.frozen
class Document:
    file: str
    line: int
    data: Any
    lines: dict[Path, int]
    #: Where `data` sits in the document read: () for a whole document, ("items", i) for an
    #: item of a `kind: List`; paths are relative to `data` and shown from the document's root.
    prefix: Path = ()

    def line_of(self, path: Path) -> int:
        """The line of the deepest part of `path` that the document actually has."""
        path = (*self.prefix, *path)
        for end in range(len(path), 0, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return self.line

    def locate(self, problem: Problem) -> Located:
        path = (*self.prefix, *problem.path)
        return Located(self.file, self.line_of(problem.path), render_path(path), problem.message)

    def items(self) -> Iterator[Document]:
        """The document itself, or each item of a `kind: List` (as `kubectl get -o yaml` prints)."""
        data = self.data
        if not (isinstance(data, dict) and data.get("kind") == "List" and data.get("apiVersion") == "v1"
                and isinstance(data.get("items"), list)):
            yield self
            return
        for i, item in enumerate(data["items"]):
            prefix = (*self.prefix, "items", i)
            yield Document(self.file, self.lines.get(prefix, self.line), item, self.lines, prefix)


@attrs.frozen
class Catalog:
    """Everything read from the inputs: sound objects, problems and notes."""

    objects: tuple[tuple[r.Resource, Document], ...]
    problems: tuple[Located, ...]
    notes: tuple[Located, ...]
    #: Secret manifests as written, for adapters that need credentials; never shown.
    secret_documents: tuple[dict[str, Any], ...]
    documents: int
    #: Node name -> labels, from `kind: Node` documents (D28); None when there were none.
    nodes: Mapping[str, Mapping[str, str]] | None = None
    #: InferenceService and HTTPRoute documents (a state `simulate` printed, fed back to `plan`).
    workloads: tuple[dict[str, Any], ...] = ()


def _index(
    node: yaml.Node, path: Path, lines: dict[Path, int], problems: list[tuple[Path, int, str]]
) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            child = (*path, key)
            if key in seen:
                problems.append(
                    (child, key_node.start_mark.line + 1, f"key {key!r} appears twice in this mapping")
                )
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _index(value_node, child, lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            _index(item, (*path, i), lines, problems)


def _documents(text: str, file: str) -> Iterator[Document | Located]:
    """libyaml reads well-formed text five times faster; PyYAML's own loader, which names
    the offending character and token, explains text that does not parse."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            yield from list(_parsed(text, file, fast))
            return
        except (yaml.YAMLError, UnicodeError):
            pass
    try:
        yield from _parsed(text, file, yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else 1
        what = err.problem or err.context or "cannot be parsed"
        yield Located(file, line, "", f"malformed YAML: {what}")
    except yaml.YAMLError as err:
        yield Located(file, _reader_line(text, err), "", f"malformed YAML: {_reader_problem(err)}")


def _parsed(text: str, file: str, loader_class: Any) -> Iterator[Document | Located]:
    loader = loader_class(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            if data is None:
                continue
            lines: dict[Path, int] = {}
            duplicates: list[tuple[Path, int, str]] = []
            _index(node, (), lines, duplicates)
            for path, line, message in duplicates:
                yield Located(file, line, render_path(path), message)
            yield Document(file, node.start_mark.line + 1, data, lines)
    finally:
        loader.dispose()


def _reader_line(text: str, err: yaml.YAMLError) -> int:
    position = getattr(err, "position", None)
    return text.count("\n", 0, position) + 1 if isinstance(position, int) else 1


def _reader_problem(err: yaml.YAMLError) -> str:
    character = getattr(err, "character", None)
    if isinstance(character, int):
        return f"character U+{character:04X} is not allowed in YAML"
    return str(err).splitlines()[0]


def _json_documents(text: str, file: str) -> Iterator[Document | Located]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        yield Located(file, err.lineno, "", f"malformed JSON: {err.msg}")
        return
    # JSON is YAML here, and the YAML reader knows lines; keep them when both agree.
    located = [d for d in _documents(text, file) if isinstance(d, Document)]
    if len(located) == 1 and located[0].data == data:
        yield located[0]
    else:
        yield Document(file, 1, data, {})


def expand(paths: Sequence[str]) -> tuple[list[FsPath], list[Located]]:
    """Files named directly, and manifest files found under directories, in a stable order."""
    files: list[FsPath] = []
    missing: list[Located] = []
    for name in paths:
        path = FsPath(name)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            missing.append(Located(name, 0, "", "no such file or directory"))
    return files, missing


def read_documents(files: Iterable[FsPath]) -> Iterator[Document | Located]:
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            yield Located(str(path), 0, "", f"cannot read: {err}")
            continue
        reader = _json_documents if path.suffix == ".json" else _documents
        yield from reader(text, str(path))


def load_catalog(paths: Sequence[str]) -> Catalog:
    """Read and check every manifest under `paths`; collect objects, problems and notes."""
    files, problems = expand(paths)
    return check_documents(read_documents(files), problems)


def read_text(text: str, file: str) -> Iterator[Document | Located]:
    """The documents of one YAML text already in memory (as if read from `file`)."""
    return _documents(text, file)


def check_documents(items: Iterable[Document | Located], earlier: Sequence[Located] = ()) -> Catalog:
    """Check documents already read; collect objects, problems and notes."""
    problems = list(earlier)
    notes: list[Located] = []
    objects: list[tuple[r.Resource, Document]] = []
    secrets: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, str], Document] = {}
    nodes: dict[str, Mapping[str, str]] | None = None
    workloads: list[dict[str, Any]] = []
    count = 0
    for read in items:
        if isinstance(read, Located):
            problems.append(read)
            continue
        for item in read.items():
            count += 1
            if isinstance(item.data, dict) and item.data.get("kind") == "Node":
                node = _node(item, problems, seen)
                if node is not None:
                    nodes = nodes if nodes is not None else {}
                    nodes[node[0]] = node[1]
                continue
            if isinstance(item.data, dict) and item.data.get("kind") in WORKLOAD_API_VERSIONS:
                workload = _workload(item, problems, seen)
                if workload is not None:
                    workloads.append(workload)
                continue
            _check(item, objects, problems, notes, secrets, seen)
    return Catalog(tuple(objects), tuple(problems), tuple(notes), tuple(secrets), count, nodes,
                   tuple(workloads))


#: The workload kinds services own (D29), and the one apiVersion aimcore reads each in.
WORKLOAD_API_VERSIONS = {
    "InferenceService": "serving.kserve.io/v1beta1",
    "HTTPRoute": "gateway.networking.k8s.io/v1",
}


def _workload(
    item: Document, problems: list[Located], seen: dict[tuple[str, str, str], Document]
) -> dict[str, Any] | None:
    """An InferenceService or HTTPRoute as observed: identity checked, the rest kept as written."""
    data = item.data
    kind = str(data["kind"])
    found = len(problems)
    wanted = WORKLOAD_API_VERSIONS[kind]
    if data.get("apiVersion") != wanted:
        problems.append(item.locate(Problem(("apiVersion",), f"an {kind} is apiVersion {wanted}, "
                                                            f"not {data.get('apiVersion')!r}")))
    meta = data.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        problems.append(item.locate(Problem(("metadata", "name"), f"an {kind} needs a name")))
        return None
    for field in ("spec", "status"):
        if data.get(field) is not None and not isinstance(data[field], dict):
            problems.append(item.locate(Problem((field,), "must be a mapping")))
    namespace = str(meta.get("namespace") or "default")
    key = (kind, namespace, meta["name"])
    first = seen.get(key)
    if first is not None:
        problems.append(item.locate(Problem(
            ("metadata", "name"),
            f"{kind} {namespace}/{meta['name']} is defined twice (first at {first.file}:{first.line})",
        )))
    seen[key] = item
    if len(problems) > found:
        return None
    return {**data, "metadata": {**meta, "namespace": namespace}}


def _node(
    item: Document, problems: list[Located], seen: dict[tuple[str, str, str], Document]
) -> tuple[str, Mapping[str, str]] | None:
    """A Node's name and labels: all the template rules read of it (D28)."""
    data = item.data
    meta = data.get("metadata")
    found = len(problems)
    if data.get("apiVersion") != "v1":
        wrong = f"a Node is apiVersion v1, not {data.get('apiVersion')!r}"
        problems.append(item.locate(Problem(("apiVersion",), wrong)))
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        problems.append(item.locate(Problem(("metadata", "name"), "a Node needs a name")))
        return None
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        problems.append(item.locate(Problem(("metadata", "labels"), "must map label names to strings")))
    else:
        for key, value in labels.items():
            if not isinstance(value, str):
                problems.append(item.locate(Problem(
                    ("metadata", "labels", str(key)), f"must be a string (quote it: \"{value}\")"
                )))
    name = meta["name"]
    first = seen.get(("Node", "", name))
    if first is not None:
        problems.append(item.locate(Problem(
            ("metadata", "name"), f"Node {name} is defined twice (first at {first.file}:{first.line})"
        )))
    seen[("Node", "", name)] = item
    if len(problems) > found:
        return None
    return name, {str(k): v for k, v in labels.items()}


def _check(
    item: Document,
    objects: list[tuple[r.Resource, Document]],
    problems: list[Located],
    notes: list[Located],
    secrets: list[dict[str, Any]],
    seen: dict[tuple[str, str, str], Document],
) -> None:
    """Check one AIM (or Secret) document and collect what it gives."""
    checked = check_document(item.data)
    if checked.skipped_kind is not None:
        notes.append(Located(item.file, item.line, "", f"skipped {checked.skipped_kind}: not an AIM kind"))
        return
    problems.extend(sorted((item.locate(p) for p in checked.problems), key=lambda x: x.line))
    obj = checked.obj
    if obj is None:
        return
    if obj.NAMESPACED and not obj.metadata.namespace:
        # kubectl's convention: a namespaced object without a namespace lands in "default".
        obj = attrs.evolve(obj, metadata=attrs.evolve(obj.metadata, namespace="default"))
    key = (obj.kind, obj.metadata.namespace or "", obj.metadata.name or "")
    first = seen.get(key)
    if first is not None:
        problems.append(
            Located(
                item.file,
                item.line,
                "metadata.name",
                f"{obj.kind} {_display(key)} is defined twice (first at {first.file}:{first.line})",
            )
        )
        return
    seen[key] = item
    if isinstance(obj, r.Secret):
        secrets.append(item.data)
    if not checked.problems:
        objects.append((obj, item))
        notes.extend(sorted((item.locate(note) for note in checked.notes), key=lambda x: x.line))


def check_updates(earlier: Catalog, later: Catalog) -> tuple[Located, ...]:
    """What the API server would refuse if each object of `later` replaced the object of the same
    kind, namespace and name in `earlier`: immutable fields that change, at `later`'s lines."""
    before = {_identity(obj): obj for obj, _ in earlier.objects}
    found: list[Located] = []
    for obj, document in later.objects:
        old = before.get(_identity(obj))
        if old is not None:
            found.extend(document.locate(problem) for problem in check_update(old, obj))
    return tuple(found)


def _identity(obj: r.Resource) -> tuple[str, str, str]:
    return obj.kind, obj.metadata.namespace or "", obj.metadata.name or ""


def _display(key: tuple[str, str, str]) -> str:
    _, namespace, name = key
    return f"{namespace}/{name}" if namespace else name
