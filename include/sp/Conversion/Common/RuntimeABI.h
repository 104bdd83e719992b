//===- RuntimeABI.h - the compiler's side of the runtimes' ABI --*- C++ -*-===//
//
// What every lowering of sp ops to runtime calls needs: the names of the
// runtime functions (from the element-type list in sp/Runtime/ElementTypes.h
// that the runtimes define their entry points from), the CPU runtime's
// signatures, and the pieces of IR both backends build the same way.
//
//===----------------------------------------------------------------------===//

#ifndef SP_CONVERSION_COMMON_RUNTIMEABI_H
#define SP_CONVERSION_COMMON_RUNTIMEABI_H

#include "sp/Dialect/SP/IR/SPOps.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace mlir::sp {

/// Element-type suffix of runtime function names ("bf16", "f8E4M3FN",
/// "i32", ...): MLIR's spelling of the type when the runtimes implement it,
/// else "". With `reduces`, only types that collectives reduce (f32, f16,
/// bf16, f64); otherwise every type all_gather moves.
std::string getRuntimeTypeSuffix(Type element, bool reduces);

/// True for the activation types of the norm and quant kernels.
bool isKernelActivationType(Type element);

/// True for the FP8 formats sp.quant writes.
bool isQuantFP8Type(Type element);

/// True for the operand types of the collective matmul GEMMs the CUDA
/// runtime implements (with `scaled`, those of the FP8 form).
bool isCollectiveMatmulInputType(Type element, bool scaled);

/// Name of the CPU runtime function implementing `collective` (all_reduce,
/// reduce_scatter or all_gather) for its element type, e.g.
/// "sp_rt_all_reduce_bf16"; empty if the runtime has none.
std::string getCPURuntimeFunctionName(CollectiveOpInterface collective);

/// The CPU runtime's signature of `collective`: (in, out, [reduction: i32],
/// group, [dim: i64]) with unranked memrefs in and out and the group's
/// descriptor (getGroupDescriptorType), no results.
FunctionType getCPURuntimeFunctionType(CollectiveOpInterface collective);

/// The CPU runtime's start of `shift` for its element type,
/// "sp_rt_ring_shift_start_<T>": (in, out, offset: i64, group) -> handle:
/// i64 on unranked memrefs; empty if the type is not moved.
std::string getCPURingShiftStartName(RingShiftOp shift);
FunctionType getCPURingShiftStartType(RingShiftOp shift);
/// The CPU runtime's wait for a started shift: (handle: i64) -> ().
inline constexpr llvm::StringLiteral kCPURingShiftWaitName =
    "sp_rt_ring_shift_wait";

/// The CPU runtime's record of the op whose call follows:
/// (site: memref<?xi8>) -> () with the C interface, the site being the op's
/// source location as text ("file:line:col"). The runtime names the op's
/// location in its errors and in the rank's state for post-mortems
/// (sp/Runtime/RankState.h).
inline constexpr llvm::StringLiteral kCPUSiteFunctionName = "sp_rt_site";

/// "file:line:col" of the first file location in `loc`, else its printed
/// form.
std::string describeLocation(Location loc);

/// Calls kCPUSiteFunctionName with `op`'s location at `b`'s insertion point
/// when the module declares it (sp-prepare-cpu-runtime does); the text is a
/// constant memref.global "__sp_site_<n>" of i8, one per distinct text.
void callCPUSite(OpBuilder &b, Operation *op);

/// How every runtime call names its group: memref<?xi64> viewing the
/// group's descriptor, [ndims, grid..., naxes, axes...] (a group without a
/// layout, of N ranks: [1, N, 1, 0]); sp/Runtime/RuntimeABI.h defines the
/// format for the runtimes.
MemRefType getGroupDescriptorType(MLIRContext *context);

/// The descriptor words of `group` (sp_runtime::GroupLayout::encode).
SmallVector<int64_t> getGroupDescriptorWords(GroupOp group);

/// Declares the constant memref.global holding `group`'s descriptor at the
/// top of its module unless it exists, and returns it. Its name is
/// "__sp_group_<group name>" (with "_0", "_1", ... appended while another
/// symbol has the name). It outlives the group, which is erased after
/// bufferization.
memref::GlobalOp declareGroupDescriptor(GroupOp group);

/// The declared descriptor global of `group` (the first constant global of
/// those names that holds the group's words), or null.
memref::GlobalOp lookupGroupDescriptor(GroupOp group);

/// `group`'s descriptor as a memref<?xi64> value at `b`'s insertion point
/// (memref.get_global and a cast); the global must have been declared.
Value getGroupDescriptor(OpBuilder &b, Location loc, memref::GlobalOp global);

/// The index (index type) in `group` of the rank whose world rank is
/// `worldRank` (index type): the world rank itself for a group without a
/// layout, else its grid coordinates on the spanned axes linearized in the
/// order listed (arith ops on constants, as both backends lower
/// sp.group_rank and sp.all_slice).
Value getGroupIndex(OpBuilder &b, Location loc, GroupOp group,
                    Value worldRank);

/// Where a lowering of `op` (one result) that returns before its result is
/// ready must wait for it: before the first op of `op`'s block that uses
/// the result (directly or in a nested region), else before the block's
/// terminator.
Operation *getWaitPoint(Operation *op);

/// Declares `name : type` (private) at the top of `module` unless a symbol
/// of that name exists; `cInterface` adds llvm.emit_c_interface.
void declareRuntimeFunction(ModuleOp module, StringRef name, FunctionType type,
                            bool cInterface);

/// Removes `sp.replicated` and `sp.replicated_axes` argument attributes
/// (meaningless to LLVM) from
/// every function of `module`.
void dropReplicatedArgAttrs(ModuleOp module);

/// The dynamic sizes of `collective`'s result, read from `source` (its
/// input as a tensor or a buffer): the input's, with the collective dim
/// divided (reduce_scatter) or multiplied (all_gather) by the group size.
SmallVector<Value> getCollectiveResultDynamicSizes(
    OpBuilder &b, Location loc, CollectiveOpInterface collective, Value source);

/// Replaces `slice` with a tensor.extract_slice of its input at offset
/// `groupIndex * chunk` along its dim (chunk = size / group size), where
/// `groupIndex` is this rank's index in the slice's group (getGroupIndex):
/// what every backend does with all_slice once it knows its rank.
void lowerAllSliceAtRank(AllSliceOp slice, Value groupIndex);

} // namespace mlir::sp

#endif // SP_CONVERSION_COMMON_RUNTIMEABI_H
