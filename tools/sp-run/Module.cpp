//===- Module.cpp - preparing a module to run -----------------------------===//

#include "Module.h"

#include "CompiledABI.h"
#include "Faults.h"
#include "Report.h"

#include "sp/Dialect/SP/IR/SPOps.h"
#include "sp/Pipelines/Pipelines.h"
#include "sp/Runtime/RankState.h"
#include "sp/Runtime/RuntimeABI.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <mpi.h>

#include <cstdlib>
#include <dlfcn.h>

using namespace mlir;

namespace sp_run {

static std::string describe(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

std::string checkGroupsFitJob(ModuleOp module, int ranks) {
  // Every group must live in a job of exactly this many ranks: all of them
  // without a layout, the grid's with one.
  std::string error;
  module.walk([&](sp::GroupOp group) {
    int64_t world = group.getWorldSize();
    if (world == ranks)
      return WalkResult::advance();
    std::string loc;
    llvm::raw_string_ostream os(loc);
    os << group.getLoc();
    std::string what = "has " + std::to_string(world) + " ranks";
    if (std::optional<ArrayRef<int64_t>> grid = group.getGrid()) {
      std::string extents;
      for (int64_t extent : *grid)
        extents += (extents.empty() ? "" : " x ") + std::to_string(extent);
      what = "spans a grid of " + extents + " = " + std::to_string(world) +
             " ranks";
    }
    error = "group @" + group.getSymName().str() + " (" + loc + ") " + what +
            ", but sp-run runs " + std::to_string(ranks) +
            " (--ranks=" + std::to_string(ranks) + ")";
    return WalkResult::interrupt();
  });
  return error;
}

Signature inspectModule(ModuleOp module, const Options &options,
                        const Job &job) {
  watchRank(job);
  discardStaleCompletion(options, job);
  SmallVector<func::FuncOp> candidates;
  module.walk([&](func::FuncOp func) {
    if (func.isExternal())
      return;
    if (!options.entry.empty() ? func.getSymName() == options.entry
                               : func.isPublic())
      candidates.push_back(func);
  });
  if (candidates.size() != 1) {
    std::string names;
    module.walk([&](func::FuncOp f) {
      if (!f.isExternal())
        names += " @" + f.getSymName().str();
    });
    if (!options.entry.empty())
      job.failEverywhere("no function @" + options.entry +
                         " with a body in '" + options.inputFile +
                         "' (functions:" + names + ")");
    job.failEverywhere("'" + options.inputFile + "' has " +
                       std::to_string(candidates.size()) +
                       " public functions with a body; name one with "
                       "--entry (functions:" +
                       names + ")");
  }
  func::FuncOp entry = candidates.front();
  Signature sig;
  sig.name = entry.getSymName().str();
  for (auto [i, type] : llvm::enumerate(entry.getArgumentTypes())) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor || !elementBytes(tensor.getElementType()))
      job.failEverywhere("argument #" + std::to_string(i) + " of @" +
                         sig.name + " has type " + describe(type) +
                         "; sp-run passes ranked tensors of f32, f64, f16, "
                         "bf16, f8E4M3FN(UZ) or i8..i64");
    sig.args.push_back(tensor);
    sig.replicated.push_back(static_cast<bool>(
        entry.getArgAttr(i, sp::SPDialect::getReplicatedAttrName())));
    SmallVector<int64_t> axes;
    if (auto attr = entry.getArgAttrOfType<DenseI64ArrayAttr>(
            i, sp::SPDialect::getReplicatedAxesAttrName()))
      axes.assign(attr.asArrayRef().begin(), attr.asArrayRef().end());
    sig.replicatedAxes.push_back(std::move(axes));
  }
  for (auto [i, type] : llvm::enumerate(entry.getResultTypes())) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor || !elementBytes(tensor.getElementType()))
      job.failEverywhere("result #" + std::to_string(i) + " of @" + sig.name +
                         " has type " + describe(type) +
                         "; sp-run returns ranked tensors only");
    sig.results.push_back(tensor);
  }
  std::string groups = checkGroupsFitJob(module, job.size);
  if (!groups.empty())
    job.failEverywhere(groups);
  // The grid `sp.replicated_axes` refers to: the layout groups' (one grid).
  sig.grid = {job.size};
  std::optional<sp::GroupOp> gridGroup;
  module.walk([&](sp::GroupOp group) {
    std::optional<ArrayRef<int64_t>> grid = group.getGrid();
    if (!grid)
      return;
    if (!gridGroup) {
      gridGroup = group;
      sig.grid.assign(grid->begin(), grid->end());
    } else if (ArrayRef<int64_t>(sig.grid) != *grid) {
      job.failEverywhere("groups @" + gridGroup->getSymName() + " and @" +
                         group.getSymName() +
                         " lay the job's ranks out on different grids");
    }
  });
  for (auto [i, axes] : llvm::enumerate(sig.replicatedAxes))
    for (int64_t axis : axes)
      if (axis < 0 || axis >= int64_t(sig.grid.size()))
        job.failEverywhere("argument #" + std::to_string(i) + " of @" +
                           sig.name + " is replicated along grid axis " +
                           std::to_string(axis) + ", but the grid has " +
                           std::to_string(sig.grid.size()) + " axes");
  return sig;
}

/// The shape to generate argument #i of `type` with: its static sizes, the
/// dynamic ones from --shape or (dim 0) the token count. Empty when a
/// dynamic size has no source; `error` says why.
static SmallVector<int64_t> shapeToGenerate(unsigned i, RankedTensorType type,
                                            const Options &options,
                                            std::optional<int64_t> tokens,
                                            std::string &error) {
  auto given = options.shapes.find(i);
  if (given != options.shapes.end()) {
    const std::vector<int64_t> &dims = given->second;
    bool fits = int64_t(dims.size()) == type.getRank();
    for (int64_t d = 0; fits && d < type.getRank(); ++d)
      fits = dims[d] >= 0 &&
             (type.isDynamicDim(d) || dims[d] == type.getDimSize(d));
    if (!fits) {
      error = "--shape for argument #" + std::to_string(i) +
              " does not fit its type " + describe(type);
      return {};
    }
    return SmallVector<int64_t>(dims.begin(), dims.end());
  }
  SmallVector<int64_t> shape(type.getShape());
  for (int64_t d = 0; d < type.getRank(); ++d) {
    if (!type.isDynamicDim(d))
      continue;
    if (d == 0 && tokens) {
      shape[d] = *tokens;
      continue;
    }
    error = "argument #" + std::to_string(i) + " has type " + describe(type) +
            " with a dynamic size; give its sizes with --shape=" +
            std::to_string(i) + ":DIMS (e.g. 37x4096), token counts with "
            "--tokens=LIST, or the values as --inputs=DIR with arg" +
            std::to_string(i) + ".npy";
    return {};
  }
  return shape;
}

SmallVector<HostTensor> makeInputs(const Signature &sig,
                                   const Options &options, const Job &job,
                                   std::optional<int64_t> tokens) {
  SmallVector<HostTensor> inputs;
  for (auto [i, type] : llvm::enumerate(sig.args)) {
    HostTensor t;
    t.elementType = type.getElementType();
    std::string file;
    if (!options.inputsDir.empty()) {
      SmallString<256> perRank(options.inputsDir), shared(options.inputsDir);
      llvm::sys::path::append(perRank, "rank" + std::to_string(job.rank),
                              "arg" + std::to_string(i) + ".npy");
      llvm::sys::path::append(shared, "arg" + std::to_string(i) + ".npy");
      if (llvm::sys::fs::exists(perRank))
        file = perRank.str().str();
      else if (llvm::sys::fs::exists(shared))
        file = shared.str().str();
    }
    if (!file.empty()) {
      if (llvm::Error error = readNpy(file, t))
        job.failHere("argument #" + std::to_string(i) + ": " +
                     llvm::toString(std::move(error)));
      bool matches = static_cast<int64_t>(t.shape.size()) == type.getRank();
      for (int64_t d = 0; matches && d < type.getRank(); ++d)
        matches = type.isDynamicDim(d) || type.getDimSize(d) == t.shape[d];
      if (!matches)
        job.failHere("argument #" + std::to_string(i) + " has type " +
                     describe(type) + ", but '" + file + "' holds " +
                     t.typeString());
    } else {
      std::string error;
      SmallVector<int64_t> shape =
          shapeToGenerate(i, type, options, tokens, error);
      if (!error.empty())
        job.failEverywhere(error);
      t.shape.assign(shape.begin(), shape.end());
      // Replicated arguments get the same values on every rank; arguments
      // replicated along grid axes the same values on the ranks whose
      // coordinates differ only along those axes (one stream per set of
      // coordinates on the other axes).
      uint64_t stream = sig.replicated[i] ? 0 : job.rank + 1;
      if (!sig.replicated[i] && !sig.replicatedAxes[i].empty()) {
        sp_runtime::GroupLayout layout;
        layout.grid.assign(sig.grid.begin(), sig.grid.end());
        layout.axes.assign(sig.replicatedAxes[i].begin(),
                           sig.replicatedAxes[i].end());
        stream = uint64_t(layout.colorOf(job.rank)) + 1;
      }
      fillSeeded(t, options.seed * 1000003ull + i * 7919ull +
                        stream * 104729ull);
    }
    inputs.push_back(std::move(t));
  }
  return inputs;
}

//===----------------------------------------------------------------------===//
// The CUDA runtime library (--backend=cuda)
//===----------------------------------------------------------------------===//

namespace {
using SymbolsFn = decltype(&sp_cuda_rt_symbols);
using ErrorHandlerFn = decltype(&sp_cuda_rt_set_error_handler);
using BootstrapFn = decltype(&sp_cuda_rt_set_bootstrap);
SymbolsFn cudaSymbols = nullptr;
void (*cudaFinalize)() = nullptr; // optional: destroys the communicator
} // namespace

/// The CUDA runtime's bootstrap broadcast (sp_cuda_rt_set_bootstrap).
static int mpiBroadcast(void *data, int64_t bytes, int root, void *) {
  return MPI_Bcast(data, int(bytes), MPI_BYTE, root, MPI_COMM_WORLD) ==
                 MPI_SUCCESS
             ? 0
             : 1;
}

/// A failing runtime call on this rank ends the whole job.
static void onCudaRuntimeError(const char *message) {
  llvm::errs() << message;
  llvm::errs().flush();
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::exit(1);
}

static std::string defaultCudaRuntime(const char *argv0) {
  std::string self = llvm::sys::fs::getMainExecutable(
      argv0, reinterpret_cast<void *>(&defaultCudaRuntime));
  SmallString<256> path(
      llvm::sys::path::parent_path(llvm::sys::path::parent_path(self)));
  llvm::sys::path::append(path, "lib", "libsp_cuda_runtime.so");
  return std::string(path);
}

void loadCudaRuntime(const Options &options, const char *argv0,
                     const Job &job) {
  watchRank(job);
  std::string path = options.cudaRuntime.empty() ? defaultCudaRuntime(argv0)
                                                 : options.cudaRuntime;
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    job.failEverywhere("--backend=cuda cannot load the CUDA runtime '" + path +
                       "': " + dlerror() +
                       " (this build has it only when a CUDA toolkit was "
                       "found; see docs/GPU.md)");
  cudaSymbols = reinterpret_cast<SymbolsFn>(dlsym(handle, "sp_cuda_rt_symbols"));
  auto setHandler = reinterpret_cast<ErrorHandlerFn>(
      dlsym(handle, "sp_cuda_rt_set_error_handler"));
  if (!cudaSymbols || !setHandler)
    job.failEverywhere("'" + path +
                       "' is not an sp CUDA runtime (it lacks "
                       "sp_cuda_rt_symbols)");
  setHandler(&onCudaRuntimeError);
  // The job's MPI for the runtime: NCCL's unique id is broadcast from rank 0
  // over MPI_COMM_WORLD (no file; works across nodes). An older runtime
  // without the hook exchanges it through SP_NCCL_ID_FILE.
  if (auto setBootstrap = reinterpret_cast<BootstrapFn>(
          dlsym(handle, "sp_cuda_rt_set_bootstrap")))
    setBootstrap(job.rank, job.size, &mpiBroadcast, nullptr);
  cudaFinalize =
      reinterpret_cast<void (*)()>(dlsym(handle, "sp_cuda_rt_finalize"));
}

void finalizeCudaRuntime() {
  if (cudaFinalize)
    cudaFinalize();
}

//===----------------------------------------------------------------------===//
// Lowering and JIT compilation
//===----------------------------------------------------------------------===//

CompiledModule compileModule(ModuleOp source, const Signature &sig,
                             StringRef pipeline, const Options &options,
                             const Job &job) {
  setRankPhase(sp_runtime::kPhaseCompiling);
  OwningOpRef<ModuleOp> module(cast<ModuleOp>(source->clone()));
  MLIRContext *context = module->getContext();
  if (!pipeline.empty()) {
    PassManager pm(context);
    std::string errors;
    llvm::raw_string_ostream errorStream(errors);
    // Accept both "a,b" and "builtin.module(a,b)".
    StringRef passes = pipeline;
    if (passes.consume_front("builtin.module(") && !passes.consume_back(")"))
      job.failEverywhere("unbalanced parentheses in '" + pipeline + "'");
    if (failed(parsePassPipeline(passes, pm, errorStream)))
      job.failEverywhere("cannot parse --compare pipeline '" + pipeline +
                         "': " + errors);
    if (failed(pm.run(*module)))
      job.failEverywhere("the pipeline '" + pipeline + "' failed on '" +
                         options.inputFile + "'");
  }
  auto entry = module->lookupSymbol<func::FuncOp>(sig.name);
  if (!entry)
    job.failEverywhere("the pipeline removed @" + sig.name);
  entry->setAttr("llvm.emit_c_interface", UnitAttr::get(context));
  PassManager lower(context);
  bool cuda = options.backend == Backend::cuda;
  if (cuda)
    sp::buildLowerToCUDAPipeline(lower);
  else {
    sp::LowerToCPUOptions cpu;
    cpu.codegen = options.scalarCPUCodegen ? sp::CPUCodegen::Scalar
                                           : sp::CPUCodegen::Vector;
    cpu.vectorBits = options.cpuVectorBits;
    sp::buildLowerToCPUPipeline(lower, cpu);
  }
  if (failed(lower.run(*module)))
    job.failEverywhere("lowering '" + options.inputFile + "' with " +
                       (cuda ? "sp-lower-to-cuda" : "sp-lower-to-cpu") +
                       " failed (see the errors above)");

  ExecutionEngineOptions engineOptions;
  auto transformer = makeOptimizingTransformer(/*optLevel=*/2, 0, nullptr);
  engineOptions.transformer = transformer;
  auto engine = ExecutionEngine::create(*module, engineOptions);
  if (!engine)
    job.failEverywhere("JIT compilation failed: " +
                       llvm::toString(engine.takeError()));
  (*engine)->registerSymbols([](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap symbols;
    auto add = [&](const SPRuntimeSymbol *table, size_t count) {
      for (size_t i = 0; i < count; ++i)
        symbols[interner(table[i].name)] = {
            llvm::orc::ExecutorAddr::fromPtr(table[i].address),
            llvm::JITSymbolFlags::Exported};
    };
    size_t count = 0;
    const SPRuntimeSymbol *table = sp_rt_symbols(&count);
    add(table, count);
    if (cudaSymbols) {
      table = cudaSymbols(&count);
      add(table, count);
    }
    // Allocations of the compiled code that fail end the job with the
    // rank and the op (Faults.h) instead of a null pointer written to.
    symbols[interner("malloc")] = {
        llvm::orc::ExecutorAddr::fromPtr(&checkedMalloc),
        llvm::JITSymbolFlags::Exported};
    return symbols;
  });
  (*engine)->initialize();
  return {std::move(*engine)};
}

} // namespace sp_run
