"""Renders helm/assistd offline with the Helm 4 Go SDK (helm-python-sdk) and hands the
tests the manifests as plain dicts."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from helm_python import _native

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "helm" / "assistd"
VALUES_DIR = Path(__file__).resolve().parent / "values"
RELEASE = "rel"
NAMESPACE = "ai"
FULLNAME = "rel-assistd"


def load_values(name: str) -> dict[str, Any]:
    """A values file from tests/helm/values, parsed by Helm's own YAML reader."""
    return helm.values_from_yaml((VALUES_DIR / name).read_text())


@dataclass
class Rendered:
    """The manifests of one render, plus NOTES.txt."""

    docs: list[dict[str, Any]]
    notes: str

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def names(self, kind: str) -> set[str]:
        return {d["metadata"]["name"] for d in self.of_kind(kind)}

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = [d for d in self.of_kind(kind) if d["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name}, found {len(found)} among {sorted(self.names(kind))}"
        return found[0]

    def secret_data(self, name: str) -> dict[str, str]:
        """A rendered Secret's data, base64-decoded."""
        data = self.get("Secret", name).get("data") or {}
        return {k: base64.b64decode(v).decode() for k, v in data.items()}


def render_chart(chart: helm.Chart, values: dict[str, Any] | None = None, kube_version: str | None = None) -> Rendered:
    """Renders as `helm install` would; on a cluster of `kube_version` (e.g. "1.25.0")
    when given, else on the SDK's default (v1.36.0 with helm-python-sdk 0.2.2)."""
    if kube_version is None:
        out = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    else:
        # Chart.render does not expose it, but the library's render options take the
        # cluster's version (what `.Capabilities.KubeVersion` says), as `helm template
        # --kube-version` does.
        opts = {"name": RELEASE, "namespace": NAMESPACE, "is_install": True, "kube_version": f"v{kube_version.lstrip('v')}"}
        args = (chart._raw(), None if values is None else json.dumps(values), json.dumps(opts))
        out = json.loads(_native.call_string("helm_render", *args))
    docs: list[dict[str, Any]] = []
    notes = ""
    for path, text in sorted(out.items()):
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                assert {"apiVersion", "kind", "metadata"} <= doc.keys(), f"{path}: not a manifest: {doc}"
                docs.append(doc)
    return Rendered(docs, notes)


@pytest.fixture(scope="session")
def chart():
    with helm.Chart.load(CHART_DIR) as c:
        yield c


@pytest.fixture(scope="session")
def render(chart):
    def _render(values: dict[str, Any] | None = None, kube_version: str | None = None) -> Rendered:
        return render_chart(chart, values, kube_version)

    return _render


# -- helpers over pod specs ---------------------------------------------------------


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def container(workload: dict[str, Any], name: str = "assistd") -> dict[str, Any]:
    found = [c for c in pod_spec(workload)["containers"] if c["name"] == name]
    assert len(found) == 1, f"{workload['metadata']['name']}: no container {name}"
    return found[0]


def env_of(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A container's env by name (and no name twice)."""
    names = [e["name"] for e in c.get("env", [])]
    assert len(names) == len(set(names)), f"duplicate env names in {c['name']}: {names}"
    return {e["name"]: e for e in c.get("env", [])}


def secret_ref(entry: dict[str, Any]) -> tuple[str, str]:
    ref = entry["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


def volume_mounts(c: dict[str, Any]) -> dict[str, str]:
    return {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}


def volumes(workload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
