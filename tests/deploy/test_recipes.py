"""The deploy recipes agree with the application: their config loads, and every secret it names is wired.

The linters (hadolint, the Compose specification, kubernetes-validate) run in `make lint-deploy`;
these tests check what no linter can: that the files fit this application's settings.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config.loader import parse_settings
from bot.config.secrets import secret_variable_names
from bot.config.validate import validate_references

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose"
KUBE = ROOT / "deploy" / "kubernetes"


def kube(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((KUBE / name).read_text())
    return loaded


def container_env(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (container,) = manifest["spec"]["template"]["spec"]["containers"]
    return {item["name"]: item for item in container["env"]}


def recipe_config_text() -> str:
    return (COMPOSE / "config.toml").read_text()


def test_configmap_carries_the_same_config_as_compose() -> None:
    configmap = kube("configmap.yaml")
    assert tomllib.loads(configmap["data"]["config.toml"]) == tomllib.loads(recipe_config_text())


def test_recipe_config_passes_check_config() -> None:
    settings = parse_settings(
        tomllib.loads(recipe_config_text()), {"CONDUCTOR_DATABASE_URL": "postgresql+psycopg://x@db/c"}
    )
    validate_references(settings)
    assert settings.ingest.allow_unauthenticated is False
    assert settings.server.host == "0.0.0.0"


@pytest.mark.parametrize("manifest", ["deployment.yaml", "migration-job.yaml"])
def test_every_secret_the_config_names_comes_from_the_secret(manifest: str) -> None:
    settings = parse_settings(tomllib.loads(recipe_config_text()), {})
    env = container_env(kube(manifest))
    wanted = secret_variable_names(settings) | {"CONDUCTOR_DATABASE_URL"}
    missing = sorted(name for name in wanted if name not in env)
    assert missing == [], f"{manifest} does not set {missing}"
    for name in wanted:
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "conductor-secrets" and ref["key"] == name


def test_required_secret_keys_are_in_the_example_secret() -> None:
    example = kube("secret.example.yaml")["stringData"]
    for name, item in container_env(kube("deployment.yaml")).items():
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if ref and not ref.get("optional", False):
            assert name in example, f"secret.example.yaml lacks {name}"


def test_compose_env_example_names_every_secret() -> None:
    settings = parse_settings(tomllib.loads(recipe_config_text()), {})
    listed = (COMPOSE / "conductor.env.example").read_text() + (
        COMPOSE / "slack-socket.env.example"
    ).read_text()
    names = {line.split("=", 1)[0].lstrip("# ").strip() for line in listed.splitlines() if "=" in line}
    assert secret_variable_names(settings) <= names


def test_probes_point_at_the_health_routes() -> None:
    (container,) = kube("deployment.yaml")["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_grace_periods_cover_the_drain() -> None:
    settings = parse_settings(tomllib.loads(recipe_config_text()), {})
    pod = kube("deployment.yaml")["spec"]["template"]["spec"]
    pre_stop = 5
    assert pod["terminationGracePeriodSeconds"] > pre_stop + settings.server.shutdown_grace_seconds
    compose = yaml.safe_load((COMPOSE / "compose.yaml").read_text())
    assert (
        int(compose["services"]["conductor"]["stop_grace_period"].rstrip("s"))
        > settings.server.shutdown_grace_seconds
    )
