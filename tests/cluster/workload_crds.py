"""Stand-in CRDs for KServe's InferenceService and the Gateway API's HTTPRoute.

The tests' control plane runs no KServe and no Gateway controller (they need a kubelet, images
and a network no test machine here has), so their schemas are not installed with them either.
These structural CRDs serve the same group, version, kind, plural and scope, keep whatever spec
and status are written (x-kubernetes-preserve-unknown-fields) and give status its subresource, as
the real ones do: enough for the operator to create, apply, watch and read them, and for a test to
play KServe or a Gateway by writing their status. Schema validation of the real CRDs is not
reproduced: aimcore's manifests are checked field by field by the core's tests instead.
"""

from __future__ import annotations

from typing import Any

from aimcore.adapters.kube.api import HTTP_ROUTES, INFERENCE_SERVICES, KindInfo

_OPEN = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


#: The API server refuses a CRD of a group under k8s.io or kubernetes.io (protected groups) without
#: this annotation; the Gateway API's own CRDs carry the link to their approval.
APPROVED = {"api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/gateway-api/pull/2466"}


def structural_crd(info: KindInfo, short_names: tuple[str, ...] = ()) -> dict[str, Any]:
    names: dict[str, Any] = {"kind": info.kind, "listKind": f"{info.kind}List", "plural": info.plural,
                             "singular": info.kind.lower()}
    if short_names:
        names["shortNames"] = list(short_names)
    metadata: dict[str, Any] = {"name": f"{info.plural}.{info.group}"}
    if info.group.endswith((".k8s.io", ".kubernetes.io")):
        metadata["annotations"] = dict(APPROVED)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": metadata,
        "spec": {
            "group": info.group,
            "scope": "Namespaced" if info.namespaced else "Cluster",
            "names": names,
            "versions": [{
                "name": info.version,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": _OPEN, "status": _OPEN},
                }},
            }],
        },
    }


#: What `install_crds` installs besides aimcore's own, in order.
WORKLOAD_CRDS = (structural_crd(INFERENCE_SERVICES, ("isvc",)), structural_crd(HTTP_ROUTES))
