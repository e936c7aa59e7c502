"""Lighthouse audit of Dreiklang pages, signed in, on a real server with a long thread.

Starts a real server (a subprocess on a free 127.0.0.1 port, SQLite in a temporary DATA_DIR,
the demo company loaded), creates a public thread with 50 messages through the JSON API as the
demo customer, signs in through the HTML form like a browser (GET /login for the CSRF cookie,
POST /login) and runs the pinned Lighthouse (bench/lighthouse, 12.8.2: Node 20 cannot run 13)
in its default mobile mode on the thread page, with the session cookie in the browser's jar
(bench/lighthouse/run.mjs; --cookie-via extra-headers uses the CLI's --extra-headers instead).

    npm ci --prefix bench/lighthouse               # once (about 15 s, no install scripts)
    .venv/bin/python bench/lighthouse.py           # the 50-message thread page
    .venv/bin/python bench/lighthouse.py --url-path /threads --url-path /login
    .venv/bin/python bench/lighthouse.py --all     # thread page, /threads and /login

Prints per page the scores of performance, accessibility and best practices, every audit that
does not pass (title, value and the first items of its details) and the total transfer size
(total-byte-weight). Exits 1 if a score misses its target or an audit errored (2 on setup
errors). Pages under /login and /signup are audited signed out (they redirect when signed in).
See bench/lighthouse/README.md for the latest figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LIGHTHOUSE_DIR = BENCH / "lighthouse"
LIGHTHOUSE_BIN = LIGHTHOUSE_DIR / "node_modules" / ".bin" / "lighthouse"
CHROME_PATH = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CHROME_FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run "
    "--disable-background-networking --disable-component-update --disable-sync"
)
USER = ("weber@example.org", "nordlicht-demo")  # a demo customer
MESSAGES = 50
CATEGORIES = ("performance", "accessibility", "best-practices")
TARGETS = {"performance": 95, "accessibility": 100, "best-practices": 100}
SIGNED_OUT_PREFIXES = ("/login", "/signup")
THREAD = "thread"  # --url-path value meaning "the benchmark thread's page"
LIGHTHOUSE_TIMEOUT_SECONDS = 180
CLI_TIMEOUT_SECONDS = 60
PASS_SCORE = 0.9  # like the Lighthouse report: a scored audit with at least 0.9 shows as passed
DETAIL_ITEMS = 5


# -- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A Dreiklang server in a subprocess on its own SQLite database (like tests' LiveServer)."""

    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DREIKLANG_")}
        env.update(
            DATA_DIR=str(self.data_dir),
            DATABASE_URL=f"sqlite://{self.data_dir / 'bench.sqlite3'}",
            SECRET_KEY="lighthouse-bench-secret",
            LOGIN_ATTEMPTS_PER_MINUTE="1000",
        )
        return env

    def run_cli(self, *args: str) -> None:
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "server.cli", *args], env=self.env(), cwd=ROOT,
                capture_output=True, text=True, timeout=CLI_TIMEOUT_SECONDS,
            )  # fmt: skip
        except subprocess.TimeoutExpired as err:
            out = (err.stderr or b"")[-3000:]
            text = out.decode(errors="replace") if isinstance(out, bytes) else out
            raise RuntimeError(
                f"`dreiklang {' '.join(args)}` took over {err.timeout:.0f} s: {text}"
            ) from err
        if proc.returncode != 0:
            raise RuntimeError(
                f"`dreiklang {' '.join(args)}` exited {proc.returncode}: {proc.stderr[-3000:]}"
            )

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port)],
                env=self.env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_tail()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer /healthz in 30 s: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


@contextmanager
def running_server(keep: bool) -> Iterator[Server]:
    data_dir = Path(tempfile.mkdtemp(prefix="dreiklang-lighthouse-"))
    server = Server(data_dir, free_port())
    try:
        server.run_cli("demo", "--no-serve")
        server.start()
        yield server
    finally:
        server.stop()
        if keep:
            print(f"kept {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


# -- the data and the session ----------------------------------------------------------------

BODIES = (
    "Guten Tag, seit heute Morgen zeigt mein Zähler **{n} kWh** mehr als erwartet. Ist das normal?",
    "Danke für die schnelle Antwort! Ich habe notiert:\n\n- Zählerstand: {n}\n- Datum: heute",
    "Können Sie mir sagen, ob der Abschlag angepasst wird? Siehe auch `Vertrag {n}`.",
    "Kurze Rückfrage zu Punkt {n}: gilt das auch für den Zweittarif (Wärmepumpe)?",
    "Ich habe das Formular ausgefüllt und hochgeladen. Nachricht Nummer {n} in diesem Thread.",
)


def create_thread(server: Server, messages: int) -> str:
    """Create a public thread with `messages` messages (the first included) via the JSON API."""
    with httpx.Client(base_url=server.url, timeout=30) as api:
        r = api.post("/api/v1/tokens", json={"email": USER[0], "password": USER[1]})
        r.raise_for_status()
        api.headers["Authorization"] = f"Bearer {r.json()['token']}"
        r = api.post("/api/v1/threads", json={
            "title": "Zählerstand und Abschlag – lange Unterhaltung",
            "body": BODIES[0].format(n=1),
            "client_id": "lh-thread",
            "kind": "question",
            "visibility": "public",
        })  # fmt: skip
        r.raise_for_status()
        thread_id = str(r.json()["thread"]["id"])
        for n in range(2, messages + 1):
            r = api.post(f"/api/v1/threads/{thread_id}/messages", json={
                "body": BODIES[(n - 1) % len(BODIES)].format(n=n),
                "client_id": f"lh-msg-{n}",
            })  # fmt: skip
            r.raise_for_status()
        r = api.get(f"/api/v1/threads/{thread_id}")
        r.raise_for_status()
        count = r.json()["thread"]["messages"]
        if count != messages:
            raise RuntimeError(f"thread has {count} messages, expected {messages}")
    return thread_id


def session_cookie_header(server: Server) -> str:
    """Sign in through the HTML form like a browser; return the Cookie header it would send."""
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        browser.get("/login").raise_for_status()
        csrf = browser.cookies.get("dreiklang_csrf")
        if not csrf:
            raise RuntimeError("GET /login set no dreiklang_csrf cookie")
        r = browser.post(
            "/login",
            data={"email": USER[0], "password": USER[1], "csrftoken": csrf},
            follow_redirects=False,
        )
        if r.status_code != 303:
            raise RuntimeError(f"sign-in answered {r.status_code}: {r.text[:300]}")
        jar = {cookie.name: cookie.value for cookie in browser.cookies.jar}
        r = browser.get("/threads", follow_redirects=False)
        if r.status_code != 200:
            raise RuntimeError(f"signed-in GET /threads answered {r.status_code}")
    return "; ".join(f"{name}={value}" for name, value in jar.items())


def final_path(server: Server, path: str, cookie: str | None) -> str:
    """Follow redirects the way the signed-in browser would, and return the final path.

    Chromium does not send an extra Cookie header (how Lighthouse gets the session) again after
    a redirect, so auditing a redirecting URL would audit the sign-in page instead."""
    jar = {c["name"]: c["value"] for c in cookie_pairs(cookie)} if cookie else {}
    with httpx.Client(base_url=server.url, cookies=jar, timeout=30) as browser:
        r = browser.get(path, follow_redirects=True)
        r.raise_for_status()
    final = r.url.raw_path.decode()
    if final != path:
        print(f"{path} redirects to {final}: auditing {final}")
    return final


# -- Lighthouse ------------------------------------------------------------------------------


def cookie_pairs(cookie: str) -> list[dict[str, str]]:
    return [
        dict(zip(("name", "value"), pair.split("=", 1), strict=True)) for pair in cookie.split("; ")
    ]


def run_lighthouse(
    url: str, cookie: str | None, workdir: Path, name: str, via: str = "jar"
) -> dict[str, Any]:
    """Run Lighthouse once (a fresh Chrome profile each time) and return its result (LHR).

    via="jar" (default): bench/lighthouse/run.mjs puts the cookies in the browser's cookie jar,
    then runs Lighthouse like its CLI. via="extra-headers": the plain CLI with
    --extra-headers '{"Cookie": ...}'; Chromium then sends no cookie on some of the page's own
    requests (about 1 run in 4: an htmx request answers 401 and the page goes to /login)."""
    report = workdir / f"{name}.report.json"
    env = {**os.environ, "CHROME_PATH": CHROME_PATH}
    if via == "jar":
        if not (LIGHTHOUSE_DIR / "node_modules" / "lighthouse").exists():
            raise RuntimeError(f"Lighthouse is missing: run `npm ci --prefix {LIGHTHOUSE_DIR}`")
        job = workdir / f"{name}.job.json"
        job.write_text(json.dumps({
            "url": url, "outputPath": str(report), "categories": list(CATEGORIES),
            "chromeFlags": CHROME_FLAGS.split(), "cookies": cookie_pairs(cookie) if cookie else [],
        }))  # fmt: skip
        cmd = ["node", str(LIGHTHOUSE_DIR / "run.mjs"), str(job)]
    else:
        if not LIGHTHOUSE_BIN.exists():
            raise RuntimeError(
                f"{LIGHTHOUSE_BIN} is missing: run `npm ci --prefix {LIGHTHOUSE_DIR}`"
            )
        cmd = [
            str(LIGHTHOUSE_BIN), url,
            "--output=json", f"--output-path={report}",
            f"--only-categories={','.join(CATEGORIES)}",
            f"--chrome-flags={CHROME_FLAGS}",
            "--quiet",
        ]  # fmt: skip
        if cookie:
            headers = workdir / f"{name}.headers.json"
            headers.write_text(json.dumps({"Cookie": cookie}))
            cmd.append(f"--extra-headers={headers}")
    proc = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=LIGHTHOUSE_TIMEOUT_SECONDS
    )
    if proc.returncode != 0 or not report.exists():
        raise RuntimeError(f"lighthouse exited {proc.returncode}: {proc.stderr[-3000:]}")
    return dict(json.loads(report.read_text()))


def _item_text(item: dict[str, Any]) -> str:
    node = item.get("node")
    if isinstance(node, dict):
        parts = [node.get("selector") or "", node.get("snippet") or ""]
        expl = node.get("explanation")
        if expl:
            parts.append(" ".join(str(expl).split())[:300])
        return " | ".join(p for p in parts if p)
    if item.get("description"):  # console errors, deprecations, inspector issues
        where = item.get("sourceLocation") or item.get("source") or ""
        if isinstance(where, dict):
            where = f"{where.get('url', '')}:{where.get('line', 0)}:{where.get('column', 0)}"
        return f"{item['description']}" + (f"  ({where})" if where else "")
    for key in ("url", "source", "label", "name"):
        value = item.get(key)
        if isinstance(value, dict):  # source locations
            value = value.get("url") or json.dumps(value)[:200]
        if value:
            extra = []
            for k in ("wastedMs", "wastedBytes", "totalBytes", "transferSize"):
                if isinstance(item.get(k), int | float):
                    extra.append(f"{k}={item[k]:.0f}")
            return " ".join([str(value)[:200], *extra])
    return json.dumps(item, ensure_ascii=False, default=str)[:200]


def _chain_text(chains: dict[str, Any], depth: int = 0) -> list[str]:
    lines = []
    for node in chains.values():
        size = node.get("transferSize", 0) / 1024
        lines.append(f"{'  ' * depth}{node.get('url')} ({node.get('navStartToEndTime', 0):.0f} ms, "
                     f"{size:.1f} KiB)")  # fmt: skip
        lines.extend(_chain_text(node.get("children") or {}, depth + 1))
    return lines


def _list_section_text(section: dict[str, Any]) -> list[str]:
    value = section.get("value") or {}
    if value.get("type") == "network-tree":
        longest = (value.get("longestChain") or {}).get("duration", 0)
        return [
            f"critical chain, longest {longest:.0f} ms:",
            *_chain_text(value.get("chains") or {}),
        ]
    if value.get("type") == "text":
        return [f"{section.get('title', '')}: {value.get('value')}"]
    if value.get("type") in ("table", "opportunity", "list"):
        return details_summary({"details": value})
    return [json.dumps(value, ensure_ascii=False, default=str)[:200]]


def details_summary(audit: dict[str, Any]) -> list[str]:
    """A few readable lines from an audit's details (nodes, URLs, chains, explanations)."""
    details = audit.get("details") or {}
    items = details.get("items") or []
    if details.get("type") == "checklist" and isinstance(items, dict):  # insights
        return [f"{'ok' if c.get('value') else 'NO'}: {c.get('label')}" for c in items.values()]
    if not isinstance(items, list):
        return [json.dumps(details, ensure_ascii=False, default=str)[:200]]
    lines: list[str] = []
    for item in items[:DETAIL_ITEMS]:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "list-section":
            lines.extend(_list_section_text(item))
        elif item.get("type") in ("table", "opportunity", "list"):
            lines.extend(details_summary({"details": item}))
        elif item.get("subItems") and not item.get("node") and not item.get("url"):
            lines.extend(
                _item_text(sub) for sub in (item["subItems"].get("items") or [])[:DETAIL_ITEMS]
            )
        else:
            lines.append(_item_text(item))
    if len(items) > DETAIL_ITEMS:
        lines.append(f"… and {len(items) - DETAIL_ITEMS} more")
    return lines


@dataclass
class PageResult:
    path: str
    scores: dict[str, int | None]
    failing: list[dict[str, Any]]
    errored: list[dict[str, Any]]
    total_bytes: float | None
    runtime_error: str | None

    @property
    def ok(self) -> bool:
        met = all((self.scores[c] or 0) >= target for c, target in TARGETS.items())
        return met and not self.errored and not self.runtime_error


def evaluate(path: str, lhr: dict[str, Any], url: str = "") -> PageResult:
    """Scores, failing and errored audits of one run; `url`: where the page must end up."""
    audits = lhr["audits"]
    scores: dict[str, int | None] = {}
    in_categories: dict[str, str] = {}
    for cat in CATEGORIES:
        category = lhr["categories"][cat]
        score = category.get("score")
        scores[cat] = None if score is None else round(score * 100)
        for ref in category["auditRefs"]:
            in_categories.setdefault(ref["id"], cat)
    weights = {
        ref["id"]: ref.get("weight", 0)
        for cat in CATEGORIES
        for ref in lhr["categories"][cat]["auditRefs"]
    }
    failing, errored = [], []
    for audit_id, cat in in_categories.items():
        audit = audits[audit_id]
        mode = audit.get("scoreDisplayMode")
        entry = {"id": audit_id, "category": cat, "weight": weights.get(audit_id, 0), **audit}
        if mode == "error":
            errored.append(entry)
        elif mode in ("binary", "numeric", "metricSavings") and audit.get("score") is not None:
            failing.extend(
                [entry] if audit["score"] < (1 if mode == "binary" else PASS_SCORE) else []
            )
    failing.sort(key=lambda a: (-a["weight"], a["score"]))
    weight = audits.get("total-byte-weight", {}).get("numericValue")
    runtime = lhr.get("runtimeError", {}).get("message") if lhr.get("runtimeError") else None
    final = lhr.get("finalDisplayedUrl", "")
    if url and final != url and not runtime:  # e.g. a request without the session: sign-in page
        runtime = f"the page went on to {final}: the audit is not of {url}"
    return PageResult(path, scores, failing, errored, weight, runtime)


def print_result(result: PageResult, lhr: dict[str, Any]) -> None:
    form_factor = lhr.get("configSettings", {}).get("formFactor")
    print(f"\n== {result.path}  ({lhr.get('finalDisplayedUrl', '')}, "
          f"Lighthouse {lhr.get('lighthouseVersion')}, {form_factor})")  # fmt: skip
    for cat in CATEGORIES:
        score, target = result.scores[cat], TARGETS[cat]
        mark = "ok" if (score or 0) >= target else "MISSED"
        print(f"  {cat:15} {score if score is not None else '-':>4}  (target ≥ {target}) {mark}")
    if result.total_bytes is not None:
        print(f"  total transfer  {result.total_bytes / 1024:.1f} KiB  (total-byte-weight)")
    metrics = {"FCP": "first-contentful-paint", "LCP": "largest-contentful-paint",
               "TBT": "total-blocking-time", "CLS": "cumulative-layout-shift",
               "SI": "speed-index"}  # fmt: skip
    audits = lhr["audits"]
    shown = [f"{k} {audits[a].get('displayValue', '?')}" for k, a in metrics.items() if a in audits]
    print("  metrics        ", ", ".join(shown))
    if result.runtime_error:
        print(f"  RUNTIME ERROR: {result.runtime_error}")
    for audit in result.errored:
        print(f"  ERRORED [{audit['category']}] {audit['id']}: {audit.get('errorMessage', '')}")
    for audit in result.failing:
        score = audit.get("score")
        value = audit.get("displayValue") or ""
        weight = f"weight {audit['weight']}" if audit["weight"] else "weight 0: not scored"
        print(f"  FAIL [{audit['category']}] {audit['id']} (score {score:.2f}, {weight}): "
              f"{audit['title']}{'  — ' + value if value else ''}")  # fmt: skip
        for line in details_summary(audit):
            print(f"      - {line}")
    if not result.failing and not result.errored:
        print("  no failing audits")


# -- main ------------------------------------------------------------------------------------


def audit_page(
    server: Server, url_path: str, label: str, cookie: str | None, runs: int, workdir: Path,
    save: Path | None, slug: str, via: str,
) -> PageResult:  # fmt: skip
    """Run Lighthouse `runs` times on one page; print and return the median run (performance)."""
    audited: list[tuple[PageResult, dict[str, Any], Path]] = []
    for n in range(runs):
        t0 = time.monotonic()
        lhr = run_lighthouse(server.url + url_path, cookie, workdir, f"{slug}-{n}", via)
        result = evaluate(label, lhr, server.url + url_path)
        audited.append((result, lhr, workdir / f"{slug}-{n}.report.json"))
        scores = " ".join(f"{c}={result.scores[c]}" for c in CATEGORIES)
        bench_index = lhr.get("environment", {}).get("benchmarkIndex")
        who = "signed in" if cookie else "signed out"
        print(f"lighthouse {url_path} {who} run {n + 1}/{runs}: {scores} "
              f"({time.monotonic() - t0:.1f} s, benchmarkIndex {bench_index})")  # fmt: skip
    ranked = sorted(audited, key=lambda a: a[0].scores["performance"] or 0)
    median, lhr, report = ranked[len(ranked) // 2]
    # Accessibility and best practices do not depend on timing: the worst run counts, and an
    # audit that errored (or a run that failed) in any run fails the page, not only the median.
    for cat in CATEGORIES[1:]:
        worst = min((r.scores[cat] or 0 for r, _, _ in audited), default=0)
        if worst < (median.scores[cat] or 0):
            print(f"  note: {cat} was {worst} in another run (median run: {median.scores[cat]})")
            median.scores[cat] = worst
    seen = {a["id"] for a in median.errored}
    for n, (other, _, _) in enumerate(audited):
        median.errored.extend(a for a in other.errored if a["id"] not in seen)
        seen.update(a["id"] for a in other.errored)
        if other.runtime_error and not median.runtime_error:
            median.runtime_error = f"run {n + 1}: {other.runtime_error}"
    if runs > 1:
        median.path += f" [median of {runs} runs by performance: " + ", ".join(
            str(r.scores["performance"]) for r, _, _ in audited
        ) + "]"  # fmt: skip
    print_result(median, lhr)
    if save:
        save.mkdir(parents=True, exist_ok=True)
        shutil.copy(report, save / f"{slug}.report.json")
    return median


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url-path", action="append", dest="paths", metavar="PATH",
                        help=f"page to audit (repeatable); '{THREAD}' is the 50-message thread "
                             "(the default)")  # fmt: skip
    parser.add_argument(
        "--all",
        action="store_true",
        help="audit the thread, /threads and /login (and any --url-path)",
    )
    parser.add_argument("--runs", type=int, default=3,
                        help="runs per page; the median run (by performance) counts")  # fmt: skip
    parser.add_argument("--cookie-via", choices=("jar", "extra-headers"), default="jar",
                        help="how Lighthouse's browser gets the session: cookie jar (default) "
                             "or the CLI's --extra-headers (flaky)")  # fmt: skip
    parser.add_argument("--messages", type=int, default=MESSAGES, help="messages in the thread")
    parser.add_argument("--save", type=Path, help="directory to copy the median JSON reports to")
    parser.add_argument("--keep", action="store_true", help="keep the server's DATA_DIR")
    args = parser.parse_args(argv)
    paths = ([THREAD, "/threads", "/login"] if args.all else []) + (args.paths or [])
    paths = list(dict.fromkeys(paths or [THREAD]))
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    results: list[PageResult] = []
    load = os.getloadavg()[0]
    try:
        with running_server(args.keep) as server, tempfile.TemporaryDirectory() as tmp:
            t0 = time.monotonic()
            thread_id = create_thread(server, args.messages)
            cookie = session_cookie_header(server)
            print(f"server {server.url}: thread {thread_id} with {args.messages} messages, "
                  f"signed in as {USER[0]} ({time.monotonic() - t0:.1f} s); "
                  f"load average {load:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
            for path in paths:
                real = f"/threads/{thread_id}" if path == THREAD else path
                signed_out = real.startswith(SIGNED_OUT_PREFIXES)
                page_cookie = None if signed_out else cookie
                real = final_path(server, real, page_cookie)
                label = f"{real} ({args.messages}-message thread)" if path == THREAD else real
                slug = "thread" if path == THREAD else real.strip("/").replace("/", "_") or "root"
                page = audit_page(
                    server, real, label, page_cookie, runs=args.runs, workdir=Path(tmp),
                    save=args.save, slug=slug, via=args.cookie_via,
                )  # fmt: skip
                results.append(page)
    except (RuntimeError, subprocess.SubprocessError, httpx.HTTPError) as err:
        print(f"lighthouse bench: {err}", file=sys.stderr)
        return 2

    print("\nsummary:")
    for r in results:
        scores = " ".join(f"{c}={r.scores[c]}" for c in CATEGORIES)
        kib = f"{r.total_bytes / 1024:.1f} KiB" if r.total_bytes is not None else "?"
        errored = f", {len(r.errored)} audits errored" if r.errored else ""
        print(f"  {'ok    ' if r.ok else 'FAILED'} {r.path}: {scores}, transfer {kib}{errored}")
    if load > (os.cpu_count() or 1):
        print(f"  note: load average was {load:.1f}: performance scores drop on a busy machine")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
