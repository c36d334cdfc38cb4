"""The project's benchmarks, run from the repository root as ``python -m bench.<name>``.

A package rather than loose scripts so a benchmark imports the project (and another
benchmark, ``bench.similarity``) like any other code, without editing ``sys.path``.
"""
