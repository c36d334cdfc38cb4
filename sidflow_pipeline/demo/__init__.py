"""The generated demo collection: real PSID tunes made by the project's own code.

So the whole pipeline runs offline, the project writes its own small HVSC-like
collection (a 6502 player assembled in Python plus note data designed along the
axes the classifier learns) and an HVSC-style mirror of it (full archive + update
archives with ``.hvs`` scripts). Public entry points live in
:mod:`sidflow_pipeline.demo.collection`; see also ``tunes`` (designs), ``player``
(the 6502 routine) and ``asm6502`` (the assembler).
"""

from sidflow_pipeline.demo.collection import (
    DemoReport,
    ReleaseInfo,
    build_release_tree,
    build_update_archive_tree,
    demo_songs,
    iter_demo_songs,
    write_demo_collection,
    write_demo_mirror,
    write_mirror,
)
from sidflow_pipeline.demo.spec import DemoSong, SongSpec, TuneSpec, VoiceSpec

__all__ = [
    "DemoReport",
    "DemoSong",
    "ReleaseInfo",
    "SongSpec",
    "TuneSpec",
    "VoiceSpec",
    "build_release_tree",
    "build_update_archive_tree",
    "demo_songs",
    "iter_demo_songs",
    "write_demo_collection",
    "write_demo_mirror",
    "write_mirror",
]
