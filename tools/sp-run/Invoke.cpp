//===- Invoke.cpp - calling the compiled entry function -------------------===//
//
// The entry function is called through its C interface,
// _mlir_ciface_<entry>(results*, arg0*, arg1*, ...), with upstream's memref
// descriptor types (CRunnerUtils.h): a StridedMemRefType per argument, and
// the results read back through DynamicMemRefType, which honors strides.
//
//===----------------------------------------------------------------------===//

#include "Invoke.h"
#include "Faults.h"

#include "sp/Runtime/RankState.h"

#include "mlir/ExecutionEngine/CRunnerUtils.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>

using namespace mlir;

namespace sp_run {

namespace {
/// The largest argument rank sp-run passes (descriptors are templates on the
/// rank).
constexpr int64_t kMaxRank = 8;

/// A ranked memref descriptor of any rank up to kMaxRank over a host tensor.
/// The element type of the descriptor does not matter to its layout; the
/// compiled code reads the bytes as its own element type.
class ArgumentDescriptor {
public:
  ArgumentDescriptor(HostTensor &tensor) {
    build(tensor, std::make_integer_sequence<int64_t, kMaxRank + 1>());
  }
  void *get() { return storage.get(); }

private:
  template <int64_t... Ranks>
  void build(HostTensor &tensor, std::integer_sequence<int64_t, Ranks...>) {
    int64_t rank = tensor.shape.size();
    ((rank == Ranks ? fill<Ranks>(tensor) : void()), ...);
  }

  template <int64_t Rank>
  void fill(HostTensor &tensor) {
    auto descriptor = std::make_shared<StridedMemRefType<char, Rank>>();
    char *data = tensor.bytes.data();
    descriptor->basePtr = descriptor->data = data;
    descriptor->offset = 0;
    if constexpr (Rank > 0) {
      int64_t stride = 1;
      for (int64_t d = Rank - 1; d >= 0; --d) {
        descriptor->sizes[d] = tensor.shape[d];
        descriptor->strides[d] = stride;
        stride *= tensor.shape[d];
      }
    }
    storage = std::static_pointer_cast<void>(descriptor);
  }

  std::shared_ptr<void> storage;
};

/// Copies a result descriptor's elements (any strides) into a dense tensor.
template <typename Word>
void copyStrided(const ::UnrankedMemRefType<char> &result, HostTensor &out) {
  ::UnrankedMemRefType<Word> typed{result.rank, result.descriptor};
  DynamicMemRefType<Word> view(typed);
  Word *dense = reinterpret_cast<Word *>(out.bytes.data());
  if (view.rank == 0) {
    dense[0] = view.data[view.offset];
    return;
  }
  int64_t i = 0;
  for (Word element : view)
    dense[i++] = element;
}

/// Words (int64_t) of a ranked descriptor of `rank` dims in a result struct.
int64_t descriptorWords(int64_t rank) { return 3 + 2 * rank; }
} // namespace

SmallVector<HostTensor> invokeEntry(CompiledModule &compiled,
                                    const Signature &sig,
                                    ArrayRef<HostTensor> inputsIn,
                                    const Job &job) {
  setRankPhase(sp_runtime::kPhaseRunning);
  SmallVector<HostTensor> inputs(inputsIn.begin(), inputsIn.end());
  std::vector<ArgumentDescriptor> descriptors;
  for (HostTensor &t : inputs) {
    if (static_cast<int64_t>(t.shape.size()) > kMaxRank)
      job.failHere("an argument of rank " + std::to_string(t.shape.size()) +
                   " exceeds the " + std::to_string(kMaxRank) +
                   " dimensions sp-run passes");
    descriptors.emplace_back(t);
  }
  // Several results come back as one struct of ranked descriptors.
  int64_t resultWords = 0;
  for (RankedTensorType r : sig.results)
    resultWords += descriptorWords(r.getRank());
  std::vector<int64_t> resultBuffer(std::max<int64_t>(resultWords, 1));
  void *resultPointer = resultBuffer.data();

  SmallVector<void *> packed;
  SmallVector<void *> argumentPointers;
  for (ArgumentDescriptor &d : descriptors)
    argumentPointers.push_back(d.get());
  if (!sig.results.empty())
    packed.push_back(&resultPointer);
  for (void *&p : argumentPointers)
    packed.push_back(&p);
  if (llvm::Error error =
          compiled.engine->invokePacked("_mlir_ciface_" + sig.name, packed))
    job.failHere("calling @" + sig.name +
                 " failed: " + llvm::toString(std::move(error)));

  SmallVector<HostTensor> outputs;
  SmallVector<void *> allocations;
  int64_t at = 0;
  for (RankedTensorType r : sig.results) {
    ::UnrankedMemRefType<char> result{r.getRank(), &resultBuffer[at]};
    DynamicMemRefType<char> view(result);
    HostTensor t;
    t.elementType = r.getElementType();
    t.shape.assign(view.sizes, view.sizes + view.rank);
    t.bytes.resize(t.numElements() * t.elementBytes());
    if (t.numElements() > 0) {
      switch (t.elementBytes()) {
      case 1:
        copyStrided<uint8_t>(result, t);
        break;
      case 2:
        copyStrided<uint16_t>(result, t);
        break;
      case 4:
        copyStrided<uint32_t>(result, t);
        break;
      default:
        copyStrided<uint64_t>(result, t);
        break;
      }
    }
    allocations.push_back(view.basePtr);
    outputs.push_back(std::move(t));
    at += descriptorWords(r.getRank());
  }
  // Result buffers come from malloc in the compiled code and belong to the
  // caller, except an argument returned as is, or a global (MLIR marks
  // those with the allocated pointer 0xdeadbeef). Free each one once.
  llvm::SmallPtrSet<void *, 8> freed;
  for (HostTensor &t : inputs)
    freed.insert(t.bytes.data());
  freed.insert(reinterpret_cast<void *>(0xdeadbeef));
  freed.insert(nullptr);
  for (void *allocated : allocations)
    if (freed.insert(allocated).second)
      std::free(allocated);
  return outputs;
}

static double median(std::vector<double> values) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

CallTimes timeCalls(CompiledModule &compiled, const Signature &sig,
                    ArrayRef<HostTensor> inputs, int repeat, const Job &job) {
  std::vector<double> mine, slowest;
  for (int i = 0; i < repeat; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    auto start = std::chrono::steady_clock::now();
    (void)invokeEntry(compiled, sig, inputs, job);
    double seconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    double worst = 0;
    MPI_Allreduce(&seconds, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    mine.push_back(seconds);
    slowest.push_back(worst);
  }
  CallTimes times;
  times.slowestRankMedian = median(slowest);
  double myMedian = median(mine);
  if (job.leader())
    times.perRankMedian.resize(job.size);
  MPI_Gather(&myMedian, 1, MPI_DOUBLE, times.perRankMedian.data(), 1,
             MPI_DOUBLE, 0, MPI_COMM_WORLD);
  return times;
}

} // namespace sp_run
