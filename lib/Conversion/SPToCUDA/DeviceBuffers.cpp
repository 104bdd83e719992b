//===- DeviceBuffers.cpp - device-resident buffers for the CUDA runtime ---===//
//
// sp-cuda-device-buffers: see Passes.td. After bufferization, a buffer that
// only CUDA runtime calls touch (no host loop, copy, load or store) lives in
// device memory from the runtime's stream-ordered allocator; entry
// arguments of that kind are brought to the device once per call and
// results copied to the host once, before the function's exit
// synchronization. The runtime side is CompiledABI.h's Backend
// (deviceAllocate ... resultToHost).
//
//===----------------------------------------------------------------------===//

#include "sp/Conversion/SPToCUDA/SPToCUDA.h"
#include "sp/Conversion/SPToCUDA/GPUKernels.h"

#include "sp/Conversion/Common/RuntimeABI.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::sp {
#define GEN_PASS_DEF_SPCUDADEVICEBUFFERS
#include "sp/Conversion/Passes.h.inc"
} // namespace mlir::sp

using namespace mlir;
using namespace mlir::sp;

namespace {

constexpr StringLiteral kAlloc = "sp_cuda_rt_device_alloc";
constexpr StringLiteral kFree = "sp_cuda_rt_device_free";
constexpr StringLiteral kArgument = "sp_cuda_rt_argument_to_device";
constexpr StringLiteral kRelease = "sp_cuda_rt_argument_release";
constexpr StringLiteral kResult = "sp_cuda_rt_result_to_host";
constexpr StringLiteral kExit = "sp_cuda_rt_function_exit";

/// A runtime call that takes buffers (the C interface: the runtime reads
/// the descriptors on the host and hands the data pointers to the GPU).
bool isRuntimeCall(func::CallOp call, SymbolTable &symbols) {
  StringRef callee = call.getCallee();
  if (!callee.starts_with("sp_cuda_rt_"))
    return false;
  auto function = symbols.lookup<func::FuncOp>(callee);
  return function && function->hasAttr("llvm.emit_c_interface");
}

/// Buffers this pass can place: identity layout, default memory space,
/// whole-byte integer or float elements (memref.view's requirements).
bool isPlaceable(Type type) {
  auto memref = dyn_cast<MemRefType>(type);
  if (!memref || !memref.getLayout().isIdentity() || memref.getMemorySpace())
    return false;
  Type element = memref.getElementType();
  return isa<IntegerType, FloatType>(element) &&
         element.getIntOrFloatBitWidth() % 8 == 0;
}

/// Whether every use of `buffer` and of its views is one that `deviceUse`
/// accepts (runtime calls, kernels) or metadata, or its dealloc; `returns`
/// receives the func.return ops that return `buffer` itself, which the
/// caller decides about.
bool onlyDeviceUses(Value buffer, function_ref<bool(Operation *)> deviceUse,
                    SmallVectorImpl<func::ReturnOp> &returns) {
  SmallVector<Value> work{buffer};
  bool device = false;
  while (!work.empty()) {
    Value value = work.pop_back_val();
    for (OpOperand &use : value.getUses()) {
      Operation *user = use.getOwner();
      if (deviceUse(user)) {
        device = true;
        continue;
      }
      if (isa<memref::CastOp, memref::SubViewOp, memref::ReinterpretCastOp,
              memref::ExpandShapeOp, memref::CollapseShapeOp>(user) &&
          use.getOperandNumber() == 0) {
        work.push_back(user->getResult(0));
        continue;
      }
      if (isa<memref::DimOp, memref::DeallocOp>(user))
        continue;
      if (auto ret = dyn_cast<func::ReturnOp>(user); ret && value == buffer) {
        returns.push_back(ret);
        continue;
      }
      return false;
    }
  }
  return device;
}

/// The last `sp_cuda_rt_function_exit` call before `ret` in its block, or
/// null. What bufferization put between the two (deallocations, copies of
/// other results) does not touch a device buffer, so a result's copy to
/// the host can go right before the exit's synchronization.
func::CallOp exitCallBefore(func::ReturnOp ret) {
  for (Operation *op = ret->getPrevNode(); op; op = op->getPrevNode())
    if (auto call = dyn_cast<func::CallOp>(op); call && call.getCallee() == kExit)
      return call;
  return nullptr;
}

class DeviceBuffers {
public:
  explicit DeviceBuffers(ModuleOp module)
      : module(module), symbols(module), top(module.getContext()) {
    top.setInsertionPointToStart(module.getBody());
  }

  void run(func::FuncOp function) {
    auto deviceUse = [&](Operation *user) {
      return isDeviceUser(user, symbols);
    };
    SmallVector<memref::AllocOp> allocs;
    function.walk([&](memref::AllocOp alloc) { allocs.push_back(alloc); });
    for (memref::AllocOp alloc : allocs) {
      SmallVector<func::ReturnOp> returns;
      if (isDeviceResident(alloc, deviceUse, &returns))
        placeAllocation(alloc, returns);
    }
    // Last to first: each goes to the start of the entry block, so the
    // copies are made in argument order.
    if (!function.isPrivate())
      for (BlockArgument argument : llvm::reverse(function.getArguments()))
        if (isDeviceResident(argument, deviceUse))
          placeArgument(function, argument);
  }

private:
  /// alloc -> sp_cuda_rt_device_alloc + memref.view; its deallocs ->
  /// sp_cuda_rt_device_free; each return of it -> a host copy.
  void placeAllocation(memref::AllocOp alloc,
                       ArrayRef<func::ReturnOp> returns) {
    OpBuilder b(alloc);
    Location loc = alloc.getLoc();
    MemRefType type = alloc.getType();
    std::string where = describeLocation(loc);
    Value text = string(b, loc, "a device buffer at " + where);
    Value raw = call(b, loc, kAlloc,
                     {toI64(b, loc, bytes(b, loc, type, alloc.getDynamicSizes())),
                      text},
                     bytesType())[0];
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value view = memref::ViewOp::create(b, loc, type, raw, zero,
                                        alloc.getDynamicSizes());
    // Deallocations of the buffer or of its views.
    SmallVector<Value> work{alloc.getResult()};
    SmallVector<memref::DeallocOp> deallocs;
    while (!work.empty()) {
      Value value = work.pop_back_val();
      for (Operation *user : value.getUsers()) {
        if (auto dealloc = dyn_cast<memref::DeallocOp>(user))
          deallocs.push_back(dealloc);
        else if (isa<memref::CastOp, memref::SubViewOp,
                     memref::ReinterpretCastOp, memref::ExpandShapeOp,
                     memref::CollapseShapeOp>(user))
          work.push_back(user->getResult(0));
      }
    }
    for (memref::DeallocOp dealloc : deallocs) {
      OpBuilder d(dealloc);
      call(d, dealloc.getLoc(), kFree,
           {raw, string(d, dealloc.getLoc(), "a device buffer at " + where)});
      dealloc.erase();
    }
    // One host copy per return, whichever results it is (a return may
    // list the buffer more than once).
    llvm::SetVector<Operation *> exits(returns.begin(), returns.end());
    for (Operation *op : exits) {
      auto ret = cast<func::ReturnOp>(op);
      func::CallOp exit = exitCallBefore(ret);
      auto function = cast<func::FuncOp>(ret->getParentOp());
      OpBuilder r(exit);
      Location at = ret.getLoc();
      Value host = memref::AllocOp::create(r, at, type, alloc.getDynamicSizes());
      std::string what;
      for (OpOperand &operand : ret->getOpOperands()) {
        if (operand.get() != alloc.getResult())
          continue;
        if (what.empty())
          what = ("result " + Twine(operand.getOperandNumber()) + " of @" +
                  function.getSymName() + " at " + describeLocation(at))
                     .str();
        operand.set(host);
      }
      call(r, at, kResult, {pointer(r, at, host), raw, string(r, at, what)});
      call(r, at, kFree, {raw, string(r, at, "a device buffer at " + where)});
    }
    alloc.getResult().replaceAllUsesWith(view);
    alloc.erase();
  }

  /// An argument only runtime calls read: its device copy (or itself) once
  /// per call, released before each return.
  void placeArgument(func::FuncOp function, BlockArgument argument) {
    Block &entry = function.getBody().front();
    OpBuilder b = OpBuilder::atBlockBegin(&entry);
    Location loc = argument.getLoc();
    auto type = cast<MemRefType>(argument.getType());
    std::string what = ("argument " + Twine(argument.getArgNumber()) + " of @" +
                        function.getSymName() + " at " +
                        describeLocation(function.getLoc()))
                           .str();
    Operation *first = &*b.getInsertionPoint();
    Value address = pointer(b, loc, argument);
    SmallVector<Value> sizes;
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (type.isDynamicDim(d))
        sizes.push_back(memref::DimOp::create(b, loc, argument, d));
    Value raw = call(b, loc, kArgument,
                     {address, toI64(b, loc, bytes(b, loc, type, sizes)),
                      string(b, loc, what)},
                     bytesType())[0];
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value view = memref::ViewOp::create(b, loc, type, raw, zero, sizes);
    // Every use but those of the ops just made (all before `first`).
    SmallPtrSet<Operation *, 8> made;
    for (Operation *op = first->getPrevNode(); op; op = op->getPrevNode())
      made.insert(op);
    argument.replaceUsesWithIf(view, [&](OpOperand &use) {
      return !made.contains(use.getOwner());
    });
    function.walk([&](func::ReturnOp ret) {
      OpBuilder r(ret);
      call(r, ret.getLoc(), kRelease, {address, raw, string(r, ret.getLoc(), what)});
    });
  }

  /// The byte size of a buffer of `type` with these dynamic sizes (index).
  static Value bytes(OpBuilder &b, Location loc, MemRefType type,
                     ValueRange dynamicSizes) {
    int64_t constant = type.getElementTypeBitWidth() / 8;
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (!type.isDynamicDim(d))
        constant *= type.getDimSize(d);
    Value total = arith::ConstantIndexOp::create(b, loc, constant);
    for (Value size : dynamicSizes)
      total = arith::MulIOp::create(b, loc, total, size);
    return total;
  }

  static Value toI64(OpBuilder &b, Location loc, Value index) {
    return arith::IndexCastOp::create(b, loc, b.getI64Type(), index);
  }

  /// The address of a buffer's data as i64 (identity layout: offset 0).
  static Value pointer(OpBuilder &b, Location loc, Value buffer) {
    return toI64(b, loc,
                 memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer));
  }

  MemRefType bytesType() {
    return MemRefType::get({ShapedType::kDynamic},
                           IntegerType::get(module.getContext(), 8));
  }

  /// Calls `name` (C interface), declaring it on first use.
  ValueRange call(OpBuilder &b, Location loc, StringRef name, ValueRange args,
                  TypeRange results = {}) {
    if (!module.lookupSymbol(name)) {
      auto function = func::FuncOp::create(
          top, module.getLoc(), name,
          top.getFunctionType(TypeRange(args), results));
      function.setPrivate();
      function->setAttr("llvm.emit_c_interface", top.getUnitAttr());
      symbols.insert(function);
      top.setInsertionPointAfter(function);
    }
    return func::CallOp::create(b, loc, name, results, args).getResults();
  }

  /// `text` as a NUL-terminated constant (one global per distinct text).
  Value string(OpBuilder &b, Location loc, const std::string &text) {
    LLVM::GlobalOp &global = strings[text];
    if (!global) {
      std::string data = text;
      data.push_back('\0');
      auto type = LLVM::LLVMArrayType::get(top.getI8Type(), data.size());
      global = LLVM::GlobalOp::create(top, module.getLoc(), type,
                                      /*isConstant=*/true,
                                      LLVM::Linkage::Internal,
                                      "sp_cuda_location", top.getStringAttr(data));
      symbols.insert(global); // renames to a unique symbol
      top.setInsertionPointAfter(global);
    }
    return LLVM::AddressOfOp::create(b, loc, global);
  }

  ModuleOp module;
  SymbolTable symbols;
  OpBuilder top;
  llvm::StringMap<LLVM::GlobalOp> strings;
};

} // namespace

bool mlir::sp::isDeviceUser(Operation *user, SymbolTable &symbols) {
  if (isa<gpu::LaunchFuncOp>(user))
    return true;
  auto call = dyn_cast<func::CallOp>(user);
  return call && isRuntimeCall(call, symbols);
}

bool mlir::sp::isDeviceResident(Value buffer,
                                function_ref<bool(Operation *)> deviceUse,
                                SmallVectorImpl<func::ReturnOp> *returnsOut) {
  if (!isPlaceable(buffer.getType()))
    return false;
  SmallVector<func::ReturnOp> returns;
  if (auto alloc = buffer.getDefiningOp<memref::AllocOp>()) {
    auto function = alloc->getParentOfType<func::FuncOp>();
    if (!function || !onlyDeviceUses(buffer, deviceUse, returns))
      return false;
    // Results go back to the host at the exit synchronization of a
    // public function; a private function's caller would get device
    // memory.
    if (!llvm::all_of(returns, [&](func::ReturnOp ret) {
          return !function.isPrivate() && ret->getParentOp() == function &&
                 exitCallBefore(ret);
        }))
      return false;
    if (returnsOut)
      returnsOut->append(returns.begin(), returns.end());
    return true;
  }
  // An argument of a public function: copied in once per call (or used in
  // place), never returned.
  auto argument = dyn_cast<BlockArgument>(buffer);
  if (!argument)
    return false;
  auto function = dyn_cast<func::FuncOp>(argument.getOwner()->getParentOp());
  return function && !function.isPrivate() &&
         argument.getOwner() == &function.getBody().front() &&
         onlyDeviceUses(buffer, deviceUse, returns) && returns.empty();
}

namespace {

struct CUDADeviceBuffersPass
    : public sp::impl::SPCUDADeviceBuffersBase<CUDADeviceBuffersPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> functions;
    for (auto function : module.getOps<func::FuncOp>())
      if (!function.isDeclaration())
        functions.push_back(function);
    DeviceBuffers buffers(module);
    for (func::FuncOp function : functions)
      buffers.run(function);
  }
};

} // namespace
