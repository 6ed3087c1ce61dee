"""Airflow's UI in a real browser (Debian's chromium driven by Playwright): the manual DAG's trigger form,
the RealtimeKit connection form and its Test button, a finished task's rendered templates and extra link.

Screenshots go to ``.e2e-artifacts/<profile>/screenshots/``. Skipped only when chromium is not installed
(``.ci/install-e2e`` installs it; the skip reason says so).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from tests.e2e.stack import ADMIN_USER, EMULATOR_ACCOUNT, EMULATOR_APP, EMULATOR_TOKEN, Stack, wait_for

SFTP_PASSWORD = "ui-sftp-password-5b1e"


def chromium_binary() -> str | None:
    """Debian's chromium (the real binary behind the /usr/bin/chromium wrapper script)."""
    for candidate in ("/usr/lib/chromium/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("Debian's chromium is not installed (.ci/install-e2e could not install it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=binary)
        yield launched
        launched.close()


@pytest.fixture
def screenshots(artifacts: Path) -> Path:
    folder = artifacts / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def log_in(browser: Any, stack: Stack) -> tuple[Any, Any]:
    """A browser context and a page logged in through the simple auth manager's form."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(f"{stack.origin}/")
    page.fill("input[name=username]", ADMIN_USER)
    page.fill("input[name=password]", stack.password)
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{stack.origin}/", timeout=60_000)
    return context, page


@pytest.fixture
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    context, page = log_in(browser, stack)
    yield page
    context.close()


@dataclass
class FormRun:
    """A run of the manual DAG triggered from the UI's form (SFTP storage from a connection)."""

    run_id: str
    recording: dict[str, Any]
    task_page: str


@pytest.fixture(scope="module")
def form_run(browser: Any, stack: Stack, artifacts: Path) -> FormRun:
    """Fill and submit the trigger form in the browser, then see the run succeed on its page."""
    api, emulator = stack.api, stack.emulator
    assert api is not None
    assert emulator is not None
    shots = artifacts / "screenshots"
    shots.mkdir(exist_ok=True)
    api.request(
        "POST",
        "/connections",
        json={
            "connection_id": "rtk_sftp",  # the one the DAG's form offers
            "conn_type": "sftp",
            "host": "sftp.example.test",
            "login": "rec",
            "password": SFTP_PASSWORD,
            "extra": json.dumps({"realtimekit_storage": True}),
        },
    )
    meeting_id = emulator.create_meeting("from the browser")
    emulator.start_session(meeting_id)
    context, page = log_in(browser, stack)

    page.goto(f"{stack.origin}/dags/rtk_manual_recording")
    page.get_by_role("button", name="Trigger").first.click()
    form = page.get_by_role("dialog")
    form.locator("#element_meeting_id").fill(meeting_id)
    form.locator("#element_file_name_prefix").fill("from the form")
    form.get_by_role("combobox").first.fill("SFTP")  # the storage; the connection keeps its default
    page.get_by_role("option", name="SFTP (from a connection)").click()
    page.screenshot(path=shots / "trigger-form.png", full_page=True)
    form.get_by_role("button", name="Trigger").click()

    page.wait_for_url(re.compile(r".*/dags/rtk_manual_recording/runs/[^/]+$"))
    run_id = unquote(page.url.rsplit("/runs/", 1)[1])
    wait_for(
        "the recording to start",
        lambda: any(r["status"] == "RECORDING" for r in emulator.recordings(meeting_id)),
        120,
    )
    emulator.end_session(meeting_id)
    run = api.wait_for_run("rtk_manual_recording", run_id)
    page.reload()
    page.get_by_text("record_meeting").first.wait_for()
    page.screenshot(path=shots / "run-finished.png", full_page=True)
    shown_state = page.get_by_text("Success").count()
    context.close()
    assert run["state"] == "success", api.task_instances("rtk_manual_recording", run_id)
    assert shown_state, "the run page does not show Success"
    (recording,) = emulator.recordings(meeting_id)
    task_page = f"{stack.origin}/dags/rtk_manual_recording/runs/{run_id}/tasks/record_meeting"
    return FormRun(run_id, recording, task_page)


def test_trigger_form_starts_the_recording_it_was_filled_with(form_run: FormRun):
    layer = form_run.recording["request_body"]["layers"]["default"]
    assert layer["file_name_prefix"] == "from the form"
    (output,) = layer["outputs"]
    assert output["type"] == "STORAGE_CONFIG"
    assert output["storage_config"]["host"] == "sftp.example.test"  # from the connection named in the form


def test_rendered_templates_show_no_secret(form_run: FormRun, page, screenshots: Path):
    page.goto(f"{form_run.task_page}/rendered_templates")
    page.get_by_text("rtk_sftp").first.wait_for()
    assert "from the form" in page.inner_text("body")
    for secret in (SFTP_PASSWORD, EMULATOR_TOKEN):
        assert secret not in page.content()
    page.screenshot(path=screenshots / "rendered-templates.png", full_page=True)


def test_extra_link_opens_the_recording(form_run: FormRun, page, stack: Stack, screenshots: Path):
    assert stack.emulator is not None
    recording_id = form_run.recording["id"]
    page.goto(f"{form_run.task_page}/details")
    page.get_by_text("record_meeting").first.wait_for()
    page.screenshot(path=screenshots / "task-details.png", full_page=True)
    link = page.get_by_role("link", name="RealtimeKit recording")
    link.wait_for()
    assert link.get_attribute("href") == f"{stack.emulator.origin}/_emulator/recordings/{recording_id}"
    with page.context.expect_page() as opened:
        link.click()
    target = opened.value
    target.wait_for_load_state()
    assert recording_id in target.inner_text("body")
    target.screenshot(path=screenshots / "extra-link-target.png", full_page=True)


def test_connection_form_fields_and_test_button(page, stack: Stack, emulator, screenshots: Path):
    port = emulator.origin.rsplit(":", 1)[1]
    page.goto(f"{stack.origin}/connections")
    page.get_by_role("button", name="Add Connection").click()
    form = page.get_by_role("dialog")
    form.locator("input[name=connection_id]").fill("rtk_ui")
    form.get_by_role("combobox").fill("Cloudflare")
    page.get_by_role("option", name="Cloudflare RealtimeKit").click()
    for label in ("Base URL (optional)", "API token", "Port (443; set it for the Test button)"):
        form.locator("label", has_text=label).first.wait_for()
    assert form.locator("input[name=login]").count() == 0
    assert form.locator("input[name=password]").get_attribute("type") == "password"
    form.locator("input[name=host]").fill(f"{emulator.origin}/client/v4")
    form.locator("input[name=password]").fill(EMULATOR_TOKEN)
    form.locator("input[name=port]").fill(port)
    page.screenshot(path=screenshots / "connection-form-standard.png", full_page=True)
    form.get_by_role("button", name=re.compile("^Extra Fields(?! JSON)")).click()
    for label in ("Account ID", "App ID"):
        form.locator("label", has_text=label).first.wait_for()
    form.locator("#element_account_id").fill(EMULATOR_ACCOUNT)
    form.locator("#element_app_id").fill(EMULATOR_APP)
    page.screenshot(path=screenshots / "connection-form.png", full_page=True)
    form.get_by_role("button", name="Save").click()
    form.wait_for(state="hidden")

    stored = stack.api.request("GET", "/connections/rtk_ui") if stack.api else {}
    assert json.loads(stored["extra"]) == {"account_id": EMULATOR_ACCOUNT, "app_id": EMULATOR_APP}
    assert stored["port"] == int(port)

    row = page.get_by_role("row").filter(has_text="rtk_ui")
    row.get_by_role("button", name=re.compile("test", re.IGNORECASE)).click()
    wait_for(
        "the Test button's answer",
        lambda: "Connected to RealtimeKit app" in page.inner_text("body"),
        30,
    )
    page.screenshot(path=screenshots / "connection-test.png", full_page=True)
