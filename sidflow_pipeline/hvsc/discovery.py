"""Find which HVSC releases a mirror offers and plan the cheapest way to the newest one.

A mirror is nothing more than a directory: an HTML autoindex page (Apache, nginx, the
brona.dk mirror), a ``file://`` URL or a local folder (the offline demo collection). HVSC
publishes two kinds of archive, and the planner has to respect how they chain:

* ``HVSC_<N>-all-of-them.7z`` — the whole collection at release N;
* ``HVSC_Update_<N>.7z`` — a delta that only applies on top of release N−1.

Mirrors usually keep only the newest full archive but every update, so an installed tree
normally catches up with a few small deltas; a tree too old for the deltas on offer (a
gap) is reinstalled from the newest full archive instead of being half-updated.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import unquote, urljoin, urlparse

import requests

from sidflow_pipeline.errors import SidflowError
from sidflow_pipeline.hvsc.http import (
    DEFAULT_TIMEOUT,
    http_session,
    local_path,
    normalize_sha256,
    short_reason,
)

__all__ = [
    "DiscoveryError",
    "ReleaseListing",
    "RemoteArchive",
    "SyncPlan",
    "discover_releases",
    "parse_sha256_sidecar",
]

FULL_RE = re.compile(r"^HVSC_(\d+)-all-of-them\.7z$", re.IGNORECASE)
UPDATE_RE = re.compile(r"^HVSC_Update_(\d+)\.7z$", re.IGNORECASE)
SIDECAR_SUFFIX = ".sha256"
# A listing page is a few kilobytes; a huge answer means the URL points somewhere else.
MAX_LISTING_BYTES = 8 * 1024 * 1024
MAX_SIDECAR_BYTES = 64 * 1024


class DiscoveryError(SidflowError, RuntimeError):
    """The mirror could not be read or offers no usable path; one line for the user."""


@dataclass(frozen=True)
class RemoteArchive:
    """One archive on the mirror: where it is, what release it brings, what it must hash to."""

    version: int
    kind: Literal["full", "update"]
    url_or_path: str
    name: str
    expected_sha256: str | None = None


@dataclass
class SyncPlan:
    """What a sync must download and apply, in order, to reach ``target``.

    ``action`` is ``current`` (nothing to do, ``archives`` empty), ``incremental``
    (updates installed+1..target) or ``fresh`` (a full archive plus the updates that chain
    from it; the existing tree is replaced, never patched).
    """

    action: Literal["current", "incremental", "fresh"]
    installed: int | None
    target: int
    archives: list[RemoteArchive] = field(default_factory=list)

    @property
    def fresh(self) -> bool:
        return self.action == "fresh"

    @property
    def current(self) -> bool:
        return self.action == "current"

    def describe(self) -> str:
        """One line for logs and run metadata."""
        if self.current:
            return f"HVSC release {self.target} is current"
        names = ", ".join(a.name for a in self.archives)
        if self.fresh:
            verb = "install" if self.installed is None else f"reinstall (from {self.installed})"
            return f"{verb} release {self.target}: {names}"
        return f"update {self.installed} → {self.target}: {names}"


@dataclass
class ReleaseListing:
    """Archives found at one source, keyed by the release number they bring."""

    source: str
    full: dict[int, RemoteArchive] = field(default_factory=dict)
    updates: dict[int, RemoteArchive] = field(default_factory=dict)

    def reachable_from(self, version: int) -> int:
        """The newest release reachable from ``version`` by applying consecutive updates."""
        reached = version
        while reached + 1 in self.updates:
            reached += 1
        return reached

    @property
    def latest_version(self) -> int:
        """The newest release this mirror can actually produce.

        That is the end of the longest update chain from any full archive — an update
        whose predecessors are missing cannot be reached from scratch. A mirror holding
        only updates (no full archive) reports its newest update; only an installed tree
        can use it.
        """
        if self.full:
            return max(self.reachable_from(version) for version in self.full)
        if self.updates:
            return max(self.updates)
        raise DiscoveryError(f"no HVSC archives found at {self.source}")

    def plan(self, installed: int | None) -> SyncPlan:
        """The shortest safe path from ``installed`` (``None``: nothing installed) to the newest release.

        Deltas are preferred (they are small and keep the tree), but only when every
        step exists; otherwise the newest full archive whose update chain reaches the
        newest release is installed fresh. Raises :class:`DiscoveryError` when neither
        path exists (no full archive and no bridging updates).
        """
        latest = self.latest_version
        bridged = self.reachable_from(installed) if installed is not None else None
        target = max(latest, bridged) if bridged is not None else latest
        if installed is not None and installed >= target:
            return SyncPlan("current", installed, installed)
        if installed is not None and bridged == target:
            steps = [self.updates[v] for v in range(installed + 1, target + 1)]
            return SyncPlan("incremental", installed, target, steps)
        bases = [v for v in self.full if self.reachable_from(v) == target]
        if not bases:
            if installed is None:
                raise DiscoveryError(
                    f"no full HVSC archive (HVSC_<N>-all-of-them.7z) at {self.source}; cannot install from updates alone"
                )
            missing = self.reachable_from(installed) + 1
            raise DiscoveryError(
                f"cannot update HVSC {installed} to {target} from {self.source}: "
                f"HVSC_Update_{missing}.7z is missing and no full archive reaches {target}"
            )
        base = max(bases)
        archives = [self.full[base], *(self.updates[v] for v in range(base + 1, target + 1))]
        return SyncPlan("fresh", installed, target, archives)


class _HrefCollector(HTMLParser):
    """Collects every ``<a href>``; autoindex pages differ in everything but that."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag.lower() != "a":
            return
        for key, value in attrs:
            if key.lower() == "href" and value:
                self.hrefs.append(value.strip())


def _href_name(url: str) -> str:
    return unquote(PurePosixPath(urlparse(url).path).name)


def parse_sha256_sidecar(text: str, filename: str) -> str:
    """The digest for ``filename`` in a ``sha256sum``-style sidecar.

    Accepts ``<hex>  <name>``, ``<hex> *<name>`` (binary mode), a bare ``<hex>`` and the
    BSD ``SHA256 (<name>) = <hex>`` form, so a sidecar made by any common tool works.
    A sidecar that names only other files is rejected: trusting it would verify nothing.
    """
    entries: list[tuple[str, str | None]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        bsd = re.match(r"^SHA256\s*\((.+)\)\s*=\s*([0-9A-Fa-f]{64})$", line)
        if bsd:
            entries.append((bsd.group(2), bsd.group(1)))
            continue
        gnu = re.match(r"^([0-9A-Fa-f]{64})(?:\s+\*?(.+))?$", line)
        if gnu:
            name = gnu.group(2).strip() if gnu.group(2) else None
            entries.append((gnu.group(1), name))
            continue
        raise ValueError(f"unrecognised line {line[:80]!r}")
    if not entries:
        raise ValueError("no checksum in file")
    for digest, name in entries:
        if name is None or PurePosixPath(name.replace("\\", "/")).name.lower() == filename.lower():
            return digest.lower()
    raise ValueError(f"no checksum for {filename}")


def _classify(name: str) -> tuple[Literal["full", "update"], int] | None:
    if match := FULL_RE.match(name):
        return "full", int(match.group(1))
    if match := UPDATE_RE.match(name):
        return "update", int(match.group(1))
    return None


def _build_listing(
    source: str,
    entries: Iterable[tuple[str, str]],
    read_sidecar: Callable[[str], str],
    pinned: Mapping[str, str],
) -> ReleaseListing:
    """Turn (name, location) pairs into a listing, attaching sidecar and pinned checksums."""
    archives: list[tuple[str, str, str, int]] = []
    sidecars: dict[str, str] = {}
    seen: set[tuple[str, int]] = set()
    for name, location in entries:
        lowered = name.lower()
        if lowered.endswith(SIDECAR_SUFFIX):
            sidecars.setdefault(lowered[: -len(SIDECAR_SUFFIX)], location)
            continue
        kind_version = _classify(name)
        if kind_version is None or kind_version in seen:
            continue  # autoindex pages may link a file twice (icon + name)
        seen.add(kind_version)
        archives.append((name, location, *kind_version))
    if not archives:
        raise DiscoveryError(f"no HVSC archives found at {source}")

    pins = {key.lower(): (key, value) for key, value in pinned.items()}
    listing = ReleaseListing(source=source)
    for name, location, kind, version in archives:
        expected: str | None = None
        sidecar = sidecars.get(name.lower())
        if sidecar is not None:
            text = read_sidecar(sidecar)
            try:
                expected = parse_sha256_sidecar(text, name)
            except ValueError as exc:
                raise DiscoveryError(f"{sidecar}: unusable checksum file ({exc})") from None
        pin = pins.get(name.lower())
        if pin is not None:
            try:
                expected = normalize_sha256(pin[1], what=f"pinned checksum for {pin[0]}")
            except ValueError as exc:
                raise DiscoveryError(str(exc)) from None
        archive = RemoteArchive(version, kind, location, name, expected)  # type: ignore[arg-type]
        (listing.full if kind == "full" else listing.updates)[version] = archive
    return listing


def _discover_http(url: str, session: requests.Session, timeout: tuple[float, float]) -> list[tuple[str, str]]:
    response = _get(url, session, timeout, what="cannot list HVSC releases at")
    collector = _HrefCollector()
    try:
        collector.feed(response.text)
        collector.close()
    except Exception as exc:  # html.parser is lenient; this guards truly broken input
        raise DiscoveryError(f"cannot list HVSC releases at {url}: unreadable index page ({exc})") from None
    # Redirects (``/hvsc`` → ``/hvsc/``) move the base relative hrefs resolve against.
    base = response.url or url
    entries: list[tuple[str, str]] = []
    for href in collector.hrefs:
        absolute = urljoin(base, href)
        if urlparse(absolute).scheme.lower() not in ("http", "https"):
            continue
        absolute = absolute.split("#", 1)[0]
        if urlparse(absolute).query:
            continue  # sort links such as ``?C=N;O=D``
        name = _href_name(absolute)
        if name:
            entries.append((name, absolute))
    return entries


def _get(url: str, session: requests.Session, timeout: tuple[float, float], *, what: str) -> requests.Response:
    try:
        response = session.get(url, timeout=timeout, stream=True)
    except requests.RequestException as exc:
        raise DiscoveryError(f"{what} {url}: {short_reason(exc)}") from None
    try:
        if response.status_code != 200:
            raise DiscoveryError(f"{what} {url}: HTTP {response.status_code} {response.reason or ''}".rstrip())
        body = bytearray()
        try:
            for chunk in response.iter_content(64 * 1024):
                body.extend(chunk)
                if len(body) > MAX_LISTING_BYTES:
                    raise DiscoveryError(f"{what} {url}: answer larger than {MAX_LISTING_BYTES} bytes")
        except requests.RequestException as exc:
            raise DiscoveryError(f"{what} {url}: {short_reason(exc)}") from None
        response._content = bytes(body)  # let .text decode with the declared charset
        return response
    finally:
        response.close()


def _discover_local(directory: Path, source: str) -> list[tuple[str, str]]:
    if not directory.exists():
        raise DiscoveryError(f"cannot list HVSC releases at {source}: no such directory")
    if not directory.is_dir():
        raise DiscoveryError(f"cannot list HVSC releases at {source}: not a directory")
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise DiscoveryError(f"cannot list HVSC releases at {source}: {exc.strerror or exc}") from None
    return [(name, str((directory / name).resolve())) for name in names if (directory / name).is_file()]


def _read_local_sidecar(location: str) -> str:
    try:
        with open(location, "rb") as handle:
            return handle.read(MAX_SIDECAR_BYTES).decode("utf-8", "replace")
    except OSError as exc:
        raise DiscoveryError(f"cannot read checksum file {location}: {exc.strerror or exc}") from None


def discover_releases(
    source: str | os.PathLike[str],
    session: requests.Session | None = None,
    *,
    pinned: Mapping[str, str] | None = None,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    max_retries: int = 3,
    backoff_factor: float = 0.5,
) -> ReleaseListing:
    """List the HVSC archives at ``source`` (HTTP(S) index page, ``file://`` URL or folder).

    ``<archive>.sha256`` sidecars found beside an archive fill ``expected_sha256``;
    ``pinned`` (``{filename: sha256}`` from the user's config) overrides them, because a
    pin is the user's own statement of what they trust. Raises :class:`DiscoveryError`
    with one line naming the source when it cannot be read or holds no HVSC archive.
    """
    text = os.fspath(source)
    pins = dict(pinned or {})
    scheme = urlparse(text).scheme.lower()
    if scheme in ("http", "https"):
        own_session = session is None
        http = session or http_session(max_retries=max_retries, backoff_factor=backoff_factor)
        try:
            entries = _discover_http(text, http, timeout)

            def read_sidecar(url: str) -> str:
                response = _get(url, http, timeout, what="cannot read checksum file")
                return response.content[:MAX_SIDECAR_BYTES].decode("utf-8", "replace")

            return _build_listing(text, entries, read_sidecar, pins)
        finally:
            if own_session:
                http.close()
    if scheme == "file" or scheme == "" or (len(scheme) == 1 and os.name == "nt"):
        entries = _discover_local(local_path(text), text)
        return _build_listing(text, entries, _read_local_sidecar, pins)
    raise DiscoveryError(f"cannot list HVSC releases at {text}: unsupported URL scheme {scheme!r}")

