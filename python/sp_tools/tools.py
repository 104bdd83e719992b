"""Run sp-opt and sp-run as subprocesses and parse what they report.

MLIR has no Python bindings in Debian, so Python drives the tools. Tools are
looked up in $SP_BUILD_DIR/bin, then <repository>/build/bin, then PATH.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]


class ToolError(RuntimeError):
    """A tool exited with an error; `stderr` has its messages."""

    def __init__(self, message: str, stderr: str = ""):
        super().__init__(message + (f"\n{stderr}" if stderr else ""))
        self.stderr = stderr


def find_tool(name: str) -> str:
    """Path of sp-opt / sp-run (see the module docstring for the order)."""
    candidates = []
    if os.environ.get("SP_BUILD_DIR"):
        candidates.append(Path(os.environ["SP_BUILD_DIR"]) / "bin" / name)
    candidates.append(_REPO / "build" / "bin" / name)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise ToolError(f"cannot find {name}: build sp (scripts/setup.sh) or set SP_BUILD_DIR")


@dataclasses.dataclass
class Remark:
    location: str
    message: str


_REMARK = re.compile(r"^(?P<loc>[^\s].*?:\d+:\d+): remark: (?P<msg>.*)$", re.M)


@dataclasses.dataclass
class OptResult:
    ir: str
    report: dict | None
    remarks: list[Remark]
    stderr: str


def sp_opt(source: str | os.PathLike, args: list[str], report: bool = True,
           check: bool = True) -> OptResult:
    """Runs sp-opt on `source` (a path, or IR text if it contains a newline
    or starts with 'module'/'sp.'/'func.'). With `report`, the
    sp-sequence-parallelism JSON report is returned as a dict."""
    text = str(source)
    is_ir = "\n" in text or text.lstrip().startswith(("module", "sp.", "func.", '"'))
    with tempfile.TemporaryDirectory() as tmp:
        report_path = os.path.join(tmp, "report.json")
        cmd = [find_tool("sp-opt")]
        cmd += ["-"] if is_ir else [text]
        cmd += list(args)
        if report:
            cmd.append(f"--sp-report={report_path}")
        run = subprocess.run(cmd, input=text if is_ir else None,
                             capture_output=True, text=True)
        if check and run.returncode != 0:
            raise ToolError(f"sp-opt failed ({run.returncode})", run.stderr)
        data = None
        if report and os.path.exists(report_path):
            with open(report_path) as f:
                data = json.load(f)
    remarks = [Remark(m["loc"], m["msg"]) for m in _REMARK.finditer(run.stderr)]
    return OptResult(run.stdout, data, remarks, run.stderr)


@dataclasses.dataclass
class OutputInfo:
    index: int
    type: str
    fingerprints: list[str]
    values: list[list[float | None]] | None = None


@dataclasses.dataclass
class CompareLine:
    index: int
    type: str
    identical: bool
    detail: str


@dataclasses.dataclass
class RunResult:
    returncode: int
    stdout: str
    stderr: str
    outputs: list[OutputInfo]
    comparison: list[CompareLine] | None
    report: dict | None = None

    @property
    def match(self) -> bool | None:
        if self.comparison is None:
            return None
        return self.returncode == 0 and all(c.identical for c in self.comparison)


def _outputs(entries: list[dict]) -> list[OutputInfo]:
    return [OutputInfo(e["index"], e["type"], e["fnv1a"], e.get("values")) for e in entries]


def _comparison(report: dict) -> list[CompareLine] | None:
    comparison = report.get("comparison")
    if comparison is None:
        return None
    lines = []
    for o in comparison["outputs"]:
        if o["identical"]:
            detail = "identical on all ranks"
        elif o["type"] != o["after_type"]:
            detail = f"type changed from {o['type']} to {o['after_type']}"
        else:
            detail = (f"DIFFERS: {o['differing_elements']} of {o['elements']} elements on "
                      f"{o['ranks_differing']} of {report['ranks']} ranks, "
                      f"max |before - after| = {o['max_abs_difference']}")
        lines.append(CompareLine(o["index"], o["type"], o["identical"], detail))
    if comparison["outputs_before"] != comparison["outputs_after"]:
        lines.append(CompareLine(-1, "", False,
                                 f"the number of outputs changed from {comparison['outputs_before']} "
                                 f"to {comparison['outputs_after']}"))
    return lines


def sp_run(module: str | os.PathLike, ranks: int = 1, compare: str | None = None,
           entry: str | None = None, seed: int = 0, inputs: str | None = None,
           outputs: str | None = None, print_values: bool = False,
           timeout: int = 600, check: bool = False, backend: str = "cpu",
           cuda_runtime: str | os.PathLike | None = None,
           repeat: int = 0) -> RunResult:
    """Runs sp-run and reads its JSON report (--report). `backend` is "cpu"
    or "cuda"; `cuda_runtime` picks the CUDA runtime library (e.g. the
    emulated one). With `check`, raises ToolError on a non-zero exit."""
    with tempfile.TemporaryDirectory() as tmp:
        report_path = os.path.join(tmp, "report.json")
        cmd = [find_tool("sp-run"), str(module), f"--ranks={ranks}", f"--seed={seed}",
               f"--timeout={timeout}", f"--report={report_path}"]
        if compare:
            cmd.append(f"--compare={compare}")
        if entry:
            cmd.append(f"--entry={entry}")
        if inputs:
            cmd.append(f"--inputs={inputs}")
        if outputs:
            cmd.append(f"--outputs={outputs}")
        if print_values:
            cmd.append("--print")
        if repeat:
            cmd.append(f"--repeat={repeat}")
        if backend != "cpu":
            cmd.append(f"--backend={backend}")
        if cuda_runtime:
            cmd.append(f"--cuda-runtime={cuda_runtime}")
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 60)
        if check and run.returncode != 0:
            raise ToolError(f"sp-run failed ({run.returncode})", run.stderr + run.stdout)
        report = None
        if os.path.exists(report_path) and os.path.getsize(report_path) > 0:
            with open(report_path) as f:
                report = json.load(f)
    if report is None:
        return RunResult(run.returncode, run.stdout, run.stderr, [], None, None)
    return RunResult(run.returncode, run.stdout, run.stderr, _outputs(report["outputs"]),
                     _comparison(report), report)
