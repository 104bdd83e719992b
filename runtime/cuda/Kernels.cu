//===- Kernels.cu - sp's CUDA kernels -------------------------------------===//
//
// See Kernels.h. Compiled with IEEE-exact division and square root (no
// --use_fast_math) so that inv = 1/sqrt(ss/H + eps) rounds as on the CPU.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace {

//===----------------------------------------------------------------------===//
// Element conversions (round to nearest even everywhere)
//===----------------------------------------------------------------------===//

template <typename T> struct Elem;
template <> struct Elem<float> {
  static __device__ float load(float v) { return v; }
  static __device__ float round(float v) { return v; }
};
template <> struct Elem<__half> {
  static __device__ float load(__half v) { return __half2float(v); }
  static __device__ __half store(float v) { return __float2half_rn(v); }
  static __device__ float round(float v) { return load(store(v)); }
};
template <> struct Elem<__nv_bfloat16> {
  static __device__ float load(__nv_bfloat16 v) { return __bfloat162float(v); }
  static __device__ __nv_bfloat16 store(float v) { return __float2bfloat16_rn(v); }
  static __device__ float round(float v) { return load(store(v)); }
};

template <typename T> __device__ T storeAs(float v) { return Elem<T>::store(v); }
template <> __device__ float storeAs<float>(float v) { return v; }

/// f32 -> e4m3fn / e4m3fnuz code, the integer algorithm of
/// Numerics.h floatToFP8 (round to nearest even; NaN, inf, overflow -> NaN).
__device__ uint8_t floatToFP8(float f, bool fnuz) {
  uint32_t u = __float_as_uint(f);
  uint32_t sign = (u >> 24) & 0x80u;
  uint32_t magnitude = u & 0x7FFFFFFFu;
  uint32_t nan = fnuz ? 0x80u : (sign | 0x7Fu);
  if (magnitude >= 0x7F800000u)
    return static_cast<uint8_t>(nan);
  uint32_t bias = fnuz ? 8u : 7u;
  uint32_t code;
  if (magnitude >= ((127u + 1u - bias) << 23)) {
    uint32_t r = magnitude + 0x7FFFFu + ((magnitude >> 20) & 1u);
    code = (r >> 20) - ((127u - bias) << 3);
    if (code > (fnuz ? 0x7Fu : 0x7Eu))
      return static_cast<uint8_t>(nan);
  } else {
    // rintf rounds half to even.
    code = static_cast<uint32_t>(
        rintf(__uint_as_float(magnitude) * (fnuz ? 1024.0f : 512.0f)));
  }
  if (fnuz && code == 0)
    return 0;
  return static_cast<uint8_t>(sign | code);
}

/// sp.quant of one value: fp8(clamp(x * inv, -M, M)); NaN -> canonical NaN.
__device__ uint8_t quantize(float x, float inverse, bool fnuz) {
  float v = x * inverse;
  if (isnan(v))
    return fnuz ? 0x80 : 0x7F;
  float m = fnuz ? 224.0f : 448.0f;
  return floatToFP8(fminf(fmaxf(v, -m), m), fnuz);
}

//===----------------------------------------------------------------------===//
// Vectorized access: 16 bytes per load when the row allows it
//===----------------------------------------------------------------------===//

template <typename T> struct alignas(16) Pack {
  static constexpr int kWidth = 16 / sizeof(T);
  T v[kWidth];
};

/// Block-wide sum of one float per thread (warp shuffles, then one warp).
__device__ float blockSum(float value) {
  __shared__ float partial[32];
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int offset = 16; offset > 0; offset >>= 1)
    value += __shfl_xor_sync(0xFFFFFFFFu, value, offset);
  if (lane == 0)
    partial[warp] = value;
  __syncthreads();
  int warps = (blockDim.x + 31) >> 5;
  value = lane < warps ? partial[lane] : 0.0f;
  if (warp == 0)
    for (int offset = 16; offset > 0; offset >>= 1)
      value += __shfl_xor_sync(0xFFFFFFFFu, value, offset);
  __shared__ float total;
  if (threadIdx.x == 0)
    total = value;
  __syncthreads();
  return total;
}

enum class Output { Norm, Quant };

/// One CTA per row. kFused: z = T(x + r) is written to residualOut and
/// normalized; otherwise x is. kOut: the T output or the fp8 quant of it.
/// The loop structure and the reduction do not depend on kFused/kOut, so the
/// fused kernels compute exactly what the unfused sequence computes.
template <typename T, bool kFused, Output kOut, bool kVector>
__global__ void __launch_bounds__(1024)
    normKernel(T *out, uint8_t *q, T *residualOut, const T *x,
               const T *residual, const T *weight, const float *scale,
               int64_t hidden, float epsilon, bool fnuz) {
  using P = Pack<T>;
  constexpr int W = kVector ? P::kWidth : 1;
  const int64_t row = blockIdx.x;
  const int64_t base = row * hidden;
  const int64_t groups = hidden / W;

  // Pass 1: (fused add and) sum of squares in f32.
  float ss = 0.0f;
  for (int64_t g = threadIdx.x; g < groups; g += blockDim.x) {
    T xs[W], rs[W];
    if constexpr (kVector) {
      *reinterpret_cast<P *>(xs) = reinterpret_cast<const P *>(x + base)[g];
      if constexpr (kFused)
        *reinterpret_cast<P *>(rs) =
            reinterpret_cast<const P *>(residual + base)[g];
    } else {
      xs[0] = x[base + g];
      if constexpr (kFused)
        rs[0] = residual[base + g];
    }
#pragma unroll
    for (int i = 0; i < W; ++i) {
      float v = Elem<T>::load(xs[i]);
      if constexpr (kFused) {
        v = Elem<T>::round(v + Elem<T>::load(rs[i]));
        xs[i] = storeAs<T>(v);
      }
      ss += v * v;
    }
    if constexpr (kFused) {
      if constexpr (kVector)
        reinterpret_cast<P *>(residualOut + base)[g] =
            *reinterpret_cast<P *>(xs);
      else
        residualOut[base + g] = xs[0];
    }
  }
  ss = blockSum(ss);
  const float inverse = 1.0f / sqrtf(ss / static_cast<float>(hidden) + epsilon);
  const float quantInverse = kOut == Output::Quant ? 1.0f / *scale : 0.0f;

  // Pass 2: T(T(z * inv) * w) [-> fp8]. z is re-read (an L2 hit); for the
  // fused kernels it is the rounded sum written above by this same thread.
  const T *z = kFused ? residualOut : x;
  for (int64_t g = threadIdx.x; g < groups; g += blockDim.x) {
    T zs[W], ws[W], os[W];
    if constexpr (kVector) {
      *reinterpret_cast<P *>(zs) = reinterpret_cast<const P *>(z + base)[g];
      *reinterpret_cast<P *>(ws) = reinterpret_cast<const P *>(weight)[g];
    } else {
      zs[0] = z[base + g];
      ws[0] = weight[g];
    }
    uint8_t qs[W];
#pragma unroll
    for (int i = 0; i < W; ++i) {
      float normed = Elem<T>::round(Elem<T>::load(zs[i]) * inverse);
      float value = Elem<T>::round(normed * Elem<T>::load(ws[i]));
      if constexpr (kOut == Output::Quant)
        qs[i] = quantize(value, quantInverse, fnuz);
      else
        os[i] = storeAs<T>(value);
    }
    if constexpr (kOut == Output::Quant) {
#pragma unroll
      for (int i = 0; i < W; ++i)
        q[base + g * W + i] = qs[i];
    } else if constexpr (kVector) {
      reinterpret_cast<P *>(out + base)[g] = *reinterpret_cast<P *>(os);
    } else {
      out[base + g] = os[0];
    }
  }
}

template <typename T>
__global__ void quantKernel(uint8_t *q, const T *x, const float *scale,
                            int64_t count, bool fnuz) {
  const float inverse = 1.0f / *scale;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count;
       i += int64_t(gridDim.x) * blockDim.x)
    q[i] = quantize(Elem<T>::load(x[i]), inverse, fnuz);
}

int elementBytes(int dtype) { return dtype == SP_CUDA_F32 ? 4 : 2; }

/// Vector width used for this row length (1 when the row is not a multiple
/// of 16 bytes).
int vectorWidth(int dtype, int64_t hidden) {
  int width = 16 / elementBytes(dtype);
  return hidden % width == 0 ? width : 1;
}

int blockSize(int dtype, int64_t hidden) {
  int64_t groups = hidden / vectorWidth(dtype, hidden);
  int64_t threads = ((groups + 31) / 32) * 32;
  return static_cast<int>(threads < 32 ? 32 : (threads > 1024 ? 1024 : threads));
}

template <typename T, bool kFused, Output kOut>
int launchNorm(T *out, uint8_t *q, T *residualOut, const T *x,
               const T *residual, const T *weight, const float *scale,
               int64_t rows, int64_t hidden, float epsilon, int fp8, int dtype,
               void *stream) {
  if (rows == 0)
    return cudaSuccess;
  if (rows < 0 || hidden <= 0 || rows > 0x7FFFFFFF)
    return cudaErrorInvalidValue;
  dim3 grid(static_cast<unsigned>(rows)), block(blockSize(dtype, hidden));
  auto s = static_cast<cudaStream_t>(stream);
  bool fnuz = fp8 == SP_CUDA_E4M3FNUZ;
  // 128-bit accesses need 16-byte aligned rows: the row length is checked
  // above, the base addresses here (views into a buffer may be offset).
  auto aligned = [](const void *p) {
    return reinterpret_cast<uintptr_t>(p) % 16 == 0;
  };
  bool vectorized = vectorWidth(dtype, hidden) > 1 && aligned(x) &&
                    aligned(weight) && aligned(out) && aligned(residual) &&
                    aligned(residualOut) && aligned(q);
  if (vectorized)
    normKernel<T, kFused, kOut, true><<<grid, block, 0, s>>>(
        out, q, residualOut, x, residual, weight, scale, hidden, epsilon, fnuz);
  else
    normKernel<T, kFused, kOut, false><<<grid, block, 0, s>>>(
        out, q, residualOut, x, residual, weight, scale, hidden, epsilon, fnuz);
  return cudaGetLastError();
}

template <bool kFused, Output kOut>
int dispatch(int dtype, void *out, uint8_t *q, void *residualOut,
             const void *x, const void *residual, const void *weight,
             const float *scale, int64_t rows, int64_t hidden, float epsilon,
             int fp8, void *stream) {
#define SP_LAUNCH(T)                                                           \
  return launchNorm<T, kFused, kOut>(                                          \
      static_cast<T *>(out), q, static_cast<T *>(residualOut),                 \
      static_cast<const T *>(x), static_cast<const T *>(residual),             \
      static_cast<const T *>(weight), scale, rows, hidden, epsilon, fp8,       \
      dtype, stream)
  switch (dtype) {
  case SP_CUDA_F32:
    SP_LAUNCH(float);
  case SP_CUDA_F16:
    SP_LAUNCH(__half);
  case SP_CUDA_BF16:
    SP_LAUNCH(__nv_bfloat16);
  }
#undef SP_LAUNCH
  return cudaErrorInvalidValue;
}

} // namespace

extern "C" {

int sp_cuda_norm_block_size(int dtype, int64_t hidden) {
  return blockSize(dtype, hidden);
}

int sp_cuda_rms_norm(int dtype, void *out, const void *x, const void *weight,
                     int64_t rows, int64_t hidden, float epsilon,
                     void *stream) {
  return dispatch<false, Output::Norm>(dtype, out, nullptr, nullptr, x,
                                       nullptr, weight, nullptr, rows, hidden,
                                       epsilon, 0, stream);
}

int sp_cuda_fused_add_rms_norm(int dtype, void *out, void *residualOut,
                               const void *x, const void *residual,
                               const void *weight, int64_t rows,
                               int64_t hidden, float epsilon, void *stream) {
  return dispatch<true, Output::Norm>(dtype, out, nullptr, residualOut, x,
                                      residual, weight, nullptr, rows, hidden,
                                      epsilon, 0, stream);
}

int sp_cuda_rms_norm_quant(int dtype, int fp8, uint8_t *q, const void *x,
                           const void *weight, const float *scale,
                           int64_t rows, int64_t hidden, float epsilon,
                           void *stream) {
  return dispatch<false, Output::Quant>(dtype, nullptr, q, nullptr, x, nullptr,
                                        weight, scale, rows, hidden, epsilon,
                                        fp8, stream);
}

int sp_cuda_fused_add_rms_norm_quant(int dtype, int fp8, uint8_t *q,
                                     void *residualOut, const void *x,
                                     const void *residual, const void *weight,
                                     const float *scale, int64_t rows,
                                     int64_t hidden, float epsilon,
                                     void *stream) {
  return dispatch<true, Output::Quant>(dtype, nullptr, q, residualOut, x,
                                       residual, weight, scale, rows, hidden,
                                       epsilon, fp8, stream);
}

int sp_cuda_quant(int dtype, int fp8, uint8_t *q, const void *x,
                  const float *scale, int64_t count, void *stream) {
  if (count == 0)
    return cudaSuccess;
  if (count < 0)
    return cudaErrorInvalidValue;
  auto s = static_cast<cudaStream_t>(stream);
  int64_t blocks64 = (count + 255) / 256;
  unsigned blocks = static_cast<unsigned>(blocks64 > 65535 * 16 ? 65535 * 16 : blocks64);
  bool fnuz = fp8 == SP_CUDA_E4M3FNUZ;
  switch (dtype) {
  case SP_CUDA_F32:
    quantKernel<<<blocks, 256, 0, s>>>(q, static_cast<const float *>(x), scale,
                                       count, fnuz);
    break;
  case SP_CUDA_F16:
    quantKernel<<<blocks, 256, 0, s>>>(q, static_cast<const __half *>(x),
                                       scale, count, fnuz);
    break;
  case SP_CUDA_BF16:
    quantKernel<<<blocks, 256, 0, s>>>(
        q, static_cast<const __nv_bfloat16 *>(x), scale, count, fnuz);
    break;
  default:
    return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

} // extern "C"
