//===- HostTensor.h - tensors in host memory for sp-run ---------*- C++ -*-===//

#ifndef SP_TOOLS_SP_RUN_HOSTTENSOR_H
#define SP_TOOLS_SP_RUN_HOSTTENSOR_H

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sp_run {

/// A dense row-major tensor with the element type of an MLIR tensor type.
struct HostTensor {
  mlir::Type elementType;
  std::vector<int64_t> shape;
  std::vector<char> bytes;

  int64_t numElements() const;
  size_t elementBytes() const;
  /// Element `i` as a double (NaN stays NaN), for printing and differences.
  double valueAt(int64_t i) const;
  /// "tensor<4x8xbf16>"
  std::string typeString() const;
};

/// Byte width of an element type sp-run can move; 0 if unsupported.
size_t elementBytes(mlir::Type type);

/// The .npy descriptor of an element type ("<f4", "<u2" for bf16 bits, ...).
std::string npyDescr(mlir::Type type);

llvm::Error writeNpy(const std::string &path, const HostTensor &tensor);

/// Reads `path` into `tensor`, whose element type is set; the shape comes
/// from the file.
llvm::Error readNpy(const std::string &path, HostTensor &tensor);

/// Fills `tensor` (type and shape set) with reproducible values from `seed`:
/// floats uniform in [-1, 1) (0-d f32 tensors, usually quant scales, in
/// [1/512, 1/32)), integers in [-8, 8).
void fillSeeded(HostTensor &tensor, uint64_t seed);

} // namespace sp_run

#endif // SP_TOOLS_SP_RUN_HOSTTENSOR_H
