"""Every side effect of aimcore, one room per world it touches (installed as `aimcore.adapters`):

- `common`: plumbing the rooms share (backoff, JSON logs, the inspector's type, dependents);
- `files`: manifests and image facts files;
- `registry`: OCI registries and their credentials;
- `kube`: the Kubernetes API and the operator;
- `memory`: the in-memory cluster of `plan` and `simulate`;
- `cli`: the command line.

Dependencies point one way: `cli` may use every room; `kube` may use `registry`, `files` and
`common`; `registry`, `files` and `memory` use `common` (and `memory` `files`); `common` uses none.
Nothing but `cli` imports `memory`, and nothing imports `cli` (tests/test_layout.py checks this,
as it checks that the core imports no adapter).
"""
