//===- Kernels.cu - sp's CUDA kernels -------------------------------------===//
//
// See Kernels.h. Compiled with IEEE-exact division and square root (no
// --use_fast_math) and without FMA contraction (--fmad=false) so that every
// per-element step rounds as include/sp/Runtime/Numerics.h does.
//
// Two sets of norm and quant kernels (Kernels.h, SP_CUDA_KERNELS):
//   reference - the first kernels: one CTA of up to 1024 threads per row, a
//               128-bit path for aligned rows and a scalar one otherwise
//               (which assign elements to threads differently, so the sum
//               of squares depends on the buffers' alignment), the integer
//               FP8 conversion, one byte per fp8 store;
//   fast      - one element-to-thread mapping whatever the alignment, CTAs
//               of at most 512 threads sized from the hidden size alone,
//               four 16-byte loads in flight per thread, the row kept in
//               registers up to 2048 chunks of 16 bytes, the scale read at
//               kernel entry, hardware FP8 conversion on sm_89+ (a
//               branch-free integer one on sm_80 and for `fast-software-fp8`),
//               fp8 stored 8 (16-bit types) or 4 (f32) bytes at a time.
// runtime/cuda/KernelOrder.h is the host model of both sets' summation
// order; bench/gpu/check.cu compares every set with it bit for bit.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"
#include "FP8Convert.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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

template <typename T> struct alignas(16) Pack {
  static constexpr int kWidth = 16 / sizeof(T);
  T v[kWidth];
};

/// Block-wide sum of one float per thread (warp shuffles, then one warp).
/// Both kernel sets use it; KernelOrder.h's blockSum is its host model.
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

int elementBytes(int dtype) { return dtype == SP_CUDA_F32 ? 4 : 2; }

bool aligned16(const void *p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

//===----------------------------------------------------------------------===//
// The reference set: the first kernels, unchanged
//===----------------------------------------------------------------------===//

namespace reference {

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

/// Whether the 128-bit kernel runs: 16-byte rows and buffers.
bool vectorized(int dtype, int64_t hidden, bool buffersAligned) {
  return vectorWidth(dtype, hidden) > 1 && buffersAligned;
}

template <typename T, bool kFused, Output kOut>
int launchNorm(T *out, uint8_t *q, T *residualOut, const T *x,
               const T *residual, const T *weight, const float *scale,
               int64_t rows, int64_t hidden, float epsilon, int fp8, int dtype,
               cudaStream_t s) {
  dim3 grid(static_cast<unsigned>(rows)), block(blockSize(dtype, hidden));
  bool fnuz = fp8 == SP_CUDA_E4M3FNUZ;
  // 128-bit accesses need 16-byte aligned rows: the row length is checked
  // by vectorWidth, the base addresses here (views into a buffer may be
  // offset).
  bool vector = vectorized(dtype, hidden,
                           aligned16(x) && aligned16(weight) && aligned16(out) &&
                               aligned16(residual) && aligned16(residualOut) &&
                               aligned16(q));
  if (vector)
    normKernel<T, kFused, kOut, true><<<grid, block, 0, s>>>(
        out, q, residualOut, x, residual, weight, scale, hidden, epsilon, fnuz);
  else
    normKernel<T, kFused, kOut, false><<<grid, block, 0, s>>>(
        out, q, residualOut, x, residual, weight, scale, hidden, epsilon, fnuz);
  return cudaGetLastError();
}

template <typename T>
int launchQuant(int fp8, uint8_t *q, const T *x, const float *scale,
                int64_t count, cudaStream_t s) {
  int64_t blocks64 = (count + 255) / 256;
  unsigned blocks =
      static_cast<unsigned>(blocks64 > 65535 * 16 ? 65535 * 16 : blocks64);
  quantKernel<<<blocks, 256, 0, s>>>(q, x, scale, count,
                                     fp8 == SP_CUDA_E4M3FNUZ);
  return cudaGetLastError();
}

} // namespace reference

//===----------------------------------------------------------------------===//
// The fast set
//===----------------------------------------------------------------------===//

namespace fast {

/// At most this many threads per CTA, and two CTAs per SM guaranteed by the
/// launch bounds (64 registers a thread at most on sm_80..sm_100).
constexpr int kMaxThreads = 512;
/// 16-byte chunks each thread loads before using any (loads in flight), and
/// keeps in registers when the row fits (kMaxThreads * kChunks chunks).
constexpr int kChunks = 4;

/// fp8 conversion variants: the hardware conversion (sm_89+; sm_80 builds
/// use the software one whatever is asked) or the branch-free integer one.
enum FP8Code { kFnHardware, kFnuzHardware, kFnSoftware, kFnuzSoftware };

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
constexpr bool kHasHardwareFP8 = true;
#else
constexpr bool kHasHardwareFP8 = false;
#endif

/// The quant of two values: fp8(clamp(v * inverse, -M, M)) with the NaN
/// rule of Numerics.h's quantFP8 (a NaN product gives the canonical NaN,
/// 0x7F, or 0x80 for fnuz, whatever its sign). `a` in the low byte.
template <int kCode>
__device__ __forceinline__ uint32_t quantPair(float a, float b,
                                              float inverse) {
  constexpr bool kFnuz = kCode == kFnuzHardware || kCode == kFnuzSoftware;
  constexpr bool kHardware =
      kHasHardwareFP8 && (kCode == kFnHardware || kCode == kFnuzHardware);
  constexpr float m = kFnuz ? 224.0f : 448.0f;
  constexpr uint32_t nan = kFnuz ? 0x80u : 0x7Fu;
  float va = a * inverse, vb = b * inverse;
  // fminf/fmaxf return the other operand for a NaN; NaN is selected below.
  float ca = fminf(fmaxf(va, -m), m), cb = fminf(fmaxf(vb, -m), m);
  uint32_t lo, hi;
  if constexpr (kHardware) {
    // e4m3fnuz(v) == e4m3fn(2 v) as codes for |2 v| <= 448 (the formats
    // differ only in the exponent bias), except that fnuz has no -0.
    float2 pair =
        kFnuz ? make_float2(2.0f * ca, 2.0f * cb) : make_float2(ca, cb);
    uint32_t codes = __nv_cvt_float2_to_fp8x2(pair, __NV_SATFINITE, __NV_E4M3);
    lo = codes & 0xFFu;
    hi = (codes >> 8) & 0xFFu;
    if constexpr (kFnuz) {
      lo = sp_fp8::fnuzFromDoubledFn(lo);
      hi = sp_fp8::fnuzFromDoubledFn(hi);
    }
  } else {
    lo = sp_fp8::softwareFP8<kFnuz>(ca);
    hi = sp_fp8::softwareFP8<kFnuz>(cb);
  }
  lo = isnan(va) ? nan : lo;
  hi = isnan(vb) ? nan : hi;
  return lo | (hi << 8);
}

//===--- 16-byte chunks of raw element bits ------------------------------===//

/// W = 16 / sizeof(T) elements as four 32-bit words (two 16-bit elements
/// share a word, the lower-addressed one in the low half), so that a chunk
/// takes 4 registers whatever T is.
using Chunk = uint4;

template <typename T> __host__ __device__ constexpr int widthOf() {
  return 16 / sizeof(T);
}

__device__ __forceinline__ uint32_t word(const Chunk &c, int w) {
  return w == 0 ? c.x : w == 1 ? c.y : w == 2 ? c.z : c.w;
}
__device__ __forceinline__ void setWord(Chunk &c, int w, uint32_t value) {
  if (w == 0)
    c.x = value;
  else if (w == 1)
    c.y = value;
  else if (w == 2)
    c.z = value;
  else
    c.w = value;
}

/// The f32 value (exact) of a 16-bit element in the low (hi = false) or
/// high half of a word.
template <typename T> __device__ __forceinline__ float half16(uint32_t w, bool hi);
template <>
__device__ __forceinline__ float half16<__nv_bfloat16>(uint32_t w, bool hi) {
  return __uint_as_float(hi ? (w & 0xFFFF0000u) : (w << 16));
}
template <> __device__ __forceinline__ float half16<__half>(uint32_t w, bool hi) {
  return __half2float(
      __ushort_as_half(static_cast<unsigned short>(hi ? (w >> 16) : w)));
}

/// Two f32 values rounded to T (nearest even), `a` in the low half.
template <typename T> __device__ __forceinline__ uint32_t pack2(float a, float b);
template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float a, float b) {
  __nv_bfloat162 p = __floats2bfloat162_rn(a, b);
  uint32_t u;
  memcpy(&u, &p, sizeof(u));
  return u;
}
template <> __device__ __forceinline__ uint32_t pack2<__half>(float a, float b) {
  __half2 p = __floats2half2_rn(a, b);
  uint32_t u;
  memcpy(&u, &p, sizeof(u));
  return u;
}

/// Chunk `c` (elements c*W .. c*W+W-1) of a row: one 16-byte load when
/// `vector`, else element by element, zeros past the end of the row (they
/// add +0 to a sum of squares that is never -0, which changes nothing).
template <typename T>
__device__ __forceinline__ Chunk loadChunk(const T *row, int c, int hidden,
                                           bool vector) {
  if (vector)
    return reinterpret_cast<const Chunk *>(row)[c];
  Chunk out;
  if constexpr (sizeof(T) == 4) {
    const uint32_t *p = reinterpret_cast<const uint32_t *>(row);
#pragma unroll
    for (int i = 0; i < 4; ++i)
      setWord(out, i, c * 4 + i < hidden ? p[c * 4 + i] : 0u);
  } else {
    const uint16_t *p = reinterpret_cast<const uint16_t *>(row);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      int e = c * 8 + 2 * i;
      uint32_t lo = e < hidden ? p[e] : 0u;
      uint32_t hi = e + 1 < hidden ? p[e + 1] : 0u;
      setWord(out, i, lo | (hi << 16));
    }
  }
  return out;
}

template <typename T>
__device__ __forceinline__ void storeChunk(T *row, int c, int hidden,
                                           bool vector, const Chunk &v) {
  if (vector) {
    reinterpret_cast<Chunk *>(row)[c] = v;
  } else if constexpr (sizeof(T) == 4) {
    uint32_t *p = reinterpret_cast<uint32_t *>(row);
#pragma unroll
    for (int i = 0; i < 4; ++i)
      if (c * 4 + i < hidden)
        p[c * 4 + i] = word(v, i);
  } else {
    uint16_t *p = reinterpret_cast<uint16_t *>(row);
#pragma unroll
    for (int i = 0; i < 8; ++i)
      if (c * 8 + i < hidden)
        p[c * 8 + i] = static_cast<uint16_t>(word(v, i / 2) >> (16 * (i & 1)));
  }
}

/// The W fp8 codes of a chunk, stored with one 8-byte (W = 8) or 4-byte
/// (W = 4) store when `vector`.
template <int W> struct Codes;
template <> struct Codes<8> {
  using Store = uint2;
  Store v;
  __device__ void set(int pair, uint32_t codes) {
    uint32_t &w = pair < 2 ? v.x : v.y;
    w = (pair & 1) ? (w | codes << 16) : codes;
  }
  __device__ uint32_t byte(int i) const {
    return ((i < 4 ? v.x : v.y) >> (8 * (i & 3))) & 0xFFu;
  }
};
template <> struct Codes<4> {
  using Store = uint32_t;
  Store v;
  __device__ void set(int pair, uint32_t codes) {
    v = pair ? (v | codes << 16) : codes;
  }
  __device__ uint32_t byte(int i) const { return (v >> (8 * i)) & 0xFFu; }
};

template <int W>
__device__ __forceinline__ void storeCodes(uint8_t *row, int c, int hidden,
                                           bool vector, const Codes<W> &codes) {
  if (vector) {
    reinterpret_cast<typename Codes<W>::Store *>(row)[c] = codes.v;
  } else {
#pragma unroll
    for (int i = 0; i < W; ++i)
      if (c * W + i < hidden)
        row[c * W + i] = static_cast<uint8_t>(codes.byte(i));
  }
}

/// Elements 2p and 2p+1 of a chunk as f32 (exact).
template <typename T>
__device__ __forceinline__ float2 pairOf(const Chunk &c, int p) {
  if constexpr (sizeof(T) == 4)
    return make_float2(__uint_as_float(word(c, 2 * p)),
                       __uint_as_float(word(c, 2 * p + 1)));
  else
    return make_float2(half16<T>(word(c, p), false),
                       half16<T>(word(c, p), true));
}

/// Two f32 values rounded to T, as f32.
template <typename T> __device__ __forceinline__ float2 roundPair(float2 v) {
  if constexpr (sizeof(T) == 4) {
    return v;
  } else {
    uint32_t w = pack2<T>(v.x, v.y);
    return make_float2(half16<T>(w, false), half16<T>(w, true));
  }
}

/// Stores the pair `v` (already rounded to T) as elements 2p, 2p+1.
template <typename T>
__device__ __forceinline__ void setPair(Chunk &c, int p, float2 v) {
  if constexpr (sizeof(T) == 4) {
    setWord(c, 2 * p, __float_as_uint(v.x));
    setWord(c, 2 * p + 1, __float_as_uint(v.y));
  } else {
    setWord(c, p, pack2<T>(v.x, v.y));
  }
}

//===--- Kernels ----------------------------------------------------------===//

/// One CTA per row, blockSize(hidden) threads. Thread t owns the chunks t,
/// t + T, t + 2T, ... of the row and adds the squares of their elements in
/// that order, whether the chunks are loaded 16 bytes at a time or element
/// by element (`vector`: every buffer 16-byte aligned, fp8 output W-byte
/// aligned, and the row a whole number of chunks); then blockSum. kResident:
/// the row (z for the fused kernels) stays in registers between the passes
/// (chunks <= T * kChunks); else it is read again (an L2 hit), in the same
/// order. Fused and unfused kernels run the same sum, so they agree bit for
/// bit.
template <typename T, bool kFused, Output kOut, bool kResident, int kCode>
__global__ void __launch_bounds__(kMaxThreads, 2)
    normKernel(T *out, uint8_t *q, T *residualOut, const T *x,
               const T *residual, const T *weight, const float *scale,
               int hidden, float epsilon, bool vector) {
  constexpr int W = widthOf<T>();
  constexpr int kPairs = W / 2;
  // The scale first: its load and the division overlap the row's loads.
  float quantInverse = 0.0f;
  if constexpr (kOut == Output::Quant)
    quantInverse = 1.0f / *scale;
  const int64_t base = int64_t(blockIdx.x) * hidden;
  const int chunks = (hidden + W - 1) / W;
  const int threads = blockDim.x;
  const int first = threadIdx.x;
  const T *xRow = x + base;
  const T *rRow = kFused ? residual + base : nullptr;
  T *zRow = kFused ? residualOut + base : nullptr;

  // Pass 1: (z = T(x + r), stored, and) the sum of squares, in element
  // order within the chunk.
  float ss = 0.0f;
  auto accumulate = [&](Chunk &z, const Chunk &r, int c) {
#pragma unroll
    for (int p = 0; p < kPairs; ++p) {
      float2 v = pairOf<T>(z, p);
      if constexpr (kFused) {
        float2 rv = pairOf<T>(r, p);
        v = roundPair<T>(make_float2(v.x + rv.x, v.y + rv.y));
        setPair<T>(z, p, v);
      }
      ss = ss + v.x * v.x;
      ss = ss + v.y * v.y;
    }
    if constexpr (kFused)
      if (c < chunks)
        storeChunk(zRow, c, hidden, vector, z);
  };
  // Loads kChunks chunks from c0 (stride `threads`) before any is used.
  auto loadBatch = [&](Chunk (&xs)[kChunks], Chunk (&rs)[kChunks], int c0) {
#pragma unroll
    for (int k = 0; k < kChunks; ++k) {
      int c = c0 + k * threads;
      xs[k] = rs[k] = make_uint4(0, 0, 0, 0);
      if (c < chunks) {
        xs[k] = loadChunk(xRow, c, hidden, vector);
        if constexpr (kFused)
          rs[k] = loadChunk(rRow, c, hidden, vector);
      }
    }
  };
  Chunk zs[kChunks];
  if constexpr (kResident) {
    Chunk rs[kChunks];
    loadBatch(zs, rs, first);
#pragma unroll
    for (int k = 0; k < kChunks; ++k)
      accumulate(zs[k], rs[k], first + k * threads);
  } else {
    for (int c0 = first; c0 < chunks; c0 += kChunks * threads) {
      Chunk rs[kChunks];
      loadBatch(zs, rs, c0);
#pragma unroll
      for (int k = 0; k < kChunks; ++k)
        accumulate(zs[k], rs[k], c0 + k * threads);
    }
  }
  ss = blockSum(ss);
  const float inverse = 1.0f / sqrtf(ss / static_cast<float>(hidden) + epsilon);

  // Pass 2: T(T(z * inv) * w) [-> fp8].
  auto finish = [&](const Chunk &z, const Chunk &w, int c) {
    Chunk o;
    Codes<W> codes;
#pragma unroll
    for (int p = 0; p < kPairs; ++p) {
      float2 zv = pairOf<T>(z, p), wv = pairOf<T>(w, p);
      float2 normed = roundPair<T>(make_float2(zv.x * inverse, zv.y * inverse));
      float2 value = roundPair<T>(make_float2(normed.x * wv.x, normed.y * wv.y));
      if constexpr (kOut == Output::Quant)
        codes.set(p, quantPair<kCode>(value.x, value.y, quantInverse));
      else
        setPair<T>(o, p, value);
    }
    if constexpr (kOut == Output::Quant)
      storeCodes<W>(q + base, c, hidden, vector, codes);
    else
      storeChunk(out + base, c, hidden, vector, o);
  };
  const T *zSource = kFused ? zRow : xRow;
  for (int c0 = first; c0 < chunks; c0 += kChunks * threads) {
    Chunk ws[kChunks];
    if constexpr (!kResident) {
#pragma unroll
      for (int k = 0; k < kChunks; ++k)
        if (c0 + k * threads < chunks)
          zs[k] = loadChunk(zSource, c0 + k * threads, hidden, vector);
    }
#pragma unroll
    for (int k = 0; k < kChunks; ++k)
      if (c0 + k * threads < chunks)
        ws[k] = loadChunk(weight, c0 + k * threads, hidden, vector);
#pragma unroll
    for (int k = 0; k < kChunks; ++k)
      if (c0 + k * threads < chunks)
        finish(zs[k], ws[k], c0 + k * threads);
    if constexpr (kResident)
      break; // one batch: the row
  }
}

constexpr int kQuantThreads = 256;
/// Chunks each thread of the quant kernel loads before converting any.
constexpr int kQuantChunks = 2;

/// q = quant(x): W elements (16 bytes) per chunk, kQuantChunks chunks in
/// flight per thread, W codes per store; `vector` when x is 16-byte and q
/// W-byte aligned (the count's remainder, count % W, is done element by
/// element). Element-wise, so the mapping does not matter for the result.
template <typename T, int kCode>
__global__ void __launch_bounds__(kQuantThreads)
    quantKernel(uint8_t *q, const T *x, const float *scale, int64_t count,
                bool vector) {
  constexpr int W = widthOf<T>();
  const float inverse = 1.0f / *scale;
  const int64_t thread = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  int64_t scalarFrom = 0;
  if (vector) {
    const int64_t chunks = count / W;
    const int64_t block = int64_t(blockIdx.x) * blockDim.x * kQuantChunks;
    for (int64_t c0 = block + threadIdx.x; c0 < chunks;
         c0 += stride * kQuantChunks) {
      Chunk xs[kQuantChunks];
#pragma unroll
      for (int k = 0; k < kQuantChunks; ++k) {
        int64_t c = c0 + int64_t(k) * blockDim.x;
        if (c < chunks)
          xs[k] = reinterpret_cast<const Chunk *>(x)[c];
      }
#pragma unroll
      for (int k = 0; k < kQuantChunks; ++k) {
        int64_t c = c0 + int64_t(k) * blockDim.x;
        if (c < chunks) {
          Codes<W> codes;
#pragma unroll
          for (int p = 0; p < W / 2; ++p) {
            float2 v = pairOf<T>(xs[k], p);
            codes.set(p, quantPair<kCode>(v.x, v.y, inverse));
          }
          reinterpret_cast<typename Codes<W>::Store *>(q)[c] = codes.v;
        }
      }
    }
    scalarFrom = chunks * W;
  }
  for (int64_t i = scalarFrom + thread; i < count; i += stride)
    q[i] = static_cast<uint8_t>(
        quantPair<kCode>(Elem<T>::load(x[i]), 0.0f, inverse) & 0xFFu);
}

/// Threads per CTA for a row of `hidden` elements: kChunks chunks of 16
/// bytes per thread, in multiples of a warp, 32..kMaxThreads. A function of
/// the hidden size alone (never of the row count or the alignment), so the
/// summation order is too.
int blockSize(int dtype, int64_t hidden) {
  int width = 16 / elementBytes(dtype);
  int64_t chunks = (hidden + width - 1) / width;
  int64_t perThread = (chunks + kChunks - 1) / kChunks;
  int64_t threads = ((perThread + 31) / 32) * 32;
  return static_cast<int>(
      threads < 32 ? 32 : (threads > kMaxThreads ? kMaxThreads : threads));
}

/// The fp8 code variant of a call: `fp8` format, software conversion when
/// asked for (`fast-software-fp8`).
int fp8Code(int fp8, bool software) {
  bool fnuz = fp8 == SP_CUDA_E4M3FNUZ;
  return software ? (fnuz ? kFnuzSoftware : kFnSoftware)
                  : (fnuz ? kFnuzHardware : kFnHardware);
}

template <typename T, bool kFused, Output kOut, int kCode>
void launchNormWith(bool resident, dim3 grid, dim3 block, cudaStream_t s,
                    T *out, uint8_t *q, T *residualOut, const T *x,
                    const T *residual, const T *weight, const float *scale,
                    int hidden, float epsilon, bool vector) {
  if (resident)
    normKernel<T, kFused, kOut, true, kCode><<<grid, block, 0, s>>>(
        out, q, residualOut, x, residual, weight, scale, hidden, epsilon,
        vector);
  else
    normKernel<T, kFused, kOut, false, kCode><<<grid, block, 0, s>>>(
        out, q, residualOut, x, residual, weight, scale, hidden, epsilon,
        vector);
}

template <typename T, bool kFused, Output kOut>
int launchNorm(T *out, uint8_t *q, T *residualOut, const T *x,
               const T *residual, const T *weight, const float *scale,
               int64_t rows, int64_t hidden64, float epsilon, int fp8,
               int dtype, bool softwareFP8, cudaStream_t s) {
  constexpr int W = widthOf<T>();
  // Chunk indices are 32-bit within a row.
  if (hidden64 > 0x7FFFFFFF - W)
    return cudaErrorInvalidValue;
  int hidden = static_cast<int>(hidden64);
  int threads = blockSize(dtype, hidden);
  dim3 grid(static_cast<unsigned>(rows)), block(threads);
  int chunks = (hidden + W - 1) / W;
  bool resident = chunks <= threads * kChunks;
  bool vector = hidden % W == 0 && aligned16(x) && aligned16(weight) &&
                aligned16(out) && aligned16(residual) &&
                aligned16(residualOut) &&
                reinterpret_cast<uintptr_t>(q) % W == 0;
  if constexpr (kOut == Output::Norm) {
    launchNormWith<T, kFused, kOut, kFnHardware>(
        resident, grid, block, s, out, q, residualOut, x, residual, weight,
        scale, hidden, epsilon, vector);
  } else {
    switch (fp8Code(fp8, softwareFP8)) {
#define SP_FP8_CASE(CODE)                                                      \
  case CODE:                                                                   \
    launchNormWith<T, kFused, kOut, CODE>(resident, grid, block, s, out, q,    \
                                          residualOut, x, residual, weight,    \
                                          scale, hidden, epsilon, vector);     \
    break;
      SP_FP8_CASE(kFnHardware)
      SP_FP8_CASE(kFnuzHardware)
      SP_FP8_CASE(kFnSoftware)
      SP_FP8_CASE(kFnuzSoftware)
#undef SP_FP8_CASE
    }
  }
  return cudaGetLastError();
}

template <typename T>
int launchQuant(int fp8, uint8_t *q, const T *x, const float *scale,
                int64_t count, bool softwareFP8, cudaStream_t s) {
  constexpr int W = widthOf<T>();
  bool vector =
      aligned16(x) && reinterpret_cast<uintptr_t>(q) % W == 0 && count >= W;
  int64_t perBlock = int64_t(kQuantThreads) * (vector ? kQuantChunks * W : 1);
  int64_t blocks64 = (count + perBlock - 1) / perBlock;
  unsigned blocks =
      static_cast<unsigned>(blocks64 > 65535 * 16 ? 65535 * 16 : blocks64);
  switch (fp8Code(fp8, softwareFP8)) {
#define SP_FP8_CASE(CODE)                                                      \
  case CODE:                                                                   \
    quantKernel<T, CODE><<<blocks, kQuantThreads, 0, s>>>(q, x, scale, count,  \
                                                          vector);             \
    break;
    SP_FP8_CASE(kFnHardware)
    SP_FP8_CASE(kFnuzHardware)
    SP_FP8_CASE(kFnSoftware)
    SP_FP8_CASE(kFnuzSoftware)
#undef SP_FP8_CASE
  }
  return cudaGetLastError();
}

} // namespace fast

//===----------------------------------------------------------------------===//
// The collective matmuls' helpers
//===----------------------------------------------------------------------===//

/// Sum of the partial products in rank order in f32, one rounding (no
/// multiply, so --fmad=false has nothing to contract here).
template <typename T>
__global__ void sumPartialsKernel(T *out, const T *partials, int64_t ranks,
                                  int64_t count) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count;
       i += int64_t(gridDim.x) * blockDim.x) {
    float acc = Elem<T>::load(partials[i]);
    for (int64_t r = 1; r < ranks; ++r)
      acc = acc + Elem<T>::load(partials[r * count + i]);
    out[i] = storeAs<T>(acc);
  }
}

template <typename T>
__global__ void roundKernel(T *out, const float *in, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = storeAs<T>(in[i]);
}

/// 32 x 32 tiles through shared memory, so that reads and writes are both
/// coalesced.
__global__ void transposeBytesKernel(uint8_t *out, const uint8_t *in,
                                     int64_t rows, int64_t cols) {
  __shared__ uint8_t tile[32][33];
  int64_t col = blockIdx.x * 32 + threadIdx.x;
  for (int y = threadIdx.y; y < 32; y += blockDim.y) {
    int64_t row = blockIdx.y * 32 + y;
    if (row < rows && col < cols)
      tile[y][threadIdx.x] = in[row * cols + col];
  }
  __syncthreads();
  int64_t outCol = blockIdx.y * 32 + threadIdx.x; // a row of `in`
  for (int y = threadIdx.y; y < 32; y += blockDim.y) {
    int64_t outRow = blockIdx.x * 32 + y; // a column of `in`
    if (outRow < cols && outCol < rows)
      out[outRow * rows + outCol] = tile[threadIdx.x][y];
  }
}

/// Blocks of 256 threads for a grid-stride loop over `count` elements.
unsigned gridFor(int64_t count) {
  int64_t blocks = (count + 255) / 256;
  return static_cast<unsigned>(blocks > 65535 * 16 ? 65535 * 16 : blocks);
}

//===----------------------------------------------------------------------===//
// Selection and dispatch
//===----------------------------------------------------------------------===//

/// -1: not chosen yet (SP_CUDA_KERNELS is read at the first call).
int selectedSet = -1;

int parseKernelSet(const char *name) {
  if (!name || !*name || std::strcmp(name, "reference") == 0)
    return SP_CUDA_KERNELS_REFERENCE;
  if (std::strcmp(name, "fast") == 0)
    return SP_CUDA_KERNELS_FAST;
  if (std::strcmp(name, "fast-software-fp8") == 0)
    return SP_CUDA_KERNELS_FAST_SOFTWARE_FP8;
  return -1;
}

int currentSet() {
  if (selectedSet < 0) {
    const char *name = std::getenv("SP_CUDA_KERNELS");
    int set = parseKernelSet(name);
    if (set < 0)
      std::fprintf(stderr,
                   "sp: SP_CUDA_KERNELS=%s is not a kernel set (reference, "
                   "fast, fast-software-fp8); using reference\n",
                   name);
    selectedSet = set < 0 ? SP_CUDA_KERNELS_REFERENCE : set;
  }
  return selectedSet;
}

bool validNormArguments(int64_t rows, int64_t hidden) {
  return rows >= 0 && hidden > 0 && rows <= 0x7FFFFFFF;
}

template <bool kFused, Output kOut>
int dispatch(int dtype, void *out, uint8_t *q, void *residualOut,
             const void *x, const void *residual, const void *weight,
             const float *scale, int64_t rows, int64_t hidden, float epsilon,
             int fp8, void *stream) {
  if (dtype != SP_CUDA_F32 && dtype != SP_CUDA_F16 && dtype != SP_CUDA_BF16)
    return cudaErrorInvalidValue;
  if (rows == 0)
    return cudaSuccess;
  if (!validNormArguments(rows, hidden))
    return cudaErrorInvalidValue;
  auto s = static_cast<cudaStream_t>(stream);
  int set = currentSet();
#define SP_LAUNCH(T)                                                           \
  return set == SP_CUDA_KERNELS_REFERENCE                                      \
             ? reference::launchNorm<T, kFused, kOut>(                         \
                   static_cast<T *>(out), q, static_cast<T *>(residualOut),    \
                   static_cast<const T *>(x), static_cast<const T *>(residual),\
                   static_cast<const T *>(weight), scale, rows, hidden,        \
                   epsilon, fp8, dtype, s)                                     \
             : fast::launchNorm<T, kFused, kOut>(                              \
                   static_cast<T *>(out), q, static_cast<T *>(residualOut),    \
                   static_cast<const T *>(x), static_cast<const T *>(residual),\
                   static_cast<const T *>(weight), scale, rows, hidden,        \
                   epsilon, fp8, dtype,                                        \
                   set == SP_CUDA_KERNELS_FAST_SOFTWARE_FP8, s)
  switch (dtype) {
  case SP_CUDA_F32:
    SP_LAUNCH(float);
  case SP_CUDA_F16:
    SP_LAUNCH(__half);
  default:
    SP_LAUNCH(__nv_bfloat16);
  }
#undef SP_LAUNCH
}

template <typename T>
int dispatchQuant(int fp8, uint8_t *q, const void *x, const float *scale,
                  int64_t count, cudaStream_t s) {
  int set = currentSet();
  if (set == SP_CUDA_KERNELS_REFERENCE)
    return reference::launchQuant<T>(fp8, q, static_cast<const T *>(x), scale,
                                     count, s);
  return fast::launchQuant<T>(fp8, q, static_cast<const T *>(x), scale, count,
                              set == SP_CUDA_KERNELS_FAST_SOFTWARE_FP8, s);
}

} // namespace

extern "C" {

int sp_cuda_select_kernels(int set) {
  if (set != SP_CUDA_KERNELS_REFERENCE && set != SP_CUDA_KERNELS_FAST &&
      set != SP_CUDA_KERNELS_FAST_SOFTWARE_FP8)
    return cudaErrorInvalidValue;
  selectedSet = set;
  return cudaSuccess;
}

int sp_cuda_selected_kernels() { return currentSet(); }

int sp_cuda_norm_block_size(int dtype, int64_t hidden) {
  return currentSet() == SP_CUDA_KERNELS_REFERENCE
             ? reference::blockSize(dtype, hidden)
             : fast::blockSize(dtype, hidden);
}

int sp_cuda_norm_order(int dtype, int64_t hidden, int buffersAligned,
                       int *threads, int *width) {
  if ((dtype != SP_CUDA_F32 && dtype != SP_CUDA_F16 && dtype != SP_CUDA_BF16) ||
      hidden <= 0 || !threads || !width)
    return cudaErrorInvalidValue;
  *threads = sp_cuda_norm_block_size(dtype, hidden);
  int chunk = 16 / elementBytes(dtype);
  *width = currentSet() == SP_CUDA_KERNELS_REFERENCE
               ? (reference::vectorized(dtype, hidden, buffersAligned != 0)
                      ? chunk
                      : 1)
               : chunk;
  return cudaSuccess;
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
  switch (dtype) {
  case SP_CUDA_F32:
    return dispatchQuant<float>(fp8, q, x, scale, count, s);
  case SP_CUDA_F16:
    return dispatchQuant<__half>(fp8, q, x, scale, count, s);
  case SP_CUDA_BF16:
    return dispatchQuant<__nv_bfloat16>(fp8, q, x, scale, count, s);
  default:
    return cudaErrorInvalidValue;
  }
}

int sp_cuda_sum_partials(int dtype, void *out, const void *partials,
                         int64_t ranks, int64_t count, void *stream) {
  if (count == 0)
    return cudaSuccess;
  if (count < 0 || ranks < 1)
    return cudaErrorInvalidValue;
  auto s = static_cast<cudaStream_t>(stream);
  switch (dtype) {
  case SP_CUDA_F32:
    sumPartialsKernel<<<gridFor(count), 256, 0, s>>>(
        static_cast<float *>(out), static_cast<const float *>(partials), ranks,
        count);
    break;
  case SP_CUDA_F16:
    sumPartialsKernel<<<gridFor(count), 256, 0, s>>>(
        static_cast<__half *>(out), static_cast<const __half *>(partials),
        ranks, count);
    break;
  case SP_CUDA_BF16:
    sumPartialsKernel<<<gridFor(count), 256, 0, s>>>(
        static_cast<__nv_bfloat16 *>(out),
        static_cast<const __nv_bfloat16 *>(partials), ranks, count);
    break;
  default:
    return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

int sp_cuda_transpose_bytes(uint8_t *out, const uint8_t *in, int64_t rows,
                            int64_t cols, void *stream) {
  if (rows == 0 || cols == 0)
    return cudaSuccess;
  int64_t tilesX = (cols + 31) / 32, tilesY = (rows + 31) / 32;
  if (rows < 0 || cols < 0 || tilesX > 0x7FFFFFFF || tilesY > 65535)
    return cudaErrorInvalidValue;
  dim3 grid(static_cast<unsigned>(tilesX), static_cast<unsigned>(tilesY));
  transposeBytesKernel<<<grid, dim3(32, 8), 0,
                         static_cast<cudaStream_t>(stream)>>>(out, in, rows,
                                                              cols);
  return cudaGetLastError();
}

int sp_cuda_round_f32(int dtype, void *out, const float *in, int64_t count,
                      void *stream) {
  if (count == 0)
    return cudaSuccess;
  if (count < 0)
    return cudaErrorInvalidValue;
  auto s = static_cast<cudaStream_t>(stream);
  switch (dtype) {
  case SP_CUDA_F32:
    roundKernel<<<gridFor(count), 256, 0, s>>>(static_cast<float *>(out), in,
                                               count);
    break;
  case SP_CUDA_F16:
    roundKernel<<<gridFor(count), 256, 0, s>>>(static_cast<__half *>(out), in,
                                               count);
    break;
  case SP_CUDA_BF16:
    roundKernel<<<gridFor(count), 256, 0, s>>>(
        static_cast<__nv_bfloat16 *>(out), in, count);
    break;
  default:
    return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

} // extern "C"
