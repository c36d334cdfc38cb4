"""Release discovery against a real HTTP mirror on 127.0.0.1, file:// URLs and folders."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sidflow_pipeline.hvsc.discovery import (
    DiscoveryError,
    ReleaseListing,
    RemoteArchive,
    discover_releases,
    parse_sha256_sidecar,
)
from sidflow_pipeline_tests.hvsc.httpserver import MirrorServer, free_port, hvsc_mirror  # noqa: F401 - fixture

FULL = "HVSC_80-all-of-them.7z"


def _populate(root: Path, names: list[str], *, sidecars: dict[str, str] | None = None) -> dict[str, str]:
    """Write small archives (contents irrelevant to discovery) and optional sidecars."""
    digests: dict[str, str] = {}
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        data = f"payload of {name}".encode()
        (root / name).write_bytes(data)
        digests[name] = hashlib.sha256(data).hexdigest()
    for name, text in (sidecars or {}).items():
        (root / f"{name}.sha256").write_text(text)
    return digests


def test_http_autoindex_lists_full_and_updates_with_sidecar(hvsc_mirror: MirrorServer) -> None:
    digests = _populate(
        hvsc_mirror.root,
        [FULL, "HVSC_Update_81.7z", "HVSC_Update_82.7z", "readme.txt", "HVSC_Update_82.7z.md5"],
        sidecars={},
    )
    (hvsc_mirror.root / f"{FULL}.sha256").write_text(f"{digests[FULL]}  {FULL}\n")

    listing = discover_releases(hvsc_mirror.base_url)

    assert sorted(listing.full) == [80]
    assert sorted(listing.updates) == [81, 82]
    full = listing.full[80]
    assert full == RemoteArchive(80, "full", hvsc_mirror.url(FULL), FULL, digests[FULL])
    assert listing.updates[81].url_or_path == hvsc_mirror.url("HVSC_Update_81.7z")
    assert listing.updates[81].expected_sha256 is None
    assert listing.latest_version == 82
    # the listing page and the one sidecar, nothing else
    assert [r.path for r in hvsc_mirror.requests] == ["/", f"/{FULL}.sha256"]


def test_http_custom_page_relative_absolute_and_case_insensitive_hrefs(hvsc_mirror: MirrorServer) -> None:
    base = hvsc_mirror.base_url
    hvsc_mirror.page(
        "/hvsc/C64Music/",
        f"""<html><body>
        <a href="?C=M;O=A">Last modified</a> <a href="mailto:x@example.org">mail</a>
        <a HREF="HVSC_83-all-of-them.7z"><img src="icon.gif"></a>
        <a href="HVSC_83-all-of-them.7z">HVSC_83-all-of-them.7z</a>
        <a href="../updates/hvsc_update_84.7Z">u84</a>
        <a href="/elsewhere/HVSC%5FUpdate%5F85.7z#frag">u85</a>
        <a href="{base}abs/HVSC_Update_86.7z">u86</a>
        <a href="../updates/hvsc_update_84.7Z.SHA256">sum</a>
        <a href="HVSC_Update_X.7z">not a release</a>
        </body></html>""",
    )
    digest = "ab" * 32
    hvsc_mirror.put("hvsc/updates/hvsc_update_84.7Z.SHA256", f"{digest.upper()} *hvsc_update_84.7Z\n".encode())

    listing = discover_releases(hvsc_mirror.url("hvsc/C64Music/"))

    assert listing.full[83].url_or_path == hvsc_mirror.url("hvsc/C64Music/HVSC_83-all-of-them.7z")
    assert listing.updates[84].url_or_path == hvsc_mirror.url("hvsc/updates/hvsc_update_84.7Z")
    assert listing.updates[84].name == "hvsc_update_84.7Z"
    assert listing.updates[84].expected_sha256 == digest
    assert listing.updates[85].url_or_path == base + "elsewhere/HVSC%5FUpdate%5F85.7z"
    assert listing.updates[85].name == "HVSC_Update_85.7z"
    assert listing.updates[86].url_or_path == base + "abs/HVSC_Update_86.7z"
    assert listing.latest_version == 86


def test_http_redirect_to_trailing_slash_resolves_relative_hrefs(hvsc_mirror: MirrorServer) -> None:
    _populate(hvsc_mirror.root / "mirror", [FULL])
    listing = discover_releases(hvsc_mirror.url("mirror"))  # no trailing slash → 301
    assert listing.full[80].url_or_path == hvsc_mirror.url(f"mirror/{FULL}")
    assert [r.status for r in hvsc_mirror.requests] == [301, 200]


def test_pinned_checksum_overrides_sidecar(hvsc_mirror: MirrorServer) -> None:
    digests = _populate(hvsc_mirror.root, [FULL], sidecars={FULL: f"{'0' * 64}  {FULL}\n"})
    pinned = {FULL.lower(): "sha256:" + digests[FULL].upper()}
    listing = discover_releases(hvsc_mirror.base_url, pinned=pinned)
    assert listing.full[80].expected_sha256 == digests[FULL]


def test_bad_pin_is_an_error_not_silently_ignored(tmp_path: Path) -> None:
    _populate(tmp_path, [FULL])
    with pytest.raises(DiscoveryError, match=r"pinned checksum for .*not a SHA-256"):
        discover_releases(str(tmp_path), pinned={FULL: "deadbeef"})


@pytest.mark.parametrize("as_url", [False, True])
def test_local_folder_and_file_url_with_sidecar_formats(tmp_path: Path, as_url: bool) -> None:
    mirror = tmp_path / "my mirror"
    digests = _populate(mirror, [FULL, "HVSC_Update_81.7z", "HVSC_Update_82.7z"])
    (mirror / f"{FULL}.sha256").write_text(f"# made by sha256sum\n{digests[FULL]}  ./{FULL}\n")
    (mirror / "HVSC_Update_81.7z.sha256").write_text(f"SHA256 (HVSC_Update_81.7z) = {digests['HVSC_Update_81.7z']}\n")
    (mirror / "HVSC_Update_82.7z.sha256").write_text(digests["HVSC_Update_82.7z"] + "\n")
    (mirror / "sub").mkdir()  # folders are not archives

    source = mirror.as_uri() if as_url else str(mirror)
    listing = discover_releases(source)

    assert {v: a.expected_sha256 for v, a in listing.full.items()} == {80: digests[FULL]}
    assert listing.updates[81].expected_sha256 == digests["HVSC_Update_81.7z"]
    assert listing.updates[82].expected_sha256 == digests["HVSC_Update_82.7z"]
    assert Path(listing.full[80].url_or_path) == (mirror / FULL).resolve()
    assert listing.source == source


def test_sidecar_parser_rejects_what_it_cannot_trust() -> None:
    digest = "c" * 64
    assert parse_sha256_sidecar(f"{digest}  other.7z\n{digest.upper()}  HVSC_Update_81.7z\n", "HVSC_Update_81.7z") == digest
    with pytest.raises(ValueError, match="no checksum for"):
        parse_sha256_sidecar(f"{digest}  other.7z\n", "HVSC_Update_81.7z")
    with pytest.raises(ValueError, match="unrecognised line"):
        parse_sha256_sidecar("not a checksum\n", "x.7z")
    with pytest.raises(ValueError, match="no checksum in file"):
        parse_sha256_sidecar("\n# only a comment\n", "x.7z")


def test_malformed_sidecar_names_the_file(tmp_path: Path) -> None:
    _populate(tmp_path, [FULL], sidecars={FULL: "garbage\n"})
    with pytest.raises(DiscoveryError, match=r"HVSC_80-all-of-them\.7z\.sha256: unusable checksum file"):
        discover_releases(tmp_path)


def test_listed_sidecar_that_cannot_be_fetched(hvsc_mirror: MirrorServer) -> None:
    hvsc_mirror.page("/", f'<a href="{FULL}">a</a><a href="{FULL}.sha256">s</a>')
    with pytest.raises(DiscoveryError, match=r"cannot read checksum file .*\.sha256: HTTP 404"):
        discover_releases(hvsc_mirror.base_url)


def test_empty_listing_is_an_error(hvsc_mirror: MirrorServer, tmp_path: Path) -> None:
    hvsc_mirror.put("readme.txt", b"nothing here")
    with pytest.raises(DiscoveryError, match=r"^no HVSC archives found at http://127\.0\.0\.1:\d+/$"):
        discover_releases(hvsc_mirror.base_url)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DiscoveryError, match="no HVSC archives found at"):
        discover_releases(empty)


def test_unreachable_sources_give_one_line(hvsc_mirror: MirrorServer, tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match=r"^cannot list HVSC releases at http://.*/nope/: HTTP 404 Not Found$"):
        discover_releases(hvsc_mirror.url("nope/"))
    refused = f"http://127.0.0.1:{free_port()}/hvsc/"
    with pytest.raises(DiscoveryError) as caught:
        discover_releases(refused, backoff_factor=0.01)
    assert str(caught.value) == f"cannot list HVSC releases at {refused}: Connection refused"
    with pytest.raises(DiscoveryError, match="no such directory"):
        discover_releases(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(DiscoveryError, match="not a directory"):
        discover_releases(tmp_path / "file")
    with pytest.raises(DiscoveryError, match="unsupported URL scheme 'ftp'"):
        discover_releases("ftp://example.invalid/hvsc/")


def test_listing_cut_mid_page_is_one_line(hvsc_mirror: MirrorServer) -> None:
    hvsc_mirror.put("index.html", b"<html>" + f'<a href="{FULL}">x</a>'.encode() * 2000)
    hvsc_mirror.fault("/index.html", cut_after=1000)
    with pytest.raises(DiscoveryError, match=r"^cannot list HVSC releases at http://.*/index\.html: connection broken mid-transfer$"):
        discover_releases(hvsc_mirror.url("index.html"))


def test_listing_5xx_is_retried(hvsc_mirror: MirrorServer) -> None:
    _populate(hvsc_mirror.root, [FULL])
    hvsc_mirror.fault("/", fail_first=1, fail_status=502)
    listing = discover_releases(hvsc_mirror.base_url)
    assert list(listing.full) == [80]
    assert [r.status for r in hvsc_mirror.requests_for("/")] == [502, 200]


# --- planner ------------------------------------------------------------------------------


def _listing(full: list[int], updates: list[int]) -> ReleaseListing:
    listing = ReleaseListing(source="test://mirror")
    for v in full:
        listing.full[v] = RemoteArchive(v, "full", f"test://HVSC_{v}-all-of-them.7z", f"HVSC_{v}-all-of-them.7z")
    for v in updates:
        listing.updates[v] = RemoteArchive(v, "update", f"test://HVSC_Update_{v}.7z", f"HVSC_Update_{v}.7z")
    return listing


def _names(plan) -> list[str]:  # type: ignore[no-untyped-def]
    return [a.name for a in plan.archives]


def test_plan_fresh_install_uses_newest_full_plus_chaining_updates() -> None:
    plan = _listing([78, 80], [79, 80, 81, 82]).plan(None)
    assert plan.action == "fresh" and plan.fresh and plan.target == 82
    assert _names(plan) == ["HVSC_80-all-of-them.7z", "HVSC_Update_81.7z", "HVSC_Update_82.7z"]
    assert plan.describe() == "install release 82: HVSC_80-all-of-them.7z, HVSC_Update_81.7z, HVSC_Update_82.7z"


def test_plan_incremental_when_every_step_exists() -> None:
    plan = _listing([83], list(range(75, 84))).plan(79)
    assert plan.action == "incremental" and not plan.fresh
    assert [a.version for a in plan.archives] == [80, 81, 82, 83]
    assert all(a.kind == "update" for a in plan.archives)
    assert plan.describe().startswith("update 79 → 83: HVSC_Update_80.7z")


def test_plan_current_when_installed_is_newest_or_newer() -> None:
    listing = _listing([80], [81])
    for installed in (81, 90):
        plan = listing.plan(installed)
        assert plan.current and plan.archives == [] and plan.target == installed
    assert listing.plan(81).describe() == "HVSC release 81 is current"


def test_plan_gap_reinstalls_from_full() -> None:
    listing = _listing([83], [76, 77, 82, 83])  # 78..81 missing
    plan = listing.plan(75)
    assert plan.action == "fresh" and plan.installed == 75 and plan.target == 83
    assert _names(plan) == ["HVSC_83-all-of-them.7z"]
    assert plan.describe() == "reinstall (from 75) release 83: HVSC_83-all-of-them.7z"


def test_plan_prefers_full_whose_chain_reaches_latest() -> None:
    # 82's chain stops (83 missing); 80's chain is broken too; 84 is a full archive itself.
    listing = _listing([80, 82, 84], [81, 85])
    assert listing.latest_version == 85
    assert _names(listing.plan(None)) == ["HVSC_84-all-of-them.7z", "HVSC_Update_85.7z"]


def test_plan_updates_only_mirror() -> None:
    listing = _listing([], [81, 82, 83])
    assert listing.latest_version == 83
    assert [a.version for a in listing.plan(80).archives] == [81, 82, 83]
    with pytest.raises(DiscoveryError, match=r"no full HVSC archive .* cannot install from updates alone"):
        listing.plan(None)
    with pytest.raises(DiscoveryError, match=r"cannot update HVSC 78 to 83 .*HVSC_Update_79\.7z is missing"):
        listing.plan(78)


def test_plan_uses_updates_beyond_the_full_chain_when_installed_reaches_them() -> None:
    listing = _listing([80], [81, 83, 84])  # 82 missing: a fresh install only reaches 81
    assert listing.latest_version == 81
    plan = listing.plan(82)
    assert plan.action == "incremental" and [a.version for a in plan.archives] == [83, 84]


def test_empty_listing_has_no_latest_version() -> None:
    with pytest.raises(DiscoveryError, match="no HVSC archives found at test://mirror"):
        _ = _listing([], []).latest_version
