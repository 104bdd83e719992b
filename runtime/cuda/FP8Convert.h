//===- FP8Convert.h - branch-free f32 -> e4m3 conversion --------*- C++ -*-===//
//
// The fast kernels' software FP8 conversion (sm_80, e4m3fnuz without the
// hardware path, and the `fast-software-fp8` kernel set), host and device:
// Kernels.cu runs it on the GPU, the unit tests and `sp-gpu-check
// --dry-run` compare it with include/sp/Runtime/Numerics.h on the CPU.
//
//===----------------------------------------------------------------------===//

#ifndef SP_RUNTIME_CUDA_FP8CONVERT_H
#define SP_RUNTIME_CUDA_FP8CONVERT_H

#include <cstdint>
#include <cstring>
#ifndef __CUDA_ARCH__
#include <cmath>
#endif

#if defined(__CUDACC__)
#define SP_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define SP_HOST_DEVICE inline
#endif

namespace sp_fp8 {

SP_HOST_DEVICE uint32_t bitsOf(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
#endif
}

SP_HOST_DEVICE float floatOf(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
#endif
}

/// Rounds 0 <= f < 2^32 to the nearest integer, ties to even.
SP_HOST_DEVICE uint32_t roundToUnsigned(float f) {
#ifdef __CUDA_ARCH__
  return __float2uint_rn(f);
#else
  return static_cast<uint32_t>(std::nearbyint(f)); // default mode: to even
#endif
}

/// e4m3fn (kFnuz = false) or e4m3fnuz code of a finite f32 c with
/// |c| <= 448 (fnuz: |c| <= 240): Numerics.h's floatToFP8 without its NaN,
/// infinity and overflow cases, which sp.quant's clamp excludes. Both the
/// normal and the subnormal rounding are computed and one is selected, so
/// there is no branch.
template <bool kFnuz> SP_HOST_DEVICE uint32_t softwareFP8(float c) {
  constexpr uint32_t bias = kFnuz ? 8u : 7u;
  uint32_t u = bitsOf(c);
  uint32_t sign = (u >> 24) & 0x80u;
  uint32_t magnitude = u & 0x7FFFFFFFu;
  // Normal range: round the f32 mantissa to 3 bits, half to even, in the
  // integer domain (a carry into the exponent gives the right code).
  uint32_t normal =
      ((magnitude + 0x7FFFFu + ((magnitude >> 20) & 1u)) >> 20) -
      ((127u - bias) << 3);
  // Subnormal range: units of 2^(1 - bias - 3); the scaling is exact.
  uint32_t subnormal =
      roundToUnsigned(floatOf(magnitude) * (kFnuz ? 1024.0f : 512.0f));
  uint32_t code = magnitude >= ((128u - bias) << 23) ? normal : subnormal;
  if (kFnuz)
    sign = code == 0 ? 0u : sign; // no negative zero
  return sign | code;
}

/// The e4m3fnuz code of c, |c| <= 224, from the e4m3fn code of 2c (what
/// the hardware path does with the e4m3 conversion of sm_89+): the formats
/// differ only in the exponent bias, except that fnuz has no -0 (0x80 is
/// its NaN).
SP_HOST_DEVICE uint32_t fnuzFromDoubledFn(uint32_t fnCodeOf2c) {
  return fnCodeOf2c == 0x80u ? 0u : fnCodeOf2c;
}

} // namespace sp_fp8

#undef SP_HOST_DEVICE

#endif // SP_RUNTIME_CUDA_FP8CONVERT_H
