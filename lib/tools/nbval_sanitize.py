"""The nbval sanitizer file for this machine: ``python -m lib.tools.nbval_sanitize OUT``.

The smoke notebooks' checked outputs (tests/nbval/) were recorded on one CPU type, named in
tests/nbval/CPU. Training in float32 is reproducible bit for bit on the same CPU type (the same
math-library kernels), not across types: another CPU's vector units and cache sizes make the
libraries (MKL, oneDNN, XNNPACK) sum in another order, the last bits differ, and a dozen SGD steps on
ten persons turn that into different smoke metrics (measured between an AVX-512/AMX Xeon and an
AVX-512 AMD EPYC: up to 0.25 on 05's rank-1 means, 0.2 on 04's 40-pair accuracies; 00_data_prep's
engine numbers are identical). So:

- on the recording CPU type, OUT is tests/nbval/sanitize.cfg: every checked number must be equal;
- on another, OUT adds one rule that replaces the VALUE of each trained model's metric (keys of
  01-05: ``fra.``, ``inpaint.``, ``fserasing.``, ``lowres.``, ``cross.``) with NUM, and says so: the
  keys, their order, every engine number and a NaN where a number belongs are still checked.

``make nbval`` writes build/nbval_sanitize.cfg with it; ``make nbval-baseline`` records the CPU type.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lib import paths

TRAINED = "fra|inpaint|fserasing|lowres|cross"
RULE = f"""
[trained-metric-values: written because this CPU type is not the one the baselines were recorded on]
regex: (?m)^((?:{TRAINED})\\.\\S+ +)-?\\d+(?:\\.\\d+)?(?:e-?\\d+)?$
replace: \\1NUM
"""


def cpu_type() -> str:
    """Vendor model name and the vector ISA torch dispatches to, e.g. ``AMD EPYC | AVX512``."""
    import torch

    name = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        import platform

        name = platform.processor() or platform.machine()
    return f"{name} | {torch.backends.cpu.get_cpu_capability()}"


def recorded_file() -> Path:
    return paths.repo_root() / "tests" / "nbval" / "CPU"


def write(out: Path) -> bool:
    """Write the sanitizer file for this machine to ``out``; True if it is the strict one."""
    base = (paths.repo_root() / "tests" / "nbval" / "sanitize.cfg").read_text()
    recorded = recorded_file().read_text().strip() if recorded_file().exists() else ""
    here = cpu_type()
    strict = here == recorded
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(base if strict else base + RULE)
    if not strict:
        print(f"nbval: this CPU ({here}) is not the baselines' ({recorded or 'not recorded'}): trained models' "
              f"metric values are not compared, their keys and every engine number are", file=sys.stderr)
    return strict


def record() -> None:
    recorded_file().write_text(cpu_type() + "\n")


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--record"]:
        record()
        return 0
    if len(args) != 1:
        print("usage: python -m lib.tools.nbval_sanitize OUT | --record", file=sys.stderr)
        return 2
    write(Path(args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
