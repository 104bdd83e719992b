//===- ElementTypes.h - the element types of sp's runtimes ------*- C++ -*-===//
//
// The one list of element types the runtimes implement, as X-macros (the
// style of MLIR's SparseTensor Enums.h). The compiler names runtime
// functions from it (sp_rt_all_gather_<NAME>, sp_cuda_rt_rms_norm_<NAME>),
// and both runtimes define their entry points and symbol tables from it, so
// a type added here is added everywhere at once.
//
// Each entry is DO(NAME, STORAGE, CODE, ...):
//   NAME     MLIR's spelling of the element type, and the suffix of the
//            runtime functions for it;
//   STORAGE  the C type of one element in memory;
//   CODE     the name runtimes switch on: CompiledABI's DType or FP8
//            enumerator, and the CPU runtime's element traits;
//   ...      whatever the caller passed after DO (for nested lists).
// Header-only and free of MLIR, so runtimes and compilers both include it.
//
//===----------------------------------------------------------------------===//

#ifndef SP_RUNTIME_ELEMENTTYPES_H
#define SP_RUNTIME_ELEMENTTYPES_H

#include <cstdint>

/// Types collectives reduce (arithmetic in f32, or f64 for f64).
#define SP_FOR_EVERY_REDUCIBLE_TYPE(DO, ...)                                   \
  DO(f32, float, F32, ##__VA_ARGS__)                                           \
  DO(f16, uint16_t, F16, ##__VA_ARGS__)                                        \
  DO(bf16, uint16_t, BF16, ##__VA_ARGS__)                                      \
  DO(f64, double, F64, ##__VA_ARGS__)

/// Types collectives only move (all_gather): no arithmetic on them.
#define SP_FOR_EVERY_MOVED_ONLY_TYPE(DO, ...)                                  \
  DO(f8E4M3FN, uint8_t, Bytes, ##__VA_ARGS__)                                  \
  DO(f8E4M3FNUZ, uint8_t, Bytes, ##__VA_ARGS__)                                \
  DO(i8, int8_t, Bytes, ##__VA_ARGS__)                                         \
  DO(i16, int16_t, Bytes, ##__VA_ARGS__)                                       \
  DO(i32, int32_t, Bytes, ##__VA_ARGS__)                                       \
  DO(i64, int64_t, Bytes, ##__VA_ARGS__)

/// Every type all_gather moves.
#define SP_FOR_EVERY_GATHERED_TYPE(DO, ...)                                    \
  SP_FOR_EVERY_REDUCIBLE_TYPE(DO, ##__VA_ARGS__)                               \
  SP_FOR_EVERY_MOVED_ONLY_TYPE(DO, ##__VA_ARGS__)

/// Activation types of the norm and quant kernels.
#define SP_FOR_EVERY_KERNEL_TYPE(DO, ...)                                      \
  DO(f32, float, F32, ##__VA_ARGS__)                                           \
  DO(f16, uint16_t, F16, ##__VA_ARGS__)                                        \
  DO(bf16, uint16_t, BF16, ##__VA_ARGS__)

/// FP8 formats sp.quant writes.
#define SP_FOR_EVERY_FP8_TYPE(DO, ...)                                         \
  DO(f8E4M3FN, uint8_t, E4M3FN, ##__VA_ARGS__)                                 \
  DO(f8E4M3FNUZ, uint8_t, E4M3FNUZ, ##__VA_ARGS__)

/// Every (kernel activation, FP8 format) pair:
/// DO(NAME, STORAGE, CODE, FP8NAME, FP8STORAGE, FP8CODE).
#define SP_FOR_EVERY_KERNEL_AND_FP8_TYPE(DO)                                   \
  SP_FOR_EVERY_KERNEL_TYPE(SP_ELEMENT_TYPES_WITH_FP8_, DO)
#define SP_ELEMENT_TYPES_WITH_FP8_(NAME, STORAGE, CODE, DO)                    \
  SP_FOR_EVERY_FP8_TYPE(SP_ELEMENT_TYPES_FP8_PAIR_, DO, NAME, STORAGE, CODE)
#define SP_ELEMENT_TYPES_FP8_PAIR_(F8NAME, F8STORAGE, F8CODE, DO, NAME,        \
                                   STORAGE, CODE)                              \
  DO(NAME, STORAGE, CODE, F8NAME, F8STORAGE, F8CODE)

/// Element types of the collective matmul GEMMs' operands (CODE: the
/// CUDA ABI's GemmInput).
#define SP_FOR_EVERY_GEMM_INPUT_TYPE(DO, ...)                                  \
  DO(f32, float, GemmF32, ##__VA_ARGS__)                                       \
  DO(f16, uint16_t, GemmF16, ##__VA_ARGS__)                                    \
  DO(bf16, uint16_t, GemmBF16, ##__VA_ARGS__)                                  \
  SP_FOR_EVERY_SCALED_GEMM_INPUT_TYPE(DO, ##__VA_ARGS__)

/// Operand types of the FP8 (scaled) form of the collective matmul GEMMs.
#define SP_FOR_EVERY_SCALED_GEMM_INPUT_TYPE(DO, ...)                           \
  DO(f8E4M3FN, uint8_t, GemmF8E4M3FN, ##__VA_ARGS__)                           \
  DO(f8E4M3FNUZ, uint8_t, GemmF8E4M3FNUZ, ##__VA_ARGS__)

/// Every (operand, result) type pair of the collective matmul GEMMs, plain
/// and FP8 form; results are the kernel activation types:
/// DO(IN, INSTORAGE, INCODE, OUT, OUTSTORAGE, OUTCODE).
#define SP_FOR_EVERY_GEMM_TYPE_PAIR(DO)                                        \
  SP_FOR_EVERY_GEMM_INPUT_TYPE(SP_ELEMENT_TYPES_WITH_RESULT_, DO)
#define SP_FOR_EVERY_SCALED_GEMM_TYPE_PAIR(DO)                                 \
  SP_FOR_EVERY_SCALED_GEMM_INPUT_TYPE(SP_ELEMENT_TYPES_WITH_RESULT_, DO)
#define SP_ELEMENT_TYPES_WITH_RESULT_(NAME, STORAGE, CODE, DO)                 \
  SP_FOR_EVERY_KERNEL_TYPE(SP_ELEMENT_TYPES_RESULT_PAIR_, DO, NAME, STORAGE,   \
                           CODE)
#define SP_ELEMENT_TYPES_RESULT_PAIR_(OUT, OUTSTORAGE, OUTCODE, DO, NAME,      \
                                      STORAGE, CODE)                           \
  DO(NAME, STORAGE, CODE, OUT, OUTSTORAGE, OUTCODE)

#endif // SP_RUNTIME_ELEMENTTYPES_H
