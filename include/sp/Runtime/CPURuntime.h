//===- CPURuntime.h - the CPU runtime's symbol table ------------*- C++ -*-===//
//
// Programs lowered with sp-lower-to-cpu call the functions of
// libsp_runtime_cpu.so by name. A JIT that links the library registers them
// from this table (sp-run does); a JIT that loads it as a shared library
// (mlir-runner -shared-libs=...) finds them by dlsym.
//
//===----------------------------------------------------------------------===//

#ifndef SP_RUNTIME_CPURUNTIME_H
#define SP_RUNTIME_CPURUNTIME_H

#include <cstddef>

extern "C" {
struct SPRuntimeSymbol {
  const char *name;
  void *address;
};

/// Every exported runtime function; `*count` receives the number of entries.
const SPRuntimeSymbol *sp_rt_symbols(size_t *count);
}

#endif // SP_RUNTIME_CPURUNTIME_H
