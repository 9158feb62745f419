"""Run the notebooks in order with papermill: ``python -m lib.paper --profile default``.

Each notebook runs with its profile's parameters (notebooks/params/<profile>.yaml) on
the pinned ``faceaug`` kernel; the executed copy goes to build/executed/<profile>/.
While a notebook runs, one terminal line shows the cell being executed (``cell i/n``) and the
last progress bar that cell printed; a line per notebook shows its wall time; the times go to
MANIFEST.json. Executed notebooks keep what a terminal would show of each output (a progress
bar's final state, not every frame it drew). On the
first failure the run stops with one line naming the notebook, the failing cell and the
error; nothing already produced is deleted. With the default profile the executed
notebooks (with outputs) replace notebooks/*.ipynb, which are committed that way.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

from lib import io as atomic
from lib import paths, profiles, provenance
from lib.tools.kernel import NAME as KERNEL

# Per-run metadata that changes every execution; removed from committed notebooks.
_VOLATILE_CELL_KEYS = ("execution", "papermill")


class NotebookFailed(RuntimeError):
    pass


def kernel_name() -> str:
    """The pinned kernel if installed (make venv installs it), else this interpreter's."""
    from jupyter_client.kernelspec import KernelSpecManager

    return KERNEL if KERNEL in KernelSpecManager().find_kernel_specs() else "python3"


def terminal_text(text: str) -> str:
    """What a terminal shows of ``text``: each line keeps what follows its last carriage return (a
    progress bar redraws itself with "\\r": its frames collapse to the last one)."""
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.replace("\r\n", "\n").split("\n"))


def merged_streams(outputs: list) -> list:
    """``outputs`` with each run of consecutive stream outputs of one name (stdout, stderr) joined into
    one, as Jupyter shows them, and its text as a terminal shows it (:func:`terminal_text`): the kernel
    sends every progress-bar frame as an output of its own."""
    out = []
    for o in outputs:
        if o.get("output_type") == "stream" and out and out[-1].get("output_type") == "stream" \
                and out[-1].get("name") == o.get("name"):
            out[-1]["text"] += o["text"]
        else:
            out.append(o)
    for o in out:
        if o.get("output_type") == "stream":
            o["text"] = terminal_text(o["text"])
    return out


def clean_notebook(src: Path, dst: Path, images: bool = True) -> None:
    """Copy an executed notebook without per-run metadata (timings, papermill state, kernel), its
    stream outputs as a terminal shows them (:func:`terminal_text`). ``images=False`` (the nbval
    baselines) also drops the figures of the outputs: nbval compares only the text of the marked
    cells, and the figures are in figures/ and in notebooks/ already."""
    import nbformat

    from lib.tools.notebook_cells import normalise

    nb = nbformat.read(src, as_version=4)
    for cell in nb.cells:
        for key in _VOLATILE_CELL_KEYS:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = merged_streams(cell.outputs)
        if not images and cell.cell_type == "code":
            for out in cell.get("outputs", []):
                for mime in [m for m in out.get("data", {}) if m.startswith("image/") or m == "application/pdf"]:
                    del out["data"][mime]
    normalise(nb)
    atomic.write_text(dst, nbformat.writes(nb) + "\n")


class ProgressLine:
    """One terminal line for the running notebook: papermill's cell count and the last progress bar the
    running cell printed, redrawn in place on a terminal, else (a log file, CI) a line every ``every`` s
    (default: $FACEAUG_PROGRESS_SECONDS, else 30).

    ``cells`` and ``cell_output`` are file-like sinks: the first for papermill's own bar over the
    cells, the second for the kernel's stderr stream (where tqdm draws)."""

    def __init__(self, name: str, out=None, every: float | None = None, width: int = 110):
        every = float(os.environ.get("FACEAUG_PROGRESS_SECONDS", 30)) if every is None else every
        self.name, self.out, self.every, self.width = name, out or sys.stdout, every, width
        self.tty = hasattr(self.out, "isatty") and self.out.isatty()
        self.cell, self.inner, self._printed = "", "", None
        self.cells, self.cell_output = _Sink(self, "cell"), _Sink(self, "inner")

    def update(self, which: str, text: str) -> None:
        frames = [f.strip() for f in text.replace("\r", "\n").split("\n") if f.strip()]
        if not frames:
            return
        if which == "cell" and frames[-1] != self.cell:
            self.inner = ""  # a new cell: its predecessor's bar is done
        setattr(self, which, frames[-1])
        self.draw()

    def draw(self, force: bool = False) -> None:
        line = f"  {self.name}: {self.cell}" + (f" | {self.inner}" if self.inner else "")
        now = time.monotonic()
        if self.tty:
            self.out.write("\r" + line[:self.width].ljust(self.width))
        elif force or self._printed is None or now - self._printed >= self.every:
            self.out.write(line[:self.width] + "\n")
            self._printed = now
        else:
            return
        self.out.flush()

    def close(self) -> None:
        if self.tty:
            self.out.write("\r" + " " * self.width + "\r")
            self.out.flush()


class _Sink:
    """A write-only text file that hands what it gets to a :class:`ProgressLine`."""

    def __init__(self, line: ProgressLine, which: str):
        self.line, self.which = line, which

    def write(self, text: str) -> int:
        self.line.update(self.which, text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:  # tqdm then draws plain frames
        return False


@contextlib.contextmanager
def _stderr_to(path: Path):
    """Point file descriptor 2 (inherited by the kernel process) at ``path``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def run_notebook(name: str, profile: str, params: dict, out_dir: Path) -> float:
    """Execute one notebook; return wall seconds or raise :class:`NotebookFailed`."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    src = paths.notebooks_dir() / f"{name}.ipynb"
    out = out_dir / f"{name}.ipynb"
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    progress = ProgressLine(name)
    cell_bar = {"file": progress.cells, "bar_format": "cell {n_fmt}/{total_fmt}", "mininterval": 0, "disable": False}
    try:
        # The kernel's own stderr (MediaPipe/absl C++ logs, jupyter warnings) goes to a log
        # file next to the executed notebook instead of the terminal.
        with _stderr_to(out_dir / f"{name}.kernel.log"):
            papermill.execute_notebook(str(src), str(out), parameters={"profile": profile, **params},
                                       kernel_name=kernel_name(), cwd=str(paths.notebooks_dir()),
                                       progress_bar=cell_bar, log_output=False, stderr_file=progress.cell_output)
    except PapermillExecutionError as err:
        first = (err.evalue or "").strip().splitlines()
        raise NotebookFailed(f"{name} failed in cell {err.cell_index} (execution count {err.exec_count}): "
                             f"{err.ename}: {first[0] if first else ''} -- full traceback in {out}") from None
    except Exception as err:  # kernel died, notebook unreadable...
        raise NotebookFailed(f"{name} could not run: {type(err).__name__}: {err}") from None
    finally:
        progress.close()
    return time.perf_counter() - t0


def run(profile: str, only: list[str] | None = None, baseline: Path | None = None,
        record_as: str | None = None) -> dict:
    """Run the notebooks of ``profile`` in order; return {notebook: wall seconds}."""
    if profile == "rehearsal":  # its data: small trees in the real layouts, written once (lib.data.rehearsal)
        from lib.data import rehearsal

        print(f"rehearsal data in {rehearsal.prepare()}", flush=True)
    profile_data = profiles.load(profile)  # validates every section and key first
    names = profiles.notebook_names()
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise profiles.ProfileError(f"--only {unknown}: no such notebook; known: {names}")
        names = [n for n in names if n in only]
    # Progress bars are for interactive use: in executed (committed) notebooks they would
    # only add output that changes on every run.
    os.environ["TQDM_DISABLE"] = "1"
    out_dir = paths.build_dir() / "executed" / profile
    manifest = paths.figures_dir(profile) / "MANIFEST.json"
    times: dict[str, float] = {}
    t_all = time.perf_counter()
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {name} ({profile}) ...", flush=True)
        seconds = run_notebook(name, profile, profile_data.get(name, {}), out_dir)
        times[name] = round(seconds, 1)
        print(f"[{i}/{len(names)}] {name} ok in {seconds:.1f} s", flush=True)
        if baseline is not None:
            clean_notebook(out_dir / f"{name}.ipynb", baseline / f"{name}.ipynb", images=False)
        elif profile == "default":
            clean_notebook(out_dir / f"{name}.ipynb", paths.notebooks_dir() / f"{name}.ipynb")
        entry = {"profile": profile, "wall_seconds": times[name], "finished": provenance.now()}
        atomic.update_json(manifest, lambda m: m.setdefault("notebooks", {}).__setitem__(name, entry))
    total = round(time.perf_counter() - t_all, 1)

    def record(m: dict) -> None:
        paper = m.setdefault("paper", {})
        if not only:
            paper["last_seconds"] = total
            paper["last_finished"] = provenance.now()
        if record_as:
            paper[f"{record_as}_seconds"] = total

    atomic.update_json(manifest, record)
    print(f"done: {len(names)} notebook(s) in {total:.1f} s; figures in {paths.figures_dir(profile)}")
    return times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.paper", description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="default", choices=paths.PROFILES)
    ap.add_argument("--only", action="append", help="run only this notebook (repeatable, or comma-separated)")
    ap.add_argument("--baseline", type=Path, help="store cleaned executed notebooks here (nbval baselines)")
    ap.add_argument("--record-as", choices=("cold", "warm"), help="also record the total as paper.<cold|warm>_seconds")
    args = ap.parse_args(argv)
    only = [n for item in args.only or [] for n in item.split(",") if n]
    try:
        run(args.profile, only or None, args.baseline, args.record_as)
    except (NotebookFailed, profiles.ProfileError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
