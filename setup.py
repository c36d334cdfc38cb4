"""Builds the one native module, ``sidflow_pipeline.sid._libsidplayfp``, against the
system libsidplayfp (found through pkg-config). Everything else is in pyproject.toml."""

import shlex
import subprocess

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import setup


def pkg_config(*args: str) -> list[str]:
    try:
        out = subprocess.run(["pkg-config", *args, "libsidplayfp"], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(
            "error: libsidplayfp (>= 2.4) not found by pkg-config: install it with "
            "'sudo apt-get install libsidplayfp-dev pkg-config' (Debian/Ubuntu) or "
            f"'brew install libsidplayfp pkg-config' (macOS) ({exc})"
        ) from exc
    return shlex.split(out.stdout)


pkg_config("--atleast-version=2.4")
cflags = pkg_config("--cflags")
libs = pkg_config("--libs")

setup(
    ext_modules=[
        Pybind11Extension(
            "sidflow_pipeline.sid._libsidplayfp",
            ["sidflow_pipeline/sid/_libsidplayfp.cpp"],
            include_dirs=[flag[2:] for flag in cflags if flag.startswith("-I")],
            extra_compile_args=[flag for flag in cflags if not flag.startswith("-I")],
            library_dirs=[flag[2:] for flag in libs if flag.startswith("-L")],
            libraries=[flag[2:] for flag in libs if flag.startswith("-l")],
            cxx_std=17,
        )
    ],
    cmdclass={"build_ext": build_ext},
)
