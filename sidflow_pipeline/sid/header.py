"""PSID/RSID header parsing and writing (versions 1–4).

The layout follows HVSC's ``DOCUMENTS/SID_file_format.txt``. Everything downstream
(catalog, render settings, HVSC update scripts, the demo generator) speaks in terms of
:class:`SidHeader`, so a malformed file must fail here, once, with a message that
names the problem — never later as an ``IndexError`` deep inside a render.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from sidflow_pipeline.errors import SidflowError

__all__ = [
    "CLOCKS",
    "MAX_SID_FILE_SIZE",
    "SID_MODELS",
    "SidFile",
    "SidFormatError",
    "SidHeader",
    "build_psid",
    "encode_header",
    "parse_sid",
    "read_sid",
    "read_sid_bytes",
    "rewrite_header",
]

V1_HEADER_SIZE = 0x76
V2_HEADER_SIZE = 0x7C
# The largest file the format can describe: a v2+ header, the two-byte load address
# in front of the data, and data filling all 64 KiB of C64 memory.
MAX_SID_FILE_SIZE = V2_HEADER_SIZE + 2 + 0x10000

# Two-bit codes used for the clock and every SID model field of ``flags``.
CLOCKS: tuple[str, ...] = ("Unknown", "PAL", "NTSC", "PAL+NTSC")
SID_MODELS: tuple[str, ...] = ("Unknown", "6581", "8580", "6581+8580")

_V1_STRUCT = struct.Struct(">4sHHHHHHHI32s32s32s")
_V2_EXTRA = struct.Struct(">HBBBB")

Magic = Literal["PSID", "RSID"]


class SidFormatError(SidflowError, ValueError):
    """A byte string is not a valid PSID/RSID file; the message says why."""


def _decode_string(raw: bytes) -> str:
    # Fields are 32 bytes, NUL-padded unless exactly 32 characters long. HVSC text is
    # Windows-1252/Latin-1; Latin-1 decodes every byte, so a parse can never fail here.
    return raw.split(b"\x00", 1)[0].decode("latin-1")


def _encode_string(text: str, field: str) -> bytes:
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise SidFormatError(f"{field} {text!r} has characters outside Latin-1") from exc
    if len(raw) > 32:
        raise SidFormatError(f"{field} {text!r} is longer than 32 characters")
    return raw.ljust(32, b"\x00")


@dataclass(frozen=True)
class SidHeader:
    """Every field of a PSID/RSID header, as stored (no defaults are filled in).

    Derived views (effective load address, clock name, chip models) are properties so
    that the stored values stay byte-exact for :func:`encode_header`.
    """

    magic: Magic
    version: int
    data_offset: int
    load_address: int
    init_address: int
    play_address: int
    songs: int
    start_song: int
    speed: int
    name: str
    author: str
    released: str
    flags: int = 0
    start_page: int = 0
    page_length: int = 0
    second_sid_address: int = 0
    third_sid_address: int = 0

    @property
    def is_rsid(self) -> bool:
        return self.magic == "RSID"

    @property
    def mus_player(self) -> bool:
        return bool(self.flags & 0x01) if self.version >= 2 else False

    @property
    def psid_specific(self) -> bool:
        """PlaySID-specific samples (PSID) — the same bit means C64 BASIC for RSID."""
        return bool(self.flags & 0x02) if self.version >= 2 and not self.is_rsid else False

    @property
    def c64_basic(self) -> bool:
        return bool(self.flags & 0x02) if self.is_rsid else False

    @property
    def clock(self) -> str:
        return CLOCKS[(self.flags >> 2) & 0x3] if self.version >= 2 else "Unknown"

    @property
    def sid_model(self) -> str:
        return SID_MODELS[(self.flags >> 4) & 0x3] if self.version >= 2 else "Unknown"

    @property
    def second_sid_model(self) -> str | None:
        if self.second_sid_base is None:
            return None
        code = (self.flags >> 6) & 0x3
        return SID_MODELS[code] if code else self.sid_model

    @property
    def third_sid_model(self) -> str | None:
        if self.third_sid_base is None:
            return None
        code = (self.flags >> 8) & 0x3
        return SID_MODELS[code] if code else self.sid_model

    @property
    def second_sid_base(self) -> int | None:
        """The $Dxx0 address of the 2nd SID, or None when the field is unused/invalid."""
        return _sid_address(self.second_sid_address) if self.version >= 3 else None

    @property
    def third_sid_base(self) -> int | None:
        return _sid_address(self.third_sid_address) if self.version >= 4 else None

    @property
    def sid_count(self) -> int:
        return 1 + (self.second_sid_base is not None) + (self.third_sid_base is not None)

    def song_speed(self, song_index: int) -> Literal["VBI", "CIA"]:
        """Timer source of a 1-based song, with the spec's wrap rule past 32 songs."""
        bit = song_index - 1
        if bit >= 32:
            bit = bit % 32 if (self.version == 1 or self.psid_specific) else 31
        return "CIA" if (self.speed >> bit) & 1 else "VBI"

    def to_dict(self) -> dict[str, Any]:
        """Stored fields plus the derived views, for ``sidflow info --json`` and the catalog."""
        out = asdict(self)
        out.update(
            is_rsid=self.is_rsid,
            mus_player=self.mus_player,
            psid_specific=self.psid_specific,
            c64_basic=self.c64_basic,
            clock=self.clock,
            sid_model=self.sid_model,
            second_sid_model=self.second_sid_model,
            third_sid_model=self.third_sid_model,
            second_sid_base=self.second_sid_base,
            third_sid_base=self.third_sid_base,
            sid_count=self.sid_count,
        )
        return out


def _sid_address(code: int) -> int | None:
    if code & 1 or not (0x42 <= code <= 0x7F or 0xE0 <= code <= 0xFE):
        return None
    return 0xD000 | (code << 4)


@dataclass(frozen=True)
class SidFile:
    """A parsed SID file: header, C64 payload and the HVSC md5 (of the whole file)."""

    header: SidHeader
    payload: bytes
    md5: str
    size: int

    @property
    def load_address(self) -> int:
        """Effective load address: the header field, or the payload's first two bytes."""
        if self.header.load_address:
            return self.header.load_address
        return self.payload[0] | (self.payload[1] << 8)

    @property
    def c64_data(self) -> bytes:
        """The bytes placed in C64 memory at :attr:`load_address`."""
        return self.payload if self.header.load_address else self.payload[2:]

    @property
    def load_end(self) -> int:
        return self.load_address + len(self.c64_data) - 1

    @property
    def init_address(self) -> int:
        return self.header.init_address or self.load_address


def parse_sid(data: bytes) -> SidFile:
    """Parse a whole SID file; raise :class:`SidFormatError` on anything inconsistent."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SidFormatError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < 4:
        raise SidFormatError(f"file is {len(data)} bytes long, too short for a SID header")
    magic_raw = data[:4]
    if magic_raw not in (b"PSID", b"RSID"):
        raise SidFormatError(f"bad magic {magic_raw!r}: not a PSID/RSID file")
    if len(data) < V1_HEADER_SIZE:
        raise SidFormatError(
            f"truncated header: {len(data)} bytes, a v1 header needs {V1_HEADER_SIZE}"
        )
    (_, version, data_offset, load, init, play, songs, start, speed, name, author, rel) = (
        _V1_STRUCT.unpack_from(data, 0)
    )
    magic: Magic = "PSID" if magic_raw == b"PSID" else "RSID"
    if version not in (1, 2, 3, 4):
        raise SidFormatError(f"unsupported header version {version} (expected 1–4)")
    if magic == "RSID" and version == 1:
        raise SidFormatError("RSID files must have header version 2, 3 or 4")
    expected_offset = V1_HEADER_SIZE if version == 1 else V2_HEADER_SIZE
    if data_offset != expected_offset:
        raise SidFormatError(
            f"dataOffset is 0x{data_offset:04X}, version {version} requires 0x{expected_offset:04X}"
        )
    if len(data) < data_offset:
        raise SidFormatError(
            f"truncated header: {len(data)} bytes, version {version} needs {data_offset}"
        )
    flags = start_page = page_length = sid2 = sid3 = 0
    if version >= 2:
        flags, start_page, page_length, sid2, sid3 = _V2_EXTRA.unpack_from(data, V1_HEADER_SIZE)
    if songs < 1 or songs > 256:
        raise SidFormatError(f"songs is {songs}, must be 1–256")
    payload = data[data_offset:]
    min_payload = 1 if load else 3
    if len(payload) < min_payload:
        raise SidFormatError(
            f"no C64 data after the header ({len(payload)} bytes; need at least {min_payload})"
        )
    header = SidHeader(
        magic=magic,
        version=version,
        data_offset=data_offset,
        load_address=load,
        init_address=init,
        play_address=play,
        songs=songs,
        start_song=start,
        speed=speed,
        name=_decode_string(name),
        author=_decode_string(author),
        released=_decode_string(rel),
        flags=flags,
        start_page=start_page,
        page_length=page_length,
        second_sid_address=sid2,
        third_sid_address=sid3,
    )
    sid = SidFile(header=header, payload=payload, md5=hashlib.md5(data).hexdigest(), size=len(data))
    if sid.load_address + len(sid.c64_data) > 0x10000:
        raise SidFormatError(
            f"C64 data (${sid.load_address:04X}, {len(sid.c64_data)} bytes) runs past $FFFF"
        )
    return sid


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a special file"  # pragma: no cover - every kind is named above


def read_sid_bytes(path: Path | str) -> bytes:
    """The bytes of a SID file — only of a regular file, and at most :data:`MAX_SID_FILE_SIZE`.

    A path can name a FIFO (opening it would wait for a writer forever) or a device
    such as ``/dev/zero`` behind a ``.sid`` symlink (reading it never ends), so the
    file is opened non-blocking, checked with ``fstat`` on the very descriptor that
    is read (no race with a rename), and read with a bound.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise SidFormatError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SidFormatError(f"{path}: not a regular file ({_kind(info.st_mode)})")
        if info.st_size > MAX_SID_FILE_SIZE:
            raise SidFormatError(
                f"{path}: {info.st_size:,} bytes, larger than the largest SID file ({MAX_SID_FILE_SIZE:,} bytes)"
            )
        chunks: list[bytes] = []
        left = MAX_SID_FILE_SIZE + 1  # one byte more tells a file that grew while we read
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise SidFormatError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > MAX_SID_FILE_SIZE:
        raise SidFormatError(f"{path}: larger than the largest SID file ({MAX_SID_FILE_SIZE:,} bytes)")
    return data


def read_sid(path: Path | str) -> SidFile:
    """Read and parse a file, prefixing errors with the path so a CLI line is complete."""
    path = Path(path)
    data = read_sid_bytes(path)
    try:
        return parse_sid(data)
    except SidFormatError as exc:
        raise SidFormatError(f"{path}: {exc}") from exc


def encode_header(header: SidHeader) -> bytes:
    """Serialise a header to exactly ``data_offset`` bytes (0x76 or 0x7C)."""
    for field, value, limit in (
        ("version", header.version, 0xFFFF),
        ("loadAddress", header.load_address, 0xFFFF),
        ("initAddress", header.init_address, 0xFFFF),
        ("playAddress", header.play_address, 0xFFFF),
        ("songs", header.songs, 0xFFFF),
        ("startSong", header.start_song, 0xFFFF),
        ("speed", header.speed, 0xFFFFFFFF),
        ("flags", header.flags, 0xFFFF),
        ("startPage", header.start_page, 0xFF),
        ("pageLength", header.page_length, 0xFF),
        ("secondSIDAddress", header.second_sid_address, 0xFF),
        ("thirdSIDAddress", header.third_sid_address, 0xFF),
    ):
        if not 0 <= value <= limit:
            raise SidFormatError(f"{field} {value} out of range 0–{limit}")
    if header.version not in (1, 2, 3, 4):
        raise SidFormatError(f"unsupported header version {header.version}")
    out = _V1_STRUCT.pack(
        header.magic.encode("ascii"),
        header.version,
        V1_HEADER_SIZE if header.version == 1 else V2_HEADER_SIZE,
        header.load_address,
        header.init_address,
        header.play_address,
        header.songs,
        header.start_song,
        header.speed,
        _encode_string(header.name, "name"),
        _encode_string(header.author, "author"),
        _encode_string(header.released, "released"),
    )
    if header.version >= 2:
        out += _V2_EXTRA.pack(
            header.flags,
            header.start_page,
            header.page_length,
            header.second_sid_address,
            header.third_sid_address,
        )
    return out


def rewrite_header(data: bytes, **changes: Any) -> bytes:
    """Return ``data`` with header fields replaced and the payload untouched.

    HVSC update scripts edit titles, credits, flags and addresses in place; going
    through :class:`SidHeader` keeps every other byte identical. Setting a v2+ field on a
    v1 file upgrades the header to v2 (the payload moves by six bytes, as the HVSC
    update tool does).
    """
    sid = parse_sid(data)
    header = sid.header
    v2_fields = {"flags", "start_page", "page_length", "second_sid_address", "third_sid_address"}
    if header.version == 1 and v2_fields & changes.keys() and "version" not in changes:
        changes["version"] = 2
    if "version" in changes:
        changes["data_offset"] = V1_HEADER_SIZE if changes["version"] == 1 else V2_HEADER_SIZE
    unknown = changes.keys() - set(SidHeader.__dataclass_fields__)
    if unknown:
        raise SidFormatError(f"unknown header field(s): {', '.join(sorted(unknown))}")
    new_header = replace(header, **changes)
    return encode_header(new_header) + sid.payload


def _flags(clock: str, sid_model: str, second_model: str | None = None) -> int:
    try:
        flags = CLOCKS.index(clock) << 2 | SID_MODELS.index(sid_model) << 4
        if second_model is not None:
            flags |= SID_MODELS.index(second_model) << 6
    except ValueError as exc:
        raise SidFormatError(f"unknown clock/model in {clock!r}/{sid_model!r}") from exc
    return flags


def build_psid(
    c64_data: bytes,
    *,
    load_address: int,
    init_address: int,
    play_address: int,
    songs: int,
    start_song: int = 1,
    name: str,
    author: str,
    released: str,
    clock: str = "PAL",
    sid_model: str = "6581",
    speed: int = 0,
    second_sid_address: int = 0,
) -> bytes:
    """A complete PSID v2 file (v3 when a second SID is given) around ``c64_data``.

    The load address goes in the header field, not in front of the data, so the
    payload is exactly what lands in C64 memory.
    """
    version = 3 if second_sid_address else 2
    header = SidHeader(
        magic="PSID",
        version=version,
        data_offset=V2_HEADER_SIZE,
        load_address=load_address,
        init_address=init_address,
        play_address=play_address,
        songs=songs,
        start_song=start_song,
        speed=speed,
        name=name,
        author=author,
        released=released,
        flags=_flags(clock, sid_model),
        second_sid_address=second_sid_address,
    )
    data = encode_header(header) + bytes(c64_data)
    parse_sid(data)  # refuse to emit a file our own parser would reject
    return data
