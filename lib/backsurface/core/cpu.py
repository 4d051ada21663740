"""The CPU's instruction-set flags, as ``/proc/cpuinfo`` lists them (which kernels ONNX Runtime and oneDNN can use)."""

from __future__ import annotations

from pathlib import Path


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """Every flag on the ``flags`` lines of ``cpuinfo`` (the text of ``/proc/cpuinfo``, read when None); empty where
    there is none or it cannot be read."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return set()
    return {f for line in cpuinfo.splitlines() if line.startswith("flags") for f in line.split(":", 1)[1].split()}
