//===- GPUKernels.h - the host's compute as GPU kernels ---------*- C++ -*-===//
//
// sp-lower-to-cuda runs everything that is not an sp op or a matmul (those
// are runtime calls) as GPU kernels compiled with upstream's GPU path
// (docs/GPU.md, "The whole model on the GPU"); these passes are sp's part
// of it.
//
//===----------------------------------------------------------------------===//

#ifndef SP_CONVERSION_SPTOCUDA_GPUKERNELS_H
#define SP_CONVERSION_SPTOCUDA_GPUKERNELS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Pass/Pass.h"

#include <functional>

namespace mlir::sp {

#define GEN_PASS_DECL_SPCUDAMAPKERNELS
#define GEN_PASS_DECL_SPGPUKERNELHOSTTWINS
#define GEN_PASS_DECL_SPGPULAUNCHTWINS
#include "sp/Conversion/Passes.h.inc"

/// Whether `user` runs on the GPU: a CUDA runtime call taking buffers
/// (`sp_cuda_rt_*` with the C interface) or a `gpu.launch_func`.
bool isDeviceUser(Operation *user, SymbolTable &symbols);

/// Which buffers of a module can live in device memory (the rule of
/// sp-cuda-device-buffers, which sp-cuda-map-kernels applies before it so
/// that kernels only touch memory the GPU can address): identity layout,
/// whole-byte elements, and every use of the buffer and of its views is a
/// device use (`extraDeviceUse`, a runtime call, a kernel launch),
/// metadata, a deallocation or:
///  - for an allocation of a public function, a return after the
///    function's exit synchronization (its result is copied to the host);
///  - a call of a private function of the module whose parameter can be
///    device memory, or a return from such a function whose result can
///    be: interprocedurally, the greatest fixpoint over the parameters and
///    results of the private functions that only direct calls use;
///  - an `scf.for` init or yield of a loop-carried buffer that can be
///    device memory (the same fixpoint over the loops' carried values).
/// Roots are allocations, constants (get_global), function arguments, call
/// results and scf.for iter_args and results.
class DevicePlacement {
public:
  DevicePlacement(ModuleOp module, SymbolTable &symbols,
                  std::function<bool(Operation *)> extraDeviceUse);

  /// Whether `root` lives in device memory; `returns` receives the returns
  /// of a public function that return it (its copy to the host).
  bool isResident(Value root,
                  SmallVectorImpl<func::ReturnOp> *returns = nullptr) const;

private:
  struct Slots {
    SmallVector<bool> arguments, results;
    SmallVector<func::CallOp> calls;
  };
  bool isDeviceUse(OpOperand &use) const;
  bool onlyDeviceUses(Value buffer,
                      SmallVectorImpl<func::ReturnOp> &returns) const;
  const Slots *slotsOf(func::FuncOp function) const;

  SymbolTable &symbols;
  std::function<bool(Operation *)> extraDeviceUse;
  DenseMap<Operation *, Slots> privateFunctions;
  /// Per scf.for carrying buffers: whether each carried value can be
  /// device memory.
  DenseMap<Operation *, SmallVector<bool>> loops;
};

/// The buffer a view is of: through the views whose memory is the
/// buffer's (cast, subview, reinterpret_cast, expand/collapse_shape, the
/// base buffer of extract_strided_metadata).
Value rootOfView(Value buffer);

} // namespace mlir::sp

#endif // SP_CONVERSION_SPTOCUDA_GPUKERNELS_H
