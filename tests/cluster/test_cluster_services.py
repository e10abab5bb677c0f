"""AIMServices on a real API server: the InferenceService and HTTPRoute a service deploys, and
the statuses that follow, with aimcore's operator running in this process.

No KServe or Gateway controller runs: the InferenceService and HTTPRoute CRDs are the stand-ins of
`workload_crds`, and `KServe` (tests/cluster/support.py) writes their status as those controllers
would, when a test says so. The discovery Jobs of the service's model are run by `JobRunner`.
Writes are counted from the API server's audit log.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from aimcore import codec, httproute
from aimcore import inferenceservice as isvc
from aimcore import resources as r
from aimcore.adapters.kube.api import AIM_KINDS, ApiError, KindInfo, KubeApi
from aimcore.adapters.kube.operator import Operator
from tests.cluster.fixtures import (
    CLUSTER_ROLE_BINDINGS,
    CLUSTER_ROLES,
    CRDS,
    KubeCluster,
    install_crds,
    wait_for,
)
from tests.cluster.support import (
    CATALOG_FACTS,
    MODELS,
    QWEN,
    QWEN_TEMPLATES,
    ROOT,
    TEMPLATES,
    WORKLOADS,
    FactsInspector,
    JobRunner,
    KServe,
    audit_writes,
    job_runner,
    kserve,
    running_job_runner,
    running_operator,
    settle,
    write_summary,
)
from tests.cluster.workload_crds import WORKLOAD_CRDS

pytestmark = pytest.mark.cluster

SERVICES = AIM_KINDS["AIMService"]
ISVCS = WORKLOADS["InferenceService"]
ROUTES = WORKLOADS["HTTPRoute"]
#: The template auto-selection picks of QWEN's two: the latency one (the services here ask for it).
SELECTED = QWEN_TEMPLATES[1]
ISVC_CRD = next(doc for doc in WORKLOAD_CRDS if doc["spec"]["names"]["kind"] == "InferenceService")
GATEWAY = {"name": "inference-gateway", "namespace": "gateway-system"}
READY = ("True", "RuntimeReady", "InferenceService is ready")
PAUSED = "aim.eai.amd.com/reconciliation-paused"
CACHE = ("False", "CachingNotImplemented",
         "aimcore does not build template caches yet: the runtime downloads the model when it starts")


def model(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
            "metadata": {"name": name, "namespace": namespace}, "spec": {"image": QWEN}}


def service(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    """A service of the model "qwen", by name, asking for latency (so that auto-selection has one
    template to wait for, whichever of the two finishes discovery first), with `spec` added."""
    return {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMService",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"model": {"name": "qwen"}, "overrides": {"metric": "latency"}, **spec}}


def status_of(api: KubeApi, namespace: str, name: str) -> dict[str, Any]:
    return dict(api.get(SERVICES, namespace, name).get("status") or {})


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    """Each condition's (status, reason, message), by type, in the order they are listed."""
    found = status.get("conditions") or ()
    return {c["type"]: (c["status"], c["reason"], c.get("message", "")) for c in found}


def condition(api: KubeApi, namespace: str, name: str, type_: str) -> tuple[str, str, str] | None:
    return conditions(status_of(api, namespace, name)).get(type_)


def isvc_name(service_name: str, namespace: str) -> str:
    return isvc.inference_service_name(service_name, namespace)


def isvcs(api: KubeApi, namespace: str) -> list[dict[str, Any]]:
    return api.list(ISVCS, namespace)[0]


def routes(api: KubeApi, namespace: str) -> list[dict[str, Any]]:
    return api.list(ROUTES, namespace)[0]


def decided(doc: dict[str, Any]) -> dict[str, Any]:
    """What aimcore decides of a workload: labels, annotations, ownerReferences and spec."""
    meta = doc["metadata"]
    return {"labels": meta.get("labels"), "annotations": meta.get("annotations"),
            "ownerReferences": meta.get("ownerReferences"), "spec": doc.get("spec")}


def expected_isvc(api: KubeApi, namespace: str, name: str) -> dict[str, Any]:
    """The InferenceService the core builds (`inference_service`) from the service, its model and
    its template as the API server holds them now."""
    doc = api.get(SERVICES, namespace, name)
    svc = codec.load(r.AIMService, {**doc, "kind": "AIMService"})
    assert svc.status is not None and svc.status.resolved_template is not None
    assert svc.status.resolved_runtime_config is None  # no runtime config: none is merged in
    chosen = api.get(TEMPLATES, namespace, svc.status.resolved_template.name or "")
    template = codec.load(r.AIMServiceTemplate, {**chosen, "kind": "AIMServiceTemplate"})
    found = codec.load(r.AIMModel, {**api.get(MODELS, namespace, "qwen"), "kind": "AIMModel"})
    spec = svc.spec
    autoscaling = codec.dump(spec.auto_scaling) if spec.auto_scaling is not None else None
    scaling = isvc.Scaling(replicas=spec.replicas, min_replicas=spec.min_replicas,
                           max_replicas=spec.max_replicas, autoscaling=autoscaling)
    return decided(isvc.inference_service(svc, found, template, None, scaling=scaling,
                                          resources=svc.status.resolved_resources,
                                          image=svc.status.resolved_image))


def the_isvc(api: KubeApi, namespace: str, name: str) -> dict[str, Any]:
    return api.get(ISVCS, namespace, isvc_name(name, namespace))


def isvc_writes(kube: KubeCluster, agent: str, namespace: str) -> list[tuple[str, str, str, str, int]]:
    return [row for row in write_summary(audit_writes(kube, agent, namespaces=[namespace]))
            if row[1].startswith(("inferenceservices", "httproutes"))]


@contextlib.contextmanager
def deployed(
    kube: KubeCluster, namespace: str, identity: str, the_service: dict[str, Any],
    logs: io.StringIO | None = None, **settings: Any,
) -> Iterator[Operator]:
    """The model "qwen" and `the_service` created, the Job runner and the operator running."""
    api = kube.api("user")
    api.create(MODELS, model("qwen", namespace))
    api.create(SERVICES, the_service)
    with job_runner(kube.api("job-runner")) as runner, \
            running_operator(kube, FactsInspector(CATALOG_FACTS), identity=identity, namespace=namespace,
                             read_log=runner.read_log, logs=logs, **settings) as operator:
        yield operator


def running(api: KubeApi, namespace: str, name: str) -> bool:
    return status_of(api, namespace, name).get("status") == "Running"


# --- Pending, Starting, Running ----------------------------------------------------------------


def test_a_service_goes_pending_then_starting_with_the_inference_service_then_running(
    kube: KubeCluster, namespace: str
) -> None:
    api = kube.api("user")
    api.create(MODELS, model("qwen", namespace))
    created = api.create(SERVICES, service("chat", namespace))
    runner = JobRunner(kube.api("job-runner"), hold=True)
    with running_job_runner(runner), \
            running_operator(kube, FactsInspector(CATALOG_FACTS), identity="lifecycle", namespace=namespace,
                             read_log=runner.read_log) as operator:
        # Its model's discovery Jobs are held: the templates are Progressing, the service waits.
        wait_for(lambda: condition(api, namespace, "chat", "ModelReady") is not None
                 and len(api.list(TEMPLATES, namespace)[0]) == 2, 60)
        settle(operator)
        pending = status_of(api, namespace, "chat")
        assert pending["status"] == "Pending"
        waiting = "; ".join(f"{name} (namespace): not Ready (status Progressing)" for name in QWEN_TEMPLATES)
        assert conditions(pending) == {
            "RuntimeConfigReady": ("True", "DefaultConfigNotFound", "Default config was not found"),
            "ModelReady": ("False", "ModelNotReady", "AIMModel qwen (namespace) is Progressing"),
            "TemplateReady": ("False", "TemplateNotReady",
                              f"waiting for a template to become Ready: {waiting}"),
            "ImageResolved": ("False", "AwaitingTemplate", "Waiting for a template"),
            "InferenceServiceReady": ("False", "CreatingRuntime", "InferenceService not found"),
            "CacheReady": CACHE,
            "Ready": ("False", "ModelNotReady", "ModelReady: AIMModel qwen (namespace) is Progressing"),
        }
        assert isvcs(api, namespace) == []

        # The Jobs run, the templates become Ready: the InferenceService is created; nobody plays
        # KServe yet, so it never becomes Ready and the service is Starting.
        runner.hold = False
        wait_for(lambda: status_of(api, namespace, "chat").get("status") == "Starting", 60)
        settle(operator)
        starting = status_of(api, namespace, "chat")
        assert starting["resolvedTemplate"]["name"] == SELECTED
        assert starting["resolvedImage"] == QWEN
        assert conditions(starting) == {
            "RuntimeConfigReady": ("True", "DefaultConfigNotFound", "Default config was not found"),
            "ModelReady": ("True", "ModelResolved", "Using AIMModel qwen (namespace)"),
            "TemplateReady": ("True", "Resolved", f"{SELECTED} (auto-selection)"),
            "ImageResolved": ("True", "ImageResolved", QWEN),
            "InferenceServiceReady": ("False", "CreatingRuntime", "InferenceService is not ready"),
            "CacheReady": CACHE,
            "Ready": ("False", "CreatingRuntime", "InferenceServiceReady: InferenceService is not ready"),
        }
        assert starting["runtime"] == {"minReplicas": 1, "maxReplicas": 1, "currentReplicas": 1,
                                       "desiredReplicas": 1, "replicas": "1"}
        [deployed_isvc] = isvcs(api, namespace)
        assert deployed_isvc["metadata"]["name"] == isvc_name("chat", namespace)
        assert decided(deployed_isvc) == expected_isvc(api, namespace, "chat")
        assert deployed_isvc["metadata"]["ownerReferences"] == [{
            "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMService", "name": "chat",
            "uid": created["metadata"]["uid"], "controller": True}]
        predictor = deployed_isvc["spec"]["predictor"]
        assert (predictor["minReplicas"], predictor["maxReplicas"]) == (1, 1)
        assert predictor["containers"][0]["image"] == QWEN
        assert deployed_isvc["metadata"]["labels"]["aim.eai.amd.com/template"] == SELECTED

        # KServe says the InferenceService is Ready: the service is Running.
        assert KServe(kube.api("kserve")).step() == 1
        wait_for(lambda: running(api, namespace, "chat"), 30)
        settle(operator)
        ready = conditions(status_of(api, namespace, "chat"))
        assert ready["InferenceServiceReady"] == READY
        assert ready["Ready"] == ("True", "AllComponentsReady", "All components are ready")
        assert ready["CacheReady"] == CACHE

        # The InferenceService was written once, by its create; a steady cluster sees no write.
        name = isvc_name("chat", namespace)
        assert isvc_writes(kube, "aimcore/lifecycle", namespace) == [
            ("create", "inferenceservices", namespace, name, 201)]
        writes = len(audit_writes(kube, "aimcore/lifecycle"))
        for key in operator.store.all_keys():
            operator.queue.add(key)
        settle(operator)
        assert audit_writes(kube, "aimcore/lifecycle")[writes:] == []


# --- replicas and autoscaling reach the InferenceService ---------------------------------------


def _change_spec(api: KubeApi, namespace: str, name: str, spec: dict[str, Any]) -> None:
    """A merge patch of the service's spec (None removes a field), as `kubectl patch` sends it."""
    api._call("PATCH", SERVICES.path(namespace, name), body={"spec": spec},
              content_type="application/merge-patch+json")


def test_replicas_and_autoscaling_reach_the_inference_service_and_back(
    kube: KubeCluster, namespace: str
) -> None:
    """Created autoscaled (so the create sets the autoscaling annotations), then fixed, then
    autoscaled again: each time the InferenceService is exactly what the core builds, with
    nothing left behind of the previous mode, and then nothing more is written."""
    api = kube.api("user")
    name = isvc_name("chat", namespace)
    autoscaled = service("chat", namespace, minReplicas=1, maxReplicas=4)
    with deployed(kube, namespace, "replicas", autoscaled) as operator, kserve(kube.api("kserve")):
        wait_for(lambda: running(api, namespace, "chat"), 60)
        settle(operator)
        first = the_isvc(api, namespace, "chat")
        assert decided(first) == expected_isvc(api, namespace, "chat")
        assert first["metadata"]["annotations"] == {
            "aim.eai.amd.com/model-id": "Qwen/Qwen3-32B",
            "prometheus.kserve.io/port": "8000",
            "serving.kserve.io/autoscalerClass": "keda",
            "sidecar.opentelemetry.io/inject": f"{name}-predictor",
        }
        predictor = first["spec"]["predictor"]
        assert (predictor["minReplicas"], predictor["maxReplicas"]) == (1, 4)
        assert status_of(api, namespace, "chat")["runtime"] == {"minReplicas": 1, "maxReplicas": 4,
                                                                "replicas": "1-4"}

        fixed_runtime = {"minReplicas": 3, "maxReplicas": 3, "currentReplicas": 3, "desiredReplicas": 3,
                         "replicas": "3"}
        steps: list[tuple[dict[str, Any], tuple[int, int], dict[str, Any], dict[str, str]]] = [
            ({"replicas": 3, "minReplicas": None, "maxReplicas": None}, (3, 3), fixed_runtime,
             {"aim.eai.amd.com/model-id": "Qwen/Qwen3-32B", "serving.kserve.io/autoscalerClass": "none"}),
            ({"replicas": None, "minReplicas": 2, "maxReplicas": 5}, (2, 5),
             {"minReplicas": 2, "maxReplicas": 5, "replicas": "2-5"}, first["metadata"]["annotations"]),
        ]
        for change, (low, high), runtime, annotations in steps:
            _change_spec(api, namespace, "chat", change)

            def reached(low: int = low, high: int = high) -> bool:
                predictor = the_isvc(api, namespace, "chat")["spec"]["predictor"]
                return (predictor.get("minReplicas"), predictor.get("maxReplicas")) == (low, high)

            wait_for(reached, 30, f"minReplicas {low} and maxReplicas {high} on the InferenceService")
            wait_for(lambda: status_of(api, namespace, "chat").get("runtime") == runtime, 30)  # noqa: B023
            settle(operator)
            now = the_isvc(api, namespace, "chat")
            assert decided(now) == expected_isvc(api, namespace, "chat")
            assert now["metadata"]["uid"] == first["metadata"]["uid"]
            assert now["metadata"]["annotations"] == annotations  # nothing left of the other mode
            assert running(api, namespace, "chat")

        # The create; then the first change claims the create's fields for server-side apply (one
        # JSON patch) and applies; then the second change applies.
        assert isvc_writes(kube, "aimcore/replicas", namespace) == [
            ("create", "inferenceservices", namespace, name, 201),
            *[("patch", "inferenceservices", namespace, name, 200)] * 3,
        ]
        writes = len(audit_writes(kube, "aimcore/replicas"))
        for key in operator.store.all_keys():
            operator.queue.add(key)
        settle(operator)
        assert audit_writes(kube, "aimcore/replicas")[writes:] == []


# --- a flickering template never takes the InferenceService away ------------------------------


def _pause(api: KubeApi, namespace: str, template: str, paused: bool) -> None:
    """Set or remove the pause annotation (D33): a paused object is not reconciled at all."""
    body = {"metadata": {"annotations": {PAUSED: "true" if paused else None}}}
    api._call("PATCH", TEMPLATES.path(namespace, template), body=body,
              content_type="application/merge-patch+json")


def _template_status(api: KubeApi, namespace: str, template: str, status: dict[str, Any]) -> None:
    api._call("PATCH", TEMPLATES.path(namespace, template, "status"), body={"status": status},
              content_type="application/merge-patch+json")


def test_a_template_that_stops_being_ready_or_a_deleted_model_never_deletes_the_inference_service(
    kube: KubeCluster, namespace: str
) -> None:
    api = kube.api("user")
    with deployed(kube, namespace, "flicker", service("chat", namespace)) as operator, \
            kserve(kube.api("kserve")):
        wait_for(lambda: running(api, namespace, "chat"), 60)
        settle(operator)
        original = the_isvc(api, namespace, "chat")

        # The selected template turns Progressing (paused, so that aimcore does not put its status
        # back at once): the service waits for a template again, and keeps its InferenceService.
        saved = api.get(TEMPLATES, namespace, SELECTED)["status"]
        _pause(api, namespace, SELECTED, True)
        _template_status(api, namespace, SELECTED, {"status": "Progressing"})
        wait_for(lambda: status_of(api, namespace, "chat").get("status") == "Pending", 30)
        settle(operator)
        pending = status_of(api, namespace, "chat")
        assert pending["status"] == "Pending"
        thr, lat = QWEN_TEMPLATES
        assert conditions(pending) == {
            "RuntimeConfigReady": ("True", "DefaultConfigNotFound", "Default config was not found"),
            "ModelReady": ("False", "ModelNotReady", "AIMModel qwen (namespace) is Progressing"),
            "TemplateReady": ("False", "TemplateNotReady", (
                f"waiting for a template to become Ready: {thr} (namespace): metric throughput does not "
                f"match override latency; {lat} (namespace): not Ready (status Progressing)")),
            "ImageResolved": ("False", "AwaitingTemplate", "Waiting for a template"),
            "InferenceServiceReady": READY,
            "CacheReady": CACHE,
            "Ready": ("False", "ModelNotReady", "ModelReady: AIMModel qwen (namespace) is Progressing"),
        }
        assert the_isvc(api, namespace, "chat") == original

        # Back to Ready: Running again, the InferenceService untouched.
        _template_status(api, namespace, SELECTED, saved)
        _pause(api, namespace, SELECTED, False)
        wait_for(lambda: running(api, namespace, "chat"), 30)
        settle(operator)
        assert the_isvc(api, namespace, "chat") == original

        # The model is deleted (the garbage collector takes its templates): the service waits for
        # it to be created again, and still keeps its InferenceService.
        api.delete(MODELS, namespace, "qwen", None)
        wait_for(lambda: api.list(TEMPLATES, namespace)[0] == [], 60, "the garbage collector")
        missing = ("False", "ModelNotFound", f"model 'qwen' not found in namespace {namespace} or cluster "
                   "scope: waiting for it to be created")
        wait_for(lambda: condition(api, namespace, "chat", "ModelReady") == missing, 30)
        settle(operator)
        gone = status_of(api, namespace, "chat")
        assert gone["status"] == "Pending"
        assert conditions(gone)["InferenceServiceReady"] == READY
        assert the_isvc(api, namespace, "chat") == original

        # The model comes back: its templates are made and discovered again, the same one is
        # selected, and the InferenceService it asks for is the one there.
        api.create(MODELS, model("qwen", namespace))
        wait_for(lambda: running(api, namespace, "chat"), 90)
        settle(operator)
        now = the_isvc(api, namespace, "chat")
        assert (now["metadata"]["uid"], now["metadata"]["generation"]) == (
            original["metadata"]["uid"], original["metadata"]["generation"])
        assert decided(now) == decided(original) == expected_isvc(api, namespace, "chat")
    # Nothing but its create ever wrote the InferenceService: no update, no delete.
    assert isvc_writes(kube, "aimcore/flicker", namespace) == [
        ("create", "inferenceservices", namespace, isvc_name("chat", namespace), 201)]


# --- without KServe ----------------------------------------------------------------------------


def _crd_state(api: KubeApi, name: str) -> str:
    """"absent", "terminating" (deleted, its objects being removed) or "present"."""
    try:
        doc = api.get(CRDS, None, name)
    except ApiError as err:
        if err.status == 404:
            return "absent"
        raise
    return "terminating" if doc["metadata"].get("deletionTimestamp") else "present"


def _restore_crds(api: KubeApi, name: str) -> None:
    """The stand-in CRD back for the tests that follow, once a deletion in progress has finished."""
    wait_for(lambda: _crd_state(api, name) != "terminating", 60, f"the deletion of {name} to finish")
    install_crds(api)


def test_without_kserve_the_service_waits_and_deploys_once_kserve_is_installed(
    kube: KubeCluster, namespace: str
) -> None:
    admin = kube.api()
    crd = ISVC_CRD["metadata"]["name"]
    admin.delete(CRDS, None, crd, None)
    logs = io.StringIO()
    try:
        wait_for(lambda: _crd_state(admin, crd) == "absent", 60, "the InferenceService CRD to go")
        api = kube.api("user")
        with deployed(kube, namespace, "no-kserve", service("chat", namespace), logs=logs,
                      absent_recheck=0.5) as operator:
            wait_for(lambda: condition(api, namespace, "chat", "TemplateReady") == (
                "True", "Resolved", f"{SELECTED} (auto-selection)"), 60)
            settle(operator)
            waiting = status_of(api, namespace, "chat")
            assert waiting["status"] == "Pending"
            not_installed = ("KServe is not installed: the cluster has no InferenceService CRD "
                             "(serving.kserve.io/v1beta1); install KServe to deploy this service")
            found = conditions(waiting)
            assert found["InferenceServiceReady"] == ("False", "KServeNotInstalled", not_installed)
            assert found["Ready"] == ("False", "KServeNotInstalled",
                                      f"InferenceServiceReady: {not_installed}")
            assert isvc_writes(kube, "aimcore/no-kserve", namespace) == []

            # KServe is installed: within a recheck the service gets its InferenceService.
            install_crds(admin)
            wait_for(lambda: status_of(api, namespace, "chat").get("status") == "Starting", 60)
            settle(operator)
            assert decided(the_isvc(api, namespace, "chat")) == expected_isvc(api, namespace, "chat")
            assert all(w._thread.is_alive() for w in operator.watchers)
        events = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]
        assert [e for e in events if e["level"] == "error"] == []
        served = [(e["msg"], e.get("kind")) for e in events if e["msg"].startswith("kind ")]
        assert served == [
            ("kind not served: its CRD is not installed; services say so", "InferenceService"),
            ("kind served: its CRD is installed", "InferenceService"),
        ]
    finally:
        _restore_crds(admin, crd)


# --- someone else's InferenceService -----------------------------------------------------------


def test_someone_elses_inference_service_of_the_name_is_left_alone_until_it_goes(
    kube: KubeCluster, namespace: str
) -> None:
    api = kube.api("user")
    name = isvc_name("chat", namespace)
    theirs = api.create(ISVCS, {
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": name, "namespace": namespace, "labels": {"team": "other"}},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://b/m"}}},
    })
    with deployed(kube, namespace, "foreign", service("chat", namespace)) as operator, \
            kserve(kube.api("kserve")):
        wait_for(lambda: condition(api, namespace, "chat", "TemplateReady") == (
            "True", "Resolved", f"{SELECTED} (auto-selection)"), 60)
        settle(operator)
        status = status_of(api, namespace, "chat")
        not_owned = (f"InferenceService {namespace}/{name} belongs to another object (an earlier service of "
                     "this name that is being deleted, or someone else's): waiting for it to go")
        assert status["status"] == "Pending"
        assert conditions(status) == {
            "RuntimeConfigReady": ("True", "DefaultConfigNotFound", "Default config was not found"),
            "ModelReady": ("True", "ModelResolved", "Using AIMModel qwen (namespace)"),
            "TemplateReady": ("True", "Resolved", f"{SELECTED} (auto-selection)"),
            "ImageResolved": ("True", "ImageResolved", QWEN),
            "InferenceServiceReady": ("False", "InferenceServiceNotOwned", not_owned),
            "CacheReady": CACHE,
            "Ready": ("False", "InferenceServiceNotOwned", f"InferenceServiceReady: {not_owned}"),
        }
        # Their object is as they made it (KServe marked it Ready meanwhile), and aimcore never
        # wrote to it, not even a create that failed.
        left = api.get(ISVCS, namespace, name)
        assert left["metadata"]["uid"] == theirs["metadata"]["uid"]
        assert (left["metadata"].get("labels"), left["metadata"].get("ownerReferences"), left["spec"]) == (
            {"team": "other"}, None, theirs["spec"])
        assert isvc_writes(kube, "aimcore/foreign", namespace) == []

        # They delete it: the service creates its own.
        api.delete(ISVCS, namespace, name, theirs["metadata"]["uid"])
        wait_for(lambda: running(api, namespace, "chat"), 30)
        settle(operator)
        mine = the_isvc(api, namespace, "chat")
        assert mine["metadata"]["uid"] != theirs["metadata"]["uid"]
        assert decided(mine) == expected_isvc(api, namespace, "chat")
        assert isvc_writes(kube, "aimcore/foreign", namespace) == [
            ("create", "inferenceservices", namespace, name, 201)]


# --- the HTTPRoute ------------------------------------------------------------------------------


def test_the_http_route_points_the_gateway_at_the_inference_service_and_is_ready_once_accepted(
    kube: KubeCluster, namespace: str
) -> None:
    api = kube.api("user")
    routing = {"enabled": True, "gatewayRef": GATEWAY}
    with deployed(kube, namespace, "router", service("chat", namespace, routing=routing)) as operator:
        wait_for(lambda: status_of(api, namespace, "chat").get("status") == "Starting", 60)
        wait_for(lambda: len(routes(api, namespace)) == 1, 30)
        settle(operator)
        doc = api.get(SERVICES, namespace, "chat")
        uid = doc["metadata"]["uid"]
        path = f"/{namespace}/{uid}"
        assert doc["status"]["routing"] == {"path": path}
        [route] = routes(api, namespace)
        assert route["metadata"]["name"] == httproute.route_name("chat", namespace)
        assert route["spec"] == {
            "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", **GATEWAY}],
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": path}}],
                "filters": [{"type": "URLRewrite", "urlRewrite": {
                    "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}],
                "backendRefs": [{"kind": "Service", "name": f"{isvc_name('chat', namespace)}-predictor",
                                 "namespace": namespace, "port": 80}],
            }],
        }
        assert route["metadata"]["ownerReferences"] == [{
            "apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMService", "name": "chat", "uid": uid,
            "controller": True}]
        assert route["metadata"]["labels"] == {
            "aim.eai.amd.com/service": "chat", "aim.eai.amd.com/service.name": "chat",
            "app.kubernetes.io/component": "routing", "app.kubernetes.io/managed-by": "aim-engine"}
        svc = codec.load(r.AIMService, {**doc, "kind": "AIMService"})
        effective = httproute.effective_routing(svc, None)
        assert effective is not None
        built = httproute.http_route(svc, None, effective, path, isvc_name("chat", namespace))
        assert decided(route) == decided(built)
        assert conditions(status_of(api, namespace, "chat"))["HTTPRouteReady"] == (
            "False", "HTTPRoutePending", "waiting for the gateway to accept the HTTPRoute")

        # The Gateway accepts the route and KServe readies the InferenceService: Running.
        player = KServe(kube.api("kserve"), controller="tests/gateway")
        assert player.step() == 2
        wait_for(lambda: running(api, namespace, "chat"), 30)
        settle(operator)
        ready = conditions(status_of(api, namespace, "chat"))
        accepted = ("True", "HTTPRouteAccepted", "HTTPRoute is accepted by the gateway")
        assert ready["HTTPRouteReady"] == accepted
        assert ready["Ready"] == ("True", "AllComponentsReady", "All components are ready")
        assert sorted(isvc_writes(kube, "aimcore/router", namespace)) == [
            ("create", "httproutes", namespace, httproute.route_name("chat", namespace), 201),
            ("create", "inferenceservices", namespace, isvc_name("chat", namespace), 201),
        ]
        writes = len(audit_writes(kube, "aimcore/router"))
        for key in operator.store.all_keys():
            operator.queue.add(key)
        settle(operator)
        assert audit_writes(kube, "aimcore/router")[writes:] == []


# --- the README's RBAC ---------------------------------------------------------------------------


RBAC = {
    "ClusterRole": CLUSTER_ROLES,
    "ClusterRoleBinding": CLUSTER_ROLE_BINDINGS,
    "Role": KindInfo("Role", "rbac.authorization.k8s.io", "v1", "roles", True),
    "RoleBinding": KindInfo("RoleBinding", "rbac.authorization.k8s.io", "v1", "rolebindings", True),
}


def _readme_rbac() -> list[dict[str, Any]]:
    """The ServiceAccount, roles and bindings of the README's "Give it the rights it needs"."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### 2. Give it the rights it needs"):]
    block = section[section.index("```yaml\n") + len("```yaml\n"):]
    block = block[:block.index("\n```")]
    return [doc for doc in yaml.safe_load_all(block) if doc]


def test_the_readme_rbac_is_enough_to_deploy_a_service_with_its_route(
    kube: KubeCluster, namespace: str
) -> None:
    """The operator as a user holding exactly the README's ClusterRole and lease Role (bound to
    that user instead of the ServiceAccount), with leader election: the service is deployed and
    routed, and the API server refused nothing."""
    plane = kube.need_plane()
    admin = kube.api()
    user = f"aimcore-readme-{namespace}"
    rules = {doc["kind"]: doc for doc in _readme_rbac()}
    assert sorted(rules) == ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount"]
    for kind, rule in rules.items():
        rules[kind] = {**rule, "metadata": {**rule["metadata"], "name": user}}
    rules["ClusterRoleBinding"]["roleRef"]["name"] = rules["RoleBinding"]["roleRef"]["name"] = user
    subjects = [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]
    created = []
    try:
        for kind in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
            info = RBAC[kind]
            body = {**rules[kind], "subjects": subjects} if kind.endswith("Binding") else rules[kind]
            admin.create(info, body)
            created.append((info, body["metadata"].get("namespace"), user))
        as_user = KubeApi.from_kubeconfig(str(plane.user_kubeconfig(user)), user_agent="aimcore/readme")
        logs = io.StringIO()
        routing = {"enabled": True, "gatewayRef": GATEWAY}
        with deployed(kube, namespace, "readme", service("chat", namespace, routing=routing), logs=logs,
                      api=as_user, leader_election=True, lease_name=user) as operator, \
                kserve(kube.api("kserve")):
            api = kube.api("user")
            wait_for(lambda: running(api, namespace, "chat"), 90)
            settle(operator)
            routed = condition(api, namespace, "chat", "HTTPRouteReady")
            assert routed == ("True", "HTTPRouteAccepted", "HTTPRoute is accepted by the gateway")
            # Both are kept up to date (a JSON patch handing the create's fields over, then an apply).
            _change_spec(api, namespace, "chat", {"replicas": 2, "routing": {"pathTemplate": "/team/chat"}})

            def updated() -> bool:
                predictor = the_isvc(api, namespace, "chat")["spec"]["predictor"]
                [route] = routes(api, namespace)
                path = route["spec"]["rules"][0]["matches"][0]["path"]["value"]
                return (predictor["minReplicas"], path) == (2, "/team/chat")

            wait_for(updated, 30, "the InferenceService and the HTTPRoute to be updated")
            settle(operator)
        events = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]
        assert [e for e in events if e["level"] in ("warning", "error")] == []
        refused = [row for row in write_summary(audit_writes(kube, "aimcore/readme")) if row[4] == 403]
        assert refused == []
        written = write_summary(audit_writes(kube, "aimcore/readme", namespaces=[namespace]))
        workloads = [row[:2] for row in written if row[1] in ("inferenceservices", "httproutes")]
        assert sorted(workloads) == sorted([("create", "inferenceservices"), ("create", "httproutes"),
                                            *[("patch", "inferenceservices"), ("patch", "httproutes")] * 2])
        assert {row[1] for row in written} == {
            "aimmodels/status", "aimservicetemplates", "aimservicetemplates/status", "jobs",
            "aimservices/status", "inferenceservices", "httproutes"}
    finally:
        for info, ns, name in reversed(created):
            with contextlib.suppress(ApiError):
                admin.delete(info, ns, name, None)
