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
#include "mlir/Dialect/SCF/IR/SCF.h"
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
constexpr StringLiteral kFreePointer = "sp_cuda_rt_device_free_pointer";
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

/// The deallocations of `buffer` or of its views (including the base
/// buffer ownership-based deallocation frees through
/// extract_strided_metadata).
SmallVector<memref::DeallocOp> deallocationsOf(Value buffer) {
  SmallVector<Value> work{buffer};
  SmallVector<memref::DeallocOp> deallocs;
  while (!work.empty()) {
    Value value = work.pop_back_val();
    for (Operation *user : value.getUsers()) {
      if (auto dealloc = dyn_cast<memref::DeallocOp>(user))
        deallocs.push_back(dealloc);
      else if (isa<memref::CastOp, memref::SubViewOp,
                   memref::ReinterpretCastOp, memref::ExpandShapeOp,
                   memref::CollapseShapeOp, memref::ExtractStridedMetadataOp>(
                   user))
        work.push_back(user->getResult(0));
    }
  }
  return deallocs;
}

class DeviceBuffers {
public:
  explicit DeviceBuffers(ModuleOp module)
      : module(module), symbols(module), top(module.getContext()),
        placement(module, symbols,
                  [this](Operation *user) { return isDeviceUser(user, symbols); }) {
    top.setInsertionPointToStart(module.getBody());
  }

  void run(func::FuncOp function) {
    SmallVector<memref::AllocOp> allocs;
    function.walk([&](memref::AllocOp alloc) { allocs.push_back(alloc); });
    SmallVector<std::pair<memref::AllocOp, SmallVector<func::ReturnOp>>> placed;
    for (memref::AllocOp alloc : allocs) {
      SmallVector<func::ReturnOp> returns;
      if (placement.isResident(alloc, &returns))
        placed.push_back({alloc, returns});
    }
    // Device results of private functions this function calls: the
    // deallocations bufferization gave them free device memory.
    SmallVector<Value> callResults;
    function.walk([&](func::CallOp call) {
      for (Value result : call.getResults())
        if (placement.isResident(result))
          callResults.push_back(result);
    });
    // Device buffers carried by loops: their deallocations (of the
    // previous iteration's buffer, of the last one after the loop).
    function.walk([&](scf::ForOp loop) {
      for (Value value : loop.getRegionIterArgs())
        if (placement.isResident(value))
          callResults.push_back(value);
      for (Value value : loop.getResults())
        if (placement.isResident(value))
          callResults.push_back(value);
    });
    SmallVector<memref::GetGlobalOp> constants;
    for (auto global : function.getBody().front().getOps<memref::GetGlobalOp>())
      if (placement.isResident(global))
        constants.push_back(global);
    SmallVector<BlockArgument> arguments;
    if (!function.isPrivate())
      for (BlockArgument argument : function.getArguments())
        if (placement.isResident(argument))
          arguments.push_back(argument);
    // Decided before anything changes: the decisions read the uses.
    for (auto &[alloc, returns] : placed)
      placeAllocation(alloc, returns);
    for (Value result : callResults)
      freeOnDevice(result);
    for (memref::GetGlobalOp global : constants)
      placeConstant(function, global);
    // Last to first: each goes to the start of the entry block, so the
    // copies are made in argument order.
    for (BlockArgument argument : llvm::reverse(arguments))
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
    for (memref::DeallocOp dealloc : deallocationsOf(alloc.getResult())) {
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

  /// The deallocations of a device buffer that a private function returned
  /// or a loop carries (or of its views): `sp_cuda_rt_device_free_pointer`
  /// of its address (the stream-ordered allocation's own: views of it start
  /// at offset 0).
  void freeOnDevice(Value buffer) {
    std::string where = describeLocation(buffer.getLoc());
    for (memref::DeallocOp dealloc : deallocationsOf(buffer)) {
      OpBuilder d(dealloc);
      Location loc = dealloc.getLoc();
      call(d, loc, kFreePointer,
           {pointer(d, loc, dealloc.getMemref()),
            string(d, loc, "a device buffer returned at " + where)});
      dealloc.erase();
    }
  }

  /// A constant only the device reads: a device copy of it per call of
  /// the function, released before each return.
  void placeConstant(func::FuncOp function, memref::GetGlobalOp global) {
    OpBuilder b(global);
    b.setInsertionPointAfter(global);
    Location loc = global.getLoc();
    auto type = cast<MemRefType>(global.getType());
    std::string what = ("the constant @" + global.getName() + " at " +
                        describeLocation(loc))
                           .str();
    Value address = pointer(b, loc, global);
    Value raw = call(b, loc, kArgument,
                     {address, toI64(b, loc, bytes(b, loc, type, {})),
                      string(b, loc, what)},
                     bytesType())[0];
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value view = memref::ViewOp::create(b, loc, type, raw, zero, ValueRange{});
    Operation *made = view.getDefiningOp();
    global.getResult().replaceUsesWithIf(view, [&](OpOperand &use) {
      Operation *user = use.getOwner();
      return user->getBlock() != made->getBlock() ||
             made->isBeforeInBlock(user);
    });
    function.walk([&](func::ReturnOp ret) {
      OpBuilder r(ret);
      call(r, ret.getLoc(), kRelease, {address, raw, string(r, ret.getLoc(), what)});
    });
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
  DevicePlacement placement;
  llvm::StringMap<LLVM::GlobalOp> strings;
};

} // namespace

bool mlir::sp::isDeviceUser(Operation *user, SymbolTable &symbols) {
  if (isa<gpu::LaunchFuncOp>(user))
    return true;
  auto call = dyn_cast<func::CallOp>(user);
  return call && isRuntimeCall(call, symbols);
}

Value mlir::sp::rootOfView(Value buffer) {
  while (Operation *def = buffer.getDefiningOp()) {
    bool baseBuffer = isa<memref::ExtractStridedMetadataOp>(def) &&
                      buffer == def->getResult(0);
    if (!baseBuffer &&
        !isa<memref::CastOp, memref::SubViewOp, memref::ReinterpretCastOp,
             memref::ExpandShapeOp, memref::CollapseShapeOp>(def))
      break;
    buffer = def->getOperand(0);
  }
  return buffer;
}

DevicePlacement::DevicePlacement(ModuleOp module, SymbolTable &symbols,
                                 std::function<bool(Operation *)> extraDeviceUse)
    : symbols(symbols), extraDeviceUse(std::move(extraDeviceUse)) {
  // The private functions whose every use is a direct call: their
  // parameters and results start as device memory (where placeable) and
  // are refined to a fixpoint.
  for (auto function : module.getOps<func::FuncOp>()) {
    if (!function.isPrivate() || function.isDeclaration())
      continue;
    std::optional<SymbolTable::UseRange> uses =
        SymbolTable::getSymbolUses(function, module);
    if (!uses)
      continue;
    Slots slots;
    bool direct = true;
    for (const SymbolTable::SymbolUse &use : *uses) {
      auto call = dyn_cast<func::CallOp>(use.getUser());
      if (!call || call.getCallee() != function.getSymName()) {
        direct = false;
        break;
      }
      slots.calls.push_back(call);
    }
    if (!direct)
      continue;
    for (Type type : function.getArgumentTypes())
      slots.arguments.push_back(isPlaceable(type));
    for (Type type : function.getResultTypes())
      slots.results.push_back(isPlaceable(type));
    privateFunctions[function] = std::move(slots);
  }
  module.walk([&](scf::ForOp loop) {
    SmallVector<bool> carried;
    bool buffers = false;
    for (Value value : loop.getRegionIterArgs()) {
      carried.push_back(isPlaceable(value.getType()));
      buffers |= carried.back();
    }
    if (buffers)
      loops[loop] = std::move(carried);
  });
  for (bool changed = true; changed;) {
    changed = false;
    for (auto &[op, carried] : loops) {
      auto loop = cast<scf::ForOp>(op);
      auto yield = cast<scf::YieldOp>(loop.getBody()->getTerminator());
      for (unsigned i = 0; i < carried.size(); ++i) {
        if (!carried[i])
          continue;
        SmallVector<func::ReturnOp> returns;
        bool resident =
            isResident(rootOfView(loop.getInitArgs()[i])) &&
            isResident(rootOfView(yield.getOperand(i))) &&
            onlyDeviceUses(loop.getRegionIterArgs()[i], returns) &&
            onlyDeviceUses(loop.getResult(i), returns) && returns.empty();
        if (!resident) {
          carried[i] = false;
          changed = true;
        }
      }
    }
    for (auto &[op, slots] : privateFunctions) {
      auto function = cast<func::FuncOp>(op);
      for (auto [i, device] : llvm::enumerate(slots.arguments)) {
        if (!device)
          continue;
        SmallVector<func::ReturnOp> returns;
        bool resident =
            onlyDeviceUses(function.getArgument(i), returns) &&
            returns.empty() && llvm::all_of(slots.calls, [&](func::CallOp call) {
              return isResident(rootOfView(call.getOperand(i)));
            });
        if (!resident) {
          slots.arguments[i] = false;
          changed = true;
        }
      }
      for (auto [j, device] : llvm::enumerate(slots.results)) {
        if (!device)
          continue;
        bool resident = true;
        function.walk([&](func::ReturnOp ret) {
          resident &= isResident(rootOfView(ret.getOperand(j)));
        });
        for (func::CallOp call : slots.calls) {
          SmallVector<func::ReturnOp> returns;
          resident &= onlyDeviceUses(call.getResult(j), returns) &&
                      returns.empty();
        }
        if (!resident) {
          slots.results[j] = false;
          changed = true;
        }
      }
    }
  }
}

const DevicePlacement::Slots *
DevicePlacement::slotsOf(func::FuncOp function) const {
  auto found = privateFunctions.find(function);
  return found == privateFunctions.end() ? nullptr : &found->second;
}

bool DevicePlacement::isDeviceUse(OpOperand &use) const {
  Operation *user = use.getOwner();
  if (extraDeviceUse(user))
    return true;
  unsigned index = use.getOperandNumber();
  if (auto call = dyn_cast<func::CallOp>(user)) {
    auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
    const Slots *slots = callee ? slotsOf(callee) : nullptr;
    return slots && index < slots->arguments.size() && slots->arguments[index];
  }
  if (auto loop = dyn_cast<scf::ForOp>(user)) {
    auto found = loops.find(loop);
    unsigned control = loop.getNumControlOperands();
    return found != loops.end() && index >= control &&
           found->second[index - control];
  }
  if (auto yield = dyn_cast<scf::YieldOp>(user)) {
    auto found = loops.find(yield->getParentOp());
    return found != loops.end() && found->second[index];
  }
  if (auto ret = dyn_cast<func::ReturnOp>(user)) {
    auto function = dyn_cast<func::FuncOp>(ret->getParentOp());
    const Slots *slots = function ? slotsOf(function) : nullptr;
    return slots && slots->results[index];
  }
  return false;
}

bool DevicePlacement::onlyDeviceUses(
    Value buffer, SmallVectorImpl<func::ReturnOp> &returns) const {
  SmallVector<Value> work{buffer};
  bool device = false;
  while (!work.empty()) {
    Value value = work.pop_back_val();
    for (OpOperand &use : value.getUses()) {
      Operation *user = use.getOwner();
      if (isDeviceUse(use)) {
        device = true;
        continue;
      }
      if (isa<memref::CastOp, memref::SubViewOp, memref::ReinterpretCastOp,
              memref::ExpandShapeOp, memref::CollapseShapeOp>(user) &&
          use.getOperandNumber() == 0) {
        work.push_back(user->getResult(0));
        continue;
      }
      // The base buffer of ownership-based deallocation's metadata: only
      // freed or compared by address.
      if (isa<memref::ExtractStridedMetadataOp>(user)) {
        work.push_back(user->getResult(0));
        continue;
      }
      if (isa<memref::DimOp, memref::DeallocOp,
              memref::ExtractAlignedPointerAsIndexOp>(user))
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

bool DevicePlacement::isResident(
    Value root, SmallVectorImpl<func::ReturnOp> *returnsOut) const {
  if (!isPlaceable(root.getType()))
    return false;
  SmallVector<func::ReturnOp> returns;
  if (auto alloc = root.getDefiningOp<memref::AllocOp>()) {
    auto function = alloc->getParentOfType<func::FuncOp>();
    if (!function || !onlyDeviceUses(root, returns))
      return false;
    // Results of a public function go back to the host at its exit
    // synchronization (those of a private one are device uses above when
    // its callers keep them on the device).
    if (!llvm::all_of(returns, [&](func::ReturnOp ret) {
          return !function.isPrivate() && ret->getParentOp() == function &&
                 exitCallBefore(ret);
        }))
      return false;
    if (returnsOut)
      returnsOut->append(returns.begin(), returns.end());
    return true;
  }
  // A constant read only on the device: copied in at its get_global (in
  // the function's entry block, so that its release before each return
  // sees it), like an argument.
  // Group descriptors (declareGroupDescriptor's "__sp_group_*" globals)
  // are read by the runtime on the host.
  if (auto global = root.getDefiningOp<memref::GetGlobalOp>()) {
    auto function = dyn_cast<func::FuncOp>(global->getParentOp());
    return function && !global.getName().starts_with("__sp_group_") &&
           onlyDeviceUses(root, returns) && returns.empty();
  }
  if (auto result = dyn_cast<OpResult>(root);
      result && isa<scf::ForOp>(result.getOwner())) {
    auto found = loops.find(result.getOwner());
    return found != loops.end() && found->second[result.getResultNumber()];
  }
  if (auto carried = dyn_cast<BlockArgument>(root);
      carried && isa<scf::ForOp>(carried.getOwner()->getParentOp())) {
    auto found = loops.find(carried.getOwner()->getParentOp());
    return carried.getArgNumber() > 0 && found != loops.end() &&
           found->second[carried.getArgNumber() - 1];
  }
  if (auto result = dyn_cast<OpResult>(root)) {
    auto call = dyn_cast<func::CallOp>(result.getOwner());
    auto callee = call ? symbols.lookup<func::FuncOp>(call.getCallee()) : nullptr;
    const Slots *slots = callee ? slotsOf(callee) : nullptr;
    return slots && slots->results[result.getResultNumber()];
  }
  auto argument = dyn_cast<BlockArgument>(root);
  if (!argument)
    return false;
  auto function = dyn_cast<func::FuncOp>(argument.getOwner()->getParentOp());
  if (!function || argument.getOwner() != &function.getBody().front())
    return false;
  if (function.isPrivate()) {
    // A parameter of a private function: its callers pass device memory.
    const Slots *slots = slotsOf(function);
    return slots && slots->arguments[argument.getArgNumber()];
  }
  // An argument of a public function: copied in once per call (or used in
  // place), never returned.
  return onlyDeviceUses(root, returns) && returns.empty();
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
