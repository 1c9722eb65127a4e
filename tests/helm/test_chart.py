"""helm/assistd: rendered and linted offline with the Helm 4 SDK, every manifest checked
with kubernetes-validate --strict, and what matters asserted: the Deployments of each
shape, their command lines, env names (DESIGN.md §8), probes, secret references,
security context, the code_interpreter sandbox, the migration hook, and that wrong
values fail with a clear message."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from conftest import (
    CHART_DIR,
    FULLNAME,
    Rendered,
    container,
    env_of,
    load_values,
    pod_spec,
    secret_ref,
    volume_mounts,
    volumes,
)

# The chart declares kubeVersion >=1.25; validate against that and the newest schemas.
KUBE_VERSIONS = ["1.25.0", kubernetes_validate.utils.latest_version()]

# Every variable assistd reads (DESIGN.md §8, docs/configuration.md) plus OTel's own.
ASSISTD_ENV = {
    "ASSISTD_LISTEN",
    "ASSISTD_DATA_DIR",
    "ASSISTD_DATABASE_URL",
    "ASSISTD_OBJECT_STORE",
    "ASSISTD_QDRANT_URL",
    "ASSISTD_QDRANT_API_KEY",
    "ASSISTD_API_KEYS",
    "ASSISTD_LLM_BASE_URL",
    "ASSISTD_LLM_API_KEY",
    "ASSISTD_EMBEDDINGS_BASE_URL",
    "ASSISTD_EMBEDDINGS_MODEL",
    "ASSISTD_EMBEDDINGS_API_KEY",
    "ASSISTD_CONFIG",
    "ASSISTD_LOG",
    "ASSISTD_LOG_FORMAT",
    "ASSISTD_DB_MAX_CONNECTIONS",
    "ASSISTD_SHUTDOWN_TIMEOUT",
    "ASSISTD_SANDBOX",
    "ASSISTD_SANDBOX_PYTHON",
    "ASSISTD_SANDBOX_TIMEOUT",
    "ASSISTD_SANDBOX_MEMORY_MB",
    "ASSISTD_SANDBOX_SESSIONS",
    "ASSISTD_SANDBOX_IDLE",
}
OTEL_ENV = re.compile(r"^OTEL_(EXPORTER_OTLP_[A-Z_]+|SERVICE_NAME)$")

SERVICES = ["assistants", "threads", "runs", "files", "vector_stores", "conversations", "responses"]

CASES = {
    "defaults": None,
    "external": "external.yaml",
    "split-hpa": "split-hpa.yaml",
    "embedded": "embedded.yaml",
    "options": "options.yaml",
    "sandbox": "sandbox.yaml",
}


def case_values(case: str) -> dict[str, Any] | None:
    file = CASES[case]
    return load_values(file) if file else None


@pytest.fixture(scope="module", params=list(CASES))
def case(request, render):
    """(name, values, rendered) for every valid values case."""
    values = case_values(request.param)
    return request.param, values, render(values)


# -- every case -----------------------------------------------------------------------


@pytest.mark.parametrize("case_name", list(CASES))
def test_lint_is_clean(case_name):
    report = helm.lint(CHART_DIR, case_values(case_name), strict=True)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not report["errors"] and not problems, report


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_every_manifest_passes_kubernetes_validate_strict(render, case, kube_version):
    """Each case rendered for that cluster version (`.Capabilities.KubeVersion`: the
    sandbox's AppArmor setting is a field from 1.30, an annotation before)."""
    name, values, _ = case
    r = render(values, kube_version)
    assert r.docs
    for doc in r.docs:
        kind = doc["kind"]
        if kind == "ServiceMonitor":
            # A Prometheus Operator CRD: kubernetes-validate ships no schema for it
            # (checked by hand in test_ingress_and_service_monitor).
            with pytest.raises(kubernetes_validate.SchemaNotFoundError):
                kubernetes_validate.validate(doc, kube_version, strict=True)
            continue
        error = None
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.ValidationError as e:
            error = f"{'.'.join(str(p) for p in e.path)}: {e.message}"
        assert error is None, f"[{name}] {kind}/{doc['metadata']['name']} invalid for {kube_version}: {error}"


def test_kubernetes_validate_cli_strict(render, tmp_path):
    """The same check through the command line, as CI logs would show it."""
    r = render(load_values("split-hpa.yaml"))
    manifest = tmp_path / "split.yaml"
    manifest.write_text(yaml.safe_dump_all(r.docs))
    cli = Path(sys.executable).parent / "kubernetes-validate"
    run = subprocess.run([cli, "--strict", "--quiet", manifest], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    # only the ServiceMonitor (a CRD) has no schema to check against
    warnings = [line for line in run.stdout.splitlines() if line.startswith("WARN")]
    assert len(warnings) == 1 and "ServiceMonitor" in warnings[0], run.stdout


def workloads(r: Rendered) -> list[dict[str, Any]]:
    return r.of_kind("Deployment") + r.of_kind("Job")


def test_pods_run_non_root_with_read_only_root(case):
    _, _, r = case
    for w in workloads(r):
        spec = pod_spec(w)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] != 0
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        assert spec["enableServiceLinks"] is False  # no injected ASSISTD_* look-alikes
        vols = volumes(w)
        assert vols["tmp"] == {"name": "tmp", "emptyDir": {}}
        for c in spec["containers"] + spec.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, c["name"]
            assert sc["allowPrivilegeEscalation"] is False, c["name"]
            assert sc["runAsNonRoot"] is True, c["name"]
            assert sc["capabilities"]["drop"] == ["ALL"], c["name"]
        c = spec["containers"][0]
        mounts = volume_mounts(c)
        # the only writable places: /tmp and the data directory
        assert mounts["/tmp"] == "tmp" and mounts["/data"] == "data"
        assert "data" in vols


def test_deployments_have_probes_ports_and_resources(case):
    _, _, r = case
    assert r.of_kind("Deployment")
    for d in r.of_kind("Deployment"):
        c = container(d)
        assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert isinstance(c["resources"], dict)
        assert env_of(c)["ASSISTD_LISTEN"]["value"] == "0.0.0.0:8080"
        assert env_of(c)["ASSISTD_DATA_DIR"]["value"] == "/data"


def test_env_names_are_the_documented_ones(case):
    _, values, r = case
    extra = {e["name"] for e in (values or {}).get("extraEnv", [])}
    for w in workloads(r):
        for c in pod_spec(w)["containers"]:
            for n in env_of(c):
                assert n in ASSISTD_ENV or OTEL_ENV.match(n) or n in extra, f"{w['metadata']['name']}: unexpected env {n}"


def test_every_secret_reference_resolves(chart, case):
    """Each secretKeyRef names a key of a Secret the chart renders (a hook Secret for
    the pre-install Job, which runs before the release's Secret exists) or a Secret
    the values say the operator provides."""
    _, values, r = case
    values = chart.merge_values(values)  # with the chart's defaults, as an install sees them
    external = {
        (values.get(k, {}).get("existingSecret"), values.get(k, {}).get("existingSecretKey"))
        for k in ("auth", "database", "qdrant", "llm", "embeddings")
    }
    external.add((values["qdrant"].get("existingSecret"), values["qdrant"].get("existingSecretApiKeyKey")))
    for e in values.get("extraEnv", []):
        if "secretKeyRef" in e.get("valueFrom", {}):
            external.add(secret_ref(e))
    regular = {s["metadata"]["name"]: s for s in r.of_kind("Secret") if "helm.sh/hook" not in s["metadata"].get("annotations", {})}
    hooks = {s["metadata"]["name"]: s for s in r.of_kind("Secret") if "helm.sh/hook" in s["metadata"].get("annotations", {})}
    for w in workloads(r):
        is_hook = "helm.sh/hook" in w["metadata"].get("annotations", {})
        for c in pod_spec(w)["containers"]:
            for entry in env_of(c).values():
                if "secretKeyRef" not in entry.get("valueFrom", {}):
                    continue
                ref = secret_ref(entry)
                if ref in external:
                    continue
                pool = hooks if is_hook else regular
                assert ref[0] in pool, f"{w['metadata']['name']}: {entry['name']} -> Secret {ref[0]} is not rendered"
                assert ref[1] in pool[ref[0]]["data"], f"{entry['name']} -> {ref} has no such key"
                if is_hook:
                    weight = int(pool[ref[0]]["metadata"]["annotations"]["helm.sh/hook-weight"])
                    assert weight < int(w["metadata"]["annotations"]["helm.sh/hook-weight"])


def test_pdb_and_hpa_target_rendered_deployments(case):
    _, _, r = case
    deployments = r.names("Deployment")
    for hpa in r.of_kind("HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] in deployments
        # an HPA owns the replica count: the Deployment must not fight it
        assert "replicas" not in r.get("Deployment", target["name"])["spec"]
    for pdb in r.of_kind("PodDisruptionBudget"):
        d = r.get("Deployment", pdb["metadata"]["name"])
        assert pdb["spec"]["selector"]["matchLabels"] == d["spec"]["selector"]["matchLabels"]


def test_services_select_pods_of_a_deployment(case):
    _, _, r = case
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in r.of_kind("Deployment")]
    for svc in r.of_kind("Service"):
        sel = svc["spec"]["selector"]
        assert any(sel.items() <= labels.items() for labels in pod_labels), svc["metadata"]["name"]
        assert svc["spec"]["ports"][0]["targetPort"] == "http"


# -- defaults: all in one, embedded -----------------------------------------------------


def test_defaults_run_one_embedded_all_in_one_pod(render):
    r = render()
    assert r.names("Deployment") == {FULLNAME}
    d = r.get("Deployment", FULLNAME)
    assert d["spec"]["replicas"] == 1
    assert d["spec"]["strategy"] == {"type": "Recreate"}
    c = container(d)
    assert c["args"] == ["serve"]
    assert set(env_of(c)) == {
        "ASSISTD_LISTEN", "ASSISTD_DATA_DIR", "ASSISTD_SHUTDOWN_TIMEOUT", "ASSISTD_API_KEYS", "ASSISTD_LOG",
        "ASSISTD_SANDBOX",
    }  # fmt: skip
    assert env_of(c)["ASSISTD_SANDBOX"]["value"] == "local"  # the sessions run in this pod
    assert env_of(c)["ASSISTD_SHUTDOWN_TIMEOUT"]["value"] == "30"
    assert pod_spec(d)["terminationGracePeriodSeconds"] > 30
    # SQLite on the PVC: the binary's default sqlite://<data-dir>/assistd.db
    assert volumes(d)["data"]["persistentVolumeClaim"]["claimName"] == f"{FULLNAME}-data"
    assert r.get("PersistentVolumeClaim", f"{FULLNAME}-data")["spec"]["resources"]["requests"]["storage"] == "10Gi"
    # no Job (serve migrates on start), no HPA, no PDB
    assert not r.of_kind("Job") and not r.of_kind("HorizontalPodAutoscaler") and not r.of_kind("PodDisruptionBudget")
    assert not r.of_kind("Ingress") and not r.of_kind("ServiceMonitor")
    # a generated API key, in the chart's Secret
    assert secret_ref(env_of(c)["ASSISTD_API_KEYS"]) == (FULLNAME, "api-keys")
    assert re.fullmatch(r"sk-[A-Za-z0-9]{48}", r.secret_data(FULLNAME)["api-keys"])
    svc = r.get("Service", FULLNAME)
    assert svc["spec"]["type"] == "ClusterIP" and svc["spec"]["ports"][0]["port"] == 8080
    assert f"kubectl port-forward -n ai svc/{FULLNAME} 8080:8080" in r.notes
    assert f"kubectl get secret -n ai {FULLNAME}" in r.notes


# -- all in one on external services ---------------------------------------------------


def test_external_all_in_one(render):
    values = load_values("external.yaml")
    r = render(values)
    assert r.names("Deployment") == {FULLNAME}
    d = r.get("Deployment", FULLNAME)
    assert d["spec"]["replicas"] == 3
    assert "strategy" not in d["spec"]  # RollingUpdate: the volume is ReadWriteMany
    c = container(d)
    assert c["image"] == "registry.example.com/assistd:0.1.0"
    env = env_of(c)
    assert set(env) == {
        "ASSISTD_LISTEN", "ASSISTD_DATA_DIR", "ASSISTD_SHUTDOWN_TIMEOUT", "ASSISTD_API_KEYS", "ASSISTD_DATABASE_URL",
        "ASSISTD_DB_MAX_CONNECTIONS", "ASSISTD_OBJECT_STORE", "ASSISTD_QDRANT_URL", "ASSISTD_QDRANT_API_KEY",
        "ASSISTD_LLM_BASE_URL", "ASSISTD_LLM_API_KEY", "ASSISTD_EMBEDDINGS_BASE_URL",
        "ASSISTD_EMBEDDINGS_MODEL", "ASSISTD_EMBEDDINGS_API_KEY", "ASSISTD_LOG", "ASSISTD_LOG_FORMAT",
        "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME",
        "OTEL_EXPORTER_OTLP_HEADERS", "ASSISTD_SANDBOX",
    }  # fmt: skip
    # secrets travel by reference, never as plain values
    assert secret_ref(env["ASSISTD_DATABASE_URL"]) == (FULLNAME, "database-url")
    assert secret_ref(env["ASSISTD_API_KEYS"]) == (FULLNAME, "api-keys")
    assert secret_ref(env["ASSISTD_LLM_API_KEY"]) == (FULLNAME, "llm-api-key")
    assert secret_ref(env["ASSISTD_QDRANT_URL"]) == ("qdrant-conn", "url")
    assert secret_ref(env["ASSISTD_QDRANT_API_KEY"]) == ("qdrant-conn", "api-key")
    assert secret_ref(env["ASSISTD_EMBEDDINGS_API_KEY"]) == (FULLNAME, "embeddings-api-key")
    assert r.secret_data(FULLNAME) == {
        "api-keys": "sk-first,sk-second",
        "database-url": values["database"]["url"],
        "llm-api-key": "sk-backend",
        "embeddings-api-key": "sk-embed",
    }
    assert env["ASSISTD_DB_MAX_CONNECTIONS"]["value"] == "16"
    assert env["ASSISTD_LOG_FORMAT"]["value"] == "json"
    assert env["ASSISTD_LLM_BASE_URL"]["value"] == "http://vllm.models.svc:8000/v1"
    assert env["OTEL_SERVICE_NAME"]["value"] == "assistd"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel-collector.observability:4317"
    # the blob store on a shared claim
    assert volumes(d)["data"]["persistentVolumeClaim"]["claimName"] == f"{FULLNAME}-data"
    pvc = r.get("PersistentVolumeClaim", f"{FULLNAME}-data")
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"] and pvc["spec"]["storageClassName"] == "nfs"
    assert r.get("PodDisruptionBudget", FULLNAME)["spec"]["maxUnavailable"] == 1


def test_migration_job_is_a_pre_install_pre_upgrade_hook(render):
    r = render(load_values("external.yaml"))
    job = r.get("Job", f"{FULLNAME}-migrate")
    ann = job["metadata"]["annotations"]
    assert ann["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in ann["helm.sh/hook-delete-policy"]
    c = container(job, "migrate")
    assert c["args"] == ["migrate"]
    assert pod_spec(job)["restartPolicy"] == "Never"
    # the release's Secret does not exist yet when a pre-install hook runs: the URL
    # comes from a hook Secret created just before the Job
    name, key = secret_ref(env_of(c)["ASSISTD_DATABASE_URL"])
    hook_secret = r.get("Secret", name)
    assert name != FULLNAME and key == "database-url"
    hook_ann = hook_secret["metadata"]["annotations"]
    assert hook_ann["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(hook_ann["helm.sh/hook-weight"]) < int(ann["helm.sh/hook-weight"])
    assert r.secret_data(name) == {"database-url": "postgres://assistd:s3cret@postgres.db.svc:5432/assistd?sslmode=require"}
    # nor may it need the release's ServiceAccount, which is created after it
    assert "serviceAccountName" not in pod_spec(job)


def test_migration_job_can_be_turned_off(render):
    values = load_values("external.yaml")
    values["migration"] = {"enabled": False}
    r = render(values)
    assert not r.of_kind("Job")
    assert all("helm.sh/hook" not in s["metadata"].get("annotations", {}) for s in r.of_kind("Secret"))


# -- split, scaled by HPAs ---------------------------------------------------------------


def test_split_renders_gateway_seven_services_sandbox_and_worker(render):
    r = render(load_values("split-hpa.yaml"))
    names = ["gateway", "assistants", "threads", "runs", "files", "vector-stores", "conversations", "responses", "sandbox", "worker"]
    assert r.names("Deployment") == {f"{FULLNAME}-{n}" for n in names}
    args = {d["metadata"]["name"]: container(d)["args"] for d in r.of_kind("Deployment")}
    svc_url = {s: f"http://{FULLNAME}-{s.replace('_', '-')}:8080" for s in [*SERVICES, "sandbox"]}

    gateway = args[f"{FULLNAME}-gateway"]
    assert gateway[0] == "gateway"
    # one per service behind the REST API; the sandbox has none
    assert upstreams(gateway) == {s: svc_url[s] for s in SERVICES}
    for s in SERVICES:
        a = args[f"{FULLNAME}-{s.replace('_', '-')}"]
        assert a[:3] == ["serve", "--only", s]
        ups = upstreams(a)
        assert s not in ups
        assert all(ups[u] == svc_url[u] for u in ups)
    # assistants and threads check file ids through the files service
    assert "files" in upstreams(args[f"{FULLNAME}-assistants"])
    assert "files" in upstreams(args[f"{FULLNAME}-threads"])
    # runs run code_interpreter cells in the sandbox service, and read and write the
    # cells' files through the files service
    assert {"sandbox", "files"} <= set(upstreams(args[f"{FULLNAME}-runs"]))
    assert args[f"{FULLNAME}-sandbox"] == ["serve", "--only", "sandbox"]
    assert args[f"{FULLNAME}-worker"][0] == "worker"
    # the worker runs every tool: it reaches the services its runs call (file_search
    # through vector_stores), as `assistd worker` requires at start
    assert {"assistants", "threads", "vector_stores", "sandbox"} <= set(upstreams(args[f"{FULLNAME}-worker"]))

    # every upstream URL names a rendered Service on the right port
    services = {s["metadata"]["name"]: s for s in r.of_kind("Service")}
    for a in args.values():
        for url in upstreams(a).values():
            host, port = re.fullmatch(r"http://([a-z0-9-]+):(\d+)", url).groups()
            assert int(port) == services[host]["spec"]["ports"][0]["port"]
    # the release-named Service is the public entry point: the gateway
    assert services[FULLNAME]["spec"]["selector"]["app.kubernetes.io/component"] == "gateway"
    assert f"{FULLNAME}-worker" not in services


def upstreams(args: list[str]) -> dict[str, str]:
    return dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "--upstream")


def test_split_hpas_and_replicas(render):
    values = load_values("split-hpa.yaml")
    r = render(values)
    hpas = {h["metadata"]["name"]: h["spec"] for h in r.of_kind("HorizontalPodAutoscaler")}
    scaled = ["gateway", "assistants", "threads", "runs", "vector-stores", "worker"]
    assert set(hpas) == {f"{FULLNAME}-{n}" for n in scaled}
    gw = hpas[f"{FULLNAME}-gateway"]
    assert (gw["minReplicas"], gw["maxReplicas"]) == (2, 20)
    assert gw["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}
    ]
    threads = hpas[f"{FULLNAME}-threads"]
    assert (threads["minReplicas"], threads["maxReplicas"]) == (3, 12)
    assert {m["resource"]["name"] for m in threads["metrics"]} == {"cpu", "memory"}
    # files is not autoscaled: a fixed count
    assert r.get("Deployment", f"{FULLNAME}-files")["spec"]["replicas"] == 3
    for n in scaled:
        assert "replicas" not in r.get("Deployment", f"{FULLNAME}-{n}")["spec"]
    assert r.names("PodDisruptionBudget") == r.names("Deployment")


def test_split_env_and_secret_references(render):
    r = render(load_values("split-hpa.yaml"))
    # no chart Secret: every secret comes from the operator's own
    assert not r.of_kind("Secret")
    for d in r.of_kind("Deployment"):
        env = env_of(container(d))
        assert secret_ref(env["ASSISTD_API_KEYS"]) == ("assistd-keys", "keys")
        component = d["metadata"]["labels"]["app.kubernetes.io/component"]
        if component in ("gateway", "sandbox"):
            # the gateway only forwards, and the sandbox's pods (where user code runs)
            # hold no credential but the API keys: no database, no backends
            assert set(env) == {
                "ASSISTD_LISTEN", "ASSISTD_DATA_DIR", "ASSISTD_SHUTDOWN_TIMEOUT", "ASSISTD_API_KEYS", "ASSISTD_LOG",
                "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME", "ASSISTD_SANDBOX",
            }  # fmt: skip
            assert env["OTEL_SERVICE_NAME"]["value"] == f"assistd-{component}"
            continue
        assert secret_ref(env["ASSISTD_DATABASE_URL"]) == ("assistd-db", "url")
        assert secret_ref(env["ASSISTD_LLM_API_KEY"]) == ("llm-credentials", "token")
        assert env["OTEL_SERVICE_NAME"]["value"] == f"assistd-{component}"
        assert env["ASSISTD_QDRANT_URL"]["value"] == "http://qdrant.vectors.svc:6334"
    job = r.get("Job", f"{FULLNAME}-migrate")
    assert secret_ref(env_of(container(job, "migrate"))["ASSISTD_DATABASE_URL"]) == ("assistd-db", "url")


def test_ingress_and_service_monitor(render):
    r = render(load_values("split-hpa.yaml"))
    ing = r.get("Ingress", FULLNAME)
    assert ing["spec"]["ingressClassName"] == "nginx"
    assert ing["spec"]["tls"] == [{"secretName": "api-tls", "hosts": ["api.example.com"]}]
    backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": FULLNAME, "port": {"number": 8080}}
    assert "https://api.example.com/v1" in r.notes

    sm = r.get("ServiceMonitor", FULLNAME)
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert sm["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}]
    assert sm["spec"]["namespaceSelector"] == {"matchNames": ["ai"]}
    selected = [s for s in r.of_kind("Service") if sm["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()]
    assert len(selected) == 9  # the gateway's, the seven services' and the sandbox's


def test_topology_spread_gets_each_components_selector(render):
    r = render(load_values("split-hpa.yaml"))
    for d in r.of_kind("Deployment"):
        (tsc,) = pod_spec(d)["topologySpreadConstraints"]
        assert tsc["topologyKey"] == "topology.kubernetes.io/zone"
        assert tsc["labelSelector"]["matchLabels"] == d["spec"]["selector"]["matchLabels"]


def test_split_worker_is_off_by_default(render):
    values = load_values("split-hpa.yaml")
    del values["worker"]
    r = render(values)
    assert len(r.of_kind("Deployment")) == 9
    assert f"{FULLNAME}-worker" not in r.names("Deployment")


# -- the code_interpreter sandbox ---------------------------------------------------------

APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/assistd"


def sandbox_env(c: dict[str, Any]) -> dict[str, str]:
    return {n: e["value"] for n, e in env_of(c).items() if n.startswith("ASSISTD_SANDBOX")}


def hosts_sessions(d: dict[str, Any]) -> bool:
    return env_of(container(d))["ASSISTD_SANDBOX"]["value"] == "local"


def test_all_in_one_hosts_the_sandbox(render):
    r = render()
    d = r.get("Deployment", FULLNAME)
    c = container(d)
    assert sandbox_env(c) == {"ASSISTD_SANDBOX": "local"}  # and assistd's own limits
    sc = c["securityContext"]
    # bwrap makes namespaces (clone/unshare with CLONE_NEWUSER, ...) and mounts, which
    # the runtime's default seccomp profile refuses without CAP_SYS_ADMIN and its
    # default AppArmor profile (deny mount) refuses outright
    assert sc["seccompProfile"] == {"type": "Unconfined"}
    assert sc["appArmorProfile"] == {"type": "Unconfined"}
    # and nothing else is loosened
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert "privileged" not in sc and "procMount" not in sc
    spec = pod_spec(d)
    assert "hostUsers" not in spec  # sandbox.userNamespace is off by default
    # the pod's default stays; the container overrides it
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert APPARMOR_ANNOTATION not in d["spec"]["template"]["metadata"]["annotations"]
    assert "Sandbox (code_interpreter): in the rel-assistd pods" in r.notes
    assert "sandbox.userNamespace is off" in r.notes


def test_init_containers_keep_the_restricted_context(chart, render):
    restricted = chart.merge_values(None)["securityContext"]
    d = render(load_values("embedded.yaml")).get("Deployment", FULLNAME)
    (init,) = pod_spec(d)["initContainers"]
    assert init["securityContext"] == restricted
    assert container(d)["securityContext"]["seccompProfile"] == {"type": "Unconfined"}


def test_split_runs_sessions_in_the_sandbox_deployment_only(chart, render):
    r = render(load_values("split-hpa.yaml"))
    restricted = chart.merge_values(None)["securityContext"]
    modes = {}
    for d in r.of_kind("Deployment"):
        component = d["metadata"]["labels"]["app.kubernetes.io/component"]
        c = container(d)
        modes[component] = env_of(c)["ASSISTD_SANDBOX"]["value"]
        if component == "sandbox":
            assert c["securityContext"]["seccompProfile"] == {"type": "Unconfined"}
            assert c["securityContext"]["appArmorProfile"] == {"type": "Unconfined"}
            assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        else:
            assert c["securityContext"] == restricted, component
            assert not [n for n in env_of(c) if n.startswith("ASSISTD_SANDBOX_")], component
    # runs and the worker call the sandbox service (`remote` fails at start without
    # --upstream sandbox); the others never run a cell
    assert modes == {
        "gateway": "off", "assistants": "off", "threads": "off", "files": "off", "vector-stores": "off",
        "conversations": "off", "responses": "remote", "runs": "remote", "worker": "remote", "sandbox": "local",
    }  # fmt: skip
    sandbox = r.get("Deployment", f"{FULLNAME}-sandbox")
    assert sandbox["spec"]["replicas"] == 1  # sessions live in one pod's memory
    assert container(sandbox)["resources"]["limits"]["memory"] == "4Gi"
    assert f"{FULLNAME}-sandbox" not in r.names("HorizontalPodAutoscaler")
    assert volumes(sandbox)["data"] == {"name": "data", "emptyDir": {}}
    svc = r.get("Service", f"{FULLNAME}-sandbox")
    assert svc["spec"]["type"] == "ClusterIP" and svc["spec"]["ports"][0]["port"] == 8080
    assert svc["spec"]["selector"] == sandbox["spec"]["selector"]["matchLabels"]
    assert f"{FULLNAME}-{{assistants,threads,runs,files,vector-stores,conversations,responses,sandbox}}" in r.notes
    assert f"Sandbox (code_interpreter): {FULLNAME}-sandbox" in r.notes


def test_more_than_one_sandbox_pod_is_noted(render):
    values = load_values("split-hpa.yaml")
    values["split"]["sandbox"] = {"replicaCount": 2}
    r = render(values)
    assert r.get("Deployment", f"{FULLNAME}-sandbox")["spec"]["replicas"] == 2
    assert "more than one sandbox pod" in r.notes
    assert "more than one sandbox pod" not in render(load_values("split-hpa.yaml")).notes


def test_sandbox_disabled_runs_none_anywhere(chart, render):
    restricted = chart.merge_values(None)["securityContext"]
    split = load_values("split-hpa.yaml")
    split["sandbox"] = {"enabled": False}
    for values in ({"sandbox": {"enabled": False}}, split):
        r = render(values)
        assert not [n for n in r.names("Deployment") | r.names("Service") if n.endswith("-sandbox")]
        assert r.of_kind("Deployment")
        for d in r.of_kind("Deployment"):
            c = container(d)
            assert sandbox_env(c) == {"ASSISTD_SANDBOX": "off"}
            assert "sandbox" not in upstreams(c["args"])
            assert c["securityContext"] == restricted
            assert "hostUsers" not in pod_spec(d)
            assert APPARMOR_ANNOTATION not in d["spec"]["template"]["metadata"]["annotations"]
        assert "Sandbox (code_interpreter): off" in r.notes
        assert "sandbox.userNamespace is off" not in r.notes


def test_sandbox_limits_and_user_namespace(render):
    r = render(load_values("sandbox.yaml"))
    sandbox = r.get("Deployment", f"{FULLNAME}-sandbox")
    c = container(sandbox)
    assert sandbox_env(c) == {
        "ASSISTD_SANDBOX": "local",
        "ASSISTD_SANDBOX_TIMEOUT": "60",
        "ASSISTD_SANDBOX_MEMORY_MB": "1024",
        "ASSISTD_SANDBOX_SESSIONS": "8",
        "ASSISTD_SANDBOX_IDLE": "300.5",
    }
    assert c["args"] == ["serve", "--only", "sandbox", "--sandbox-python", "/opt/assistd/sandbox"]
    assert c["resources"] == {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "8Gi"}}
    # bwrap mounts a fresh /proc for each session, which the kernel refuses while the
    # container's /proc has masked paths; Kubernetes unmasks it only in a pod that has
    # its own user namespace
    assert pod_spec(sandbox)["hostUsers"] is False
    sc = c["securityContext"]
    assert sc["procMount"] == "Unmasked"
    assert sc["appArmorProfile"] == {"type": "Localhost", "localhostProfile": "assistd-sandbox"}
    assert sc["seccompProfile"] == {"type": "Unconfined"}  # the default, merged
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    # the limits, the user namespace and the loosened profiles only where sessions run
    for d in r.of_kind("Deployment"):
        if d is sandbox:
            continue
        c = container(d)
        assert not [n for n in env_of(c) if n.startswith("ASSISTD_SANDBOX_")]
        assert "hostUsers" not in pod_spec(d)
        assert "procMount" not in c["securityContext"] and "seccompProfile" not in c["securityContext"]
    assert upstreams(container(r.get("Deployment", f"{FULLNAME}-worker"))["args"])["sandbox"] == f"http://{FULLNAME}-sandbox:8080"
    assert "own user namespace, unmasked /proc" in r.notes
    assert "sandbox.userNamespace is off" not in r.notes


@pytest.mark.parametrize(("kube_version", "field"), [("1.29.0", False), ("1.30.0", True)])
def test_sandbox_apparmor_is_a_field_from_1_30_and_an_annotation_before(render, kube_version, field):
    for values, annotation in ((None, "unconfined"), (load_values("sandbox.yaml"), "localhost/assistd-sandbox")):
        r = render(values, kube_version)
        assert any(hosts_sessions(d) for d in r.of_kind("Deployment"))
        for d in r.of_kind("Deployment"):
            annotations = d["spec"]["template"]["metadata"]["annotations"]
            sc = container(d)["securityContext"]
            if hosts_sessions(d) and not field:
                assert annotations[APPARMOR_ANNOTATION] == annotation and "appArmorProfile" not in sc
            elif hosts_sessions(d):
                assert APPARMOR_ANNOTATION not in annotations and "appArmorProfile" in sc
            else:
                assert APPARMOR_ANNOTATION not in annotations and "appArmorProfile" not in sc


# -- embedded -------------------------------------------------------------------------------


def test_embedded_forces_a_single_replica(render):
    r = render(load_values("embedded.yaml"))
    assert r.names("Deployment") == {FULLNAME}
    d = r.get("Deployment", FULLNAME)
    assert d["spec"]["replicas"] == 1  # asked for 4 and an HPA
    assert d["spec"]["strategy"] == {"type": "Recreate"}
    assert not r.of_kind("HorizontalPodAutoscaler")
    assert not r.of_kind("PodDisruptionBudget")
    assert not r.of_kind("Job")
    assert "ASSISTD_DATABASE_URL" not in env_of(container(d))  # SQLite under /data
    pvc = r.get("PersistentVolumeClaim", f"{FULLNAME}-data")
    assert pvc["spec"]["storageClassName"] == "fast-ssd"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert "embedded mode runs exactly one replica" in r.notes


def test_embedded_copies_model_files_and_mounts_config(render):
    r = render(load_values("embedded.yaml"))
    d = r.get("Deployment", FULLNAME)
    (init,) = pod_spec(d)["initContainers"]
    assert init["command"] == ["cp", "-R", "/data/models", "/mnt/data/"]
    assert volume_mounts(init) == {"/mnt/data": "data"}
    c = container(d)
    assert env_of(c)["ASSISTD_CONFIG"]["value"] == "/etc/assistd/assistd.toml"
    assert volume_mounts(c)["/etc/assistd"] == "config"
    cm = r.get("ConfigMap", f"{FULLNAME}-config")
    assert 'embeddings_model = "all-MiniLM-L6-v2"' in cm["data"]["assistd.toml"]
    assert "checksum/config" in d["spec"]["template"]["metadata"]["annotations"]


def test_existing_claim_is_used_and_not_created(render):
    r = render({"persistence": {"existingClaim": "my-data"}})
    assert not r.of_kind("PersistentVolumeClaim")
    assert volumes(r.get("Deployment", FULLNAME))["data"]["persistentVolumeClaim"]["claimName"] == "my-data"


def test_options_reach_the_manifests(render):
    r = render(load_values("options.yaml"))
    assert r.names("Deployment") == {"api"}
    d = r.get("Deployment", "api")
    spec = pod_spec(d)
    assert spec["serviceAccountName"] == "assistd-runner"
    assert not r.of_kind("ServiceAccount")
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert spec["nodeSelector"] == {"kubernetes.io/arch": "amd64"}
    assert spec["tolerations"][0]["key"] == "dedicated"
    assert spec["terminationGracePeriodSeconds"] == 60
    assert d["spec"]["template"]["metadata"]["labels"]["team"] == "ai"
    assert d["spec"]["template"]["metadata"]["annotations"]["example.com/team"] == "ai"
    c = container(d)
    assert c["imagePullPolicy"] == "Always"
    assert c["args"] == ["serve", "--object-store", "file:///data/blobs"]
    assert env_of(c)["ASSISTD_SHUTDOWN_TIMEOUT"]["value"] == "50"
    assert volumes(d)["data"]["persistentVolumeClaim"]["claimName"] == "shared-files"
    assert not r.of_kind("PersistentVolumeClaim")
    assert d["spec"]["strategy"] == {"type": "Recreate"}  # ReadWriteOnce claim
    svc = r.get("Service", "api")
    assert svc["spec"]["type"] == "LoadBalancer" and svc["spec"]["ports"][0]["port"] == 443
    assert r.get("PodDisruptionBudget", "api")["spec"] == {
        "minAvailable": "50%",
        "selector": d["spec"]["selector"],
    }
    hpa = r.get("HorizontalPodAutoscaler", "api")["spec"]
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["memory"]
    # the migration Job may use an existing ServiceAccount (it exists before the hook)
    job = r.get("Job", "api-migrate")
    assert pod_spec(job)["serviceAccountName"] == "assistd-runner"
    assert job["spec"]["backoffLimit"] == 1
    assert "SERVICE_IP" in r.notes


# -- auth ----------------------------------------------------------------------------------


def test_insecure_no_auth_sets_the_flag_and_no_key(render):
    r = render({"auth": {"insecureNoAuth": True}})
    c = container(r.get("Deployment", FULLNAME))
    assert c["args"] == ["serve", "--insecure-no-auth"]
    assert "ASSISTD_API_KEYS" not in env_of(c)
    assert not r.of_kind("Secret")
    assert "auth is OFF" in r.notes


def test_existing_api_key_secret(render):
    r = render({"auth": {"existingSecret": "keys", "existingSecretKey": "k"}})
    c = container(r.get("Deployment", FULLNAME))
    assert secret_ref(env_of(c)["ASSISTD_API_KEYS"]) == ("keys", "k")
    assert not r.of_kind("Secret")


def test_backend_keys_in_the_chart_secret_or_an_existing_one(render):
    r = render({"qdrant": {"url": "http://qdrant:6334", "apiKey": "qk"}, "embeddings": {"apiKey": "ek"}})
    env = env_of(container(r.get("Deployment", FULLNAME)))
    assert secret_ref(env["ASSISTD_QDRANT_API_KEY"]) == (FULLNAME, "qdrant-api-key")
    assert secret_ref(env["ASSISTD_EMBEDDINGS_API_KEY"]) == (FULLNAME, "embeddings-api-key")
    data = r.secret_data(FULLNAME)
    assert data["qdrant-api-key"] == "qk" and data["embeddings-api-key"] == "ek"
    # the operator's own Secrets win, and nothing is copied into the chart's
    r = render({
        "qdrant": {"existingSecret": "q", "existingSecretApiKeyKey": "key", "apiKey": "qk"},
        "embeddings": {"existingSecret": "e", "existingSecretKey": "token", "apiKey": "ek"},
    })  # fmt: skip
    env = env_of(container(r.get("Deployment", FULLNAME)))
    assert secret_ref(env["ASSISTD_QDRANT_URL"]) == ("q", "qdrant-url")
    assert secret_ref(env["ASSISTD_QDRANT_API_KEY"]) == ("q", "key")
    assert secret_ref(env["ASSISTD_EMBEDDINGS_API_KEY"]) == ("e", "token")
    data = r.secret_data(FULLNAME)
    assert "qdrant-api-key" not in data and "embeddings-api-key" not in data
    # no key given: no variable
    env = env_of(container(render({"qdrant": {"url": "http://qdrant:6334"}}).get("Deployment", FULLNAME)))
    assert "ASSISTD_QDRANT_API_KEY" not in env and "ASSISTD_EMBEDDINGS_API_KEY" not in env


# -- wrong values -------------------------------------------------------------------------


def test_schema_rejects_the_invalid_values_file(chart):
    values = load_values("invalid.yaml")
    with pytest.raises(helm.HelmValuesError) as e:
        chart.validate_schema(values)
    msg = str(e.value)
    assert "/mode" in msg and "allInOne" in msg and "split" in msg, msg
    with pytest.raises(helm.HelmValuesError):
        chart.render(values, name="rel", namespace="ai")
    report = helm.lint(CHART_DIR, values)
    assert report["errors"] or any(m["severity"] == 3 for m in report["messages"]), report


@pytest.mark.parametrize(
    ("values", "where", "says"),
    [
        ({"replicas": 3}, "at ''", "'replicas' not allowed"),
        ({"allInOne": {"replicaCount": "three"}}, "/allInOne/replicaCount", "want integer"),
        ({"log": {"format": "yaml"}}, "/log/format", "'text', 'json'"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy", "IfNotPresent"),
        ({"embedded": False, "database": {"url": "mysql://db/x"}}, "/database/url", "does not match pattern"),
        ({"split": {"gateway": {"replicas": 2}}}, "/split/gateway", "'replicas' not allowed"),
        ({"auth": {"apiKeys": ["sk-a,sk-b"]}}, "/auth/apiKeys/0", "does not match pattern"),
        ({"service": {"type": "Ingress"}}, "/service/type", "ClusterIP"),
        ({"persistence": {"accessModes": ["ReadWriteSometimes"]}}, "/persistence/accessModes/0", "ReadWriteMany"),
        ({"sandbox": {"timeout": 30}}, "/sandbox", "'timeout' not allowed"),
        ({"sandbox": {"enabled": "yes"}}, "/sandbox/enabled", "want boolean"),
        ({"sandbox": {"memoryMb": 32}}, "/sandbox/memoryMb", "want 64"),
        ({"sandbox": {"timeoutSeconds": 0}}, "/sandbox/timeoutSeconds", "exclusiveMinimum"),
        ({"sandbox": {"sessions": 1.5}}, "/sandbox/sessions", "want null or integer"),
        ({"sandbox": {"securityContext": None}}, "/sandbox", "missing property 'securityContext'"),
        ({"split": {"sandbox": {"replicas": 1}}}, "/split/sandbox", "'replicas' not allowed"),
    ],
)
def test_schema_names_the_wrong_value(chart, values, where, says):
    with pytest.raises(helm.HelmValuesError) as e:
        chart.render(values, name="rel", namespace="ai")
    assert where in str(e.value) and says in str(e.value), str(e.value)


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"embedded": False}, "embedded=false needs an external database"),
        ({"mode": "split"}, "embedded=true runs a single all-in-one pod"),
        ({"database": {"url": "postgres://db/x"}}, "embedded=true keeps the database in SQLite"),
        ({"embedded": False, "database": {"url": "postgres://db/x"}, "persistence": {"existingClaim": "c"}}, "persistence.existingClaim is set"),
        ({"shutdownTimeoutSeconds": 60}, "terminationGracePeriodSeconds (45) must be above shutdownTimeoutSeconds (60)"),
        ({"sandbox": {"securityContext": {"procMount": "Unmasked"}}}, "set sandbox.userNamespace=true instead"),
    ],
)
def test_contradictory_values_fail_with_a_sentence(chart, values, says):
    with pytest.raises(helm.HelmRenderError) as e:
        chart.render(values, name="rel", namespace="ai")
    assert says in str(e.value)
