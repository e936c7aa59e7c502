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

from server.events import EVENTS
from server.protocol import CLIENT_FRAMES, ERROR_TYPE, EVENT_TYPE, SERVER_FRAMES
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


def table_rows(heading: str) -> dict[str, list[str]]:
    """Return the rows of the first table under a heading of docs/protocol.md, by first cell."""
    section = PROTOCOL.split(heading + "\n", 1)[1]
    rows = {}
    for line in section.split("\n\n#", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) >= 2:
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_the_protocol_lists_exactly_the_registered_event_types_with_who_sees_them() -> None:
    documented = table_rows("### Event names")
    assert set(documented) == set(EVENTS.names()), "docs/protocol.md's events != the registry"
    for event_type in EVENTS:
        meaning, who = documented[event_type.name]
        assert meaning == event_type.summary, event_type.name
        assert who == event_type.visible.name, event_type.name


def test_the_protocol_lists_exactly_the_frames_clients_send_and_the_socket_handles() -> None:
    tags = {frame.__struct_config__.tag for frame in CLIENT_FRAMES}
    assert tags == set(table_rows("## Client → server")), "docs/protocol.md != server/protocol.py"
    assert set(HANDLERS) == set(CLIENT_FRAMES), "every client frame has exactly one handler"


def test_the_protocol_lists_exactly_the_frames_the_server_sends() -> None:
    tags = {frame.__struct_config__.tag for frame in SERVER_FRAMES} | {ERROR_TYPE, EVENT_TYPE}
    assert tags == set(table_rows("## Server → client")), "docs/protocol.md != server/protocol.py"


def excerpts(doc: str) -> list[tuple[str, str]]:
    """Return (file, code) for every code block of a doc, each under the last "`file`:" line."""
    found, source = [], ""
    for part in re.split(r"(```\w*\n.*?```)", doc, flags=re.S):
        if part.startswith("```"):
            found.append((source, part.split("\n", 1)[1].rsplit("```", 1)[0]))
        else:
            named = re.findall(r"^`([\w./-]+)`:$", part, re.M)
            source = named[-1] if named else source
    return found


def test_adding_an_event_type_quotes_the_code_as_it_is() -> None:
    doc = (ROOT / "docs" / "adding-an-event-type.md").read_text()
    found = excerpts(doc)
    assert len(found) >= 5, "the walk-through quotes the declaration, action and client"
    for source, code in found:
        assert source, f"a code block without a file named above it: {code[:60]!r}"
        assert code in (ROOT / source).read_text(), f"{source} no longer has:\n{code}"
    assert "[adding an event type](adding-an-event-type.md)" in PROTOCOL


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
