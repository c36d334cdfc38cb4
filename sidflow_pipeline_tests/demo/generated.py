"""Larger generated collections for the tests: many random tunes from one seed.

The package keeps only what the demo mirror needs (the hand-designed release and the
update plans); these generators serve the classifier, scaling and listener tests, so
they live with them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sidflow_pipeline.demo.collection import (
    ReleaseFile,
    ReleaseInfo,
    _documents,
    _replace_demo_tree,
    _write_members,
)
from sidflow_pipeline.demo.compose import Rng
from sidflow_pipeline.demo.spec import DemoSong, StilText, TuneSpec
from sidflow_pipeline.demo.tunes import fictional_composer, fictional_title, games_range, random_tune

__all__ = ["random_song_specs", "random_tunes", "write_generated_collection"]


def random_tunes(count: int, seed: int) -> dict[str, TuneSpec]:
    """At least ``count`` songs in files of 1–4 subtunes, laid out like HVSC
    (``MUSICIANS/<L>/<Composer>/``, ``GAMES/``, ``DEMOS/``); path → tune."""
    rng = Rng(seed)
    composers = [fictional_composer(rng) for _ in range(max(3, count // 12))]
    tunes: dict[str, TuneSpec] = {}
    songs = 0
    while songs < count:
        n = min(rng.randint(1, 4), count - songs)
        title = fictional_title(rng)
        file = title.replace(" ", "_")
        kind = rng.random()
        if kind < 0.7:
            folder, author = rng.choice(composers)
            directory = f"MUSICIANS/{folder[0].upper()}/{folder}"
        elif kind < 0.85:
            author = rng.choice(composers)[1]
            directory = "GAMES/" + games_range(file)
        else:
            author = "<?>" if rng.random() < 0.5 else rng.choice(composers)[1]
            directory = "DEMOS/UNKNOWN" if author == "<?>" else "DEMOS/A-F"
        path = f"{directory}/{file}.sid"
        suffix = 2
        while path in tunes:
            path = f"{directory}/{file}_{suffix}.sid"
            suffix += 1
        year = 1983 + rng.randint(0, 12)
        tunes[path] = random_tune(
            rng.fork(len(tunes)), title, author, f"{year} {author if author != '<?>' else '<?>'}"[:32], n
        )
        songs += n
    return tunes


def random_song_specs(count: int, seed: int) -> list[DemoSong]:
    """``count`` generated songs with their paths (see :func:`random_tunes`)."""
    out: list[DemoSong] = []
    for path, tune in sorted(random_tunes(count, seed).items()):
        out.extend(DemoSong(path, i + 1, tune, song) for i, song in enumerate(tune.songs))
    return out


def write_generated_collection(dest: Path, count: int, seed: int) -> ReleaseInfo:
    """A larger generated collection (``count`` songs, seeded) as ``dest/C64Music/``,
    with Songlengths.md5, STIL.txt and HVSC.txt, for training and load tests. Its
    designs are :func:`random_song_specs` (same seed)."""
    root = Path(dest) / "C64Music"
    _replace_demo_tree(root)
    root.mkdir(parents=True)
    files = {
        p: ReleaseFile(replace(t, stil=(StilText(comment=f"Generated, seed {seed}."),)))
        for p, t in random_tunes(count, seed).items()
    }
    members = {p: f.data() for p, f in files.items()}
    members.update(_documents(1, files))
    total = _write_members(root, members)
    sid_bytes = sum(len(f.data()) for f in files.values())
    return ReleaseInfo(1, root, len(files), sum(len(f.tune.songs) for f in files.values()), total, sid_bytes)
