"""A description of the machine and software a benchmark ran on."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import sys


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _memory_gib() -> str:
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return "unknown"
    return f"{pages / 2**30:.0f} GiB"


def load() -> str:
    """The 1, 5 and 15 minute load averages, or ``'unknown'``."""
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def describe() -> dict[str, str]:
    """CPU, cores, memory, load, OS, Python and library versions, and the date."""
    import jax

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
        "cpu": _cpu_model(),
        "cores": f"{os.cpu_count()} ({usable} usable by this process)",
        "memory": _memory_gib(),
        "load average at start (1, 5, 15 min)": load(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "jax / jaxlib": f"{_version('jax')} / {_version('jaxlib')}",
        "jax backend": f"{jax.default_backend()} ({jax.device_count()} device(s))",
        "optax": _version("optax"),
        "torch": _version("torch"),
        "numpy": _version("numpy"),
        "onecycle-jax": _version("onecycle-jax"),
        "XLA_FLAGS": os.environ.get("XLA_FLAGS", "(unset)"),
    }


def markdown(description: dict[str, str]) -> str:
    """The description as a two-column Markdown table."""
    lines = ["| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in description.items()]
    return "\n".join(lines)
