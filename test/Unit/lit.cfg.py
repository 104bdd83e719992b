# -*- Python -*-
# Runs the GoogleTest binaries under build/unittests as lit tests.
import os

import lit.formats

config.name = "SP-Unit"
config.suffixes = []
config.test_exec_root = os.path.join(config.sp_obj_root, "unittests")
config.test_source_root = config.test_exec_root
config.test_format = lit.formats.GoogleTest(".", "Tests")

# Under the sanitizer build, the same options as the main suite (test/lit.cfg.py):
# MLIR and MPI free some memory only at exit or never, and instrumented sp
# code shares BumpPtrAllocator slabs with the uninstrumented libMLIR.
if config.sp_sanitizers:
    config.environment["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1:allow_user_poisoning=0"
    config.environment["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
