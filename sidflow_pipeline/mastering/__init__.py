"""Mastering with versioned profiles, tuned by your own ratings (issue 9).

The loop: **apply** (fingerprint → detect the recording type → master with that
type's current profile) → listen and **rate** (one JSON line per rating) →
**analyze** (patterns in the comments, with negation, → concrete suggestions) →
**update** (a new minor profile version, validated on generated signals, committed
with git when the profiles live in a repository). ``docs/mastering.md`` walks
through it; the CLI is ``sidflow master``.

No Dagster here: the CLI and the ``mastering_profiles`` asset call these functions.
Nothing is re-exported here: importing the package must stay cheap, because
``sidflow`` loads ``mastering.detect`` for its ``--help``, and numpy, scipy and
soundfile are only needed once audio is touched. Import from the modules.
"""
