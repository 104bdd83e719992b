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
config.excludes = ["Inputs", "run_over_inputs.py", "CMakeLists.txt", "README.txt", "lit.cfg.py",
                   "lit.site.cfg.py"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%sp_lib_dir", config.sp_lib_dir))
config.substitutions.append(("%sp_src_root", config.sp_src_root))
config.substitutions.append(("%sp_obj_root", config.sp_obj_root))
config.substitutions.append(("%python", config.python_executable))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

# Debian's mlir-opt, to prove the plugin loads into a tool we did not build.
config.substitutions.append(
    ("%mlir_opt", os.path.join(config.llvm_tools_dir, "mlir-opt")))

tool_dirs = [config.sp_tools_dir, config.llvm_tools_dir]
tools = ["sp-opt", "sp-run", "FileCheck", "not", "count", "split-file"]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# The model generator (python/sp_tools) runs in tests as `%python -m ...`.
config.environment["PYTHONPATH"] = os.path.join(config.sp_src_root, "python")
config.substitutions.append(("%modelgen", config.python_executable + " -m sp_tools.modelgen"))
