//===- check.cu - sp's CUDA kernels against the C++ reference, and speed --===//
//
// Built and run by bench/gpu/check.sh on a machine with an NVIDIA GPU.
//
//  1. Correctness, on random inputs for f32/f16/bf16 and hidden sizes
//     4096, 8192, 16384 and 1000 (the scalar path):
//     - the norm and fused norm outputs against include/sp/Runtime/Numerics.h
//       (exact except the order of the f32 sum of squares: reported as the
//       largest difference in units of the last place, must be <= 1);
//     - the fused residual (T(x + r)) bitwise against the reference;
//     - every fused kernel bitwise against the unfused sequence on the GPU;
//     - every FP8 output bitwise against the reference quant applied to the
//       GPU's own norm output.
//  2. Bandwidth of every kernel (rows 1..32768, hidden 4096/8192/16384) next
//     to the measured device-to-device copy bandwidth.
//
// Exit status 0 when every check passes.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"
#include "sp/Runtime/Numerics.h"

#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
const char *name(int dtype) {
  return dtype == SP_CUDA_F32 ? "f32" : dtype == SP_CUDA_F16 ? "f16" : "bf16";
}
ElementKind kindOf(int dtype) {
  return dtype == SP_CUDA_F32   ? ElementKind::F32
         : dtype == SP_CUDA_F16 ? ElementKind::F16
                                : ElementKind::BF16;
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

Host randomHost(int dtype, size_t n, float scale, std::mt19937 &rng) {
  std::normal_distribution<float> normal(0.0f, scale);
  Host h{dtype, std::vector<uint32_t>(n)};
  for (auto &b : h.bits)
    b = fromFloat(normal(rng), kindOf(dtype));
  return h;
}

struct Device {
  void *ptr = nullptr;
  size_t bytes = 0;
  explicit Device(size_t bytes) : bytes(bytes) { CHECK_CUDA(cudaMalloc(&ptr, bytes ? bytes : 1)); }
  ~Device() { cudaFree(ptr); }
  template <typename T> T *as() { return static_cast<T *>(ptr); }
};

void upload(Device &d, const std::vector<uint8_t> &raw) {
  CHECK_CUDA(cudaMemcpy(d.ptr, raw.data(), raw.size(), cudaMemcpyHostToDevice));
}
std::vector<uint8_t> download(const Device &d, size_t bytes) {
  std::vector<uint8_t> raw(bytes);
  CHECK_CUDA(cudaMemcpy(raw.data(), d.ptr, bytes, cudaMemcpyDeviceToHost));
  return raw;
}

/// Distance in units of the last place of the activation type.
int64_t ulps(uint32_t a, uint32_t b, int dtype) {
  auto key = [&](uint32_t v) -> int64_t {
    int bits = dtype == SP_CUDA_F32 ? 32 : 16;
    uint32_t sign = 1u << (bits - 1);
    int64_t magnitude = v & (sign - 1);
    return (v & sign) ? -magnitude : magnitude;
  };
  return std::llabs(key(a) - key(b));
}

int failures = 0;
void expect(bool ok, const char *what) {
  if (!ok) {
    ++failures;
    std::printf("  FAIL: %s\n", what);
  }
}

void checkCorrectness(int dtype, int64_t rows, int64_t hidden, int fp8) {
  std::mt19937 rng(rows * 131 + hidden * 7 + dtype);
  size_t n = rows * hidden, eb = bytesOf(dtype);
  Host x = randomHost(dtype, n, 2.0f, rng), r = randomHost(dtype, n, 1.0f, rng),
       w = randomHost(dtype, hidden, 1.0f, rng);
  const float eps = 1e-5f, scale = 0.0123f;
  Device dx(n * eb), dr(n * eb), dw(hidden * eb), dscale(4);
  upload(dx, x.raw());
  upload(dr, r.raw());
  upload(dw, w.raw());
  CHECK_CUDA(cudaMemcpy(dscale.ptr, &scale, 4, cudaMemcpyHostToDevice));
  Device norm(n * eb), fusedOut(n * eb), fusedRes(n * eb), normOfRes(n * eb),
      qNormFused(n), qNorm(n), qFused(n), qFusedSeparate(n);
  CHECK_CUDA(sp_cuda_rms_norm(dtype, norm.ptr, dx.ptr, dw.ptr, rows, hidden, eps, 0));
  CHECK_CUDA(sp_cuda_fused_add_rms_norm(dtype, fusedOut.ptr, fusedRes.ptr, dx.ptr, dr.ptr,
                                        dw.ptr, rows, hidden, eps, 0));
  CHECK_CUDA(sp_cuda_rms_norm(dtype, normOfRes.ptr, fusedRes.ptr, dw.ptr, rows, hidden, eps, 0));
  CHECK_CUDA(sp_cuda_rms_norm_quant(dtype, fp8, qNormFused.as<uint8_t>(), dx.ptr, dw.ptr,
                                    dscale.as<float>(), rows, hidden, eps, 0));
  CHECK_CUDA(sp_cuda_quant(dtype, fp8, qNorm.as<uint8_t>(), norm.ptr, dscale.as<float>(), n, 0));
  Device fusedRes2(n * eb);
  CHECK_CUDA(sp_cuda_fused_add_rms_norm_quant(dtype, fp8, qFused.as<uint8_t>(), fusedRes2.ptr,
                                              dx.ptr, dr.ptr, dw.ptr, dscale.as<float>(),
                                              rows, hidden, eps, 0));
  CHECK_CUDA(sp_cuda_quant(dtype, fp8, qFusedSeparate.as<uint8_t>(), fusedOut.ptr,
                           dscale.as<float>(), n, 0));
  CHECK_CUDA(cudaDeviceSynchronize());

  Host gNorm = Host::fromRaw(dtype, download(norm, n * eb));
  Host gOut = Host::fromRaw(dtype, download(fusedOut, n * eb));
  Host gRes = Host::fromRaw(dtype, download(fusedRes, n * eb));
  Host gNormOfRes = Host::fromRaw(dtype, download(normOfRes, n * eb));
  Host gRes2 = Host::fromRaw(dtype, download(fusedRes2, n * eb));
  auto q1 = download(qNormFused, n), q2 = download(qNorm, n), q3 = download(qFused, n),
       q4 = download(qFusedSeparate, n);

  int64_t maxUlpNorm = 0, maxUlpFused = 0;
  bool residualExact = true, fp8Exact = true;
  std::vector<uint32_t> refNorm(hidden), refOut(hidden), refRes(hidden);
  for (int64_t row = 0; row < rows; ++row) {
    const uint32_t *xr = &x.bits[row * hidden], *rr = &r.bits[row * hidden];
    rmsNormRow(xr, w.bits.data(), hidden, eps, kindOf(dtype), refNorm.data());
    fusedAddRMSNormRow(xr, rr, w.bits.data(), hidden, eps, kindOf(dtype), refOut.data(),
                       refRes.data());
    for (int64_t i = 0; i < hidden; ++i) {
      size_t k = row * hidden + i;
      maxUlpNorm = std::max(maxUlpNorm, ulps(gNorm.bits[k], refNorm[i], dtype));
      maxUlpFused = std::max(maxUlpFused, ulps(gOut.bits[k], refOut[i], dtype));
      residualExact &= gRes.bits[k] == refRes[i];
      uint8_t expectedQ = quantFP8(toFloat(gNorm.bits[k], kindOf(dtype)), scale,
                                   fp8 == SP_CUDA_E4M3FNUZ ? FP8Kind::E4M3FNUZ : FP8Kind::E4M3FN);
      fp8Exact &= q2[k] == expectedQ;
    }
  }
  std::printf("%-5s rows %6lld hidden %5lld %-7s: norm max %lld ulp, fused max %lld ulp\n",
              name(dtype), (long long)rows, (long long)hidden,
              fp8 == SP_CUDA_E4M3FNUZ ? "e4m3fnuz" : "e4m3fn", (long long)maxUlpNorm,
              (long long)maxUlpFused);
  expect(maxUlpNorm <= 1 && maxUlpFused <= 1, "norm within 1 ulp of the reference");
  expect(residualExact, "fused residual T(x + r) bitwise equal to the reference");
  expect(gOut.bits == gNormOfRes.bits, "fused_add_rms_norm == add then rms_norm (bitwise)");
  expect(gRes.bits == gRes2.bits, "residual of the fused quant kernel == fused kernel's");
  expect(q1 == q2, "rms_norm+quant == rms_norm then quant (bitwise)");
  expect(q3 == q4, "fused_add+rms_norm+quant == fused_add_rms_norm then quant (bitwise)");
  expect(fp8Exact, "fp8 bitwise equal to the reference quant of the GPU norm output");
}

double copyBandwidth() {
  size_t bytes = size_t(1) << 30;
  Device a(bytes), b(bytes);
  CHECK_CUDA(cudaMemset(a.ptr, 1, bytes));
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  CHECK_CUDA(cudaMemcpy(b.ptr, a.ptr, bytes, cudaMemcpyDeviceToDevice));
  cudaEventRecord(start);
  for (int i = 0; i < 10; ++i)
    CHECK_CUDA(cudaMemcpyAsync(b.ptr, a.ptr, bytes, cudaMemcpyDeviceToDevice));
  cudaEventRecord(stop);
  cudaEventSynchronize(stop);
  float ms = 0;
  cudaEventElapsedTime(&ms, start, stop);
  return 2.0 * bytes * 10 / (ms * 1e-3) / 1e9; // read + write
}

template <typename F> double timeIt(F &&launch, int iterations) {
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  CHECK_CUDA(launch());
  cudaEventRecord(start);
  for (int i = 0; i < iterations; ++i)
    CHECK_CUDA(launch());
  cudaEventRecord(stop);
  cudaEventSynchronize(stop);
  float ms = 0;
  cudaEventElapsedTime(&ms, start, stop);
  return ms * 1e-3 / iterations;
}

void bandwidth(double copyGBs) {
  std::printf("\n| kernel | dtype | hidden | rows | us | GB/s | %% of copy |\n|---|---|---|---|---|---|---|\n");
  for (int dtype : {SP_CUDA_BF16, SP_CUDA_F16, SP_CUDA_F32}) {
    for (int64_t hidden : {4096, 8192, 16384}) {
      for (int64_t rows : {1, 16, 256, 4096, 32768}) {
        size_t n = rows * hidden, eb = bytesOf(dtype);
        Device x(n * eb), r(n * eb), w(hidden * eb), out(n * eb), res(n * eb), q(n), s(4);
        float scale = 1.0f;
        CHECK_CUDA(cudaMemcpy(s.ptr, &scale, 4, cudaMemcpyHostToDevice));
        CHECK_CUDA(cudaMemset(x.ptr, 0, n * eb));
        CHECK_CUDA(cudaMemset(r.ptr, 0, n * eb));
        CHECK_CUDA(cudaMemset(w.ptr, 0, hidden * eb));
        int iterations = rows >= 4096 ? 20 : 200;
        struct Row { const char *name; double bytes; double seconds; };
        Row results[] = {
            {"rms_norm", double(2 * n * eb + hidden * eb),
             timeIt([&] { return sp_cuda_rms_norm(dtype, out.ptr, x.ptr, w.ptr, rows, hidden, 1e-5f, 0); }, iterations)},
            {"fused_add_rms_norm", double(4 * n * eb + hidden * eb),
             timeIt([&] { return sp_cuda_fused_add_rms_norm(dtype, out.ptr, res.ptr, x.ptr, r.ptr, w.ptr, rows, hidden, 1e-5f, 0); }, iterations)},
            {"quant", double(n * eb + n),
             timeIt([&] { return sp_cuda_quant(dtype, SP_CUDA_E4M3FN, q.as<uint8_t>(), x.ptr, s.as<float>(), n, 0); }, iterations)},
            {"rms_norm+quant", double(n * eb + n + hidden * eb),
             timeIt([&] { return sp_cuda_rms_norm_quant(dtype, SP_CUDA_E4M3FN, q.as<uint8_t>(), x.ptr, w.ptr, s.as<float>(), rows, hidden, 1e-5f, 0); }, iterations)},
            {"fused_add+rms_norm+quant", double(3 * n * eb + n + hidden * eb),
             timeIt([&] { return sp_cuda_fused_add_rms_norm_quant(dtype, SP_CUDA_E4M3FN, q.as<uint8_t>(), res.ptr, x.ptr, r.ptr, w.ptr, s.as<float>(), rows, hidden, 1e-5f, 0); }, iterations)},
        };
        for (const Row &row : results) {
          double gbs = row.bytes / row.seconds / 1e9;
          std::printf("| %s | %s | %lld | %lld | %.1f | %.0f | %.0f%% |\n", row.name, name(dtype),
                      (long long)hidden, (long long)rows, row.seconds * 1e6, gbs,
                      100.0 * gbs / copyGBs);
        }
      }
    }
  }
}
} // namespace

int main(int argc, char **argv) {
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
  for (int dtype : {SP_CUDA_BF16, SP_CUDA_F16, SP_CUDA_F32})
    for (int64_t hidden : {4096, 8192, 16384, 1000})
      for (int64_t rows : {1, 7, 64, 1024})
        checkCorrectness(dtype, rows, hidden, (rows == 7) ? SP_CUDA_E4M3FNUZ : SP_CUDA_E4M3FN);
  std::printf("\ncorrectness: %d failures\n", failures);
  bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  if (!quick) {
    double copy = copyBandwidth();
    std::printf("\ndevice-to-device copy: %.0f GB/s (read + write)\n", copy);
    bandwidth(copy);
  }
  return failures == 0 ? 0 : 1;
}
