//===- CublasLtGemm.h - row-major GEMMs with cuBLASLt -----------*- C++ -*-===//
//
// d[rows][n] = lhs[rows][k] x rhs[k][n] (row-major buffers) with cuBLASLt,
// as the collective matmul ops compute their chunks. Shared by the runtime
// (CudaRuntime.cpp, which loads cuBLASLt with dlopen) and
// bench/gpu/collective_matmul.cu (which links it), so that the configuration
// the bench checks and times on a GPU is exactly the runtime's.
//
// Layout: cuBLASLt is column-major, and a row-major [r][c] buffer is the
// column-major c x r matrix, so the GEMM is computed as d^T = rhs^T lhs^T:
// cuBLASLt's A is rhs (n x k, ld n), its B is lhs (k x rows, ld k), D is d
// (n x rows, ld n). FP8 GEMMs need A transposed and B not ("TN"; required on
// sm_89/sm_90): A is then rhs^T stored as [n][k] (column-major k x n, ld k,
// op T), which the caller provides (sp_cuda_transpose_bytes). The per-tensor
// FP8 scales go to A_SCALE_POINTER (rhs's) and B_SCALE_POINTER (lhs's).
//
// Numerics: compute type CUBLAS_COMPUTE_32F (f32 accumulation, one rounding
// to the output type, no TF32), alpha 1, beta 0 (beta 1 with a C: the
// plain matmul's init). Output types cuBLASLt has
// no kernel for with these operands (f32 operands to bf16/f16, f16 to bf16,
// bf16 to f16) are computed into an f32 D that the caller rounds.
//
// The Api type is any struct with one member per name in
// SP_CUBLASLT_SYMBOLS holding that function's address (CublasLtApi).
//
//===----------------------------------------------------------------------===//

#ifndef SP_RUNTIME_CUDA_CUBLASLTGEMM_H
#define SP_RUNTIME_CUDA_CUBLASLTGEMM_H

#include <cublasLt.h>

#include <cstdint>
#include <cstdio>
#include <string>

/// Every cuBLASLt function sp calls: the one list from which the function
/// table is declared and (in the runtime) resolved with dlsym.
#define SP_CUBLASLT_SYMBOLS(X)                                                 \
  X(cublasLtGetVersion)                                                        \
  X(cublasLtGetStatusName)                                                     \
  X(cublasLtGetStatusString)                                                   \
  X(cublasLtCreate)                                                            \
  X(cublasLtDestroy)                                                           \
  X(cublasLtMatmulDescCreate)                                                  \
  X(cublasLtMatmulDescDestroy)                                                 \
  X(cublasLtMatmulDescSetAttribute)                                            \
  X(cublasLtMatrixLayoutCreate)                                                \
  X(cublasLtMatrixLayoutDestroy)                                               \
  X(cublasLtMatmulPreferenceCreate)                                            \
  X(cublasLtMatmulPreferenceDestroy)                                           \
  X(cublasLtMatmulPreferenceSetAttribute)                                      \
  X(cublasLtMatmulAlgoGetHeuristic)                                            \
  X(cublasLtMatmul)

namespace sp_cublaslt {

/// The functions of SP_CUBLASLT_SYMBOLS, by their cuBLASLt names.
struct CublasLtApi {
#define SP_CUBLASLT_MEMBER(name) decltype(&::name) name = nullptr;
  SP_CUBLASLT_SYMBOLS(SP_CUBLASLT_MEMBER)
#undef SP_CUBLASLT_MEMBER
};

/// Operand types (CompiledABI.h's GemmInput codes) and output types
/// (its DType codes).
enum Operand { OpF32 = 0, OpF16 = 1, OpBF16 = 2, OpE4M3FN = 3, OpE4M3FNUZ = 4 };
enum Output { OutF32 = 0, OutF16 = 1, OutBF16 = 2 };

inline bool isFP8(int operand) { return operand >= OpE4M3FN; }

inline const char *operandName(int operand) {
  static const char *names[] = {"f32", "f16", "bf16", "f8E4M3FN", "f8E4M3FNUZ"};
  return operand >= 0 && operand <= 4 ? names[operand] : "?";
}
inline const char *outputName(int output) {
  static const char *names[] = {"f32", "f16", "bf16"};
  return output >= 0 && output <= 2 ? names[output] : "?";
}

inline cudaDataType_t operandType(int operand) {
  switch (operand) {
  case OpF16:
    return CUDA_R_16F;
  case OpBF16:
    return CUDA_R_16BF;
  case OpE4M3FN:
    return CUDA_R_8F_E4M3;
  default:
    return CUDA_R_32F;
  }
}
inline cudaDataType_t outputType(int output) {
  return output == OutF16    ? CUDA_R_16F
         : output == OutBF16 ? CUDA_R_16BF
                             : CUDA_R_32F;
}

/// Whether cuBLASLt has COMPUTE_32F kernels from these operands straight to
/// this output type (cuBLASLt's table of supported type combinations);
/// otherwise D is f32 and the caller rounds it.
inline bool directOutput(int operand, int output) {
  if (output == OutF32 || isFP8(operand))
    return true;
  return (operand == OpF16 && output == OutF16) ||
         (operand == OpBF16 && output == OutBF16);
}

/// One GEMM shape, repeated over chunks with different pointers.
struct GemmSpec {
  int operand = OpF32;
  int output = OutF32;
  /// Device pointers to the per-tensor scales (FP8 only; null = 1).
  const float *lhsScale = nullptr;
  const float *rhsScale = nullptr;
  int64_t rows = 0, k = 0, n = 0;
  /// An alignment (bytes, a power of two <= 256) of every pointer the GEMM
  /// will be run with; cuBLASLt picks an algorithm that accepts it.
  unsigned alignment = 256;
};

/// The largest power of two <= 256 that divides `value`.
inline unsigned alignmentOf(uint64_t value) {
  unsigned a = 256;
  while (a > 1 && value % a != 0)
    a /= 2;
  return a;
}

/// Checks what cuBLASLt cannot do before any work is enqueued; returns a
/// message, empty when the GEMM is possible.
inline std::string unsupported(const GemmSpec &s) {
  char text[256];
  if (s.operand == OpE4M3FNUZ)
    return "cuBLASLt has no f8E4M3FNUZ GEMMs (NVIDIA's FP8 is e4m3fn; convert "
           "the operands or use the CPU path)";
  if (s.operand < 0 || s.operand > OpE4M3FNUZ || s.output < 0 ||
      s.output > OutBF16) {
    std::snprintf(text, sizeof(text), "unknown GEMM types %d -> %d", s.operand,
                  s.output);
    return text;
  }
  if (s.rows < 0 || s.k < 0 || s.n < 0)
    return "negative GEMM sizes";
  if (isFP8(s.operand) && (s.k % 16 != 0 || s.n % 16 != 0)) {
    std::snprintf(text, sizeof(text),
                  "cuBLASLt's FP8 GEMMs need the contraction size and the "
                  "columns to be multiples of 16, got k = %lld, n = %lld",
                  (long long)s.k, (long long)s.n);
    return text;
  }
  if (isFP8(s.operand) && s.alignment < 16)
    return "cuBLASLt's FP8 GEMMs need 16-byte aligned buffers";
  return "";
}

/// The descriptors and algorithm of one GEMM shape. Not copyable; destroys
/// its descriptors.
template <typename Api> class Gemm {
public:
  explicit Gemm(const Api &api) : api(api) {}
  Gemm(const Gemm &) = delete;
  Gemm &operator=(const Gemm &) = delete;
  ~Gemm() {
    if (preference)
      api.cublasLtMatmulPreferenceDestroy(preference);
    for (cublasLtMatrixLayout_t layout : {a, b, d})
      if (layout)
        api.cublasLtMatrixLayoutDestroy(layout);
    if (desc)
      api.cublasLtMatmulDescDestroy(desc);
  }

  /// Whether cuBLASLt's A must be rhs transposed to [n][k] (FP8).
  bool transposedRhs() const { return isFP8(spec.operand); }
  /// The type of the D that run() writes (the output type, or f32).
  int dOutput() const {
    return directOutput(spec.operand, spec.output) ? spec.output : OutF32;
  }

  /// Creates the descriptors and picks an algorithm; returns a message, empty
  /// on success.
  std::string plan(cublasLtHandle_t ltHandle, const GemmSpec &s,
                   void *workspaceIn, size_t workspaceBytesIn) {
    handle = ltHandle;
    spec = s;
    workspace = workspaceIn;
    std::string why = unsupported(s);
    if (!why.empty() || empty())
      return why;
    bool fp8 = isFP8(s.operand);
    cudaDataType_t in = operandType(s.operand), out = outputType(dOutput());
    int32_t transA = fp8 ? CUBLAS_OP_T : CUBLAS_OP_N, transB = CUBLAS_OP_N;
    uint64_t maxWorkspace = workspaceBytesIn;
    uint32_t alignment = s.alignment;
    if (!ok(api.cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F),
            "cublasLtMatmulDescCreate", why) ||
        !ok(api.cublasLtMatmulDescSetAttribute(
                desc, CUBLASLT_MATMUL_DESC_TRANSA, &transA, sizeof(transA)),
            "cublasLtMatmulDescSetAttribute(TRANSA)", why) ||
        !ok(api.cublasLtMatmulDescSetAttribute(
                desc, CUBLASLT_MATMUL_DESC_TRANSB, &transB, sizeof(transB)),
            "cublasLtMatmulDescSetAttribute(TRANSB)", why))
      return why;
    // cuBLASLt's A is rhs: rhs's scale is A's (the product of the two
    // scales is what matters, but keep each with its operand).
    if (fp8 && s.rhsScale &&
        !ok(api.cublasLtMatmulDescSetAttribute(
                desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &s.rhsScale,
                sizeof(s.rhsScale)),
            "cublasLtMatmulDescSetAttribute(A_SCALE_POINTER)", why))
      return why;
    if (fp8 && s.lhsScale &&
        !ok(api.cublasLtMatmulDescSetAttribute(
                desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &s.lhsScale,
                sizeof(s.lhsScale)),
            "cublasLtMatmulDescSetAttribute(B_SCALE_POINTER)", why))
      return why;
    // A: rhs as n x k (ld n), or rhs^T as k x n (ld k) under op T.
    uint64_t aRows = fp8 ? s.k : s.n, aCols = fp8 ? s.n : s.k;
    if (!ok(api.cublasLtMatrixLayoutCreate(&a, in, aRows, aCols,
                                           int64_t(aRows)),
            "cublasLtMatrixLayoutCreate(rhs)", why) ||
        !ok(api.cublasLtMatrixLayoutCreate(&b, in, s.k, s.rows, s.k),
            "cublasLtMatrixLayoutCreate(lhs)", why) ||
        !ok(api.cublasLtMatrixLayoutCreate(&d, out, s.n, s.rows, s.n),
            "cublasLtMatrixLayoutCreate(result)", why) ||
        !ok(api.cublasLtMatmulPreferenceCreate(&preference),
            "cublasLtMatmulPreferenceCreate", why) ||
        !ok(api.cublasLtMatmulPreferenceSetAttribute(
                preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                &maxWorkspace, sizeof(maxWorkspace)),
            "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)", why))
      return why;
    for (auto attribute : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                           CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                           CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                           CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
      if (!ok(api.cublasLtMatmulPreferenceSetAttribute(
                  preference, attribute, &alignment, sizeof(alignment)),
              "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT)", why))
        return why;
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    if (!ok(api.cublasLtMatmulAlgoGetHeuristic(handle, desc, a, b, d, d,
                                               preference, 1, &result, &found),
            "cublasLtMatmulAlgoGetHeuristic", why))
      return why;
    if (found < 1 || result.state != CUBLAS_STATUS_SUCCESS) {
      char text[256];
      std::snprintf(text, sizeof(text),
                    "cuBLASLt has no algorithm for a %s x %s -> %s GEMM of "
                    "%lld x %lld x %lld (%u-byte aligned buffers, %zu bytes "
                    "of workspace)",
                    operandName(s.operand), operandName(s.operand),
                    outputName(dOutput()), (long long)s.rows, (long long)s.k,
                    (long long)s.n, alignment, workspaceBytesIn);
      return text;
    }
    algo = result.algo;
    workspaceBytes = result.workspaceSize;
    return "";
  }

  /// Enqueues d = lhs x rhs on `stream` (rhs transposed to [n][k] for FP8),
  /// or d = c + lhs x rhs (beta 1) with a `c` of d's type and layout (d
  /// itself allowed; it must be as aligned as planned); returns a message,
  /// empty on success. Nothing to do for empty shapes.
  std::string run(const void *rhs, const void *lhs, void *dOut,
                  cudaStream_t stream, const void *c = nullptr) {
    std::string why;
    if (empty())
      return why;
    const float one = 1.0f, zero = 0.0f;
    ok(api.cublasLtMatmul(handle, desc, &one, rhs, a, lhs, b,
                          c ? &one : &zero, c ? c : dOut, d, dOut, d, &algo,
                          workspaceBytes ? workspace : nullptr,
                          workspaceBytes, stream),
       "cublasLtMatmul", why);
    return why;
  }

  /// No cuBLASLt call for an empty output; k == 0 is the caller's (zeros).
  bool empty() const { return spec.rows == 0 || spec.n == 0 || spec.k == 0; }

private:
  bool ok(cublasStatus_t status, const char *call, std::string &why) {
    if (status == CUBLAS_STATUS_SUCCESS)
      return true;
    const char *name =
        api.cublasLtGetStatusName ? api.cublasLtGetStatusName(status) : nullptr;
    const char *text = api.cublasLtGetStatusString
                           ? api.cublasLtGetStatusString(status)
                           : nullptr;
    char message[512];
    std::snprintf(message, sizeof(message), "%s failed: %s (%s)", call,
                  name ? name : "unknown status", text ? text : "");
    why = message;
    return false;
  }

  const Api &api;
  GemmSpec spec;
  cublasLtHandle_t handle = nullptr;
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulPreference_t preference = nullptr;
  cublasLtMatmulAlgo_t algo{};
  void *workspace = nullptr;
  size_t workspaceBytes = 0;
};

} // namespace sp_cublaslt

#endif // SP_RUNTIME_CUDA_CUBLASLTGEMM_H
