//===- check.cu - sp's CUDA kernels against the C++ reference, and speed --===//
//
// Built and run by bench/gpu/check.sh on a machine with an NVIDIA GPU.
//
//   sp-gpu-check [--quick] [--verify-only] [--bench-only] [--dry-run]
//   sp-gpu-check --kernel-set    (prints the set SP_CUDA_KERNELS selects)
//
//  1. Verification, bit for bit, of every kernel set (Kernels.h: reference,
//     fast, fast-software-fp8) against include/sp/Runtime/Numerics.h with
//     the kernels' summation order (runtime/cuda/KernelOrder.h):
//     - random rows (f32/f16/bf16; hidden 4096, 8192, 16384, 24576, 1000,
//       1001; 1 to 33 rows; values that saturate FP8 included), every
//       buffer 16-byte aligned and every buffer offset by one element: the
//       norm, the fused norm and its residual, norm + quant, fused + quant;
//     - every bf16 and f16 bit pattern through the norms' per-element steps:
//       as activations (rows of 256 patterns, fused and not, with quant) and
//       as weights (a row of all 65536 patterns);
//     - sp_cuda_quant on every bf16 and f16 pattern, and on f32 values:
//       every fp8 code's value, the midpoints between codes and their f32
//       neighbours, the clamp bounds, infinities, NaNs, -0, f32 subnormals,
//       random bit patterns; both formats, several scales, aligned and not;
//     - the fast set's outputs do not depend on the buffers' alignment;
//     - the collective matmuls' kernels (sum of partials bitwise against
//       Numerics.h's combine, byte transposition and f32 rounding exact).
//     NaN activations compare by NaN-ness (Numerics.h leaves the payload of
//     a computed NaN unspecified); fp8 codes compare exactly.
//  2. Measurement: a device-to-device copy, then every kernel of the
//     reference and fast sets side by side (bf16/f16/f32, hidden
//     4096/8192/16384, rows 1..32768) on random inputs (1% of them beyond
//     the FP8 range), each launch on the next of enough buffer sets to
//     cover 4x the L2 cache (no run reads the previous run's data from L2),
//     replayed from a CUDA graph (launch overhead excluded also for small
//     row counts); bandwidth as a fraction of the copy's.
//
// --dry-run runs without a GPU what does not need one: the host side of
// every verification case (inputs and expected outputs for every kernel
// set), and checks of the reference model itself (see dryRunChecks).
// Exit status 0 when every check passes; 2 without a usable device.
//
//===----------------------------------------------------------------------===//

#include "FP8Convert.h"
#include "KernelOrder.h"
#include "Kernels.h"
#include "sp/Runtime/Numerics.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace mlir::sp::numerics;

#define CHECK_CUDA(call)                                                       \
  do {                                                                         \
    cudaError_t e_ = static_cast<cudaError_t>(call);                           \
    if (e_ != cudaSuccess) {                                                   \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__,       \
                   #call, cudaGetErrorString(e_));                             \
      std::exit(2);                                                            \
    }                                                                          \
  } while (0)

namespace {

bool dryRun = false;
int failures = 0;
int64_t casesRun = 0, elementsChecked = 0;

void expect(bool ok, const std::string &what) {
  if (!ok) {
    ++failures;
    std::printf("  FAIL: %s\n", what.c_str());
  }
}

const char *name(int dtype) {
  return dtype == SP_CUDA_F32 ? "f32" : dtype == SP_CUDA_F16 ? "f16" : "bf16";
}
const char *setName(int set) {
  return set == SP_CUDA_KERNELS_REFERENCE ? "reference"
         : set == SP_CUDA_KERNELS_FAST    ? "fast"
                                          : "fast-software-fp8";
}
const int kAllSets[] = {SP_CUDA_KERNELS_REFERENCE, SP_CUDA_KERNELS_FAST,
                        SP_CUDA_KERNELS_FAST_SOFTWARE_FP8};
ElementKind kindOf(int dtype) {
  return dtype == SP_CUDA_F32   ? ElementKind::F32
         : dtype == SP_CUDA_F16 ? ElementKind::F16
                                : ElementKind::BF16;
}
FP8Kind fp8Of(int fp8) {
  return fp8 == SP_CUDA_E4M3FNUZ ? FP8Kind::E4M3FNUZ : FP8Kind::E4M3FN;
}
size_t bytesOf(int dtype) { return dtype == SP_CUDA_F32 ? 4 : 2; }

/// Host buffer of raw element bits.
struct Host {
  int dtype;
  std::vector<uint32_t> bits;
  std::vector<uint8_t> raw() const {
    std::vector<uint8_t> out(bits.size() * bytesOf(dtype));
    for (size_t i = 0; i < bits.size(); ++i)
      std::memcpy(&out[i * bytesOf(dtype)], &bits[i], bytesOf(dtype));
    return out;
  }
  static Host fromRaw(int dtype, const std::vector<uint8_t> &raw) {
    Host h{dtype, std::vector<uint32_t>(raw.size() / bytesOf(dtype))};
    for (size_t i = 0; i < h.bits.size(); ++i)
      std::memcpy(&h.bits[i], &raw[i * bytesOf(dtype)], bytesOf(dtype));
    return h;
  }
};

/// Normal(0, scale) values, one in 100 multiplied by 1000 (beyond the FP8
/// range after any of the scales used here).
Host randomHost(int dtype, size_t n, float scale, std::mt19937 &rng) {
  std::normal_distribution<float> normal(0.0f, scale);
  Host h{dtype, std::vector<uint32_t>(n)};
  for (auto &b : h.bits) {
    float v = normal(rng);
    if (rng() % 100 == 0)
      v *= 1000.0f;
    b = fromFloat(v, kindOf(dtype));
  }
  return h;
}

/// Device memory with an optional byte offset (misaligned views).
struct Device {
  void *base = nullptr;
  size_t offset = 0;
  Device(size_t bytes, size_t offset = 0) : offset(offset) {
    if (!dryRun)
      CHECK_CUDA(cudaMalloc(&base, bytes + offset + 16));
  }
  ~Device() {
    if (base)
      cudaFree(base);
  }
  Device(const Device &) = delete;
  Device &operator=(const Device &) = delete;
  void *ptr() const { return static_cast<char *>(base) + offset; }
  template <typename T> T *as() const { return static_cast<T *>(ptr()); }
};

void upload(Device &d, const std::vector<uint8_t> &raw) {
  CHECK_CUDA(cudaMemcpy(d.ptr(), raw.data(), raw.size(), cudaMemcpyHostToDevice));
}
std::vector<uint8_t> download(const Device &d, size_t bytes) {
  std::vector<uint8_t> raw(bytes);
  CHECK_CUDA(cudaMemcpy(raw.data(), d.ptr(), bytes, cudaMemcpyDeviceToHost));
  return raw;
}

bool sameValue(uint32_t a, uint32_t b, ElementKind kind) {
  return a == b || (std::isnan(toFloat(a, kind)) && std::isnan(toFloat(b, kind)));
}

/// Compares element by element; reports the first difference.
template <typename Same>
bool compare(const std::string &what, size_t n, Same same,
             std::function<std::string(size_t)> describe) {
  elementsChecked += n;
  for (size_t i = 0; i < n; ++i)
    if (!same(i)) {
      expect(false, what + ": first difference at element " +
                        std::to_string(i) + " (" + describe(i) + ")");
      return false;
    }
  return true;
}

std::string hex(uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%X", v);
  return text;
}

//===----------------------------------------------------------------------===//
// Norms
//===----------------------------------------------------------------------===//

struct NormCase {
  std::string label;
  int dtype;
  int64_t rows, hidden;
  int fp8;
  float epsilon, scale;
  Host x, r, w;
};

struct NormExpected {
  std::vector<uint32_t> norm, fusedOut, fusedRes;
  std::vector<uint8_t> qNorm, qFused;
};

NormExpected expectedNorm(const NormCase &c, int threads, int width) {
  NormExpected e;
  size_t n = c.rows * c.hidden;
  ElementKind kind = kindOf(c.dtype);
  e.norm.resize(n), e.fusedOut.resize(n), e.fusedRes.resize(n);
  e.qNorm.resize(n), e.qFused.resize(n);
  for (int64_t row = 0; row < c.rows; ++row) {
    size_t at = row * c.hidden;
    sp_kernel_order::rmsNormRowGPU(&c.x.bits[at], c.w.bits.data(), c.hidden,
                                   c.epsilon, kind, threads, width,
                                   &e.norm[at]);
    sp_kernel_order::fusedAddRMSNormRowGPU(
        &c.x.bits[at], &c.r.bits[at], c.w.bits.data(), c.hidden, c.epsilon,
        kind, threads, width, &e.fusedOut[at], &e.fusedRes[at]);
  }
  for (size_t i = 0; i < n; ++i) {
    e.qNorm[i] = quantFP8(toFloat(e.norm[i], kind), c.scale, fp8Of(c.fp8));
    e.qFused[i] = quantFP8(toFloat(e.fusedOut[i], kind), c.scale, fp8Of(c.fp8));
  }
  return e;
}

struct NormOutputs {
  Host norm, fusedOut, fusedRes, fusedRes2;
  std::vector<uint8_t> qNorm, qFused;
};

/// The four norm kernels of the selected set on `c`; every buffer offset by
/// one element (q by one byte) when !aligned.
NormOutputs runNorm(const NormCase &c, bool aligned) {
  size_t n = c.rows * c.hidden, eb = bytesOf(c.dtype);
  size_t off = aligned ? 0 : eb, qOff = aligned ? 0 : 1;
  Device dx(n * eb, off), dr(n * eb, off), dw(c.hidden * eb, off), ds(4),
      norm(n * eb, off), out(n * eb, off), res(n * eb, off), res2(n * eb, off),
      q1(n, qOff), q2(n, qOff);
  upload(dx, c.x.raw());
  upload(dr, c.r.raw());
  upload(dw, c.w.raw());
  CHECK_CUDA(cudaMemcpy(ds.ptr(), &c.scale, 4, cudaMemcpyHostToDevice));
  float eps = c.epsilon;
  CHECK_CUDA(sp_cuda_rms_norm(c.dtype, norm.ptr(), dx.ptr(), dw.ptr(), c.rows,
                              c.hidden, eps, 0));
  CHECK_CUDA(sp_cuda_fused_add_rms_norm(c.dtype, out.ptr(), res.ptr(),
                                        dx.ptr(), dr.ptr(), dw.ptr(), c.rows,
                                        c.hidden, eps, 0));
  CHECK_CUDA(sp_cuda_rms_norm_quant(c.dtype, c.fp8, q1.as<uint8_t>(), dx.ptr(),
                                    dw.ptr(), ds.as<float>(), c.rows, c.hidden,
                                    eps, 0));
  CHECK_CUDA(sp_cuda_fused_add_rms_norm_quant(
      c.dtype, c.fp8, q2.as<uint8_t>(), res2.ptr(), dx.ptr(), dr.ptr(),
      dw.ptr(), ds.as<float>(), c.rows, c.hidden, eps, 0));
  CHECK_CUDA(cudaDeviceSynchronize());
  NormOutputs o;
  o.norm = Host::fromRaw(c.dtype, download(norm, n * eb));
  o.fusedOut = Host::fromRaw(c.dtype, download(out, n * eb));
  o.fusedRes = Host::fromRaw(c.dtype, download(res, n * eb));
  o.fusedRes2 = Host::fromRaw(c.dtype, download(res2, n * eb));
  o.qNorm = download(q1, n);
  o.qFused = download(q2, n);
  return o;
}

void checkNormCase(const NormCase &c) {
  ElementKind kind = kindOf(c.dtype);
  size_t n = c.rows * c.hidden;
  for (int set : kAllSets) {
    CHECK_CUDA(sp_cuda_select_kernels(set));
    NormOutputs alignedRun;
    for (bool aligned : {true, false}) {
      int threads = 0, width = 0;
      CHECK_CUDA(sp_cuda_norm_order(c.dtype, c.hidden, aligned, &threads,
                                    &width));
      NormExpected e = expectedNorm(c, threads, width);
      ++casesRun;
      if (dryRun)
        continue;
      NormOutputs o = runNorm(c, aligned);
      std::string where = std::string(setName(set)) + " " + c.label +
                          (aligned ? "" : " (misaligned)") + ": ";
      // The returned lambdas hold pointers to the compared vectors (which
      // outlive the comparisons), not references to these parameters.
      auto act = [kind](const std::vector<uint32_t> &got,
                        const std::vector<uint32_t> &want) {
        return [kind, g = &got, w = &want](size_t i) {
          return sameValue((*g)[i], (*w)[i], kind);
        };
      };
      auto show = [&c](const std::vector<uint32_t> &got,
                       const std::vector<uint32_t> &want) {
        return [&c, g = &got, w = &want](size_t i) {
          return "gpu " + hex((*g)[i]) + ", reference " + hex((*w)[i]) +
                 ", x " + hex(c.x.bits[i]);
        };
      };
      auto showQ = [](const std::vector<uint8_t> &got,
                      const std::vector<uint8_t> &want) {
        return [g = &got, w = &want](size_t i) {
          return "gpu " + hex((*g)[i]) + ", reference " + hex((*w)[i]);
        };
      };
      bool ok = true;
      ok &= compare(where + "rms_norm", n, act(o.norm.bits, e.norm),
                    show(o.norm.bits, e.norm));
      ok &= compare(where + "fused_add_rms_norm", n,
                    act(o.fusedOut.bits, e.fusedOut),
                    show(o.fusedOut.bits, e.fusedOut));
      ok &= compare(where + "fused residual", n,
                    act(o.fusedRes.bits, e.fusedRes),
                    show(o.fusedRes.bits, e.fusedRes));
      ok &= compare(where + "fused+quant residual", n,
                    act(o.fusedRes2.bits, e.fusedRes),
                    show(o.fusedRes2.bits, e.fusedRes));
      ok &= compare(
          where + "rms_norm+quant", n,
          [&](size_t i) { return o.qNorm[i] == e.qNorm[i]; },
          showQ(o.qNorm, e.qNorm));
      ok &= compare(
          where + "fused_add+rms_norm+quant", n,
          [&](size_t i) { return o.qFused[i] == e.qFused[i]; },
          showQ(o.qFused, e.qFused));
      if (set != SP_CUDA_KERNELS_REFERENCE) {
        // One mapping whatever the alignment: the same bits.
        if (aligned)
          alignedRun = o;
        else
          expect(o.norm.bits == alignedRun.norm.bits &&
                     o.fusedOut.bits == alignedRun.fusedOut.bits &&
                     o.qNorm == alignedRun.qNorm &&
                     o.qFused == alignedRun.qFused,
                 where + "outputs depend on the buffers' alignment");
      }
      std::printf("%-18s %-40s %s\n", setName(set),
                  (c.label + (aligned ? "" : " misaligned")).c_str(),
                  ok ? "bitwise" : "DIFFERENT");
    }
  }
}

NormCase randomNormCase(int dtype, int64_t rows, int64_t hidden, int fp8,
                        float scale) {
  std::mt19937 rng(rows * 131 + hidden * 7 + dtype * 3 + fp8);
  NormCase c{"", dtype, rows, hidden, fp8, 1e-5f, scale, {}, {}, {}};
  c.x = randomHost(dtype, rows * hidden, 2.0f, rng);
  c.r = randomHost(dtype, rows * hidden, 1.0f, rng);
  c.w = randomHost(dtype, hidden, 1.0f, rng);
  c.label = std::string(name(dtype)) + " " + std::to_string(rows) + "x" +
            std::to_string(hidden) +
            (fp8 == SP_CUDA_E4M3FNUZ ? " fnuz" : " fn");
  return c;
}

/// Every 16-bit pattern as an activation: rows of the 256 patterns sharing
/// a high byte (NaN/inf rows give NaN rows, overflowing rows zeros: both
/// compared like the rest).
NormCase patternRowsCase(int dtype, int fp8) {
  std::mt19937 rng(dtype * 17 + fp8);
  NormCase c{std::string(name(dtype)) + " all patterns as x", dtype, 256, 256,
             fp8, 1e-6f, 0.05f, {}, {}, {}};
  c.x = Host{dtype, std::vector<uint32_t>(65536)};
  for (uint32_t i = 0; i < 65536; ++i)
    c.x.bits[i] = i;
  c.r = randomHost(dtype, 65536, 0.5f, rng);
  c.w = randomHost(dtype, 256, 1.0f, rng);
  return c;
}

/// Every 16-bit pattern as a weight: one row of all 65536 patterns against
/// x = 1 and against random x.
NormCase patternWeightCase(int dtype, int fp8) {
  std::mt19937 rng(dtype * 19 + fp8);
  NormCase c{std::string(name(dtype)) + " all patterns as w", dtype, 2, 65536,
             fp8, 1e-6f, 0.01f, {}, {}, {}};
  c.x = randomHost(dtype, 2 * 65536, 1.0f, rng);
  for (int64_t i = 0; i < 65536; ++i)
    c.x.bits[i] = fromFloat(1.0f, kindOf(dtype));
  c.r = randomHost(dtype, 2 * 65536, 0.25f, rng);
  c.w = Host{dtype, std::vector<uint32_t>(65536)};
  for (uint32_t i = 0; i < 65536; ++i)
    c.w.bits[i] = i;
  return c;
}

//===----------------------------------------------------------------------===//
// Quant
//===----------------------------------------------------------------------===//

/// f32 inputs for quant: every fp8 code's value (both formats), the
/// midpoints between neighbouring codes and the f32 values next to them,
/// the clamp bounds, specials, then random bit patterns.
std::vector<float> quantF32Values(std::mt19937 &rng, size_t randomCount) {
  std::vector<float> v;
  for (FP8Kind kind : {FP8Kind::E4M3FN, FP8Kind::E4M3FNUZ}) {
    std::vector<float> codes;
    for (int c = 0; c < 256; ++c) {
      float f = fp8ToFloat(uint8_t(c), kind);
      v.push_back(f);
      if (!std::isnan(f) && f >= 0)
        codes.push_back(f);
    }
    std::sort(codes.begin(), codes.end());
    for (size_t i = 0; i + 1 < codes.size(); ++i) {
      float mid = 0.5f * (codes[i] + codes[i + 1]); // exact
      for (float m : {mid, std::nextafter(mid, 0.0f),
                      std::nextafter(mid, 1e9f)}) {
        v.push_back(m);
        v.push_back(-m);
      }
    }
  }
  for (float f : {0.0f, -0.0f, 224.0f, 232.0f, 240.0f, 248.0f, 448.0f, 464.0f,
                  480.0f, 1e30f, 3.4e38f, 1e-45f, -1e-45f, 1e-40f, -1e-40f,
                  1.17549435e-38f, std::numeric_limits<float>::infinity(),
                  -std::numeric_limits<float>::infinity(),
                  std::numeric_limits<float>::quiet_NaN(),
                  -std::numeric_limits<float>::quiet_NaN(),
                  floatOf(0x7F800001u), floatOf(0xFFFFFFFFu)}) {
    v.push_back(f);
    v.push_back(-f);
  }
  for (size_t i = 0; i < randomCount; ++i)
    v.push_back(floatOf(uint32_t(rng())));
  return v;
}

void checkQuant(int dtype, const Host &x, const std::string &label) {
  ElementKind kind = kindOf(dtype);
  size_t n = x.bits.size(), eb = bytesOf(dtype);
  for (int set : kAllSets) {
    CHECK_CUDA(sp_cuda_select_kernels(set));
    for (int fp8 : {SP_CUDA_E4M3FN, SP_CUDA_E4M3FNUZ})
      for (float scale : {1.0f, 0.5f, 0.0123f, 1.0f / 448.0f, 3.5f, 1e-3f}) {
        std::vector<uint8_t> want(n);
        for (size_t i = 0; i < n; ++i)
          want[i] = quantFP8(toFloat(x.bits[i], kind), scale, fp8Of(fp8));
        for (bool aligned : {true, false}) {
          ++casesRun;
          if (dryRun)
            continue;
          Device dx(n * eb, aligned ? 0 : eb), dq(n, aligned ? 0 : 1), ds(4);
          upload(dx, x.raw());
          CHECK_CUDA(cudaMemcpy(ds.ptr(), &scale, 4, cudaMemcpyHostToDevice));
          CHECK_CUDA(sp_cuda_quant(dtype, fp8, dq.as<uint8_t>(), dx.ptr(),
                                   ds.as<float>(), n, 0));
          CHECK_CUDA(cudaDeviceSynchronize());
          std::vector<uint8_t> got = download(dq, n);
          compare(std::string(setName(set)) + " quant " + label + " " +
                      (fp8 == SP_CUDA_E4M3FNUZ ? "fnuz" : "fn") +
                      " scale " + std::to_string(scale) +
                      (aligned ? "" : " misaligned"),
                  n, [&](size_t i) { return got[i] == want[i]; },
                  [&](size_t i) {
                    return "x " + hex(x.bits[i]) + ": gpu " + hex(got[i]) +
                           ", reference " + hex(want[i]);
                  });
        }
      }
    std::printf("%-18s quant %-34s %s\n", setName(set), label.c_str(),
                dryRun ? "prepared" : "checked");
  }
}

//===----------------------------------------------------------------------===//
// The collective matmuls' kernels
//===----------------------------------------------------------------------===//

/// The sum of partials bitwise against Numerics.h's combine (rank order,
/// f32, one rounding), the byte transposition and the f32 rounding exactly.
void checkCollectiveMatmulKernels(int dtype, int64_t ranks, int64_t count) {
  if (dryRun)
    return;
  std::mt19937 rng(ranks * 977 + count + dtype);
  size_t eb = bytesOf(dtype);
  Host partials = randomHost(dtype, size_t(ranks * count), 3.0f, rng);
  Device dPartials(partials.bits.size() * eb), dSum(count * eb);
  upload(dPartials, partials.raw());
  CHECK_CUDA(
      sp_cuda_sum_partials(dtype, dSum.ptr(), dPartials.ptr(), ranks, count, 0));
  std::vector<float> f32(count);
  std::uniform_real_distribution<float> uniform(-70000.0f, 70000.0f);
  for (float &v : f32)
    v = uniform(rng) * std::ldexp(1.0f, int(rng() % 40) - 20);
  Device dF32(count * 4), dRounded(count * eb);
  CHECK_CUDA(
      cudaMemcpy(dF32.ptr(), f32.data(), count * 4, cudaMemcpyHostToDevice));
  CHECK_CUDA(
      sp_cuda_round_f32(dtype, dRounded.ptr(), dF32.as<float>(), count, 0));
  int64_t rows = 1 + count % 97, cols = count / rows;
  std::vector<uint8_t> bytes(size_t(rows * cols));
  for (uint8_t &b : bytes)
    b = uint8_t(rng());
  Device dBytes(bytes.size()), dTransposed(bytes.size());
  upload(dBytes, bytes);
  CHECK_CUDA(sp_cuda_transpose_bytes(dTransposed.as<uint8_t>(),
                                     dBytes.as<uint8_t>(), rows, cols, 0));
  CHECK_CUDA(cudaDeviceSynchronize());
  Host sum = Host::fromRaw(dtype, download(dSum, count * eb));
  Host rounded = Host::fromRaw(dtype, download(dRounded, count * eb));
  std::vector<uint8_t> transposed = download(dTransposed, bytes.size());
  bool sumExact = true, roundExact = true, transposeExact = true;
  std::vector<float> contributions(ranks);
  for (int64_t i = 0; i < count; ++i) {
    for (int64_t r = 0; r < ranks; ++r)
      contributions[r] = toFloat(partials.bits[r * count + i], kindOf(dtype));
    sumExact &= sum.bits[i] ==
                fromFloat(combine(contributions.data(), ranks, Reduction::Sum),
                          kindOf(dtype));
    roundExact &= rounded.bits[i] == fromFloat(f32[i], kindOf(dtype));
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      transposeExact &= transposed[c * rows + r] == bytes[r * cols + c];
  std::printf(
      "%-5s sum of %lld partials, rounding, transpose %lld x %lld: %s\n",
      name(dtype), (long long)ranks, (long long)rows, (long long)cols,
      sumExact && roundExact && transposeExact ? "ok" : "FAILED");
  expect(sumExact,
         "sum of partials bitwise equal to the reference (rank order, f32)");
  expect(roundExact, "f32 rounding bitwise equal to the reference");
  expect(transposeExact, "byte transposition exact");
}

//===----------------------------------------------------------------------===//
// Checks of the reference side itself (no GPU needed)
//===----------------------------------------------------------------------===//

void dryRunChecks() {
  // The kernels' order model is Numerics.h's row function when the order
  // cannot matter: small integers, whose sums of squares are exact.
  std::mt19937 rng(7);
  for (int dtype : {SP_CUDA_BF16, SP_CUDA_F16, SP_CUDA_F32})
    for (int64_t hidden : {1000, 1001, 4096}) {
      ElementKind kind = kindOf(dtype);
      std::vector<uint32_t> x(hidden), w(hidden), a(hidden), b(hidden);
      for (int64_t i = 0; i < hidden; ++i) {
        x[i] = fromFloat(float(int(rng() % 15) - 7), kind);
        w[i] = fromFloat(std::normal_distribution<float>()(rng), kind);
      }
      rmsNormRow(x.data(), w.data(), hidden, 1e-5f, kind, a.data());
      for (int threads : {32, 128, 1024})
        for (int width : {1, 4, 8}) {
          sp_kernel_order::rmsNormRowGPU(x.data(), w.data(), hidden, 1e-5f,
                                         kind, threads, width, b.data());
          expect(a == b, "model == Numerics.h on exact sums, " +
                             std::string(name(dtype)) + " hidden " +
                             std::to_string(hidden));
        }
    }
  // The fast kernels' FP8 paths, on the host: the branch-free software
  // conversion, and the fnuz-from-doubled-e4m3fn identity the hardware path
  // relies on, against Numerics.h over every f32 in the clamp range whose
  // low 8 bits are zero (the unit tests sample differently; an exhaustive
  // run over all 2^32 inputs agreed when this was written).
  int64_t bad = 0, count = 0;
  for (uint64_t u = 0; u < (1ull << 32); u += 256) {
    float f = floatOf(uint32_t(u) | uint32_t(rng() & 0xFF));
    if (std::isnan(f))
      continue;
    float a = std::fabs(f);
    if (a <= 448.0f) {
      ++count;
      bad += sp_fp8::softwareFP8<false>(f) != floatToFP8(f, FP8Kind::E4M3FN);
    }
    if (a <= 240.0f)
      bad += sp_fp8::softwareFP8<true>(f) != floatToFP8(f, FP8Kind::E4M3FNUZ);
    if (a <= 224.0f)
      bad += sp_fp8::fnuzFromDoubledFn(floatToFP8(2.0f * f, FP8Kind::E4M3FN)) !=
             floatToFP8(f, FP8Kind::E4M3FNUZ);
  }
  std::printf("host: software FP8 and the fnuz identity on %lld f32 values: "
              "%lld differences\n",
              (long long)count, (long long)bad);
  expect(bad == 0, "software FP8 conversion == Numerics.h floatToFP8");
  // Every fp8 code is produced by the quant inputs (except 0xFF and the
  // fnuz 0x80-as-negative-zero, which sp.quant never yields).
  std::mt19937 rng2(11);
  std::vector<float> values = quantF32Values(rng2, 0);
  for (FP8Kind kind : {FP8Kind::E4M3FN, FP8Kind::E4M3FNUZ}) {
    bool seen[256] = {};
    for (float v : values)
      seen[quantFP8(v, 1.0f, kind)] = true;
    // Never produced: e4m3fn's 0xFF (a NaN gives 0x7F), e4m3fnuz's +-240
    // (0x7F, 0xFF: the quant clamps to +-224).
    std::string missing;
    for (int c = 0; c < 256; ++c)
      if (!seen[c] && !(kind == FP8Kind::E4M3FN ? c == 0xFF
                                                : (c & 0x7F) == 0x7F))
        missing += " " + hex(c);
    expect(missing.empty(),
           "every fp8 code among the quant inputs' results; missing:" +
               missing);
  }
}

//===----------------------------------------------------------------------===//
// Measurement
//===----------------------------------------------------------------------===//

/// Random T values on the device: a hash of the index, uniform in
/// [-4, 4], one in 128 multiplied by 256 (beyond the FP8 range).
template <typename T> __global__ void fillRandom(T *out, int64_t n, uint32_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    uint32_t h = uint32_t(i) * 0x9E3779B1u ^ seed;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    h *= 0x297A2D39u;
    h ^= h >> 15;
    float v = (float(h & 0xFFFFFF) / 16777216.0f - 0.5f) * 8.0f;
    if ((h >> 24) == 0)
      v *= 256.0f;
    if constexpr (sizeof(T) == 4)
      out[i] = v;
    else
      out[i] = T(v);
  }
}

void fill(int dtype, void *p, int64_t n, uint32_t seed) {
  if (dtype == SP_CUDA_F32)
    fillRandom<<<1024, 256>>>(static_cast<float *>(p), n, seed);
  else if (dtype == SP_CUDA_F16)
    fillRandom<<<1024, 256>>>(static_cast<__half *>(p), n, seed);
  else
    fillRandom<<<1024, 256>>>(static_cast<__nv_bfloat16 *>(p), n, seed);
  CHECK_CUDA(cudaGetLastError());
}

double copyBandwidth(cudaStream_t s) {
  size_t bytes = size_t(1) << 30;
  Device a(bytes), b(bytes);
  CHECK_CUDA(cudaMemset(a.ptr(), 1, bytes));
  cudaEvent_t start, stop;
  CHECK_CUDA(cudaEventCreate(&start));
  CHECK_CUDA(cudaEventCreate(&stop));
  CHECK_CUDA(cudaMemcpyAsync(b.ptr(), a.ptr(), bytes, cudaMemcpyDeviceToDevice, s));
  CHECK_CUDA(cudaEventRecord(start, s));
  for (int i = 0; i < 10; ++i)
    CHECK_CUDA(cudaMemcpyAsync(b.ptr(), a.ptr(), bytes,
                               cudaMemcpyDeviceToDevice, s));
  CHECK_CUDA(cudaEventRecord(stop, s));
  CHECK_CUDA(cudaEventSynchronize(stop));
  float ms = 0;
  CHECK_CUDA(cudaEventElapsedTime(&ms, start, stop));
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return 2.0 * bytes * 10 / (ms * 1e-3) / 1e9; // read + write
}

/// Seconds per launch: `launch(i, s)` for buffer sets i = 0..sets-1
/// captured into one graph, replayed until about 20 ms have run.
double timeGraph(int sets, cudaStream_t s,
                 const std::function<int(int, cudaStream_t)> &launch) {
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CHECK_CUDA(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  for (int i = 0; i < sets; ++i)
    CHECK_CUDA(launch(i, s));
  CHECK_CUDA(cudaStreamEndCapture(s, &graph));
  CHECK_CUDA(cudaGraphInstantiate(&exec, graph, 0));
  cudaEvent_t start, stop;
  CHECK_CUDA(cudaEventCreate(&start));
  CHECK_CUDA(cudaEventCreate(&stop));
  CHECK_CUDA(cudaGraphLaunch(exec, s)); // warm-up
  CHECK_CUDA(cudaEventRecord(start, s));
  CHECK_CUDA(cudaGraphLaunch(exec, s));
  CHECK_CUDA(cudaEventRecord(stop, s));
  CHECK_CUDA(cudaEventSynchronize(stop));
  float once = 0;
  CHECK_CUDA(cudaEventElapsedTime(&once, start, stop));
  int replays = std::max(3, std::min(1000, int(20.0f / std::max(once, 1e-3f))));
  CHECK_CUDA(cudaEventRecord(start, s));
  for (int i = 0; i < replays; ++i)
    CHECK_CUDA(cudaGraphLaunch(exec, s));
  CHECK_CUDA(cudaEventRecord(stop, s));
  CHECK_CUDA(cudaEventSynchronize(stop));
  float ms = 0;
  CHECK_CUDA(cudaEventElapsedTime(&ms, start, stop));
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  CHECK_CUDA(cudaGraphExecDestroy(exec));
  CHECK_CUDA(cudaGraphDestroy(graph));
  return ms * 1e-3 / (double(replays) * sets);
}

void bandwidth(bool quick) {
  cudaStream_t s;
  CHECK_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  cudaDeviceProp prop;
  CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
  double copy = copyBandwidth(s);
  std::printf("\ndevice-to-device copy: %.0f GB/s (read + write), L2 %d MB\n",
              copy, prop.l2CacheSize >> 20);
  std::printf("\n| kernel | dtype | hidden | rows | sets | reference us | "
              "reference %% of copy | fast us | fast %% of copy | fast / "
              "reference time |\n|---|---|---|---|---|---|---|---|---|---|\n");
  std::vector<int64_t> rowCounts = {1, 16, 256, 4096, 32768};
  if (quick)
    rowCounts = {1, 256, 8192};
  for (int dtype : {SP_CUDA_BF16, SP_CUDA_F16, SP_CUDA_F32})
    for (int64_t hidden : {4096, 8192, 16384})
      for (int64_t rows : rowCounts) {
        size_t n = rows * hidden, eb = bytesOf(dtype);
        size_t perSet = 4 * n * eb + n;
        int sets = int(std::min<size_t>(
            64, std::max<size_t>(1, (4 * size_t(prop.l2CacheSize) + perSet - 1) /
                                        perSet)));
        struct Set {
          Device x, r, out, res, q;
          Set(size_t n, size_t eb)
              : x(n * eb), r(n * eb), out(n * eb), res(n * eb), q(n) {}
        };
        std::vector<std::unique_ptr<Set>> bufs;
        for (int i = 0; i < sets; ++i) {
          bufs.emplace_back(new Set(n, eb));
          fill(dtype, bufs.back()->x.ptr(), n, 1 + i);
          fill(dtype, bufs.back()->r.ptr(), n, 1000 + i);
        }
        Device w(hidden * eb), scale(4);
        fill(dtype, w.ptr(), hidden, 77);
        float scaleValue = 0.01f; // |x| > 4.48 saturates
        CHECK_CUDA(cudaMemcpy(scale.ptr(), &scaleValue, 4, cudaMemcpyHostToDevice));
        CHECK_CUDA(cudaDeviceSynchronize());
        float eps = 1e-5f;
        const float *sp = scale.as<float>();
        struct Kernel {
          const char *name;
          double bytes;
          std::function<int(int, cudaStream_t)> launch;
        };
        Kernel kernels[] = {
            {"rms_norm", double(2 * n * eb + hidden * eb),
             [&](int i, cudaStream_t st) {
               Set &b = *bufs[i];
               return sp_cuda_rms_norm(dtype, b.out.ptr(), b.x.ptr(), w.ptr(),
                                       rows, hidden, eps, st);
             }},
            {"fused_add_rms_norm", double(4 * n * eb + hidden * eb),
             [&](int i, cudaStream_t st) {
               Set &b = *bufs[i];
               return sp_cuda_fused_add_rms_norm(dtype, b.out.ptr(), b.res.ptr(),
                                                 b.x.ptr(), b.r.ptr(), w.ptr(),
                                                 rows, hidden, eps, st);
             }},
            {"quant", double(n * eb + n),
             [&](int i, cudaStream_t st) {
               Set &b = *bufs[i];
               return sp_cuda_quant(dtype, SP_CUDA_E4M3FN, b.q.as<uint8_t>(),
                                    b.x.ptr(), sp, n, st);
             }},
            {"rms_norm+quant", double(n * eb + n + hidden * eb),
             [&](int i, cudaStream_t st) {
               Set &b = *bufs[i];
               return sp_cuda_rms_norm_quant(dtype, SP_CUDA_E4M3FN,
                                             b.q.as<uint8_t>(), b.x.ptr(),
                                             w.ptr(), sp, rows, hidden, eps, st);
             }},
            {"fused_add+rms_norm+quant", double(3 * n * eb + n + hidden * eb),
             [&](int i, cudaStream_t st) {
               Set &b = *bufs[i];
               return sp_cuda_fused_add_rms_norm_quant(
                   dtype, SP_CUDA_E4M3FN, b.q.as<uint8_t>(), b.res.ptr(),
                   b.x.ptr(), b.r.ptr(), w.ptr(), sp, rows, hidden, eps, st);
             }},
        };
        for (const Kernel &k : kernels) {
          double seconds[2];
          for (int which = 0; which < 2; ++which) {
            CHECK_CUDA(sp_cuda_select_kernels(which == 0
                                                  ? SP_CUDA_KERNELS_REFERENCE
                                                  : SP_CUDA_KERNELS_FAST));
            seconds[which] = timeGraph(sets, s, k.launch);
          }
          auto percent = [&](double sec) {
            return 100.0 * (k.bytes / sec / 1e9) / copy;
          };
          std::printf("| %s | %s | %lld | %lld | %d | %.2f | %.0f%% | %.2f | "
                      "%.0f%% | %.2f |\n",
                      k.name, name(dtype), (long long)hidden, (long long)rows,
                      sets, seconds[0] * 1e6, percent(seconds[0]),
                      seconds[1] * 1e6, percent(seconds[1]),
                      seconds[1] / seconds[0]);
        }
      }
  CHECK_CUDA(cudaStreamDestroy(s));
}

} // namespace

int main(int argc, char **argv) {
  bool quick = false, verify = true, bench = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick")
      quick = true;
    else if (a == "--dry-run")
      dryRun = true;
    else if (a == "--verify-only")
      bench = false;
    else if (a == "--bench-only")
      verify = false;
    else if (a == "--kernel-set") {
      std::printf("%s\n", setName(sp_cuda_selected_kernels()));
      return 0;
    } else {
      std::fprintf(stderr, "usage: sp-gpu-check [--quick] [--verify-only] "
                           "[--bench-only] [--dry-run] | --kernel-set\n");
      return 2;
    }
  }
  auto start = std::chrono::steady_clock::now();
  std::printf("kernel set of sp's runtime here (SP_CUDA_KERNELS): %s\n",
              setName(sp_cuda_selected_kernels()));
  if (dryRun) {
    std::printf("dry run: the host side only, nothing runs on a GPU\n");
    dryRunChecks();
  } else {
    int devices = 0;
    cudaError_t e = cudaGetDeviceCount(&devices);
    if (e != cudaSuccess || devices == 0) {
      std::fprintf(stderr, "sp-gpu-check: no usable CUDA device (%s)\n",
                   e == cudaSuccess ? "none found" : cudaGetErrorString(e));
      return 2;
    }
    cudaDeviceProp prop;
    CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
    std::printf("device: %s (sm_%d%d)\n\n", prop.name, prop.major, prop.minor);
  }
  if (verify) {
    for (int dtype : {SP_CUDA_BF16, SP_CUDA_F16, SP_CUDA_F32}) {
      for (int64_t hidden : {4096, 8192, 16384, 24576, 1000, 1001})
        for (int64_t rows : {1, 5, 33}) {
          if (quick && rows == 33 && hidden > 8192)
            continue;
          int fp8 = (rows + hidden) % 2 ? SP_CUDA_E4M3FNUZ : SP_CUDA_E4M3FN;
          checkNormCase(
              randomNormCase(dtype, rows, hidden, fp8, rows == 5 ? 0.004f : 0.0123f));
        }
      if (dtype != SP_CUDA_F32)
        for (int fp8 : {SP_CUDA_E4M3FN, SP_CUDA_E4M3FNUZ}) {
          checkNormCase(patternRowsCase(dtype, fp8));
          checkNormCase(patternWeightCase(dtype, fp8));
        }
    }
    for (int dtype : {SP_CUDA_BF16, SP_CUDA_F16}) {
      Host all{dtype, std::vector<uint32_t>(65536 + 3)};
      for (uint32_t i = 0; i < all.bits.size(); ++i)
        all.bits[i] = i & 0xFFFF;
      checkQuant(dtype, all, std::string(name(dtype)) + " every pattern");
    }
    std::mt19937 rng(5);
    std::vector<float> values = quantF32Values(rng, quick ? (1 << 18) : (1 << 22));
    Host f32{SP_CUDA_F32, std::vector<uint32_t>(values.size())};
    for (size_t i = 0; i < values.size(); ++i)
      f32.bits[i] = bitsOf(values[i]);
    checkQuant(SP_CUDA_F32, f32, "f32 codes, midpoints, specials, random");
    for (int dtype : {SP_CUDA_BF16, SP_CUDA_F16, SP_CUDA_F32})
      for (int64_t ranks : {1, 2, 4, 8})
        for (int64_t count : {1, 1000, 65536 + 17})
          checkCollectiveMatmulKernels(dtype, ranks, count);
    double seconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    std::printf("\nverification: %lld cases%s, %lld elements compared, %d "
                "failures (%.0f s)\n",
                (long long)casesRun, dryRun ? " prepared (dry run)" : "",
                (long long)elementsChecked, failures, seconds);
  }
  if (bench && !dryRun)
    bandwidth(quick);
  return failures == 0 ? 0 : 1;
}
