//===- e2e_driver.cpp - bench/gpu/e2e.mlir compiled ahead of time ---------===//
//
// For GPU machines without MLIR (sp-run needs libMLIR at run time): links
// e2e.mlir lowered twice by prepare-e2e.sh,
//   e2e_cpu  - canonicalize + sp-lower-to-cpu (the single-rank collectives
//              fold away; the norms are the reference numerics in linalg),
//   e2e_cuda - sp-lower-to-cuda (NCCL calls and sp's kernels through
//              libsp_cuda_runtime.so),
// calls both on the same seeded inputs and compares the outputs as
// check.sh's sp-run step does: the all_reduce, the fused residuals and the
// collectives of them bitwise, everything else within 1 ulp (fp8: 1 code).
// Exit status 0 when every output is within its bound.
//
//===----------------------------------------------------------------------===//

#include "sp/Runtime/Numerics.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

using namespace mlir::sp::numerics;

namespace {
template <int N> struct MemRef {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[N];
  int64_t strides[N];
};
struct Scalar {
  void *allocated;
  void *aligned;
  int64_t offset;
};
constexpr int kOutputs = 10;
struct Results {
  MemRef<2> outputs[kOutputs];
};
} // namespace

#define SP_E2E_SIGNATURE(NAME)                                                 \
  void NAME(Results *, MemRef<2> *x, MemRef<2> *r, MemRef<1> *w, Scalar *s,    \
            MemRef<2> *x32, MemRef<1> *w32, MemRef<2> *h, MemRef<2> *hr,        \
            MemRef<1> *wh)
extern "C" {
SP_E2E_SIGNATURE(_mlir_ciface_e2e_cpu);
SP_E2E_SIGNATURE(_mlir_ciface_e2e_cuda);
}

namespace {
/// A host buffer of `rows x columns` elements of `width` bytes.
struct Buffer {
  std::vector<char> bytes;
  int64_t rows, columns;
  size_t width;
  Buffer(int64_t rows, int64_t columns, size_t width)
      : bytes(size_t(rows * columns) * width), rows(rows), columns(columns),
        width(width) {}
  MemRef<2> view2() {
    return {bytes.data(), bytes.data(), 0, {rows, columns}, {columns, 1}};
  }
  MemRef<1> view1() {
    return {bytes.data(), bytes.data(), 0, {rows * columns}, {1}};
  }
};

enum class Kind { F32, F16, BF16, FP8 };

/// Uniform values in [-1, 1) rounded to `kind` (a small LCG: reproducible).
void fill(Buffer &b, Kind kind, uint64_t seed) {
  uint64_t state = seed * 6364136223846793005ull + 1442695040888963407ull;
  int64_t n = b.rows * b.columns;
  for (int64_t i = 0; i < n; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    float v = float((state >> 40) & 0xFFFFFF) / float(1 << 23) - 1.0f;
    if (kind == Kind::F32) {
      std::memcpy(&b.bytes[4 * i], &v, 4);
    } else {
      uint16_t h = kind == Kind::F16 ? floatToF16(v) : floatToBF16(v);
      std::memcpy(&b.bytes[2 * i], &h, 2);
    }
  }
}

/// Float bits as sign-magnitude integers: distance = ulps apart.
int64_t ordered(uint64_t bits, size_t width) {
  uint64_t sign = uint64_t(1) << (8 * width - 1);
  return bits & sign ? -int64_t(bits & (sign - 1)) : int64_t(bits);
}

uint64_t load(const MemRef<2> &m, int64_t i, int64_t j, size_t width) {
  const char *base = static_cast<const char *>(m.aligned);
  uint64_t v = 0;
  std::memcpy(&v, base + (m.offset + i * m.strides[0] + j * m.strides[1]) * width,
              width);
  return v;
}

struct Args {
  Buffer x{4096, 4096, 2}, r{4096, 4096, 2}, w{1, 4096, 2}, s{1, 1, 4},
      x32{1024, 8192, 4}, w32{1, 8192, 4}, h{512, 16384, 2}, hr{512, 16384, 2},
      wh{1, 16384, 2};
  MemRef<2> vx, vr, vx32, vh, vhr;
  MemRef<1> vw, vw32, vwh;
  Scalar vs;
  Args() {
    fill(x, Kind::BF16, 1);
    fill(r, Kind::BF16, 2);
    fill(w, Kind::BF16, 3);
    fill(x32, Kind::F32, 4);
    fill(w32, Kind::F32, 5);
    fill(h, Kind::F16, 6);
    fill(hr, Kind::F16, 7);
    fill(wh, Kind::F16, 8);
    float scale = 1.0f / 64.0f;
    std::memcpy(s.bytes.data(), &scale, 4);
    vx = x.view2(), vr = r.view2(), vx32 = x32.view2(), vh = h.view2(),
    vhr = hr.view2();
    vw = w.view1(), vw32 = w32.view1(), vwh = wh.view1();
    vs = {s.bytes.data(), s.bytes.data(), 0};
  }
  void call(SP_E2E_SIGNATURE((*function)), Results &results) {
    function(&results, &vx, &vr, &vw, &vs, &vx32, &vw32, &vh, &vhr, &vwh);
  }
};

void release(Results &results) {
  std::set<void *> freed;
  for (MemRef<2> &m : results.outputs)
    if (freed.insert(m.allocated).second)
      std::free(m.allocated);
}
} // namespace

int main() {
  Args args;
  Results cpu{}, cuda{};
  args.call(_mlir_ciface_e2e_cpu, cpu);
  auto start = std::chrono::steady_clock::now();
  args.call(_mlir_ciface_e2e_cuda, cuda);
  double first = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const char *names[kOutputs] = {"rms_norm bf16",      "quant(norm) fp8",
                                 "fused residual bf16", "fused+quant fp8",
                                 "reduce_scatter d1",  "all_gather d1 fp8",
                                 "all_reduce bf16",    "rms_norm f32",
                                 "fused norm f16",     "fused residual f16"};
  const size_t widths[kOutputs] = {2, 1, 2, 1, 2, 1, 2, 4, 2, 2};
  const bool exact[kOutputs] = {false, false, true, false, true,
                                false, true,  false, false, true};
  bool ok = true;
  std::printf("%-3s %-20s %10s %10s %9s  bound\n", "out", "what", "elements",
              "differ", "max ulps");
  for (int k = 0; k < kOutputs; ++k) {
    const MemRef<2> &a = cpu.outputs[k], &b = cuda.outputs[k];
    if (a.sizes[0] != b.sizes[0] || a.sizes[1] != b.sizes[1]) {
      std::printf("%-3d %-20s shape mismatch\n", k, names[k]);
      ok = false;
      continue;
    }
    int64_t differ = 0, worst = 0;
    for (int64_t i = 0; i < a.sizes[0]; ++i)
      for (int64_t j = 0; j < a.sizes[1]; ++j) {
        int64_t d = std::llabs(ordered(load(a, i, j, widths[k]), widths[k]) -
                               ordered(load(b, i, j, widths[k]), widths[k]));
        differ += d != 0;
        worst = std::max(worst, d);
      }
    int bound = exact[k] ? 0 : 1;
    bool good = worst <= bound;
    ok &= good;
    std::printf("%-3d %-20s %10lld %10lld %9lld  <= %d%s\n", k, names[k],
                (long long)(a.sizes[0] * a.sizes[1]), (long long)differ,
                (long long)worst, bound, good ? "" : "  FAIL");
  }
  release(cpu);
  release(cuda);

  // Wall time of the lowered module per call (includes the staging of this
  // driver's host buffers: not a kernel timing).
  std::vector<double> times;
  for (int i = 0; i < 5; ++i) {
    Results again{};
    auto t0 = std::chrono::steady_clock::now();
    args.call(_mlir_ciface_e2e_cuda, again);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    release(again);
  }
  std::sort(times.begin(), times.end());
  std::printf("e2e_cuda wall time: first call %.1f ms, median of 5 %.1f ms "
              "(host buffers staged)\n",
              first * 1e3, times[2] * 1e3);
  std::printf("%s\n", ok ? "outputs agree" : "outputs DIFFER beyond the bounds");
  return ok ? 0 : 1;
}
