"""deploy/: every YAML file parses, and the broker containers are configured as the README says
(MongoDB replica set URI, -workers, -writeConcern, -dbPoolSize, probes on /version). Docker and
Kubernetes do not run here: this checks the files, not a deployment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
YAML_FILES = sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml"))


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _k8s(kind: str) -> list[dict[str, Any]]:
    return [d for p in YAML_FILES if "k8s" in p.parts for d in _documents(p) if d.get("kind") == kind]


def _flag(command: list[str], flag: str) -> str:
    assert flag in command, f"{flag} missing from {command}"
    return command[command.index(flag) + 1]


def test_deploy_has_a_compose_file_and_kubernetes_manifests() -> None:
    names = {p.relative_to(DEPLOY).as_posix() for p in YAML_FILES}
    assert {"compose.yaml", "k8s/broker.yaml", "k8s/mongodb.yaml", "k8s/kustomization.yaml"} <= names


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.relative_to(DEPLOY).as_posix())
def test_every_yaml_file_parses(path: Path) -> None:
    assert _documents(path)


def test_compose_runs_broker_replicas_on_a_three_member_replica_set_with_health_checks() -> None:
    services = _documents(DEPLOY / "compose.yaml")[0]["services"]
    members = [s for s in services.values() if "--replSet" in (s.get("command") or [])]
    assert len(members) == 3
    init = services["mongo-init"]
    assert "rs.initiate" in " ".join(init["command"])
    broker = services["broker"]
    command = broker["command"]
    uri = _flag(command, "-dbURI")
    assert uri.startswith("mongodb://mongo1:27017,mongo2:27017,mongo3:27017/") and "replicaSet=rs0" in uri
    assert _flag(command, "-writeConcern") in ("0", "1")
    assert int(_flag(command, "-dbPoolSize")) >= 1
    assert int(_flag(command, "-workers")) >= 2
    assert "-multiservice" in command  # tenants by Fiware-Service, as Orion deployments run
    assert broker["deploy"]["replicas"] >= 2
    assert broker["depends_on"]["mongo-init"]["condition"] == "service_completed_successfully"
    assert "/version" in " ".join(broker["healthcheck"]["test"])
    assert broker["build"]["dockerfile"] == "deploy/Dockerfile"
    assert services["lb"]["depends_on"]["broker"]["condition"] == "service_healthy"


def test_the_image_is_python_3_11_slim_with_the_package_installed() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in text
    assert "pip install --no-cache-dir ." in text
    assert 'ENTRYPOINT ["python", "-m", "broker"]' in text


def test_kubernetes_broker_deployment_probes_version_and_connects_to_the_replica_set() -> None:
    (deployment,) = _k8s("Deployment")
    assert deployment["spec"]["replicas"] >= 2
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    command = container["command"] + container["args"]
    assert command[:3] == ["python", "-m", "broker"]
    assert _flag(command, "-dbURI") == "$(ORION_MONGO_URI)"
    for flag in ("-writeConcern", "-dbPoolSize", "-workers"):
        assert _flag(command, flag).startswith("$(")
    assert "-multiservice" in command
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/version"
    assert container["resources"]["limits"] and container["resources"]["requests"]
    (config,) = _k8s("ConfigMap")
    env = config["data"]
    assert "replicaSet=rs0" in env["ORION_MONGO_URI"]
    assert {"ORION_MONGO_WRITE_CONCERN", "ORION_MONGO_POOL_SIZE", "BROKER_WORKERS"} <= set(env)
    assert container["envFrom"][0]["configMapRef"]["name"] == config["metadata"]["name"]
    (service,) = [s for s in _k8s("Service") if s["metadata"]["name"] == "area-broker"]
    assert service["spec"]["ports"][0]["port"] == 1026


def test_kubernetes_mongodb_is_a_three_member_statefulset_with_an_init_job() -> None:
    (statefulset,) = _k8s("StatefulSet")
    assert statefulset["spec"]["replicas"] == 3
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    assert "--replSet" in container["command"]
    (job,) = _k8s("Job")
    assert "rs.initiate" in " ".join(job["spec"]["template"]["spec"]["containers"][0]["command"])
