"""deploy/kubernetes/: plain manifests for the seed's launchers, checked offline against the
Kubernetes schemas that the kubernetes-validate package bundles, checked for consistency with each
other, and their launcher command run here for real."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import agentnb
from agentnb import Msg
from agentnb.server.__main__ import _parse
from agentnb.workshop import Worker

kubernetes_validate = pytest.importorskip("kubernetes_validate")

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
#: The newest Kubernetes the package knows, and an older one still widely run.
VERSIONS = (kubernetes_validate.latest_version(), "1.30.0")


def _documents() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def _kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in _documents() if doc["kind"] == kind]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_passes_strict_schema_validation(version: str) -> None:
    documents = _documents()
    assert {d["kind"] for d in documents} == {"StatefulSet", "Service", "Secret"}
    for doc in documents:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validation_rejects_a_manifest_with_a_mistake() -> None:
    broken = _kind("StatefulSet")[0]
    broken["spec"]["replica"] = 2  # a typo of replicas
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[0], strict=True)


def test_the_validation_needs_no_network() -> None:
    """The command-line validator, run in a network namespace of its own that has no interface up."""
    cli = [sys.executable, "-m", "kubernetes_validate", "--strict", *map(str, MANIFESTS)]
    try:
        result = subprocess.run(["unshare", "--net", *cli], capture_output=True, text=True, timeout=120)
    except FileNotFoundError as exc:
        pytest.skip(f"unshare is missing: {exc}")
    if "unshare failed" in result.stderr:
        pytest.skip(f"cannot make a network namespace here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (result.stdout + result.stderr).count("passed for resource") == len(_documents())


def test_the_statefulset_its_headless_service_and_its_secrets_fit_together() -> None:
    (stateful,) = _kind("StatefulSet")
    (service,) = _kind("Service")
    secrets = {s["metadata"]["name"]: s for s in _kind("Secret")}
    spec = stateful["spec"]
    assert spec["serviceName"] == service["metadata"]["name"] and service["spec"]["clusterIP"] == "None"
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"] == labels == service["spec"]["selector"]
    assert secrets["agentnb-tls"]["type"] == "kubernetes.io/tls"
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    files = {}
    for volume in pod["volumes"]:
        if "secret" in volume:
            secret = secrets[volume["secret"]["secretName"]]
            for key in secret["stringData"]:
                files[f"{mounts[volume['name']]}/{key}"] = secret["stringData"][key]
    args = _parse(_expand(container))
    assert args.token_file in files and args.tls_cert in files and args.tls_key in files
    assert args.port == container["ports"][0]["containerPort"] == service["spec"]["ports"][0]["port"]
    assert args.host == "0.0.0.0" and args.allow_module == ["mypkg.agents"]
    assert json.loads(args.agent_kwargs) == {"name": "agentnb-0"}
    runtime = next(e["value"] for e in container["env"] if e["name"] == "AGENTNB_RUNTIME_DIR")
    assert runtime in mounts.values() and container["securityContext"]["readOnlyRootFilesystem"]


def _expand(container: dict[str, Any], **values: str) -> list[str]:
    """The container's arguments as Kubernetes expands ``$(VAR)`` (pod agentnb-0 by default)."""
    env = {e["name"]: e.get("value", "") for e in container["env"]}
    env.update(POD_NAME="agentnb-0", **values)
    return [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], arg) for arg in container["args"]]


def test_the_launcher_command_of_the_manifest_serves_tls_and_a_driver_attaches(tmp_path: Path) -> None:
    (container,) = _kind("StatefulSet")[0]["spec"]["template"]["spec"]["containers"]
    tls = agentnb.make_self_signed(tmp_path / "tls", hosts=["127.0.0.1"])
    (tmp_path / "token").write_text("manifest-token")
    here = {
        "--host=0.0.0.0": "--host=127.0.0.1",
        "--port=12001": "--port=0",
        "--token-file=/etc/agentnb/token/token": f"--token-file={tmp_path / 'token'}",
        "--tls-cert=/etc/agentnb/tls/tls.crt": f"--tls-cert={tls.cert}",
        "--tls-key=/etc/agentnb/tls/tls.key": f"--tls-key={tls.key}",
    }
    args = [here.get(a, a) for a in _expand(container, AGENT_MODULE="agentnb.workshop",
                                                    AGENT_CLASS="agentnb.workshop:Worker")]  # fmt: skip
    assert args != _expand(container) and len(args) == len(container["args"])
    env = dict(os.environ, AGENTNB_RUNTIME_DIR=str(tmp_path / "run"))
    proc = subprocess.Popen(
        [sys.executable, *container["command"][1:], *args],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        address = next(line.split("listening on ")[1].split()[0] for line in proc.stderr
                       if "listening on" in line)  # fmt: skip
        host, port = address.rsplit(":", 1)
        agent = Worker(name="agentnb-0").to_dist(
            host, int(port), launch_server=False, token="manifest-token", tls=agentnb.TLS(ca=tls.cert)
        )
        assert agent(Msg("u", "hi")).content["inputs"] == ["hi"]
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
