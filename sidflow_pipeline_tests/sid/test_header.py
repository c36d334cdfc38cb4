from __future__ import annotations

import hashlib
import random
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidflow_pipeline.sid.header import (
    SidFormatError,
    SidHeader,
    build_psid,
    encode_header,
    parse_sid,
    read_sid,
    rewrite_header,
)
from sidflow_pipeline_tests.conftest import sample_sid_files

PROGRAM = bytes([0xA9, 0x0F, 0x8D, 0x18, 0xD4, 0x60, 0x60])  # LDA #$0F; STA $D418; RTS; RTS


def _psid(**overrides: object) -> bytes:
    kwargs: dict[str, object] = dict(
        load_address=0x1000,
        init_address=0x1000,
        play_address=0x1006,
        songs=3,
        start_song=2,
        name="Test Tune",
        author="Tester",
        released="2026 SIDFlow",
    )
    kwargs.update(overrides)
    return build_psid(PROGRAM, **kwargs)  # type: ignore[arg-type]


def test_build_and_parse_round_trip() -> None:
    data = _psid(clock="NTSC", sid_model="8580")
    sid = parse_sid(data)
    h = sid.header
    assert (h.magic, h.version, h.data_offset) == ("PSID", 2, 0x7C)
    assert (h.load_address, h.init_address, h.play_address) == (0x1000, 0x1000, 0x1006)
    assert (h.songs, h.start_song, h.name, h.author, h.released) == (3, 2, "Test Tune", "Tester", "2026 SIDFlow")
    assert (h.clock, h.sid_model, h.sid_count) == ("NTSC", "8580", 1)
    assert h.flags == (2 << 2) | (2 << 4)
    assert sid.payload == PROGRAM and sid.c64_data == PROGRAM
    assert sid.load_address == 0x1000 and sid.load_end == 0x1000 + len(PROGRAM) - 1
    assert sid.md5 == hashlib.md5(data).hexdigest()
    assert encode_header(h) + PROGRAM == data


def test_load_address_from_data_and_init_default() -> None:
    header = SidHeader("PSID", 2, 0x7C, 0, 0, 0, 1, 1, 0, "a", "b", "c")
    data = encode_header(header) + bytes([0x00, 0x20]) + PROGRAM
    sid = parse_sid(data)
    assert sid.load_address == 0x2000
    assert sid.c64_data == PROGRAM
    assert sid.init_address == 0x2000


def test_v1_header_and_speed_wrap() -> None:
    header = SidHeader("PSID", 1, 0x76, 0x1000, 0x1000, 0x1003, 40, 1, 0b101, "v1", "", "")
    sid = parse_sid(encode_header(header) + PROGRAM)
    h = sid.header
    assert h.version == 1 and h.clock == "Unknown" and h.sid_model == "Unknown" and h.flags == 0
    assert h.song_speed(1) == "CIA" and h.song_speed(2) == "VBI" and h.song_speed(3) == "CIA"
    assert h.song_speed(33) == "CIA"  # v1 wraps: tune 33 uses bit 0
    v2 = SidHeader("PSID", 2, 0x7C, 0x1000, 0x1000, 0x1003, 40, 1, 1 << 31, "v2", "", "")
    assert v2.song_speed(40) == "CIA"  # v2NG: tunes past 32 reuse bit 31


def test_multi_sid_fields_v3_v4() -> None:
    flags = (1 << 2) | (1 << 4) | (2 << 6) | (0 << 8)
    header = SidHeader("PSID", 4, 0x7C, 0x1000, 0x1000, 0x1003, 1, 1, 0, "x", "y", "z", flags, 0, 0, 0x42, 0xE0)
    h = parse_sid(encode_header(header) + PROGRAM).header
    assert h.second_sid_base == 0xD420 and h.third_sid_base == 0xDE00
    assert h.second_sid_model == "8580" and h.third_sid_model == "6581"  # unknown → same as first
    assert h.sid_count == 3
    odd = SidHeader("PSID", 3, 0x7C, 0x1000, 0x1000, 0x1003, 1, 1, 0, "x", "y", "z", 0, 0, 0, 0x43, 0)
    assert parse_sid(encode_header(odd) + PROGRAM).header.second_sid_base is None


def test_rsid_flags() -> None:
    header = SidHeader("RSID", 2, 0x7C, 0, 0, 0, 1, 1, 0, "basic", "", "", flags=0x02 | (1 << 4))
    sid = parse_sid(encode_header(header) + bytes([0x01, 0x08]) + PROGRAM)
    assert sid.header.is_rsid and sid.header.c64_basic and not sid.header.psid_specific
    assert sid.load_address == 0x0801
    d = sid.header.to_dict()
    assert d["c64_basic"] is True and d["sid_model"] == "6581"


def test_latin1_strings_and_32_char_field() -> None:
    name = "Mikl\xf3s R\xf3zsa" + "x" * 20  # 32 chars exactly, no terminator
    data = _psid(name=name[:32])
    assert parse_sid(data).header.name == name[:32]
    with pytest.raises(SidFormatError, match="longer than 32"):
        _psid(name="y" * 33)
    with pytest.raises(SidFormatError, match="Latin-1"):
        _psid(name="snowman \u2603")


def test_rewrite_header_edits_in_place_and_upgrades_v1() -> None:
    data = _psid()
    edited = rewrite_header(data, name="New Title", author="Someone Else")
    assert len(edited) == len(data)
    assert edited[0x7C:] == data[0x7C:]
    h = parse_sid(edited).header
    assert (h.name, h.author, h.released) == ("New Title", "Someone Else", "2026 SIDFlow")
    v1 = encode_header(SidHeader("PSID", 1, 0x76, 0x1000, 0x1000, 0x1003, 1, 1, 0, "a", "b", "c")) + PROGRAM
    upgraded = rewrite_header(v1, flags=1 << 4)
    sid = parse_sid(upgraded)
    assert sid.header.version == 2 and sid.header.sid_model == "6581" and sid.payload == PROGRAM
    with pytest.raises(SidFormatError, match="unknown header field"):
        rewrite_header(data, colour="red")
    with pytest.raises(SidFormatError, match="out of range"):
        rewrite_header(data, songs=70000)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "too short"),
        (b"MZ\x90\x00" + bytes(200), "bad magic"),
        (b"PSID" + bytes(20), "truncated header"),
        (struct.pack(">4sHH", b"PSID", 9, 0x7C) + bytes(200), "unsupported header version"),
        (struct.pack(">4sHH", b"PSID", 2, 0x76) + bytes(200), "dataOffset"),
        (struct.pack(">4sHH", b"RSID", 1, 0x76) + bytes(200), "RSID files must have"),
    ],
)
def test_bad_input_messages(data: bytes, message: str) -> None:
    with pytest.raises(SidFormatError, match=message):
        parse_sid(data)


def test_songs_out_of_range_and_overflowing_data() -> None:
    good = bytearray(_psid())
    zero_songs = bytearray(good)
    zero_songs[0x0E:0x10] = b"\x00\x00"
    with pytest.raises(SidFormatError, match="songs is 0"):
        parse_sid(bytes(zero_songs))
    high_load = bytearray(good)
    high_load[0x08:0x0A] = b"\xff\xfe"
    with pytest.raises(SidFormatError, match=r"runs past \$FFFF"):
        parse_sid(bytes(high_load))
    with pytest.raises(SidFormatError, match="no C64 data"):
        parse_sid(bytes(good[:0x7C]))


def test_read_sid_prefixes_path(tmp_path: Path) -> None:
    bad = tmp_path / "broken.sid"
    bad.write_bytes(b"PSID\x00")
    with pytest.raises(SidFormatError, match=r"broken.sid: truncated"):
        read_sid(bad)
    with pytest.raises(SidFormatError, match="cannot read"):
        read_sid(tmp_path / "missing.sid")


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_only_raise_sidformaterror(data: bytes) -> None:
    for candidate in (data, b"PSID" + data, b"RSID" + data[:2] + b"\x00\x7c" + data[2:]):
        try:
            parse_sid(candidate)
        except SidFormatError:
            pass


def test_fuzz_truncations_and_byte_flips_of_valid_files() -> None:
    rng = random.Random(1234)
    from sidflow_pipeline.demo.player_routine import build_sid
    from sidflow_pipeline.demo.tunes import base_tunes

    seeds = [_psid(), _psid(clock="NTSC", sid_model="8580")]
    seeds += [build_sid(tune) for tune in list(base_tunes().values())[:6]]
    seeds += [p.read_bytes() for p in sample_sid_files()[:20]]
    checked = 0
    for seed in seeds:
        for cut in range(0, min(len(seed), 0x90)):
            try:
                parse_sid(seed[:cut])
            except SidFormatError:
                pass
            checked += 1
        for _ in range(300):
            mutated = bytearray(seed)
            for _ in range(rng.randint(1, 8)):
                mutated[rng.randrange(min(len(mutated), 0x80))] = rng.randrange(256)
            try:
                parse_sid(bytes(mutated))
            except SidFormatError:
                pass
            checked += 1
    assert checked == sum(min(len(seed), 0x90) + 300 for seed in seeds) >= 8 * 400


@pytest.mark.hvsc_sample
@pytest.mark.parametrize("path", sample_sid_files(), ids=lambda p: p.name)
def test_every_sample_tune_parses(path: Path) -> None:
    sid = read_sid(path)
    h = sid.header
    assert h.magic in ("PSID", "RSID")
    assert 1 <= h.start_song <= h.songs or h.start_song == 0
    assert sid.md5 == hashlib.md5(path.read_bytes()).hexdigest()
    if h.is_rsid:
        assert h.load_address == 0 and h.play_address == 0 and h.speed == 0
    assert 0 <= sid.load_address <= sid.load_end <= 0xFFFF
