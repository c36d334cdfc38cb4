"""Fault #7 on a real full filesystem, where the machine allows one: a 512 KiB tmpfs
mounted over dataPath in a private mount namespace (``unshare -rm``), filled with
``dd``, then real `sidflow rate` and `sidflow feedback` processes. The other disk-full
tests inject ENOSPC at ``os.write``; this one checks the kernel agrees."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sidflow_pipeline.feedback.log import append_event, day_file
from sidflow_pipeline_tests.faults.helpers import collection

SIDFLOW = str(Path(sys.executable).with_name("sidflow"))
TUNE = "MUSICIANS/A/Alpha/One.sid"
PAGE = 4096


def _namespaces_allowed() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(not _namespaces_allowed(), reason="no private mount namespaces here (unshare -rm)")

SCRIPT = r"""
set -u
mount -t tmpfs -o size=512k tmpfs "$DATA"
cp -a "$PREPARED/." "$DATA/"
dd if=/dev/zero of="$DATA/filler" bs=4k 2>/dev/null
sha256sum "$TAGS" "$LOG" > "$OUT/before.sha"
"$SIDFLOW" --config "$CFG" rate "$TUNEFILE" --song 2 --e 1 > "$OUT/rate.out" 2> "$OUT/rate.err"; echo $? > "$OUT/rate.rc"
"$SIDFLOW" --config "$CFG" feedback skip "$TUNE" --song 2 > "$OUT/fb.out" 2> "$OUT/fb.err"; echo $? > "$OUT/fb.rc"
sha256sum "$TAGS" "$LOG" > "$OUT/after.sha"
ls -a "$(dirname "$TAGS")" > "$OUT/tags.ls"
"""


def test_fault07_rate_and_feedback_on_a_really_full_tmpfs(tmp_path: Path) -> None:
    config = collection(tmp_path)  # dataPath: tmp_path/data (the mount point)
    prepared, out = tmp_path / "prepared", tmp_path / "out"
    out.mkdir()
    tags = prepared / "tags" / f"{TUNE}.tags.json"
    tags.parent.mkdir(parents=True)
    tags.write_text(json.dumps({"songs": {"1": {"e": 5, "source": "manual"}}}, indent=2) + "\n")
    # A log that ends 40 bytes short of a page: the next line needs a page the disk no
    # longer has, so the kernel takes its first 40 bytes and then refuses the rest.
    root = prepared / "feedback"
    when = datetime.now(UTC)
    n = 0
    while (day_file(root, when).stat().st_size if day_file(root, when).exists() else 0) < PAGE - 300:
        append_event(root, TUNE, "play", when=when, event_id=f"e{n}")
        n += 1
    log = day_file(root, when)
    pad = PAGE - 40 - log.stat().st_size - 1
    with log.open("a") as handle:
        handle.write(" " * pad + "\n")  # a blank line: readers skip it
    assert log.stat().st_size == PAGE - 40
    data = tmp_path / "data"
    env = {
        "DATA": str(data), "PREPARED": str(prepared), "OUT": str(out), "SIDFLOW": SIDFLOW, "CFG": str(config),
        "TUNE": TUNE, "TUNEFILE": str(tmp_path / "hvsc" / "C64Music" / TUNE),
        "TAGS": str(data / "tags" / f"{TUNE}.tags.json"), "LOG": str(data / log.relative_to(prepared)),
        "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "250",
        **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
    }
    done = subprocess.run(["unshare", "-rm", "sh", "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (out / "before.sha").read_text() == (out / "after.sha").read_text()  # byte-identical
    for name, fragment in (("rate", "previous file is unchanged"), ("fb", "nothing was written")):
        assert (out / f"{name}.rc").read_text().strip() == "2", (out / f"{name}.err").read_text()
        err = (out / f"{name}.err").read_text()
        assert "Traceback" not in err and err.count("error: ") == 1 and "No space left on device" in err and fragment in err
    assert not [n for n in (out / "tags.ls").read_text().split() if n.endswith(".tmp")]
