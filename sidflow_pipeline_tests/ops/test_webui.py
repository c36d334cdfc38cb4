"""The Dagster web UI, driven in a real headless Chromium (Playwright).

``dagster dev -m sidflow_pipeline.definitions`` (webserver + daemon) serves a throw-away
project: the project's ``dagster.yaml`` in a temporary ``$DAGSTER_HOME`` and a
``.sidflow.json`` whose HVSC source is the generated demo mirror. Through the browser
the tests check that every asset of the code location is in the lineage graph and the
catalog, that the sensors and schedules are listed with their default state, and launch
the whole pipeline the way an operator does: job ``sidflow_full`` → "Materialize all"
menu → "Open launchpad" (the job's own tags carry the partition range over every HVSC
section) → "Materialize" → "Confirm". The run must succeed, and the UI
must say so. GraphQL is only used to wait (bounded) and to explain a failure.

Screenshots land in ``tmp_path`` and, when ``$SIDFLOW_SCREENSHOTS`` names a folder, are
copied there too.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

pytest.importorskip("psutil", reason="psutil is needed to tear dagster dev down (pip install -e .[dev])")

from sidflow_pipeline_tests.ops.dagster_dev import CODE_LOCATION, DagsterDev, DemoProject, write_demo_project

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
JOB = "sidflow_full"
# Bounds (milliseconds for Playwright, seconds otherwise): generous, never unbounded.
UI_TIMEOUT_MS = 60_000
RUN_TIMEOUT = 600.0
VIEWPORT = {"width": 1600, "height": 1200}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed (Debian: apt-get install chromium)"),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None, reason="the playwright package is not installed (pip install -e .[dev])"
    ),
    pytest.mark.skipif(shutil.which("sidplayfp") is None, reason="sidplayfp not on PATH (the pipeline renders with it)"),
]


# --------------------------------------------------------------------------- expectations


def _definitions() -> Any:
    from sidflow_pipeline.definitions import defs

    return defs


def expected_asset_paths() -> dict[str, str]:
    """Every asset key of the code location (observable sources too) → its UI path."""
    graph = _definitions().resolve_asset_graph()
    return {key.to_user_string(): "/".join(quote(part, safe="") for part in key.path) for key in graph.get_all_asset_keys()}


def job_assets() -> dict[str, tuple[str, int]]:
    """Assets a run of the job produces → (UI path, number of partitions or 0)."""
    graph = _definitions().resolve_asset_graph()
    paths = expected_asset_paths()
    found = {}
    for key in _definitions().resolve_job_def(JOB).asset_layer.selected_asset_keys:
        node = graph.get(key)
        partitions = len(node.partitions_def.get_partition_keys()) if node.partitions_def is not None else 0
        found[key.to_user_string()] = (paths[key.to_user_string()], partitions)
    return found


def expected_groups() -> set[str]:
    graph = _definitions().resolve_asset_graph()
    return {graph.get(key).group_name for key in graph.get_all_asset_keys()}


def expected_automations() -> dict[str, tuple[str, bool]]:
    """name → (``schedules``/``sensors``, running by default)."""
    repo = _definitions().get_repository_def()
    found = {s.name: ("schedules", s.default_status.value == "RUNNING") for s in repo.schedule_defs}
    found.update({s.name: ("sensors", s.default_status.value == "RUNNING") for s in repo.sensor_defs})
    return found


def partition_range_tags() -> dict[str, str]:
    from sidflow_pipeline.defs.classify import ALL_SECTIONS_TAGS

    return dict(ALL_SECTIONS_TAGS)


def test_the_names_checked_in_the_ui_include_the_documented_ones() -> None:
    """The names the UI checks below are derived from the definitions; pin the ones the
    README promises so a rename cannot make the UI tests vacuous."""
    assets = expected_asset_paths()
    assert {"hvsc_mirror", "sid_catalog", "wav_cache", "audio_features", "classified", "manual_ratings",
            "feedback_events", "rating_model", "feedback_aggregates", "sidflow_lance"} <= set(assets)
    automations = expected_automations()
    assert automations["retrain_on_feedback"] == ("sensors", True)
    assert automations["hvsc_release_schedule"] == ("schedules", False)
    assert automations["retrain_nightly"] == ("schedules", False)
    assert _definitions().resolve_job_def(JOB) is not None
    assert partition_range_tags() == {
        "dagster/asset_partition_range_start": "MUSICIANS/0-9",
        "dagster/asset_partition_range_end": "OTHER",
    }


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> DemoProject:
    return write_demo_project(tmp_path_factory.mktemp("webui"))


@pytest.fixture(scope="module")
def dagster_ui(project: DemoProject) -> Iterator[DagsterDev]:
    with DagsterDev(project) as dev:
        dev.wait_ready()
        yield dev


@pytest.fixture(scope="module")
def browser_context(dagster_ui: DagsterDev, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    manager = sync_playwright().start()
    try:
        context = manager.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=VIEWPORT,
            timeout=UI_TIMEOUT_MS,
        )
        try:
            context.set_default_timeout(UI_TIMEOUT_MS)
            context.set_default_navigation_timeout(UI_TIMEOUT_MS)
            yield context
        finally:
            context.close()
    finally:
        manager.stop()


def community_dialog(page: Any) -> Any:
    return page.get_by_role("dialog").filter(has_text="Join the Dagster community")


@pytest.fixture(scope="module")
def greeted(browser_context: Any, dagster_ui: DagsterDev) -> None:
    """A fresh instance greets its first visitor with a "Join the Dagster community"
    dialog, at a moment of its choosing (it would close a menu the test has open).
    Skip it once, like a user would, before any test clicks around."""
    from playwright.sync_api import expect

    page = browser_context.new_page()
    try:
        page.goto(dagster_ui.url + "/", wait_until="domcontentloaded")
        if dagster_ui.graphql("{ shouldShowNux }")["shouldShowNux"]:
            button(community_dialog(page), "Skip").click()
            expect(community_dialog(page)).to_be_hidden(timeout=UI_TIMEOUT_MS)
            deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
            while dagster_ui.graphql("{ shouldShowNux }")["shouldShowNux"]:
                assert time.monotonic() < deadline, "the UI did not record the skipped community dialog"
                time.sleep(0.2)
    finally:
        page.close()


@pytest.fixture
def page(browser_context: Any, greeted: None) -> Iterator[Any]:
    page = browser_context.new_page()
    # Should the greeting come back anyway, skip it whenever it blocks an action.
    page.add_locator_handler(community_dialog(page), lambda dialog: button(dialog, "Skip").click())
    try:
        yield page
    finally:
        page.close()


@pytest.fixture(scope="module")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def save_screenshot(page: Any, folder: Path, name: str, *, full_page: bool = False) -> Path:
    """A screenshot into ``folder`` (and ``$SIDFLOW_SCREENSHOTS``), checked to be a real PNG."""
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000, f"{path}: not a non-empty PNG ({len(data)} bytes)"
    extra = os.environ.get("SIDFLOW_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)
    return path


# --------------------------------------------------------------------------- helpers


def nav_link(page: Any, entry: str) -> Any:
    """A left-navigation entry (its accessible name also holds the icon's label)."""
    return page.get_by_role("link").filter(has_text=re.compile(rf"^\s*{re.escape(entry)}\s*$")).first


def button(scope: Any, label: str) -> Any:
    """A button by its visible label (icons add their own names to the accessible name)."""
    return scope.get_by_role("button").filter(has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")).first


def choose_from_menu(page: Any, opener: Any, item: str, attempts: int = 3) -> None:
    """Open a menu and click one of its items; a menu closed by something else
    (a toast, a re-render) is opened again, a bounded number of times."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(attempts):
        opener.click()
        try:
            page.get_by_role("menuitem", name=item).click(timeout=UI_TIMEOUT_MS // 4)
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")


def open_from_nav(page: Any, dev: DagsterDev, entry: str) -> None:
    """Open the UI's front page and click a left-navigation entry."""
    page.goto(dev.url + "/", wait_until="domcontentloaded")
    nav_link(page, entry).click()


def node_matches(shown: str, name: str) -> bool:
    """The graph middle-truncates long names when zoomed out ("feedba…_aggregates")."""
    if shown == name:
        return True
    head, sep, tail = shown.partition("…")
    return bool(sep) and len(head) + len(tail) < len(name) and name.startswith(head) and name.endswith(tail)


def catalog_links(page: Any, wanted: set[str], rounds: int = 40) -> set[str]:
    """Hrefs of asset links in the (possibly virtualised) catalog table, scrolling through it."""
    seen: set[str] = set()
    for _ in range(rounds):
        hrefs = page.locator("a[href^='/assets/']").evaluate_all("els => els.map(e => e.getAttribute('href'))")
        seen.update(hrefs)
        if wanted <= seen:
            break
        page.mouse.move(VIEWPORT["width"] // 2, VIEWPORT["height"] // 2)
        page.mouse.wheel(0, VIEWPORT["height"] // 2)
        page.wait_for_timeout(250)
    return seen


# --------------------------------------------------------------------------- tests


def test_every_asset_is_in_the_lineage_graph_and_the_catalog(
    page: Any, dagster_ui: DagsterDev, screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect

    assets = expected_asset_paths()
    open_from_nav(page, dagster_ui, "Lineage")
    expect(page.get_by_text("Global asset lineage")).to_be_visible(timeout=UI_TIMEOUT_MS)
    # Groups are collapsed at first: the graph's settings menu expands them all.
    choose_from_menu(page, page.locator("button:has([aria-label='settings'])").last, "Expand all groups")
    page.keyboard.press("Escape")
    names = page.locator("foreignObject:not(.group) [class*='AssetNode_assetName']")
    expect(names).to_have_count(len(assets), timeout=UI_TIMEOUT_MS)
    shown = names.all_inner_texts()
    missing = [name for name in assets if not any(node_matches(text.strip(), name) for text in shown)]
    assert not missing, f"assets missing from the lineage graph: {missing} (graph shows {shown})"
    for group in expected_groups():
        expect(page.locator("foreignObject.group").filter(has_text=group).first).to_be_visible(timeout=UI_TIMEOUT_MS)
    save_screenshot(page, screenshot_dir, "01-asset-graph")

    nav_link(page, "Catalog").click()
    wanted = {f"/assets/{path}" for path in assets.values()}
    expect(page.locator(f"a[href='/assets/{next(iter(assets.values()))}']").first).to_be_attached(timeout=UI_TIMEOUT_MS)
    seen = catalog_links(page, wanted)
    assert wanted <= seen, f"assets missing from the catalog: {sorted(wanted - seen)}"
    for name in assets:
        expect(page.get_by_text(name, exact=True).first).to_be_attached(timeout=UI_TIMEOUT_MS)
    save_screenshot(page, screenshot_dir, "02-asset-catalog", full_page=True)


def test_sensors_and_schedules_are_listed_with_their_default_state(
    page: Any, dagster_ui: DagsterDev, screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect

    automations = expected_automations()
    open_from_nav(page, dagster_ui, "Automation")
    for name, (kind, running) in automations.items():
        link = page.locator(f"a[href='/locations/{CODE_LOCATION}/{kind}/{name}']")
        expect(link).to_be_visible(timeout=UI_TIMEOUT_MS)
        expect(link).to_contain_text(name)
        # The row's last checkbox is its on/off switch (the first one selects the row).
        switch = link.locator("xpath=..").get_by_role("checkbox").last
        if running:
            expect(switch).to_be_checked(timeout=UI_TIMEOUT_MS)
        else:
            expect(switch).not_to_be_checked(timeout=UI_TIMEOUT_MS)
    save_screenshot(page, screenshot_dir, "03-automation")


def test_materialize_all_from_the_launchpad_runs_every_asset(
    page: Any, dagster_ui: DagsterDev, project: DemoProject, screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect

    tags = partition_range_tags()
    open_from_nav(page, dagster_ui, "Jobs")
    page.locator(f"a[href='/locations/{CODE_LOCATION}/jobs/{JOB}']").first.click()
    materialize_all = button(page, "Materialize all…")
    expect(materialize_all).to_be_enabled(timeout=UI_TIMEOUT_MS)
    # The menu beside "Materialize all…" opens the launchpad; the job carries the
    # partition range over every HVSC section in its own tags, so the run is one run, as
    # `scripts/run.sh` does, with nothing to type. (The "All partitions" dialog would
    # start a backfill of one run per section and per layer, ~80 runs: far too slow for
    # a test on a small machine.)
    choose_from_menu(
        page, materialize_all.locator("xpath=ancestor::span[1]/following-sibling::span[1]//button"), "Open launchpad"
    )
    launchpad = page.get_by_role("dialog").filter(has_text="Launchpad")
    expect(launchpad).to_be_visible(timeout=UI_TIMEOUT_MS)
    for key, value in tags.items():
        expect(launchpad.get_by_text(f"{key.removeprefix('dagster/')}: {value}").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    save_screenshot(page, screenshot_dir, "04-launchpad")

    launched_at = time.time()
    button(launchpad, "Materialize").click()
    # No single partition is chosen (the tags name a range): the UI asks to confirm.
    confirm = button(page.get_by_role("dialog").filter(has_text="Are you sure?"), "Confirm")
    confirm.click()
    page.wait_for_url(re.compile(r".*/runs/[0-9a-f-]{36}$"), timeout=UI_TIMEOUT_MS)
    run_id = page.url.rsplit("/", 1)[1]

    run = dagster_ui.wait_for_run(run_id, RUN_TIMEOUT)
    if run["status"] != "SUCCESS":
        page.reload(wait_until="domcontentloaded")
        save_screenshot(page, screenshot_dir, "05-run-failed")
        messages = "\n".join(dagster_ui.run_failure_messages(run_id)[-20:])
        pytest.fail(f"run {run_id} ended {run['status']}:\n{messages}\n--- dagster dev log ---\n{dagster_ui.tail()}")
    assert run["jobName"] == JOB
    run_tags = {t["key"]: t["value"] for t in run["tags"]}
    assert {k: run_tags.get(k) for k in tags} == tags
    assert run["startTime"] >= launched_at - 5

    # The run page says so (reloaded: the live update may lag the instance), once its
    # event log is loaded: every step succeeded.
    page.reload(wait_until="domcontentloaded")
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_text(re.compile(r"^Succeeded \([1-9]\d*\)$")).first).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_text("Errored (0)", exact=True).first).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_text(re.compile(r"^Not executed \([1-9]\d*\)$"))).to_have_count(0, timeout=UI_TIMEOUT_MS)
    expect(page.get_by_text("Loading run logs…")).to_be_hidden(timeout=UI_TIMEOUT_MS)
    save_screenshot(page, screenshot_dir, "05-run-success")

    # ... and so does the catalog, asset by asset.
    nav_link(page, "Catalog").click()
    for name, (path, partitions) in job_assets().items():
        link = page.locator(f"a[href='/assets/{path}']").first
        link.scroll_into_view_if_needed()
        row = link.locator("xpath=ancestor::div[contains(@class, 'VirtualizedTable_row')][1]")
        if partitions:
            # The counters are success / missing / failed / in progress; "All" materialized.
            success = row.locator("div:has(> [aria-label='partition_success'])").first
            expect(success, f"{name}: every partition materialized").to_have_text("All", timeout=UI_TIMEOUT_MS)
            expect(row).to_contain_text(f"{partitions} partitions", timeout=UI_TIMEOUT_MS)
        else:
            expect(row, name).to_contain_text("Materialized", timeout=UI_TIMEOUT_MS)
            expect(row.locator(f"a[href^='/runs/{run_id}']"), f"{name}: by our run").to_be_visible(timeout=UI_TIMEOUT_MS)
    page.mouse.wheel(0, -10_000)
    save_screenshot(page, screenshot_dir, "06-catalog-after-run", full_page=True)

    # What the run wrote: every section classified, the song database built.
    classified = sorted((project.data / "classified").glob("*.jsonl"))
    assert classified and any(p.stat().st_size for p in classified)
    assert (project.data / "sidflow.lance.manifest.json").is_file()

