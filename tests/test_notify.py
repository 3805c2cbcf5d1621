"""``costlab report --notify URL``: the summary reaches a webhook (a local HTTP server here)
when an alert fires, never otherwise unless asked, and a failed post changes nothing else."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from costlab.cli import app
from costlab.ingest.run import ingest

DEMO = Path(__file__).resolve().parent.parent / "sample_data" / "demo"
runner = CliRunner()


class Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append({"type": self.headers["Content-Type"], "body": json.loads(body)})
        self.send_response(Hook.status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    Hook.received, Hook.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("notify") / "lake"
    assert not ingest([DEMO / "billing", DEMO / "traces"], lake=lake).failed
    return lake


def report(lake: Path, *args: str) -> tuple[int, str, str]:
    base = ["--config", str(DEMO / "costlab.toml"), "report", "--lake", str(lake), "--month", "2026-10",
            "--no-findings", "-f", "json"]  # fmt: skip
    r = runner.invoke(app, [*base, *args])
    return r.exit_code, r.stdout, r.stderr


def test_an_alert_is_posted_with_a_slack_text(demo: Path, hook: str) -> None:
    code, out, err = report(demo, "--notify", hook)
    assert code == 0, err  # the demo's fail_on = "none"
    (post,) = Hook.received
    assert post["type"] == "application/json"
    body = post["body"]
    assert body["period"] == {"since": "2026-10-01T00:00:00+00:00", "until": "2026-11-01T00:00:00+00:00"}
    shown = json.loads(out)
    assert [a["message"] for a in body["alerts"]] == [a["message"] for a in shown["alerts"]] != []
    assert body["headline"][0]["billed"] == shown["headline"][0]["billed"]
    text = body["text"].splitlines()
    assert text[0] == "costlab report, 2026-10-01 to 2026-11-01"
    assert any(line.startswith("BUDGET ") for line in text)


def test_no_alert_no_post_unless_always(demo: Path, hook: str) -> None:
    """Without the demo's settings (no budgets) and with a lenient anomaly test, October has no
    alert: nothing is posted, unless --notify-on always."""
    args = ["report", "--lake", str(demo), "--month", "2026-10", "--no-findings", "-f", "json",
            "--anomaly", "k=1000", "--notify", hook]  # fmt: skip
    r = runner.invoke(app, args)
    assert r.exit_code == 0 and json.loads(r.stdout)["alerts"] == [] and Hook.received == []
    r = runner.invoke(app, [*args, "--notify-on", "always"])
    assert r.exit_code == 0 and len(Hook.received) == 1 and Hook.received[0]["body"]["alerts"] == []


def test_a_failed_post_is_one_line_and_changes_nothing(demo: Path, hook: str, tmp_path: Path) -> None:
    Hook.status = 500
    out_file = tmp_path / "r.json"
    code, _, err = report(demo, "--notify", hook, "-o", str(out_file))
    assert code == 0 and out_file.is_file()
    assert len(Hook.received) == 3  # retried twice
    (line,) = [x for x in err.splitlines() if "--notify" in x]
    assert "not delivered (HTTP 500" in line and "report itself is unchanged" in line
    Hook.received.clear()
    Hook.status = 404  # a client error is not retried
    report(demo, "--notify", hook)
    assert len(Hook.received) == 1


def test_a_bad_url_is_a_usage_error_before_any_work(demo: Path) -> None:
    code, _, err = report(demo, "--notify", "file:///etc/passwd")
    assert code == 2 and "give an http:// or https:// URL" in err and err.count("\n") == 1
    code, _, err = report(demo, "--notify", "http://127.0.0.1:9/x", "--notify-on", "sometimes")
    assert code == 2 and "--notify-on 'sometimes'" in err
