"""The docs stay true: settings, event types and frames are documented, and the README's two
quick-start commands work on a fresh copy of the repository."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from server.actions.events import EVENT_NAMES
from server.settings import Settings
from server.ws import HANDLERS
from tests.conftest import DEMO_PASSWORD, ROOT, free_port

README = (ROOT / "README.md").read_text()
PROTOCOL = (ROOT / "docs" / "protocol.md").read_text()


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def test_every_setting_is_read_from_the_environment_and_listed_in_the_readme() -> None:
    source = (ROOT / "server" / "settings.py").read_text()
    for f in dataclasses.fields(Settings):
        name = f.name.upper()
        assert f'config("{name}"' in source, f"settings.py does not read {name}"
        assert f"| `{name}` |" in README, f"README's configuration table lacks {name}"


def test_every_event_type_is_documented_in_the_protocol() -> None:
    for name in EVENT_NAMES:
        assert f"`{name}`" in PROTOCOL, f"docs/protocol.md does not describe event {name}"


def test_every_client_frame_type_is_documented_in_the_protocol() -> None:
    for kind in HANDLERS:
        assert f"| `{kind}` |" in PROTOCOL, f"docs/protocol.md does not describe frame {kind}"


def test_the_readme_gives_exactly_two_quick_start_commands_and_ci_runs_the_second() -> None:
    commands = quick_start_commands()
    assert len(commands) == 2, commands
    assert all("\n" not in c for c in commands), "each quick-start command is one line"
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == commands[1], "the last line of .ci/run must be the README's test command"


def _tracked_copy(dest: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = ROOT / name.decode()
        if src.is_file():
            target = dest / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to list the tracked files")
def test_the_first_quick_start_command_sets_up_and_serves_the_demo_on_a_fresh_copy(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "dreiklang"
    repo.mkdir()
    _tracked_copy(repo)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATA_DIR")}
    env.update(PORT=str(port), PIP_DISABLE_PIP_VERSION_CHECK="1")
    log = (tmp_path / "quickstart.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603 - the README's own command, run as a user would
        ["bash", "-c", quick_start_commands()[0]],
        cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300  # a fresh venv installs every dependency
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "quickstart.log").read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail(
                "the demo server did not come up: "
                + (tmp_path / "quickstart.log").read_text()[-3000:]
            )
        output = (tmp_path / "quickstart.log").read_text()
        assert "weber@example.org" in output and "jan@nordlicht.example" in output
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=True) as c:
            c.get("/login")
            r = c.post(
                "/login",
                data={"email": "weber@example.org", "password": DEMO_PASSWORD,
                      "csrftoken": c.cookies["dreiklang_csrf"]},
            )  # fmt: skip
            assert r.status_code == 200 and "Stromausfall" in r.text
        assert (repo / "data" / "dreiklang.sqlite3").exists()
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have exited on its own
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
