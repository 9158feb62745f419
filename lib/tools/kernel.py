"""Install the pinned ``faceaug`` Jupyter kernel into the venv: ``python -m lib.tools.kernel``.

The kernel runs this interpreter (absolute path, so PATH does not matter) with
``capture_fd_output=False``: C/C++ libraries (MediaPipe, TFLite, absl) print timestamped
INFO/WARNING lines straight to file descriptor 2, from background threads; captured, they
would land in notebook outputs and change on every run. Uncaptured, they go to the
kernel's stderr, which ``lib.paper`` writes to build/executed/<profile>/<notebook>.kernel.log.
Python's own warnings and tracebacks still show in the notebook.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

NAME = "faceaug"


def kernel_json() -> dict:
    return {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "--IPKernelApp.capture_fd_output=False",
                 "-f", "{connection_file}"],
        "display_name": "FaceAug (.venv)",
        "language": "python",
        "metadata": {"debugger": True},
    }


def install() -> str:
    from jupyter_client.kernelspec import KernelSpecManager

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "kernel.json").write_text(json.dumps(kernel_json(), indent=1))
        return KernelSpecManager().install_kernel_spec(tmp, NAME, prefix=sys.prefix)


if __name__ == "__main__":
    print(f"installed kernel {NAME!r} in {install()}")
