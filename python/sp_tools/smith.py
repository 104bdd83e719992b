"""Random programs as a test oracle: the sp-smith driver.

For each seed: `sp-smith` generates a module; `sp-opt --verify-roundtrip`
checks it; every pipeline sp offers runs on it under `--verify-each` (the
pass-only stage, with the remark checks of sp-sequence-parallelism); and
`sp-run --compare=PIPELINE` runs it before and after a pipeline on several
ranks (bitwise). In batch mode each seed gets one sp-run configuration
(pipeline x ranks x backend, round-robin by seed); `--all-configs` runs every
one. Findings (mismatch, crash, pass failure or verifier failure, a module
that does not verify, a trap rewritten, an all-reduce left alone without a
remark) are written to the output directory and shrunk by delta debugging on
ops (`sp-smith --mutate`). See docs/Smith.md.

    python -m sp_tools.smith --seeds 0:200 --jobs 2 --out smith-out
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

from sp_tools.tools import find_tool

# The pass-only stage: (name, pipeline, remark check). Every one runs with
# --verify-each on every generated module.
PASS_PIPELINES: list[tuple[str, str, bool]] = [
    ("sp", "sp-sequence-parallelism", True),
    ("sp-min-tokens", "sp-sequence-parallelism{min-tokens=16}", True),
    ("sp-assume", "sp-sequence-parallelism{assume-replicated},canonicalize", False),
    ("sp-sm100", "sp-sequence-parallelism{device=sm100}", True),
    ("sp-cost", "sp-sequence-parallelism{cost-model=h100-sxm-nvls}", True),
    ("canonicalize", "canonicalize", False),
    ("raise", "sp-raise-norms,sp-sequence-parallelism", False),
    ("cm", "sp-sequence-parallelism,canonicalize,sp-collective-matmul{min-rows=1}", False),
    ("cm-decompose",
     "sp-sequence-parallelism,canonicalize,sp-collective-matmul{min-rows=1},"
     "sp-decompose-collective-matmul,canonicalize", False),
    ("decompose", "sp-decompose-collective-matmul", False),
    ("lower-cpu", "sp-lower-to-cpu", False),
    ("lower-cuda", "sp-lower-to-cuda", False),
    ("sp-cm-lower-cpu",
     "sp-sequence-parallelism,canonicalize,sp-collective-matmul{min-rows=1},"
     "sp-decompose-collective-matmul,sp-lower-to-cpu", False),
]

# The pipelines sp-run compares against the module as generated.
RUN_PIPELINES: list[str] = [
    "sp-sequence-parallelism,canonicalize",
    "sp-sequence-parallelism{min-tokens=16},canonicalize",
    "sp-sequence-parallelism,canonicalize,sp-collective-matmul{min-rows=1}",
    "sp-sequence-parallelism,canonicalize,sp-collective-matmul{min-rows=1},"
    "sp-decompose-collective-matmul",
    "sp-decompose-collective-matmul,canonicalize",
]


@dataclasses.dataclass(frozen=True)
class RunConfig:
    pipeline: str
    ranks: int
    backend: str  # cpu | cuda (the CUDA lowering on the emulated runtime)

    def describe(self) -> str:
        return f"{self.backend}, {self.ranks} ranks, --compare={self.pipeline}"


def all_run_configs() -> list[RunConfig]:
    return [RunConfig(p, r, b) for p in RUN_PIPELINES for r in (2, 4) for b in ("cpu", "cuda")]


def batch_run_configs() -> list[RunConfig]:
    """The round-robin of batch mode: mostly 2 ranks (cheap on 2 cores)."""
    configs = []
    for p in RUN_PIPELINES:
        configs += [RunConfig(p, 2, "cpu"), RunConfig(p, 2, "cuda"), RunConfig(p, 4, "cpu"),
                    RunConfig(p, 2, "cpu"), RunConfig(p, 4, "cuda")]
    return configs


@dataclasses.dataclass
class Check:
    """One check on one module; `run` gives a finding or None."""

    stage: str  # verify | pass | run
    name: str
    pipeline: str = ""
    remarks: bool = False
    config: Optional[RunConfig] = None


@dataclasses.dataclass
class Finding:
    kind: str  # mismatch | crash | pass-failure | run-error | not-verifying | trap-rewritten | missing-remark | timeout
    check: Check
    command: list[str]
    output: str
    detail: str = ""

    def signature(self) -> str:
        """What the shrinker must keep: the kind, and for errors and crashes
        the first error line with numbers and paths taken out."""
        if self.kind in ("mismatch", "trap-rewritten", "missing-remark", "timeout"):
            return self.kind
        for line in self.output.splitlines():
            if re.search(r"error|PLEASE submit|Assertion|LLVM ERROR", line):
                line = re.sub(r"\S*/\S*", "PATH", line)
                return self.kind + ": " + re.sub(r"\d+", "N", line.strip())
        return self.kind


# Output of a tool that failed for a reason outside the program (another
# session relinking the tool in a shared build tree, ...).
_ENVIRONMENT = re.compile(r"could not access\s+or execute|Text file busy|Permission denied|"
                          r"unable to launch the specified application|"
                          r"error while loading shared libraries|file too short")


def build_dir() -> Path:
    return Path(find_tool("sp-opt")).resolve().parent.parent


def _run(cmd: list[str], timeout: float) -> tuple[int, str]:
    try:
        for attempt in range(30):
            try:
                p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, timeout=timeout, errors="replace")
                return p.returncode, p.stdout
            except (PermissionError, FileNotFoundError, OSError) as e:
                # The tool is being relinked (a shared build tree): wait, retry.
                if attempt == 29:
                    raise
                time.sleep(5)
        raise AssertionError("unreachable")
    except subprocess.TimeoutExpired as e:
        out = e.stdout if isinstance(e.stdout, str) else (e.stdout or b"").decode(errors="replace")
        return -999, out + f"\n[timeout after {timeout} s]"


_CRASH = re.compile(r"PLEASE submit a bug report|Stack dump:|Assertion .* failed|"
                    r"Segmentation fault|Aborted|signal \d+|LLVM ERROR")


def _crashed(rc: int, out: str) -> bool:
    return (rc < 0 and rc != -999) or bool(_CRASH.search(out))


# ---------------------------------------------------------------------------
# Remarks: every all-reduce left alone by sp-sequence-parallelism has one,
# and every trap (smith.trap) is left alone.

_LOC_ALIAS = re.compile(r'^(#loc\d*) = loc\("[^"]*":(\d+):(\d+)\)', re.M)
_REMARK_LINE = re.compile(r"^[^\s:]+:(\d+):(\d+): remark: all_reduce left alone", re.M)


def _line_of(loc_text: str, aliases: dict[str, int]) -> Optional[int]:
    m = re.search(r'loc\("[^"]*":(\d+):\d+\)\s*$', loc_text)
    if m:
        return int(m.group(1))
    m = re.search(r"loc\((#loc\d*)\)\s*$", loc_text)
    if m and m.group(1) in aliases:
        return aliases[m.group(1)]
    return None


def remark_problems(input_text: str, output_ir: str, diagnostics: str) -> list[tuple[str, str]]:
    """(kind, detail) for each trap rewritten or all-reduce left alone
    without a remark. `output_ir` is printed with --mlir-print-debuginfo."""
    aliases = {m.group(1): int(m.group(2)) for m in _LOC_ALIAS.finditer(output_ir)}
    remaining = set()
    for line in output_ir.splitlines():
        if "sp.all_reduce" in line and "loc(" in line:
            n = _line_of(line, aliases)
            if n is not None:
                remaining.add(n)
    remarked = {int(m.group(1)) for m in _REMARK_LINE.finditer(diagnostics)}
    problems = []
    for n, line in enumerate(input_text.splitlines(), start=1):
        if "sp.all_reduce" in line and "smith.trap" in line and n not in remaining:
            problems.append(("trap-rewritten",
                             f"line {n}: the trap all_reduce was rewritten: {line.strip()}"))
    for n in sorted(remaining - remarked):
        problems.append(("missing-remark", f"line {n}: all_reduce left alone without a remark"))
    return problems


# ---------------------------------------------------------------------------


class Driver:
    def __init__(self, out_dir: Optional[Path], timeout: float = 120, max_ops: int = 8,
                 verbose: bool = False):
        self.sp_opt = find_tool("sp-opt")
        self.sp_run = find_tool("sp-run")
        self.sp_smith = find_tool("sp-smith")
        self.emulated = str(build_dir() / "lib" / "libsp_cuda_runtime_emulated.so")
        self.out_dir = out_dir
        self.timeout = timeout
        self.max_ops = max_ops
        self.verbose = verbose
        self.tmp = Path(tempfile.mkdtemp(prefix="sp-smith-"))
        self.known: list[re.Pattern] = []

    # -- generation and the shrinker's steps --------------------------------
    def generate(self, seed: int, ranks: int) -> str:
        rc, out = _run([self.sp_smith, f"--seed={seed}", f"--ranks={ranks}",
                        f"--max-ops={self.max_ops}"], 60)
        if rc != 0:
            raise RuntimeError(f"sp-smith --seed={seed} --ranks={ranks} failed:\n{out}")
        return out

    def _write(self, text: str) -> Path:
        fd, name = tempfile.mkstemp(suffix=".mlir", dir=self.tmp)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return Path(name)

    def count_mutations(self, text: str) -> int:
        path = self._write(text)
        try:
            rc, out = _run([self.sp_smith, "--count-mutations", str(path)], 60)
            return int(out.strip()) if rc == 0 else 0
        finally:
            path.unlink()

    def mutate(self, text: str, k: int) -> Optional[str]:
        path = self._write(text)
        try:
            p = subprocess.run([self.sp_smith, f"--mutate={k}", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               timeout=60)
            return p.stdout if p.returncode == 0 else None
        finally:
            path.unlink()

    # -- checks ---------------------------------------------------------------
    def run_check(self, check: Check, text: str) -> Optional[Finding]:
        path = self._write(text)
        try:
            return self._run_check(check, text, path)
        finally:
            path.unlink()

    def _run_check(self, check: Check, text: str, path: Path) -> Optional[Finding]:
        if check.stage == "verify":
            cmd = [self.sp_opt, str(path), "--verify-roundtrip", "-o", "/dev/null"]
            rc, out = _run(cmd, self.timeout)
            if _crashed(rc, out):
                return Finding("crash", check, cmd, out)
            if rc != 0:
                return Finding("not-verifying", check, cmd, out)
            return None
        if check.stage == "pass":
            cmd = [self.sp_opt, str(path), f"--pass-pipeline=builtin.module({check.pipeline})",
                   "--verify-each"]
            if check.remarks:
                cmd.append("--mlir-print-debuginfo")
            outfile = self.tmp / (path.stem + ".out.mlir")
            cmd += ["-o", str(outfile)]
            try:
                rc, out = _run(cmd, self.timeout)
                if rc == -999:
                    return Finding("timeout", check, cmd, out)
                if _crashed(rc, out):
                    return Finding("crash", check, cmd, out)
                if rc != 0:
                    kind = "verifier-failure" if "verif" in out.lower() else "pass-failure"
                    return Finding(kind, check, cmd, out)
                if check.remarks:
                    problems = remark_problems(text, outfile.read_text(), out)
                    if problems:
                        kind = problems[0][0]
                        return Finding(kind, check, cmd, out,
                                       "\n".join(d for _, d in problems))
                return None
            finally:
                if outfile.exists():
                    outfile.unlink()
        assert check.stage == "run" and check.config
        c = check.config
        cmd = [self.sp_run, str(path), f"--ranks={c.ranks}", f"--compare={c.pipeline}",
               f"--timeout={int(self.timeout)}"]
        if c.backend == "cuda":
            cmd += ["--backend=cuda", f"--cuda-runtime={self.emulated}"]
        rc, out = _run(cmd, self.timeout + 30)
        if rc == -999:
            return Finding("timeout", check, cmd, out)
        if _crashed(rc, out):
            return Finding("crash", check, cmd, out)
        if "outputs DIFFER" in out:
            return Finding("mismatch", check, cmd, out)
        if rc != 0:
            return Finding("run-error", check, cmd, out)
        return None

    def checks_for(self, text: str, configs: list[RunConfig], pass_stage: bool) -> list[Check]:
        checks = [Check("verify", "verify-roundtrip")]
        if pass_stage:
            checks += [Check("pass", name, pipeline, remarks)
                       for name, pipeline, remarks in PASS_PIPELINES]
        runnable = "// runnable: no" not in text
        if runnable:
            checks += [Check("run", c.describe(), c.pipeline, config=c) for c in configs]
        return checks

    # -- shrinking --------------------------------------------------------------
    def shrink(self, text: str, interesting: Callable[[str], bool], budget_s: float = 300,
               log: Callable[[str], None] = lambda s: None) -> tuple[str, int]:
        """Greedy delta debugging over sp-smith's steps (drop a result, erase
        an op in favour of an argument, forward an operand, drop unused
        arguments and groups): keep each step after which the finding still
        reproduces. Returns the smallest module and the number of tests."""
        return shrink(text, interesting, self.count_mutations, self.mutate, budget_s, log)

    def reproduces(self, finding: Finding) -> Callable[[str], bool]:
        def interesting(candidate: str) -> bool:
            f = self.run_check(finding.check, candidate)
            return f is not None and f.signature() == finding.signature()
        return interesting

    # -- one seed -----------------------------------------------------------------
    def run_seed(self, seed: int, configs_by_ranks: dict[int, list[RunConfig]], pass_stage: bool,
                 shrink_findings: bool, shrink_budget: float) -> dict:
        stats = {"programs": 0, "pass_runs": 0, "sp_runs": 0, "findings": [], "traps": 0,
                 "flaky": []}
        for ranks, configs in configs_by_ranks.items():
            try:
                text = self.generate(seed, ranks)
            except RuntimeError as e:
                stats["findings"].append(self._record(seed, ranks, Finding(
                    "generator-failure", Check("generate", "sp-smith"), [self.sp_smith], str(e)),
                    text="", shrink_findings=False, shrink_budget=0))
                continue
            stats["programs"] += 1
            m = re.search(r"traps: (\d+)", text)
            stats["traps"] += int(m.group(1)) if m else 0
            for check in self.checks_for(text, configs, pass_stage):
                if check.stage == "pass":
                    stats["pass_runs"] += 1
                if check.stage == "run":
                    stats["sp_runs"] += 1
                finding = self.run_check(check, text)
                if finding and finding.kind not in ("mismatch",):
                    # Run it again: a tool that could not start (relinked by
                    # another session) is retried and, if the failure does
                    # not come back, not counted; any other failure that does
                    # not come back is a nondeterministic finding.
                    attempts = 0
                    while finding and _ENVIRONMENT.search(finding.output) and attempts < 3:
                        time.sleep(5)
                        attempts += 1
                        finding = self.run_check(check, text)
                    if finding and self.run_check(check, text) is None:
                        if _ENVIRONMENT.search(finding.output):
                            stats["flaky"].append(f"seed {seed} ({ranks} ranks): {finding.kind} "
                                                  f"in {check.name}: the tool could not start")
                            finding = None
                        else:
                            # A nondeterministic failure is still a finding.
                            finding.detail = ("nondeterministic: a second run passed\n"
                                              + finding.detail).strip()
                if finding and any(k.search(finding.output) for k in self.known):
                    stats["flaky"].append(f"seed {seed} ({ranks} ranks): {finding.kind} in "
                                          f"{check.name}: a known bug")
                    finding = None
                if finding:
                    stats["findings"].append(self._record(seed, ranks, finding, text,
                                                          shrink_findings, shrink_budget))
                    if check.stage == "verify":
                        break
        return stats

    def _record(self, seed: int, ranks: int, finding: Finding, text: str, shrink_findings: bool,
                shrink_budget: float) -> dict:
        summary = {"seed": seed, "ranks": ranks, "kind": finding.kind, "check": finding.check.name,
                   "detail": finding.detail}
        where = None
        if self.out_dir:
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", finding.check.name)[:60]
            where = self.out_dir / f"seed{seed}-r{ranks}-{finding.kind}-{safe}"
            where.mkdir(parents=True, exist_ok=True)
            (where / "module.mlir").write_text(text)
            (where / "command.txt").write_text(" ".join(_quote(c) for c in finding.command) + "\n")
            (where / "output.txt").write_text(finding.output + ("\n" + finding.detail
                                                                 if finding.detail else ""))
            summary["dir"] = str(where)
        if shrink_findings and text:
            start = time.time()
            reduced, tests = self.shrink(text, self.reproduces(finding), shrink_budget)
            summary["shrunk_ops"] = (_count_ops(text), _count_ops(reduced))
            summary["shrink_tests"] = tests
            summary["shrink_s"] = round(time.time() - start, 1)
            if where:
                (where / "reduced.mlir").write_text(reduced)
                again = self.run_check(finding.check, reduced)
                (where / "reduced-output.txt").write_text(
                    (again.output + "\n" + again.detail) if again else "(no longer reproduces)\n")
        return summary


def _quote(s: str) -> str:
    return s if re.fullmatch(r"[A-Za-z0-9_./=:,-]+", s) else "'" + s.replace("'", "'\\''") + "'"


def _count_ops(text: str) -> int:
    return sum(1 for line in text.splitlines()
               if re.match(r"\s*(%\S+ = )?[a-z_]+\.[a-z_.]+", line) and "func.func" not in line)


def shrink(text: str, interesting: Callable[[str], bool], count: Callable[[str], int],
           mutate: Callable[[str, int], Optional[str]], budget_s: float = 300,
           log: Callable[[str], None] = lambda s: None) -> tuple[str, int]:
    """Greedy one-step-at-a-time reduction: try step k of `mutate`; if the
    result is still interesting keep it and try step k again (the steps are
    renumbered), else go on to step k + 1. Stops at a fixed point or when the
    time budget is spent."""
    start = time.time()
    tests = 0
    current = text
    progress = True
    while progress and time.time() - start < budget_s:
        progress = False
        k = 0
        while k < count(current) and time.time() - start < budget_s:
            candidate = mutate(current, k)
            if candidate is not None and candidate != current:
                tests += 1
                if interesting(candidate):
                    log(f"step {k}: kept ({_count_ops(candidate)} ops)")
                    current = candidate
                    progress = True
                    continue
            k += 1
    return current, tests


def parse_seeds(spec: str) -> list[int]:
    seeds: list[int] = []
    for part in spec.split(","):
        if ":" in part:
            a, b = part.split(":")
            seeds += list(range(int(a), int(b)))
        else:
            seeds.append(int(part))
    return seeds


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sp_tools.smith", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0:20", help="A:B (B excluded) or a comma list")
    ap.add_argument("--out", type=Path, default=None, help="write findings here")
    ap.add_argument("--all-configs", action="store_true",
                    help="every sp-run configuration for every seed (else one, round-robin)")
    ap.add_argument("--pipeline", default=None,
                    help="only this sp-run --compare pipeline (with --ranks, --backend)")
    ap.add_argument("--ranks", type=int, default=2, help="with --pipeline")
    ap.add_argument("--backend", default="cpu", choices=["cpu", "cuda"], help="with --pipeline")
    ap.add_argument("--no-pass-stage", action="store_true", help="skip the pass-only stage")
    ap.add_argument("--no-run", action="store_true", help="skip sp-run")
    ap.add_argument("--no-shrink", action="store_true")
    ap.add_argument("--shrink-budget", type=float, default=300, help="seconds per finding")
    ap.add_argument("--max-ops", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=120, help="seconds per tool run")
    ap.add_argument("--known", action="append", default=[], metavar="REGEX",
                    help="a finding whose output matches REGEX is a known bug (with an XFAIL "
                         "reproducer): printed as known, not counted, not shrunk")
    ap.add_argument("--time-limit", type=float, default=0,
                    help="stop starting seeds after this many seconds (0: none)")
    args = ap.parse_args(argv)

    driver = Driver(args.out, timeout=args.timeout, max_ops=args.max_ops)
    driver.known = [re.compile(k) for k in args.known]
    seeds = parse_seeds(args.seeds)
    batch = batch_run_configs()

    def configs_for(seed: int) -> dict[int, list[RunConfig]]:
        if args.no_run:
            return {2 if seed % 2 == 0 else 4: []}
        if args.pipeline:
            return {args.ranks: [RunConfig(args.pipeline, args.ranks, args.backend)]}
        if args.all_configs:
            out: dict[int, list[RunConfig]] = {}
            for c in all_run_configs():
                out.setdefault(c.ranks, []).append(c)
            return out
        c = batch[seed % len(batch)]
        return {c.ranks: [c]}

    start = time.time()
    totals = {"programs": 0, "pass_runs": 0, "sp_runs": 0, "traps": 0}
    findings: list[dict] = []
    skipped = 0
    errors = 0

    def one(seed: int) -> Optional[dict]:
        if args.time_limit and time.time() - start > args.time_limit:
            return None
        try:
            return driver.run_seed(seed, configs_for(seed), not args.no_pass_stage,
                                   not args.no_shrink, args.shrink_budget)
        except Exception as e:  # the driver's own failure: say so, go on
            return {"programs": 0, "pass_runs": 0, "sp_runs": 0, "traps": 0, "findings": [],
                    "flaky": [], "error": f"seed {seed}: driver error: {e!r}"}

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for seed, stats in zip(seeds, pool.map(one, seeds)):
            if stats is None:
                skipped += 1
                continue
            for key in totals:
                totals[key] += stats[key]
            if "error" in stats:
                errors += 1
                print(stats["error"], flush=True)
            for line in stats["flaky"]:
                print(f"not counted: {line}", flush=True)
            for f in stats["findings"]:
                findings.append(f)
                print(f"FINDING seed {f['seed']} ({f['ranks']} ranks): {f['kind']} in "
                      f"{f['check']}" + (f": {f['detail'].splitlines()[0]}" if f["detail"] else ""),
                      flush=True)
                if "shrunk_ops" in f:
                    print(f"  shrunk from {f['shrunk_ops'][0]} to {f['shrunk_ops'][1]} ops "
                          f"({f['shrink_tests']} tests, {f['shrink_s']} s)", flush=True)
                if "dir" in f:
                    print(f"  written to {f['dir']}", flush=True)
    elapsed = time.time() - start
    print(f"sp-smith driver: {len(seeds) - skipped} seeds, {totals['programs']} programs, "
          f"{totals['traps']} trap sites, {totals['pass_runs']} pass-pipeline runs, "
          f"{totals['sp_runs']} sp-run comparisons, {len(findings)} findings, "
          f"{elapsed:.0f} s" + (f" ({skipped} seeds skipped: time limit)" if skipped else "")
          + (f", {errors} driver errors" if errors else ""))
    return 1 if findings or errors else 0


if __name__ == "__main__":
    sys.exit(main())
