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
    values: list[list[float]] | None = None


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

    @property
    def match(self) -> bool | None:
        if self.comparison is None:
            return None
        return self.returncode == 0 and all(c.identical for c in self.comparison)


_OUTPUT = re.compile(r"^output (\d+): (\S+)$")
_FP = re.compile(r"^  rank (\d+): fnv1a (0x[0-9a-f]+)$")
_VALUES = re.compile(r"^  rank (\d+) values:(.*)$")
_COMPARE = re.compile(r"^  output (\d+): (\S+): (identical on all ranks|DIFFERS: .*)$")


def parse_run_output(stdout: str) -> tuple[list[OutputInfo], list[CompareLine] | None]:
    outputs: list[OutputInfo] = []
    comparison: list[CompareLine] | None = None
    for line in stdout.splitlines():
        if m := _OUTPUT.match(line):
            outputs.append(OutputInfo(int(m[1]), m[2], []))
        elif (m := _FP.match(line)) and outputs:
            outputs[-1].fingerprints.append(m[2])
        elif (m := _VALUES.match(line)) and outputs:
            if outputs[-1].values is None:
                outputs[-1].values = []
            outputs[-1].values.append([float(v) for v in m[2].split()])
        elif m := _COMPARE.match(line):
            comparison = comparison or []
            comparison.append(CompareLine(int(m[1]), m[2], m[3].startswith("identical"), m[3]))
        elif line.startswith("sp-run: comparing"):
            comparison = comparison or []
    return outputs, comparison


def sp_run(module: str | os.PathLike, ranks: int = 1, compare: str | None = None,
           entry: str | None = None, seed: int = 0, inputs: str | None = None,
           outputs: str | None = None, print_values: bool = False,
           timeout: int = 600, check: bool = False, backend: str = "cpu",
           cuda_runtime: str | os.PathLike | None = None) -> RunResult:
    """Runs sp-run and parses its report. `backend` is "cpu" or "cuda";
    `cuda_runtime` picks the CUDA runtime library (e.g. the emulated one).
    With `check`, raises ToolError on a non-zero exit."""
    cmd = [find_tool("sp-run"), str(module), f"--ranks={ranks}", f"--seed={seed}",
           f"--timeout={timeout}"]
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
    if backend != "cpu":
        cmd.append(f"--backend={backend}")
    if cuda_runtime:
        cmd.append(f"--cuda-runtime={cuda_runtime}")
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 60)
    if check and run.returncode != 0:
        raise ToolError(f"sp-run failed ({run.returncode})", run.stderr + run.stdout)
    outs, comparison = parse_run_output(run.stdout)
    return RunResult(run.returncode, run.stdout, run.stderr, outs, comparison)
