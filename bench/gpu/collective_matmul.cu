//===- collective_matmul.cu - the collective matmul GEMMs on one GPU ------===//
//
// Built and run by bench/gpu/check.sh on a machine with an NVIDIA GPU. The
// GEMMs are configured exactly as sp's runtime configures them
// (runtime/cuda/CublasLtGemm.h: row-major through the column-major
// transposition, COMPUTE_32F, FP8 in the "TN" layout with rhs transposed by
// sp_cuda_transpose_bytes, per-tensor scales on A/B_SCALE_POINTER); cuBLASLt
// is linked here (the runtime loads it with dlopen).
//
//  1. Correctness: small GEMMs of every form the runtime issues, against an
//     f64 host reference: |gpu - exact| <= u |exact| + 2 k 2^-24 S
//     (S = sum |a b|, u the output type's unit roundoff).
//  2. At Llama-3-70B shapes (hidden 8192, intermediate 28672, 64 query and
//     8 KV heads of 128; --tokens, default 8192) for TP 4 and 8, bf16 and
//     FP8 (e4m3 x e4m3 -> bf16, scaled): each TP GEMM's throughput whole
//     (T x K x N) and as the TP chunks of T/TP rows the collective matmul
//     runs back to back (the price of chunking).
//  3. Overlap: one chunk GEMM alone, one chunk transfer alone (a
//     device-to-device copy of the bytes one pipeline step moves: the
//     all-gather's lhs chunk, or the reduce-scatter's partial), and both
//     on two streams (the transfer on the higher-priority one, as the
//     runtime does); overlap efficiency = (t_gemm + t_copy - t_both) /
//     min(t_gemm, t_copy): 1 when the shorter hides entirely, 0 when they
//     serialize. Two transfer proxies: cudaMemcpyAsync (copy engines) and a
//     copy kernel on 16 CTAs (SMs, as NCCL's send/recv kernels use them).
//     Neither is NVLink: the numbers bound what overlap the GPU allows,
//     not what NCCL achieves.
//
//   collective_matmul [--tokens N] [--quick] [--check-only]
// Exit status 0 when every check passes.
//
//===----------------------------------------------------------------------===//

#include "CublasLtGemm.h"
#include "Kernels.h"

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#define CHECK_CUDA(call)                                                       \
  do {                                                                         \
    cudaError_t e_ = static_cast<cudaError_t>(call);                           \
    if (e_ != cudaSuccess) {                                                   \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__,       \
                   #call, cudaGetErrorString(e_));                             \
      std::exit(2);                                                            \
    }                                                                          \
  } while (0)

using namespace sp_cublaslt;

namespace {

CublasLtApi linkedApi() {
  CublasLtApi api;
#define SP_LINKED(name) api.name = &::name;
  SP_CUBLASLT_SYMBOLS(SP_LINKED)
#undef SP_LINKED
  return api;
}

const CublasLtApi &api() {
  static CublasLtApi linked = linkedApi();
  return linked;
}

constexpr size_t kWorkspaceBytes = size_t(32) << 20;

size_t operandBytes(int operand) {
  return operand == OpF32 ? 4 : operand <= OpBF16 ? 2 : 1;
}
size_t outputBytes(int output) { return output == OutF32 ? 4 : 2; }

//===----------------------------------------------------------------------===//
// Host numerics (round to nearest even)
//===----------------------------------------------------------------------===//

uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float floatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint16_t toBF16(float f) {
  uint32_t u = bitsOf(f);
  return uint16_t((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}
float fromBF16(uint16_t h) { return floatOf(uint32_t(h) << 16); }
float fromF16(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exponent = (h >> 10) & 0x1F,
           mantissa = h & 0x3FF;
  if (exponent == 0)
    return (sign ? -1.0f : 1.0f) * std::ldexp(float(mantissa), -24);
  if (exponent == 31)
    return floatOf(sign | 0x7F800000 | (mantissa << 13));
  return floatOf(sign | ((exponent + 112) << 23) | (mantissa << 13));
}
uint16_t toF16(float f) {
  __half_raw raw = __float2half_rn(f);
  return raw.x;
}
float fromE4M3(uint8_t code) {
  float sign = code & 0x80 ? -1.0f : 1.0f;
  int exponent = (code >> 3) & 0xF, mantissa = code & 7;
  if (exponent == 0)
    return sign * std::ldexp(float(mantissa), -9);
  return sign * std::ldexp(1.0f + mantissa / 8.0f, exponent - 7);
}

/// Random operands: values of the operand type, |v| < 2.
std::vector<uint8_t> randomOperand(int operand, size_t count,
                                   std::mt19937 &rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<uint8_t> data(count * operandBytes(operand));
  for (size_t i = 0; i < count; ++i) {
    float v = uniform(rng);
    if (operand == OpF32) {
      std::memcpy(&data[i * 4], &v, 4);
    } else if (operand == OpBF16 || operand == OpF16) {
      uint16_t h = operand == OpBF16 ? toBF16(v) : toF16(v);
      std::memcpy(&data[i * 2], &h, 2);
    } else { // finite e4m3 codes of magnitude in [2^-3, 2)
      data[i] = uint8_t((0x20 + rng() % 0x20) | (rng() % 2 ? 0x80 : 0));
    }
  }
  return data;
}

double operandValue(const std::vector<uint8_t> &data, int operand, size_t i) {
  switch (operand) {
  case OpF32: {
    float f;
    std::memcpy(&f, &data[i * 4], 4);
    return f;
  }
  case OpF16:
  case OpBF16: {
    uint16_t h;
    std::memcpy(&h, &data[i * 2], 2);
    return operand == OpBF16 ? fromBF16(h) : fromF16(h);
  }
  default:
    return fromE4M3(data[i]);
  }
}

double outputValue(const std::vector<uint8_t> &data, int output, size_t i) {
  if (output == OutF32) {
    float f;
    std::memcpy(&f, &data[i * 4], 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, &data[i * 2], 2);
  return output == OutBF16 ? fromBF16(h) : fromF16(h);
}

//===----------------------------------------------------------------------===//
// The runtime's GEMM (CudaRuntime.cpp's ChunkGemms, without staging)
//===----------------------------------------------------------------------===//

struct DeviceGemm {
  Gemm<CublasLtApi> gemm{api()};
  void *rhs = nullptr; // as cuBLASLt reads it (transposed for FP8)
  void *f32 = nullptr; // D when cuBLASLt has no kernel to the output type
  int output = OutF32;
  int64_t count = 0;

  /// Returns "" or why not.
  std::string plan(cublasLtHandle_t handle, void *workspace,
                   const GemmSpec &spec, const void *rhsRowMajor,
                   cudaStream_t stream) {
    std::string why = gemm.plan(handle, spec, workspace, kWorkspaceBytes);
    if (!why.empty())
      return why;
    output = spec.output;
    count = spec.rows * spec.n;
    rhs = const_cast<void *>(rhsRowMajor);
    if (gemm.transposedRhs()) {
      CHECK_CUDA(cudaMalloc(&rhs, size_t(spec.k * spec.n)));
      CHECK_CUDA(sp_cuda_transpose_bytes(
          static_cast<uint8_t *>(rhs),
          static_cast<const uint8_t *>(rhsRowMajor), spec.k, spec.n, stream));
    }
    if (gemm.dOutput() != spec.output)
      CHECK_CUDA(cudaMalloc(&f32, size_t(count) * 4));
    return "";
  }

  std::string run(const void *lhs, void *out, cudaStream_t stream) {
    std::string why = gemm.run(rhs, lhs, f32 ? f32 : out, stream);
    if (why.empty() && f32)
      CHECK_CUDA(sp_cuda_round_f32(output, out, static_cast<float *>(f32),
                                   count, stream));
    return why;
  }

  void release(const void *rhsRowMajor) {
    if (rhs != rhsRowMajor)
      cudaFree(rhs);
    if (f32)
      cudaFree(f32);
  }
};

struct Context {
  cublasLtHandle_t handle = nullptr;
  void *workspace = nullptr;
  cudaStream_t compute = nullptr, transfer = nullptr;
};

//===----------------------------------------------------------------------===//
// 1. Correctness
//===----------------------------------------------------------------------===//

struct Case {
  int operand, output;
  bool scaled;
  int64_t m, k, n;
};

bool checkCase(Context &ctx, const Case &c) {
  std::mt19937 rng(unsigned(c.operand * 131 + c.output * 17 + c.m + c.k));
  std::vector<uint8_t> lhs = randomOperand(c.operand, size_t(c.m * c.k), rng);
  std::vector<uint8_t> rhs = randomOperand(c.operand, size_t(c.k * c.n), rng);
  float scales[2] = {0.75f, 1.5f}; // lhs, rhs
  void *dLhs, *dRhs, *dOut, *dScales;
  size_t outBytes = size_t(c.m * c.n) * outputBytes(c.output);
  CHECK_CUDA(cudaMalloc(&dLhs, lhs.size()));
  CHECK_CUDA(cudaMalloc(&dRhs, rhs.size()));
  CHECK_CUDA(cudaMalloc(&dOut, outBytes));
  CHECK_CUDA(cudaMalloc(&dScales, sizeof(scales)));
  CHECK_CUDA(cudaMemcpy(dLhs, lhs.data(), lhs.size(), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(dRhs, rhs.data(), rhs.size(), cudaMemcpyHostToDevice));
  CHECK_CUDA(
      cudaMemcpy(dScales, scales, sizeof(scales), cudaMemcpyHostToDevice));
  GemmSpec spec;
  spec.operand = c.operand;
  spec.output = c.output;
  if (c.scaled) {
    spec.lhsScale = static_cast<float *>(dScales);
    spec.rhsScale = static_cast<float *>(dScales) + 1;
  }
  spec.rows = c.m;
  spec.k = c.k;
  spec.n = c.n;
  DeviceGemm gemm;
  std::string why =
      gemm.plan(ctx.handle, ctx.workspace, spec, dRhs, ctx.compute);
  if (why.empty())
    why = gemm.run(dLhs, dOut, ctx.compute);
  bool ok = why.empty();
  std::vector<uint8_t> out(outBytes);
  if (ok) {
    CHECK_CUDA(cudaStreamSynchronize(ctx.compute));
    CHECK_CUDA(cudaMemcpy(out.data(), dOut, outBytes, cudaMemcpyDeviceToHost));
  }
  double worst = 0;
  double u = c.output == OutF32    ? std::ldexp(1.0, -24)
             : c.output == OutBF16 ? std::ldexp(1.0, -8)
                                   : std::ldexp(1.0, -11);
  double scale = c.scaled ? double(scales[0]) * scales[1] : 1.0;
  for (int64_t i = 0; ok && i < c.m; ++i)
    for (int64_t j = 0; j < c.n; ++j) {
      double exact = 0, s = 0;
      for (int64_t l = 0; l < c.k; ++l) {
        double p = operandValue(lhs, c.operand, size_t(i * c.k + l)) *
                   operandValue(rhs, c.operand, size_t(l * c.n + j));
        exact += p;
        s += std::fabs(p);
      }
      exact *= scale;
      s *= scale;
      double got = outputValue(out, c.output, size_t(i * c.n + j));
      double bound = u * std::fabs(exact) + 2.0 * c.k * std::ldexp(s, -24) +
                     std::ldexp(1.0, -30);
      worst = std::max(worst, std::fabs(got - exact) / bound);
    }
  ok = ok && worst <= 1.0;
  std::printf("  %-10s -> %-4s %-7s %5lld x %5lld x %5lld  %s",
              operandName(c.operand), outputName(c.output),
              c.scaled ? "scaled" : "plain", (long long)c.m, (long long)c.k,
              (long long)c.n, ok ? "ok" : "FAILED");
  if (why.empty())
    std::printf(" (worst %.3f of the bound)\n", worst);
  else
    std::printf(": %s\n", why.c_str());
  gemm.release(dRhs);
  for (void *p : {dLhs, dRhs, dOut, dScales})
    cudaFree(p);
  return ok;
}

//===----------------------------------------------------------------------===//
// 2-3. Throughput and overlap
//===----------------------------------------------------------------------===//

/// Copies with `blocks` CTAs: the SM cost of a transfer (NCCL's send/recv
/// kernels run on SMs too).
__global__ void copyKernel(int4 *dst, const int4 *src, size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count;
       i += size_t(gridDim.x) * blockDim.x)
    dst[i] = src[i];
}

struct Timer {
  cudaEvent_t start, stop;
  Timer() {
    CHECK_CUDA(cudaEventCreate(&start));
    CHECK_CUDA(cudaEventCreate(&stop));
  }
  ~Timer() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
  /// Milliseconds per repetition of `work` (enqueued on `stream`, which
  /// may fork to and join other streams).
  template <typename Work>
  double time(cudaStream_t stream, int repetitions, Work work) {
    for (int i = 0; i < 2; ++i)
      work();
    CHECK_CUDA(cudaEventRecord(start, stream));
    for (int i = 0; i < repetitions; ++i)
      work();
    CHECK_CUDA(cudaEventRecord(stop, stream));
    CHECK_CUDA(cudaEventSynchronize(stop));
    float ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&ms, start, stop));
    return ms / repetitions;
  }
};

struct Shape {
  const char *name;
  bool gather; // all_gather_matmul (else matmul_reduce_scatter)
  int64_t k, n;
};

void fail(const std::string &why) {
  std::fprintf(stderr, "%s\n", why.c_str());
  std::exit(2);
}

void benchmark(Context &ctx, int tp, int64_t tokens, int operand,
               int repetitions) {
  const int64_t hidden = 8192, intermediate = 28672, headDim = 128;
  const int64_t qkv = (64 + 2 * 8) * headDim;
  Shape shapes[] = {
      {"qkv", true, hidden, qkv / tp},
      {"o_proj", false, 64 * headDim / tp, hidden},
      {"gate_up", true, hidden, 2 * intermediate / tp},
      {"down", false, intermediate / tp, hidden},
  };
  bool fp8 = isFP8(operand);
  std::printf("\nTP %d, %lld tokens, %s (chunks of %lld rows)\n", tp,
              (long long)tokens,
              fp8 ? "FP8 e4m3 x e4m3 -> bf16, scaled" : "bf16 x bf16 -> bf16",
              (long long)(tokens / tp));
  std::printf("  %-8s %6s %6s | %9s %9s %6s | %8s %8s %8s %7s | %8s %8s %7s\n",
              "gemm", "K", "N", "whole", "chunked", "ratio", "chunk", "copy",
              "both", "overlap", "smcopy", "both", "overlap");
  std::printf("  %-8s %6s %6s | %9s %9s %6s | %8s %8s %8s %7s | %8s %8s %7s\n",
              "", "", "", "TFLOP/s", "TFLOP/s", "", "ms", "ms", "ms", "", "ms",
              "ms", "");
  float scales[2] = {0.5f, 0.25f};
  void *dScales;
  CHECK_CUDA(cudaMalloc(&dScales, sizeof(scales)));
  CHECK_CUDA(
      cudaMemcpy(dScales, scales, sizeof(scales), cudaMemcpyHostToDevice));
  int64_t rows = tokens / tp;
  for (const Shape &s : shapes) {
    size_t in = operandBytes(operand);
    void *lhs, *rhs, *out, *copyFrom, *copyTo;
    CHECK_CUDA(cudaMalloc(&lhs, size_t(tokens * s.k) * in));
    CHECK_CUDA(cudaMalloc(&rhs, size_t(s.k * s.n) * in));
    CHECK_CUDA(cudaMalloc(&out, size_t(tokens * s.n) * 2));
    CHECK_CUDA(cudaMemset(lhs, 0x11, size_t(tokens * s.k) * in));
    CHECK_CUDA(cudaMemset(rhs, 0x22, size_t(s.k * s.n) * in));
    // One pipeline step moves the gathered lhs chunk or one partial.
    size_t transfer =
        s.gather ? size_t(rows * s.k) * in : size_t(rows * s.n) * 2;
    transfer = (transfer + 15) / 16 * 16;
    CHECK_CUDA(cudaMalloc(&copyFrom, transfer));
    CHECK_CUDA(cudaMalloc(&copyTo, transfer));
    GemmSpec spec;
    spec.operand = operand;
    spec.output = OutBF16;
    if (fp8) {
      spec.lhsScale = static_cast<float *>(dScales);
      spec.rhsScale = static_cast<float *>(dScales) + 1;
    }
    spec.k = s.k;
    spec.n = s.n;
    spec.rows = tokens;
    DeviceGemm whole, chunk;
    std::string why =
        whole.plan(ctx.handle, ctx.workspace, spec, rhs, ctx.compute);
    spec.rows = rows;
    spec.alignment = std::min(alignmentOf(uint64_t(rows * s.k) * in),
                              alignmentOf(uint64_t(rows * s.n) * 2));
    if (why.empty())
      why = chunk.plan(ctx.handle, ctx.workspace, spec, rhs, ctx.compute);
    if (!why.empty()) {
      std::printf("  %-8s %6lld %6lld | %s\n", s.name, (long long)s.k,
                  (long long)s.n, why.c_str());
    } else {
      Timer timer;
      auto check = [](const std::string &w) {
        if (!w.empty())
          fail(w);
      };
      double flops = 2.0 * tokens * s.k * s.n;
      double tWhole = timer.time(ctx.compute, repetitions, [&] {
        check(whole.run(lhs, out, ctx.compute));
      });
      double tChunked = timer.time(ctx.compute, repetitions, [&] {
        for (int c = 0; c < tp; ++c)
          check(
              chunk.run(static_cast<char *>(lhs) + size_t(c * rows * s.k) * in,
                        static_cast<char *>(out) + size_t(c * rows * s.n) * 2,
                        ctx.compute));
      });
      double tChunk = timer.time(ctx.compute, repetitions, [&] {
        check(chunk.run(lhs, out, ctx.compute));
      });
      // Both on their streams, forked from and joined to the compute one.
      cudaEvent_t fork, join;
      CHECK_CUDA(cudaEventCreateWithFlags(&fork, cudaEventDisableTiming));
      CHECK_CUDA(cudaEventCreateWithFlags(&join, cudaEventDisableTiming));
      auto concurrently = [&](auto transferWork) {
        CHECK_CUDA(cudaEventRecord(fork, ctx.compute));
        CHECK_CUDA(cudaStreamWaitEvent(ctx.transfer, fork, 0));
        transferWork(ctx.transfer);
        check(chunk.run(lhs, out, ctx.compute));
        CHECK_CUDA(cudaEventRecord(join, ctx.transfer));
        CHECK_CUDA(cudaStreamWaitEvent(ctx.compute, join, 0));
      };
      auto engineCopy = [&](cudaStream_t stream) {
        CHECK_CUDA(cudaMemcpyAsync(copyTo, copyFrom, transfer,
                                   cudaMemcpyDeviceToDevice, stream));
      };
      auto smCopy = [&](cudaStream_t stream) {
        copyKernel<<<16, 512, 0, stream>>>(static_cast<int4 *>(copyTo),
                                           static_cast<const int4 *>(copyFrom),
                                           transfer / 16);
        CHECK_CUDA(cudaGetLastError());
      };
      double tCopy = timer.time(ctx.compute, repetitions,
                                [&] { engineCopy(ctx.compute); });
      double tBoth = timer.time(ctx.compute, repetitions,
                                [&] { concurrently(engineCopy); });
      double tSm =
          timer.time(ctx.compute, repetitions, [&] { smCopy(ctx.compute); });
      double tSmBoth =
          timer.time(ctx.compute, repetitions, [&] { concurrently(smCopy); });
      auto overlap = [](double a, double b, double both) {
        return (a + b - both) / std::min(a, b);
      };
      std::printf("  %-8s %6lld %6lld | %9.1f %9.1f %6.3f | %8.3f %8.3f %8.3f "
                  "%7.2f | %8.3f %8.3f %7.2f\n",
                  s.name, (long long)s.k, (long long)s.n, flops / tWhole * 1e-9,
                  flops / tChunked * 1e-9, tWhole / tChunked, tChunk, tCopy,
                  tBoth, overlap(tChunk, tCopy, tBoth), tSm, tSmBoth,
                  overlap(tChunk, tSm, tSmBoth));
      cudaEventDestroy(fork);
      cudaEventDestroy(join);
    }
    whole.release(rhs);
    chunk.release(rhs);
    for (void *p : {lhs, rhs, out, copyFrom, copyTo})
      cudaFree(p);
  }
  cudaFree(dScales);
}

} // namespace

int main(int argc, char **argv) {
  int64_t tokens = 8192;
  bool quick = false, checkOnly = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--quick")
      quick = true;
    else if (arg == "--check-only")
      checkOnly = true;
    else if (arg == "--tokens" && i + 1 < argc)
      tokens = std::atoll(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--tokens N] [--quick] [--check-only]\n",
                   argv[0]);
      return 2;
    }
  }
  int devices = 0;
  cudaError_t status = cudaGetDeviceCount(&devices);
  if (status != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "no usable CUDA device: %s\n",
                 status == cudaSuccess ? "none found"
                                       : cudaGetErrorString(status));
    return 2;
  }
  cudaDeviceProp properties;
  CHECK_CUDA(cudaGetDeviceProperties(&properties, 0));
  std::printf("%s (sm_%d%d), cuBLASLt %zu\n", properties.name, properties.major,
              properties.minor, api().cublasLtGetVersion());
  Context ctx;
  if (cublasStatus_t s = api().cublasLtCreate(&ctx.handle)) {
    std::fprintf(stderr, "cublasLtCreate failed: %s\n",
                 api().cublasLtGetStatusName(s));
    return 2;
  }
  CHECK_CUDA(cudaMalloc(&ctx.workspace, kWorkspaceBytes));
  int least = 0, greatest = 0;
  CHECK_CUDA(cudaDeviceGetStreamPriorityRange(&least, &greatest));
  CHECK_CUDA(cudaStreamCreateWithFlags(&ctx.compute, cudaStreamNonBlocking));
  CHECK_CUDA(cudaStreamCreateWithPriority(&ctx.transfer, cudaStreamNonBlocking,
                                          greatest));

  std::printf("\n== the runtime's GEMM configurations against an f64 "
              "reference ==\n");
  bool fp8Device = properties.major * 10 + properties.minor >= 89;
  std::vector<Case> cases = {
      {OpF32, OutF32, false, 64, 96, 80},
      {OpBF16, OutBF16, false, 64, 128, 96},
      {OpBF16, OutF32, false, 33, 70, 45},
      {OpF16, OutF16, false, 64, 128, 96},
      {OpF32, OutBF16, false, 64, 96, 80},
      {OpBF16, OutF16, false, 16, 64, 48},
  };
  if (fp8Device)
    for (int output : {OutBF16, OutF16, OutF32})
      for (bool scaled : {false, true})
        cases.push_back({OpE4M3FN, output, scaled, 64, 128, 96});
  else
    std::printf("  (no FP8 on sm_%d%d: FP8 cases skipped)\n", properties.major,
                properties.minor);
  bool ok = true;
  for (const Case &c : cases)
    ok = checkCase(ctx, c) && ok;

  if (!checkOnly) {
    int repetitions = quick ? 3 : 20;
    std::printf("\n== Llama-3-70B TP GEMMs: whole vs TP row chunks, and one "
                "chunk with one transfer ==\n");
    for (int tp : {4, 8})
      for (int operand : {int(OpBF16), int(OpE4M3FN)})
        if (operand != OpE4M3FN || fp8Device)
          benchmark(ctx, tp, tokens, operand, repetitions);
  }
  api().cublasLtDestroy(ctx.handle);
  std::printf("\n%s\n", ok ? "all GEMM checks passed" : "GEMM checks FAILED");
  return ok ? 0 : 1;
}
