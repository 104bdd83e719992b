# -*- Python -*-
import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "SP"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.sp_obj_root, "test")
config.excludes = ["Inputs", "run_over_inputs.py", "run_regressions.py", "check_pass_options.py", "check_dependencies.py", "check_gemm_tolerance.py", "CMakeLists.txt", "README.txt", "lit.cfg.py",
                   "lit.site.cfg.py"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%sp_lib_dir", config.sp_lib_dir))
config.substitutions.append(("%sp_src_root", config.sp_src_root))
config.substitutions.append(("%sp_obj_root", config.sp_obj_root))
config.substitutions.append(("%python", config.python_executable))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

# Debian's mlir-opt, to prove the plugin loads into a tool we did not build.
mlir_opt = os.path.join(config.llvm_tools_dir, "mlir-opt")
if config.sp_sanitizers:
    # An ASan-instrumented plugin needs the ASan runtime loaded first in the
    # (uninstrumented) host tool. MLIR and MPI free some memory only at exit
    # or never; leak checking would report theirs, not ours.
    import subprocess
    libasan = subprocess.run([config.cxx_compiler, "-print-file-name=libasan.so"],
                             capture_output=True, text=True).stdout.strip()
    mlir_opt = f"env LD_PRELOAD={libasan} {mlir_opt}"
    # allow_user_poisoning=0: instrumented sp code and uninstrumented libMLIR
    # share BumpPtrAllocator slabs (see scripts/fuzz.sh).
    config.environment["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1:allow_user_poisoning=0"
    config.environment["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    config.available_features.add("sanitizers")
config.substitutions.append(("%mlir_opt", mlir_opt))

# mlir-runner and its utility libraries, to run lowered programs without
# sp-run (longer names first: substitutions apply in order).
llvm_lib_dir = os.path.join(os.path.dirname(config.llvm_tools_dir), "lib")
mlir_runner = os.path.join(config.llvm_tools_dir, "mlir-runner")
if config.sp_sanitizers:
    mlir_runner = f"env LD_PRELOAD={libasan} {mlir_runner}"
config.substitutions.append(("%mlir_runner_utils", os.path.join(llvm_lib_dir, "libmlir_runner_utils.so")))
config.substitutions.append(("%mlir_c_runner_utils", os.path.join(llvm_lib_dir, "libmlir_c_runner_utils.so")))
config.substitutions.append(("%mlir_runner", mlir_runner))

tool_dirs = [config.sp_tools_dir, config.llvm_tools_dir]
tools = ["sp-opt", "sp-run", "sp-smith", "FileCheck", "not", "count", "split-file",
         "mlir-translate", "llc"]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# Real-size runs (minutes each): lit --param long_tests=1, or SP_LONG_TESTS=1.
if lit_config.params.get("long_tests") or os.environ.get("SP_LONG_TESTS"):
    config.available_features.add("long-tests")

# The model generator (python/sp_tools) runs in tests as `%python -m ...`.
config.environment["PYTHONPATH"] = os.path.join(config.sp_src_root, "python")
config.substitutions.append(("%modelgen", config.python_executable + " -m sp_tools.modelgen"))

# The Python tools that need numpy (sp_tools.sharded_check) run in the venv
# scripts/setup.sh makes (build/venv); a sanitizer build borrows build's.
for venv_python in [os.path.join(config.sp_obj_root, "venv", "bin", "python"),
                    os.path.join(config.sp_src_root, "build", "venv", "bin", "python")]:
    if os.path.exists(venv_python):
        config.available_features.add("numpy")
        config.substitutions.append(("%numpy_python", venv_python))
        break

# CUDA: the kernels are built when a toolkit is there; a GPU may or may not be.
if config.sp_cuda:
    config.available_features.add("cuda")
    import shutil
    import subprocess
    smi = shutil.which("nvidia-smi")
    if smi and subprocess.run([smi], capture_output=True).returncode == 0:
        config.available_features.add("gpu")
