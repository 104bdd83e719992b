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

namespace mlir::sp {

#define GEN_PASS_DECL_SPCUDAMAPKERNELS
#define GEN_PASS_DECL_SPGPUKERNELHOSTTWINS
#define GEN_PASS_DECL_SPGPULAUNCHTWINS
#include "sp/Conversion/Passes.h.inc"

/// Whether `user` runs on the GPU: a CUDA runtime call taking buffers
/// (`sp_cuda_rt_*` with the C interface) or a `gpu.launch_func`.
bool isDeviceUser(Operation *user, SymbolTable &symbols);

/// Whether `buffer` (a `memref.alloc` or an argument of a public function)
/// can live in device memory: identity layout, whole-byte elements, and
/// every use of it and of its views is one `deviceUse` accepts, metadata,
/// its dealloc or, for an allocation of a public function, a return after
/// the function's exit synchronization (appended to `returns`). The rule of
/// sp-cuda-device-buffers, which sp-cuda-map-kernels applies before it so
/// that kernels only touch memory the GPU can address.
bool isDeviceResident(Value buffer, function_ref<bool(Operation *)> deviceUse,
                      SmallVectorImpl<func::ReturnOp> *returns = nullptr);

} // namespace mlir::sp

#endif // SP_CONVERSION_SPTOCUDA_GPUKERNELS_H
