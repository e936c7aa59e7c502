"""Fuzz the JSON API against its own OpenAPI document (schemathesis).

For a signed-in customer and for staff, on each configured database, it proves that no input
makes the API answer 5xx; that every answer's status code, content type and body are the ones
the document declares; that input the document calls invalid is refused with a 4xx; and that
every error is the one envelope `{"error": {"code", "message"}}`. Stateless: every operation
alone, with generated valid and invalid input. Stateful: sequences that follow the document's
links (start a thread, read and change it, post messages into it, page through them, edit and
delete one). Inputs found while fuzzing that broke the server are replayed on every run.

Cases go through `TestClient` with the app's real lifespan, not schemathesis' own ASGI client:
that one starts the app's lifespan on a thread of its own and keeps it until the process ends,
which would leave the database open for the tests that follow.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis.stateful import Bundle, initialize
from schemathesis.errors import FailureGroup
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.app import create_app
from server.models import Role
from server.openapi import build
from server.routes import routes
from tests.conftest import PASSWORD, Databases, make_settings

Case = schemathesis.Case[Any]  # whichever operation: this module fuzzes them all

# Raise these to hunt deeper locally (FUZZ_EXAMPLES=500). The defaults keep the module at ~15 s
# on SQLite and ~35 s with PostgreSQL too, on two cores.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))  # generated cases per operation and role
SCENARIOS = int(os.environ.get("FUZZ_SCENARIOS", "8"))  # call sequences per role
STEPS = 10  # calls per sequence at most
CUSTOMER = "tom@example.org"
STAFF = "jan@nordlicht.example"

DOCUMENT = build(routes())  # test_the_fuzzed_document_is_the_one_the_app_serves
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {
            "max-examples": EXAMPLES,
            "deterministic": True,  # the same cases every run: CI fails for a change, not by luck
            "database": "none",  # and replays nothing a local run saved
            "with-security-parameters": False,  # every case carries a real token: Api.send
        },
        "checks": {
            "enabled": False,
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
            "negative_data_rejection": {"enabled": True},
            "unsupported_method": {"enabled": True},  # a method the document lacks is a 405
        },
    }
)
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)

pytestmark = pytest.mark.usefixtures("fast_passwords")


def methods_of(path_item: dict[str, Any]) -> set[str]:
    """Return the HTTP methods a path of the document declares."""
    return {key.upper() for key in path_item if key != "parameters"}


def envelope_problem(content_type: str, text: str) -> str | None:
    """Say what keeps an error from being `{"error": {"code", "message"}}` as JSON, or None."""
    if not content_type.startswith("application/json"):
        return f"answered as {content_type!r}: {text[:80]!r}"
    try:
        body = json.loads(text)
    except ValueError:
        return f"not JSON: {text[:80]!r}"
    if not isinstance(body, dict) or set(body) != {"error"}:
        return f"not the error envelope: {text[:120]!r}"
    error = body["error"]
    if not isinstance(error, dict) or set(error) != {"code", "message"}:
        return f"not the error envelope: {text[:120]!r}"
    if not all(isinstance(value, str) and value for value in error.values()):
        return f"an empty or non-text code or message: {text[:120]!r}"
    return None


def error_envelope(ctx: Any, response: schemathesis.Response, case: Case) -> None:
    """Every error is the one envelope (a schemathesis check)."""
    if response.status_code < 400:
        return
    problem = envelope_problem(response.headers.get("content-type", [""])[0], response.text)
    assert problem is None, f"a {response.status_code} {problem}"


class Api:
    """A script signed in as one account, calling the app with its token."""

    def __init__(self, client: TestClient, email: str) -> None:
        self.client = client
        self.email = email
        self.token = ""
        self.sign_in()

    def sign_in(self) -> None:
        self.client.cookies.clear()
        r = self.client.post("/api/v1/tokens", json={"email": self.email, "password": PASSWORD})
        assert r.status_code == 201, r.text
        self.token = r.json()["token"]

    def send(self, case: Case) -> schemathesis.Response:
        """Send a case exactly as schemathesis' own `requests` transport would encode it."""
        kwargs = case.as_transport_kwargs(
            base_url="http://testserver", headers={"Authorization": f"Bearer {self.token}"}
        )
        prepared = requests.Request(**kwargs).prepare()
        headers = {
            k: v if isinstance(v, str) else v.decode("latin-1") for k, v in prepared.headers.items()
        }
        assert prepared.body is None or isinstance(prepared.body, (bytes, str))
        self.client.cookies.clear()  # a script, not a browser: no session or CSRF cookie
        method, url = prepared.method or "", prepared.url or ""
        response = self.client.request(method, url, headers=headers, content=prepared.body)
        if response.status_code == 204 and case.path == "/api/v1/tokens/current":
            self.sign_in()  # it revoked its own token, as a script may, and signs in again
        return schemathesis.Response.from_any(response)


@dataclass
class Seeded:
    """The app with a customer's public thread and staff's internal one."""

    client: TestClient
    public_thread: str
    public_message: str  # its first


@contextmanager
def seeded_app(database_url: str, data_dir: Path) -> Iterator[Seeded]:
    """Run the app on a migrated database with a customer, staff and a thread of each."""
    # Signing in again after revoking its token must not run into the sign-in rate limit.
    settings = make_settings(database_url, data_dir, login_attempts_per_minute=1_000_000)
    # A 500 is an answer the checks judge (with a curl line), not an exception in the test.
    with TestClient(
        create_app(settings), base_url="http://testserver", raise_server_exceptions=False
    ) as client:
        portal = client.portal
        assert portal is not None
        portal.call(create_user, CUSTOMER, "Tom", PASSWORD, Role.CUSTOMER, "")
        portal.call(create_user, STAFF, "Jan", PASSWORD, Role.EMPLOYEE, "Field service")
        started: list[dict[str, Any]] = []
        for email, visibility in [(CUSTOMER, "public"), (STAFF, "internal")]:
            author = Api(client, email)
            thread = {
                "title": "Meter",
                "body": "How?",
                "client_id": "seed",
                "visibility": visibility,
            }
            r = client.post(
                "/api/v1/threads", json=thread, headers={"Authorization": f"Bearer {author.token}"}
            )
            assert r.status_code == 201, r.text
            started.append(r.json())
        client.cookies.clear()
        public = started[0]
        yield Seeded(client, public["thread"]["id"], public["message"]["id"])


@contextmanager
def fresh_database(databases: Databases, like: str, folder: Path) -> Iterator[str]:
    """Give a new migrated database of the same kind as the one at `like`."""
    if like.startswith("sqlite://"):
        yield databases.sqlite_url(folder / f"{secrets.token_hex(6)}.sqlite3")
        return
    url = databases.postgres_url()
    try:
        yield url
    finally:
        databases.drop(url)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Seeded]:
    """The seeded app on each configured kind of database."""
    with seeded_app(database_url, tmp_path) as seeded:
        yield seeded


@pytest.fixture
def sqlite_app(sqlite_url: str, tmp_path: Path) -> Iterator[Seeded]:
    """The seeded app, for what does not depend on the kind of database."""
    with seeded_app(sqlite_url, tmp_path) as seeded:
        yield seeded


@pytest.fixture(params=[CUSTOMER, STAFF], ids=["customer", "staff"])
def email(request: pytest.FixtureRequest) -> str:
    """Who signs in: a customer or staff."""
    return str(request.param)


@pytest.fixture
def api(app: Seeded, email: str) -> Api:
    return Api(app.client, email)


# -- fuzzing -----------------------------------------------------------------------------------


def test_the_fuzzed_document_is_the_one_the_app_serves(sqlite_app: Seeded) -> None:
    assert sqlite_app.client.get("/api/openapi.json").json() == DOCUMENT


@schema.parametrize()
# One app and database serve every case of an operation, as one server serves many requests.
@hypothesis.settings(suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
def test_every_operation_answers_as_documented(case: Case, api: Api) -> None:
    case.validate_response(api.send(case), additional_checks=[error_envelope])


def test_sequences_that_follow_links_answer_as_documented(
    email: str, database_url: str, databases: Databases, tmp_path: Path
) -> None:
    start = schema["/api/v1/threads"]["POST"]

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Each sequence starts on a fresh database: one that saw earlier sequences would
            # answer the same steps differently, and Hypothesis rightly calls that flaky.
            self.running = ExitStack()
            url = self.running.enter_context(fresh_database(databases, database_url, tmp_path))
            self.api = Api(self.running.enter_context(seeded_app(url, tmp_path)).client, email)

        def teardown(self) -> None:
            self.running.close()

        # Schemathesis reads `client_id` as a reference to a "Client" that nothing creates, so
        # it would never start a sequence with a new thread: every sequence does here.
        @initialize(target=Bundle("threads"), case=start.as_strategy())
        def start_a_thread(self, case: Case) -> StepOutput:
            self.recorder.record_case(case=case)  # the steps that follow name it as their source
            started: StepOutput = self.step(StepInput.initial(case))
            return started

        def call(self, case: Case, **kwargs: Any) -> schemathesis.Response:
            return self.api.send(case)

        def validate_response(
            self,
            response: schemathesis.Response,
            case: Case,
            *args: Any,
            **kwargs: Any,
        ) -> None:
            kwargs["additional_checks"] = [error_envelope]
            super().validate_response(response, case, **kwargs)

    Workflow.run(
        settings=hypothesis.settings(
            Workflow.TestCase.settings,
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            derandomize=True,
            database=None,
        )
    )


# -- found while fuzzing (each was a bug: a 500, or an answer the document does not allow) ------

NUL = "a\x00b"  # PostgreSQL refuses NUL in text; an unchecked one reaches the query and is a 500
FOUND: list[tuple[str, str, str, dict[str, Any]]] = [
    ("nul-in-email", "POST", "/api/v1/tokens", {"body": {"email": NUL, "password": "x"}}),
    ("nul-in-token-name", "POST", "/api/v1/tokens",
     {"body": {"email": STAFF, "password": PASSWORD, "name": NUL}}),
    ("nul-in-new-title", "POST", "/api/v1/threads",
     {"body": {"title": NUL, "body": "b", "client_id": "c"}}),
    ("nul-in-changed-title", "PATCH", "/api/v1/threads/{thread_id}", {"body": {"title": NUL}}),
    ("nul-in-cursor", "GET", "/api/v1/threads",
     {"query": {"cursor": f"2026-01-01T00:00:00+00:00~{NUL}"}}),
    ("long-id-in-cursor", "GET", "/api/v1/threads",
     {"query": {"cursor": "2026-01-01T00:00:00+00:00~" + "x" * 17}}),
    ("cursor-after-9999", "GET", "/api/v1/threads",
     {"query": {"cursor": "9999-12-31T23:59:59-14:00~abc"}}),
    ("cursor-before-year-1", "GET", "/api/v1/threads",
     {"query": {"cursor": "0001-01-01T00:00:00+14:00~abc"}}),
    ("nul-in-before", "GET", "/api/v1/threads/{thread_id}/messages", {"query": {"before": NUL}}),
    ("nul-in-thread-id", "GET", "/api/v1/threads/{thread_id}",
     {"path_parameters": {"thread_id": NUL}}),
    ("nul-in-thread-id-of-messages", "GET", "/api/v1/threads/{thread_id}/messages",
     {"path_parameters": {"thread_id": NUL}}),
    ("nul-in-thread-id-of-new-message", "POST", "/api/v1/threads/{thread_id}/messages",
     {"path_parameters": {"thread_id": NUL}, "body": {"body": "b", "client_id": "c"}}),
    ("nul-in-message-id-to-edit", "PATCH", "/api/v1/messages/{message_id}",
     {"path_parameters": {"message_id": NUL}, "body": {"body": "b"}}),
    ("nul-in-message-id-to-delete", "DELETE", "/api/v1/messages/{message_id}",
     {"path_parameters": {"message_id": NUL}}),
]  # fmt: skip


def test_inputs_found_while_fuzzing_answer_as_documented(app: Seeded) -> None:
    ids = {"thread_id": app.public_thread, "message_id": app.public_message}
    staff = Api(app.client, STAFF)
    wrong = []
    for name, method, path, given in FOUND:
        in_path = {key: value for key, value in ids.items() if f"{{{key}}}" in path}
        case = schema[path][method].Case(
            **{**given, "path_parameters": {**in_path, **given.get("path_parameters", {})}}
        )
        try:
            case.validate_response(staff.send(case), additional_checks=[error_envelope])
        except FailureGroup as failed:  # what failed, with a curl line to reproduce it
            found = ", ".join(sorted({failure.title for failure in failed.exceptions}))
            wrong.append(f"{name}: {found}\n    {case.as_curl_command()}")
    assert not wrong, "\n".join(wrong)


def test_a_method_an_api_url_lacks_is_a_405_error_envelope(sqlite_app: Seeded) -> None:
    client, wrong = sqlite_app.client, []
    for path, item in DOCUMENT["paths"].items():
        url = path.format(thread_id=sqlite_app.public_thread, message_id=sqlite_app.public_message)
        for method in sorted({"PUT", "OPTIONS", "TRACE"} - methods_of(item)):
            client.cookies.clear()
            r = client.request(method, url, headers={"Authorization": "Bearer x"})
            problem = envelope_problem(r.headers.get("content-type", ""), r.text)
            if r.status_code != 405 or problem:
                wrong.append(f"{method} {url}: {r.status_code} {problem}")
    assert not wrong, "\n".join(wrong)


def test_a_405_allows_every_method_of_the_url(sqlite_app: Seeded) -> None:
    client, wrong = sqlite_app.client, []
    for path, item in DOCUMENT["paths"].items():
        url = path.format(thread_id=sqlite_app.public_thread, message_id=sqlite_app.public_message)
        client.cookies.clear()
        r = client.request("PUT", url)
        allowed = {m.strip() for m in r.headers.get("allow", "").split(",")} - {"HEAD", ""}
        if allowed != methods_of(item):
            declared = ", ".join(sorted(methods_of(item)))
            wrong.append(f"PUT {url}: Allow: {r.headers.get('allow')!r}, documented: {declared}")
    assert not wrong, "\n".join(wrong)


def test_an_unknown_api_url_is_a_404_error_envelope(sqlite_app: Seeded) -> None:
    client, wrong = sqlite_app.client, []
    # An id with a slash in it (encoded) leaves the route as much as a misspelt path.
    for url in ["/api/v1/nothing", "/api/v1/threads/a%2Fb", "/api/v1/messages/a%2Fb"]:
        client.cookies.clear()
        r = client.patch(url, json={"body": "x"}, headers={"Authorization": "Bearer x"})
        problem = envelope_problem(r.headers.get("content-type", ""), r.text)
        if r.status_code != 404 or problem:
            wrong.append(f"PATCH {url}: {r.status_code} {problem}")
    assert not wrong, "\n".join(wrong)


def test_a_script_that_keeps_the_apis_cookies_still_gets_a_token(sqlite_app: Seeded) -> None:
    client = sqlite_app.client
    client.cookies.clear()
    for _ in range(2):  # like requests.Session or httpx.Client: the first answer sets a cookie
        r = client.post("/api/v1/tokens", json={"email": CUSTOMER, "password": PASSWORD})
        assert r.status_code == 201, (r.status_code, r.headers["content-type"], r.text[:80])
