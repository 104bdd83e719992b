//===- MockCublasLt.cpp - cuBLASLt's matmul on the mock GPU ---------------===//
//
// The cuBLASLt functions sp's runtime resolves (CublasLtGemm.h's
// SP_CUBLASLT_SYMBOLS), with cublasLt.h's signatures, on the mock GPU's
// memory and streams (MockGPU.h). The descriptors are interpreted as
// cuBLASLt documents them: column-major layouts of rows x cols with a
// leading dimension, op(A) and op(B) from TRANSA/TRANSB, the data types of
// A, B, C and D, compute type CUBLAS_COMPUTE_32F with f32 scale type, the
// FP8 scale pointers, host alpha and beta, the heuristic's workspace and
// alignment, and D = alpha * scaleA * scaleB * op(A) op(B) + beta * C
// accumulated in f32 in k order from +0 and rounded once to D's type
// (compute type 32F's definition; no FMA: built with -ffp-contract=off).
//
// What cuBLASLt refuses is refused, with the status it documents: type
// combinations outside its table for COMPUTE_32F (A and B of one type; f32
// to f32; f16 or bf16 to themselves or f32; e4m3 to bf16, f16 or f32;
// e5m2 and FP8 outputs are not modelled), FP8 in any layout but "TN" (A
// transposed, B not: what sm_89/sm_90 require), FP8 leading dimensions that
// are not multiples of 16 bytes, scale pointers on non-FP8 operands,
// attributes the runtime has no business setting (not modelled: refused
// with CUBLAS_STATUS_NOT_SUPPORTED and a note on stderr), an algorithm used
// with other descriptors than those it was found for, less workspace than
// it asked for, and pointers less aligned than the preference promised.
// Pointers the GPU cannot address fault (MockGPU.h), at the call and again
// when the GEMM runs in stream order.
//
// SP_MOCK_CUBLASLT_FAIL=1 makes cublasLtMatmul return
// CUBLAS_STATUS_EXECUTION_FAILED.
//
//===----------------------------------------------------------------------===//

#include "MockGPU.h"

#include "sp/Runtime/Numerics.h"

#include <cublasLt.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#define MOCK_EXPORT extern "C" __attribute__((visibility("default")))

using namespace mlir::sp::numerics;

namespace {

constexpr uint32_t kHandleMagic = 0x4C54484E, kDescMagic = 0x4C544445,
                   kLayoutMagic = 0x4C544C41, kPreferenceMagic = 0x4C545052,
                   kAlgoMagic = 0x4C54414C;

struct Handle {
  uint32_t magic = kHandleMagic;
};

struct Desc {
  uint32_t magic = kDescMagic;
  int32_t computeType = CUBLAS_COMPUTE_32F;
  int32_t scaleType = CUDA_R_32F;
  int32_t transA = CUBLAS_OP_N, transB = CUBLAS_OP_N;
  const void *aScale = nullptr, *bScale = nullptr;
};

struct Layout {
  uint32_t magic = kLayoutMagic;
  cudaDataType type;
  uint64_t rows, cols;
  int64_t ld;
};

struct Preference {
  uint32_t magic = kPreferenceMagic;
  uint64_t maxWorkspace = 0;
  uint32_t alignment[4] = {256, 256, 256, 256}; // A, B, C, D
};

/// The algorithm the mock's heuristic returns (in cublasLtMatmulAlgo_t).
struct Algo {
  uint64_t magic;
  uint64_t signature; // of the descriptors it was found for
  uint32_t alignment[4];
  uint64_t workspace;
};
static_assert(sizeof(Algo) <= sizeof(cublasLtMatmulAlgo_t));

/// Why a call is refused, on stderr (the runtime reports only the status).
void note(const char *format, ...) {
  char text[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof(text), format, args);
  va_end(args);
  std::fprintf(stderr, "mock cuBLASLt: %s\n", text);
}

template <typename T> T *check(void *p, uint32_t magic) {
  auto *t = static_cast<T *>(p);
  return t && t->magic == magic ? t : nullptr;
}

/// Frees a handle of type T (its magic cleared, so a second destroy or a
/// later use is caught); `invalid` if it is not a live T.
template <typename T>
cublasStatus_t destroy(void *p, uint32_t magic, cublasStatus_t invalid) {
  T *t = check<T>(p, magic);
  if (!t)
    return invalid;
  t->magic = 0;
  delete t;
  return CUBLAS_STATUS_SUCCESS;
}

size_t sizeOf(cudaDataType type) {
  switch (type) {
  case CUDA_R_32F:
    return 4;
  case CUDA_R_16F:
  case CUDA_R_16BF:
    return 2;
  default:
    return 1;
  }
}

bool isFP8(cudaDataType type) {
  return type == CUDA_R_8F_E4M3 || type == CUDA_R_8F_E5M2;
}

/// cuBLASLt's COMPUTE_32F combinations the mock models.
bool supported(cudaDataType ab, cudaDataType d) {
  switch (ab) {
  case CUDA_R_32F:
    return d == CUDA_R_32F;
  case CUDA_R_16F:
    return d == CUDA_R_16F || d == CUDA_R_32F;
  case CUDA_R_16BF:
    return d == CUDA_R_16BF || d == CUDA_R_32F;
  case CUDA_R_8F_E4M3:
    return d == CUDA_R_16BF || d == CUDA_R_16F || d == CUDA_R_32F;
  default:
    return false;
  }
}

/// The GEMM a descriptor set describes, after checking it.
struct Problem {
  uint64_t m, n, k;
  bool transA, transB;
};

cublasStatus_t validate(Desc *desc, Layout *a, Layout *b, Layout *c, Layout *d,
                        Problem &p) {
  if (!desc || !a || !b || !c || !d)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (desc->computeType != CUBLAS_COMPUTE_32F || desc->scaleType != CUDA_R_32F)
    return CUBLAS_STATUS_NOT_SUPPORTED;
  for (Layout *l : {a, b, c, d})
    if (l->ld < 1 || uint64_t(l->ld) < l->rows)
      return CUBLAS_STATUS_INVALID_VALUE;
  p.transA = desc->transA == CUBLAS_OP_T;
  p.transB = desc->transB == CUBLAS_OP_T;
  p.m = p.transA ? a->cols : a->rows;
  p.k = p.transA ? a->rows : a->cols;
  uint64_t kB = p.transB ? b->cols : b->rows;
  p.n = p.transB ? b->rows : b->cols;
  if (kB != p.k || c->rows != p.m || c->cols != p.n || d->rows != p.m ||
      d->cols != p.n)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (a->type != b->type || c->type != d->type || !supported(a->type, d->type))
    return CUBLAS_STATUS_NOT_SUPPORTED;
  bool fp8 = isFP8(a->type);
  if (!fp8 && (desc->aScale || desc->bScale))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (fp8) {
    // TN only (sm_89 / sm_90), 16-byte multiples of every leading dim.
    if (!p.transA || p.transB)
      return CUBLAS_STATUS_NOT_SUPPORTED;
    for (Layout *l : {a, b, c, d})
      if (uint64_t(l->ld) * sizeOf(l->type) % 16 != 0)
        return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  return CUBLAS_STATUS_SUCCESS;
}

uint64_t signature(Desc *desc, Layout *a, Layout *b, Layout *c, Layout *d) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
  mix(uint64_t(desc->computeType));
  mix(uint64_t(desc->scaleType));
  mix(uint64_t(desc->transA));
  mix(uint64_t(desc->transB));
  mix(desc->aScale != nullptr);
  mix(desc->bScale != nullptr);
  for (Layout *l : {a, b, c, d}) {
    mix(uint64_t(l->type));
    mix(l->rows);
    mix(l->cols);
    mix(uint64_t(l->ld));
  }
  return h;
}

float element(const void *data, cudaDataType type, uint64_t i) {
  switch (type) {
  case CUDA_R_32F:
    return static_cast<const float *>(data)[i];
  case CUDA_R_16F:
    return f16ToFloat(static_cast<const uint16_t *>(data)[i]);
  case CUDA_R_16BF:
    return bf16ToFloat(static_cast<const uint16_t *>(data)[i]);
  default:
    return fp8ToFloat(static_cast<const uint8_t *>(data)[i], FP8Kind::E4M3FN);
  }
}

void store(void *data, cudaDataType type, uint64_t i, float value) {
  switch (type) {
  case CUDA_R_32F:
    static_cast<float *>(data)[i] = value;
    break;
  case CUDA_R_16F:
    static_cast<uint16_t *>(data)[i] = floatToF16(value);
    break;
  default:
    static_cast<uint16_t *>(data)[i] = floatToBF16(value);
    break;
  }
}

/// Bytes a column-major layout spans.
size_t extent(const Layout *l) {
  if (l->rows == 0 || l->cols == 0)
    return 0;
  return (uint64_t(l->ld) * (l->cols - 1) + l->rows) * sizeOf(l->type);
}

unsigned alignmentOf(const void *p) {
  unsigned a = 256;
  while (a > 1 && reinterpret_cast<uintptr_t>(p) % a != 0)
    a /= 2;
  return a;
}

} // namespace

extern "C" {

MOCK_EXPORT size_t cublasLtGetVersion() { return CUBLAS_VERSION; }

MOCK_EXPORT const char *cublasLtGetStatusName(cublasStatus_t status) {
  switch (status) {
  case CUBLAS_STATUS_SUCCESS:
    return "CUBLAS_STATUS_SUCCESS";
  case CUBLAS_STATUS_INVALID_VALUE:
    return "CUBLAS_STATUS_INVALID_VALUE";
  case CUBLAS_STATUS_NOT_SUPPORTED:
    return "CUBLAS_STATUS_NOT_SUPPORTED";
  case CUBLAS_STATUS_EXECUTION_FAILED:
    return "CUBLAS_STATUS_EXECUTION_FAILED";
  case CUBLAS_STATUS_ALLOC_FAILED:
    return "CUBLAS_STATUS_ALLOC_FAILED";
  default:
    return "CUBLAS_STATUS_INTERNAL_ERROR";
  }
}

MOCK_EXPORT const char *cublasLtGetStatusString(cublasStatus_t status) {
  return status == CUBLAS_STATUS_EXECUTION_FAILED ? "mock cuBLASLt failure"
                                                  : "mock cuBLASLt status";
}

MOCK_EXPORT cublasStatus_t cublasLtCreate(cublasLtHandle_t *handle) {
  *handle = reinterpret_cast<cublasLtHandle_t>(new Handle);
  return CUBLAS_STATUS_SUCCESS;
}

MOCK_EXPORT cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle) {
  return destroy<Handle>(handle, kHandleMagic, CUBLAS_STATUS_NOT_INITIALIZED);
}

MOCK_EXPORT cublasStatus_t cublasLtMatmulDescCreate(
    cublasLtMatmulDesc_t *desc, cublasComputeType_t computeType,
    cudaDataType_t scaleType) {
  auto *d = new Desc;
  d->computeType = computeType;
  d->scaleType = scaleType;
  *desc = reinterpret_cast<cublasLtMatmulDesc_t>(d);
  return CUBLAS_STATUS_SUCCESS;
}

MOCK_EXPORT cublasStatus_t
cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
  return destroy<Desc>(desc, kDescMagic, CUBLAS_STATUS_INVALID_VALUE);
}

MOCK_EXPORT cublasStatus_t cublasLtMatmulDescSetAttribute(
    cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attribute,
    const void *buffer, size_t bytes) {
  Desc *d = check<Desc>(desc, kDescMagic);
  if (!d || !buffer)
    return CUBLAS_STATUS_INVALID_VALUE;
  auto read32 = [&](int32_t &slot) {
    if (bytes != sizeof(int32_t))
      return CUBLAS_STATUS_INVALID_VALUE;
    std::memcpy(&slot, buffer, sizeof(slot));
    return CUBLAS_STATUS_SUCCESS;
  };
  auto readPointer = [&](const void *&slot) {
    if (bytes != sizeof(void *))
      return CUBLAS_STATUS_INVALID_VALUE;
    std::memcpy(&slot, buffer, sizeof(slot));
    return CUBLAS_STATUS_SUCCESS;
  };
  switch (attribute) {
  case CUBLASLT_MATMUL_DESC_COMPUTE_TYPE:
    return read32(d->computeType);
  case CUBLASLT_MATMUL_DESC_SCALE_TYPE:
    return read32(d->scaleType);
  case CUBLASLT_MATMUL_DESC_TRANSA:
  case CUBLASLT_MATMUL_DESC_TRANSB: {
    int32_t op = 0;
    if (cublasStatus_t s = read32(op))
      return s;
    if (op != CUBLAS_OP_N && op != CUBLAS_OP_T)
      return CUBLAS_STATUS_INVALID_VALUE;
    (attribute == CUBLASLT_MATMUL_DESC_TRANSA ? d->transA : d->transB) = op;
    return CUBLAS_STATUS_SUCCESS;
  }
  case CUBLASLT_MATMUL_DESC_A_SCALE_POINTER:
    return readPointer(d->aScale);
  case CUBLASLT_MATMUL_DESC_B_SCALE_POINTER:
    return readPointer(d->bScale);
  default:
    note("matmul descriptor attribute %d is not modelled", int(attribute));
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
}

MOCK_EXPORT cublasStatus_t
cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *layout, cudaDataType type,
                           uint64_t rows, uint64_t cols, int64_t ld) {
  auto *l = new Layout{kLayoutMagic, type, rows, cols, ld};
  *layout = reinterpret_cast<cublasLtMatrixLayout_t>(l);
  return CUBLAS_STATUS_SUCCESS;
}

MOCK_EXPORT cublasStatus_t
cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
  return destroy<Layout>(layout, kLayoutMagic, CUBLAS_STATUS_INVALID_VALUE);
}

MOCK_EXPORT cublasStatus_t
cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *preference) {
  *preference = reinterpret_cast<cublasLtMatmulPreference_t>(new Preference);
  return CUBLAS_STATUS_SUCCESS;
}

MOCK_EXPORT cublasStatus_t
cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t preference) {
  return destroy<Preference>(preference, kPreferenceMagic,
                             CUBLAS_STATUS_INVALID_VALUE);
}

MOCK_EXPORT cublasStatus_t cublasLtMatmulPreferenceSetAttribute(
    cublasLtMatmulPreference_t preference,
    cublasLtMatmulPreferenceAttributes_t attribute, const void *buffer,
    size_t bytes) {
  Preference *p = check<Preference>(preference, kPreferenceMagic);
  if (!p || !buffer)
    return CUBLAS_STATUS_INVALID_VALUE;
  switch (attribute) {
  case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES:
    if (bytes != sizeof(uint64_t))
      return CUBLAS_STATUS_INVALID_VALUE;
    std::memcpy(&p->maxWorkspace, buffer, bytes);
    return CUBLAS_STATUS_SUCCESS;
  case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES:
  case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES:
  case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES:
  case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES: {
    uint32_t value = 0;
    if (bytes != sizeof(value))
      return CUBLAS_STATUS_INVALID_VALUE;
    std::memcpy(&value, buffer, bytes);
    if (value == 0 || (value & (value - 1)) != 0)
      return CUBLAS_STATUS_INVALID_VALUE;
    p->alignment[attribute - CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES] =
        value;
    return CUBLAS_STATUS_SUCCESS;
  }
  default:
    note("preference attribute %d is not modelled", int(attribute));
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
}

/// One algorithm when the GEMM is possible: it needs some workspace (at
/// most the preference's) and the preference's alignments; none for FP8
/// with less than 16-byte alignment.
MOCK_EXPORT cublasStatus_t cublasLtMatmulAlgoGetHeuristic(
    cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
    cublasLtMatrixLayout_t aLayout, cublasLtMatrixLayout_t bLayout,
    cublasLtMatrixLayout_t cLayout, cublasLtMatrixLayout_t dLayout,
    cublasLtMatmulPreference_t preference, int requested,
    cublasLtMatmulHeuristicResult_t results[], int *returned) {
  if (!check<Handle>(handle, kHandleMagic))
    return CUBLAS_STATUS_NOT_INITIALIZED;
  Desc *d = check<Desc>(desc, kDescMagic);
  Layout *a = check<Layout>(aLayout, kLayoutMagic),
         *b = check<Layout>(bLayout, kLayoutMagic),
         *c = check<Layout>(cLayout, kLayoutMagic),
         *dl = check<Layout>(dLayout, kLayoutMagic);
  Preference *p = check<Preference>(preference, kPreferenceMagic);
  if (!p || requested <= 0 || !results || !returned)
    return CUBLAS_STATUS_INVALID_VALUE;
  Problem problem;
  if (cublasStatus_t status = validate(d, a, b, c, dl, problem))
    return status;
  *returned = 0;
  if (isFP8(a->type))
    for (uint32_t alignment : p->alignment)
      if (alignment < 16)
        return CUBLAS_STATUS_SUCCESS;
  Algo algo{kAlgoMagic, signature(d, a, b, c, dl), {}, 0};
  std::memcpy(algo.alignment, p->alignment, sizeof(algo.alignment));
  algo.workspace = p->maxWorkspace < 4096 ? p->maxWorkspace : 4096;
  std::memset(&results[0], 0, sizeof(results[0]));
  std::memcpy(&results[0].algo, &algo, sizeof(algo));
  results[0].workspaceSize = algo.workspace;
  results[0].state = CUBLAS_STATUS_SUCCESS;
  results[0].wavesCount = 1.0f;
  *returned = 1;
  return CUBLAS_STATUS_SUCCESS;
}

MOCK_EXPORT cublasStatus_t cublasLtMatmul(
    cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, const void *alpha,
    const void *aData, cublasLtMatrixLayout_t aLayout, const void *bData,
    cublasLtMatrixLayout_t bLayout, const void *beta, const void *cData,
    cublasLtMatrixLayout_t cLayout, void *dData, cublasLtMatrixLayout_t dLayout,
    const cublasLtMatmulAlgo_t *algoIn, void *workspace, size_t workspaceBytes,
    cudaStream_t stream) {
  if (mock::envSet("SP_MOCK_CUBLASLT_FAIL"))
    return CUBLAS_STATUS_EXECUTION_FAILED;
  if (!check<Handle>(handle, kHandleMagic))
    return CUBLAS_STATUS_NOT_INITIALIZED;
  Desc *d = check<Desc>(desc, kDescMagic);
  Layout *a = check<Layout>(aLayout, kLayoutMagic),
         *b = check<Layout>(bLayout, kLayoutMagic),
         *c = check<Layout>(cLayout, kLayoutMagic),
         *dl = check<Layout>(dLayout, kLayoutMagic);
  Problem p;
  if (!alpha || !beta || !algoIn)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (cublasStatus_t status = validate(d, a, b, c, dl, p))
    return status;
  Algo algo;
  std::memcpy(&algo, algoIn, sizeof(algo));
  if (algo.magic != kAlgoMagic || algo.signature != signature(d, a, b, c, dl)) {
    note("the algorithm was not found for these descriptors");
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  if (workspaceBytes < algo.workspace)
    return CUBLAS_STATUS_INVALID_VALUE;
  mock::need(workspace, workspaceBytes, "cublasLtMatmul (workspace)");
  const void *pointers[4] = {aData, bData, cData, dData};
  for (int i = 0; i < 4; ++i)
    if (alignmentOf(pointers[i]) < algo.alignment[i]) {
      note("matrix %s is less aligned than the preference promised (%u "
           "bytes)",
           i == 0   ? "A"
           : i == 1 ? "B"
           : i == 2 ? "C"
                    : "D",
           algo.alignment[i]);
      return CUBLAS_STATUS_INVALID_VALUE;
    }
  // POINTER_MODE_HOST: alpha and beta are read now.
  float alphaValue = *static_cast<const float *>(alpha);
  float betaValue = *static_cast<const float *>(beta);
  // Checked at the call and again when the GEMM runs, from values: the
  // descriptors may be destroyed once the call has returned, as cuBLASLt
  // allows.
  size_t aBytes = extent(a), bBytes = extent(b), cBytes = extent(c),
         dBytes = extent(dl);
  const void *aScaleData = d->aScale, *bScaleData = d->bScale;
  auto operands = [=] {
    mock::need(aData, aBytes, "cublasLtMatmul (A)");
    mock::need(bData, bBytes, "cublasLtMatmul (B)");
    mock::need(dData, dBytes, "cublasLtMatmul (D)");
    if (betaValue != 0.0f)
      mock::need(cData, cBytes, "cublasLtMatmul (C)");
    mock::need(aScaleData, sizeof(float), "cublasLtMatmul (A scale)");
    mock::need(bScaleData, sizeof(float), "cublasLtMatmul (B scale)");
  };
  operands();
  Layout A = *a, B = *b, C = *c, D = *dl;
  // SP_MOCK_CUBLASLT_NUMERICS=linalg: the CPU path's numerics instead of
  // cuBLASLt's for 16-bit outputs of unscaled GEMMs (HostKernels.h's gemm:
  // every product and every sum rounded to D's type), and for unscaled
  // GEMMs with a C (alpha 1, beta 1: linalg.matmul's init) a sum that
  // starts from C instead of adding it at the end. Tests use it to compare
  // the backend's data movement bit for bit.
  static const bool linalg = [] {
    const char *v = std::getenv("SP_MOCK_CUBLASLT_NUMERICS");
    return v && std::strcmp(v, "linalg") == 0;
  }();
  bool stepwise = linalg && D.type != CUDA_R_32F && !d->aScale && !d->bScale;
  bool fromC = linalg && !d->aScale && !d->bScale && alphaValue == 1.0f &&
               betaValue == 1.0f;
  ElementKind kind = D.type == CUDA_R_16F    ? ElementKind::F16
                     : D.type == CUDA_R_16BF ? ElementKind::BF16
                                             : ElementKind::F32;
  const float *aScale = static_cast<const float *>(d->aScale),
              *bScale = static_cast<const float *>(d->bScale);
  mock::enqueue(stream, "cublasLtMatmul", [=] {
    operands();
    bool scaled = aScale || bScale;
    // The scales are read when the GEMM runs (device memory).
    float scale = (aScale ? *aScale : 1.0f) * (bScale ? *bScale : 1.0f);
    for (uint64_t j = 0; j < p.n; ++j)
      for (uint64_t i = 0; i < p.m; ++i) {
        float acc = fromC ? element(cData, C.type, i + j * C.ld) : 0.0f;
        for (uint64_t l = 0; l < p.k; ++l) {
          float x =
              element(aData, A.type, p.transA ? l + i * A.ld : i + l * A.ld);
          float y =
              element(bData, B.type, p.transB ? j + l * B.ld : l + j * B.ld);
          if (stepwise) {
            float product = round(round(x, kind) * round(y, kind), kind);
            acc = round(acc + product, kind);
          } else
            acc = acc + x * y;
        }
        float value = scaled ? scale * acc : acc;
        value = alphaValue * value;
        if (betaValue != 0.0f && !fromC)
          value = value + betaValue * element(cData, C.type, i + j * C.ld);
        store(dData, D.type, i + j * D.ld, value);
      }
  });
  return CUBLAS_STATUS_SUCCESS;
}

} // extern "C"
