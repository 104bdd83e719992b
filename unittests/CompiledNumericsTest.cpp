//===- CompiledNumericsTest.cpp - compiled code vs the C++ reference ------===//
//
// Lowers sp.rms_norm, sp.fused_add_rms_norm and sp.quant with
// sp-lower-to-cpu, JIT compiles them and compares every output bit with
// include/sp/Runtime/Numerics.h, on every bf16 and every f16 bit pattern
// (including subnormals, infinities and NaNs).
//
//===----------------------------------------------------------------------===//

#include "sp/Dialect/SP/Transforms/Passes.h"
#include "sp/Pipelines/Pipelines.h"
#include "sp/Registration/Registration.h"
#include "sp/Runtime/Numerics.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "llvm/Support/TargetSelect.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>

using namespace mlir;
using namespace mlir::sp::numerics;

namespace {
/// A row-major buffer of 1-, 2- or 4-byte elements, kept as raw bits.
struct Buffer {
  std::vector<int64_t> shape;
  size_t width;
  std::vector<uint8_t> bytes;

  Buffer(std::vector<int64_t> shape, size_t width) : shape(shape), width(width) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    bytes.resize(n * width);
  }
  int64_t size() const { return bytes.size() / width; }
  uint32_t get(int64_t i) const {
    uint32_t v = 0;
    std::memcpy(&v, &bytes[i * width], width);
    return v;
  }
  void set(int64_t i, uint32_t v) { std::memcpy(&bytes[i * width], &v, width); }
};

class CompiledNumerics : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    registerAllPasses();
    sp::registerSPPasses();
  }

  CompiledNumerics() {
    DialectRegistry registry;
    registerAllDialects(registry);
    registerAllExtensions(registry);
    registerAllToLLVMIRTranslations(registry);
    sp::registerSPDialects(registry);
    context.appendDialectRegistry(registry);
  }

  /// Compiles `source` (one function @f with llvm.emit_c_interface) and calls
  /// it with `inputs`; returns its single result.
  Buffer run(StringRef source, std::vector<Buffer *> inputs,
             std::vector<int64_t> resultShape, size_t resultWidth) {
    OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(source, &context);
    EXPECT_TRUE(module);
    PassManager pm(&context);
    sp::buildLowerToCPUPipeline(pm);
    EXPECT_TRUE(succeeded(pm.run(*module)));
    auto engine = ExecutionEngine::create(*module);
    EXPECT_TRUE(static_cast<bool>(engine));
    (*engine)->initialize();

    std::vector<std::vector<int64_t>> descriptors;
    for (Buffer *b : inputs) {
      std::vector<int64_t> d{reinterpret_cast<int64_t>(b->bytes.data()),
                             reinterpret_cast<int64_t>(b->bytes.data()), 0};
      d.insert(d.end(), b->shape.begin(), b->shape.end());
      std::vector<int64_t> strides(b->shape.size(), 1);
      for (int64_t i = static_cast<int64_t>(b->shape.size()) - 2; i >= 0; --i)
        strides[i] = strides[i + 1] * b->shape[i + 1];
      d.insert(d.end(), strides.begin(), strides.end());
      descriptors.push_back(std::move(d));
    }
    std::vector<int64_t> result(3 + 2 * resultShape.size());
    void *resultPointer = result.data();
    std::vector<void *> pointers;
    for (auto &d : descriptors)
      pointers.push_back(d.data());
    SmallVector<void *> packed{&resultPointer};
    for (void *&p : pointers)
      packed.push_back(&p);
    llvm::Error error = (*engine)->invokePacked("_mlir_ciface_f", packed);
    EXPECT_FALSE(static_cast<bool>(error)) << llvm::toString(std::move(error));

    Buffer out(resultShape, resultWidth);
    const uint8_t *data = reinterpret_cast<const uint8_t *>(result[1]);
    std::memcpy(out.bytes.data(), data + result[2] * resultWidth,
                out.bytes.size());
    // The result buffer was malloc'ed by the compiled code; it is ours now.
    std::free(reinterpret_cast<void *>(result[0]));
    return out;
  }

  MLIRContext context;
};

/// Every 16-bit pattern once, in rows of 256.
Buffer everyPattern() {
  Buffer x({256, 256}, 2);
  for (int64_t i = 0; i < 65536; ++i)
    x.set(i, static_cast<uint32_t>(i));
  return x;
}

/// The finite patterns of `kind` in a random order, so that rows mix
/// magnitudes (infinities and NaNs, which turn a whole row into NaN, are
/// covered by everyPattern's own rows instead).
Buffer finitePatternsShuffled(ElementKind kind, uint32_t seed) {
  std::vector<uint32_t> codes;
  for (uint32_t i = 0; i < 65536; ++i)
    if (std::isfinite(toFloat(i, kind)))
      codes.push_back(i);
  std::mt19937 random(seed);
  std::shuffle(codes.begin(), codes.end(), random);
  int64_t rows = codes.size() / 256;
  Buffer x({rows, 256}, 2);
  for (int64_t i = 0; i < rows * 256; ++i)
    x.set(i, codes[i]);
  return x;
}

Buffer randomValues(std::vector<int64_t> shape, ElementKind kind, float low,
                    float high, uint32_t seed) {
  Buffer b(shape, kind == ElementKind::F32 ? 4 : 2);
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> uniform(low, high);
  for (int64_t i = 0; i < b.size(); ++i)
    b.set(i, fromFloat(uniform(random), kind));
  return b;
}

std::string typeName(ElementKind kind) {
  return kind == ElementKind::BF16 ? "bf16"
         : kind == ElementKind::F16 ? "f16"
                                    : "f32";
}

/// Bitwise equality; with `nanKind`, two NaNs of that type also count as
/// equal (the NaN policy leaves payload and sign of a norm's NaN open).
void expectSameBits(const Buffer &actual, const Buffer &expected,
                    const char *what,
                    std::optional<ElementKind> nanKind = std::nullopt) {
  ASSERT_EQ(actual.size(), expected.size());
  int64_t mismatches = 0, nans = 0;
  for (int64_t i = 0; i < actual.size(); ++i) {
    if (actual.get(i) == expected.get(i))
      continue;
    if (nanKind && std::isnan(toFloat(actual.get(i), *nanKind)) &&
        std::isnan(toFloat(expected.get(i), *nanKind))) {
      ++nans;
      continue;
    }
    if (mismatches++ < 5)
      ADD_FAILURE() << what << ": element " << i << ": compiled 0x" << std::hex
                    << actual.get(i) << ", reference 0x" << expected.get(i);
  }
  EXPECT_EQ(mismatches, 0) << what;
  // The bit patterns agree everywhere but (some) NaN payloads.
  EXPECT_LT(nans, actual.size() / 8) << what;
}
} // namespace

class RMSNormExhaustive : public CompiledNumerics,
                          public ::testing::WithParamInterface<ElementKind> {};

TEST_P(RMSNormExhaustive, MatchesReferenceOnEveryPattern) {
  ElementKind kind = GetParam();
  std::string t = typeName(kind);
  std::string source = "func.func @f(%x: tensor<?x256x" + t +
                       ">, %w: tensor<256x" + t + ">) -> tensor<?x256x" + t +
                       "> attributes {llvm.emit_c_interface} {\n"
                       "  %0 = sp.rms_norm %x, %w epsilon = 1.0e-6 : "
                       "tensor<?x256x" + t + ">, tensor<256x" + t + ">\n"
                       "  return %0 : tensor<?x256x" + t + ">\n}\n";
  Buffer w = randomValues({256}, kind, -2.0f, 2.0f, 7);
  for (Buffer x : {everyPattern(), finitePatternsShuffled(kind, 1)}) {
    int64_t rows = x.shape[0];
    Buffer out = run(source, {&x, &w}, {rows, 256}, 2);
    Buffer expected({rows, 256}, 2);
    std::vector<uint32_t> row(256), weight(256), result(256);
    for (int64_t i = 0; i < 256; ++i)
      weight[i] = w.get(i);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < 256; ++i)
        row[i] = x.get(r * 256 + i);
      rmsNormRow(row.data(), weight.data(), 256, 1e-6f, kind, result.data());
      for (int64_t i = 0; i < 256; ++i)
        expected.set(r * 256 + i, result[i]);
    }
    expectSameBits(out, expected, ("rms_norm " + t).c_str(), kind);
  }
}

TEST_P(RMSNormExhaustive, FusedAddMatchesReferenceOnEveryPattern) {
  ElementKind kind = GetParam();
  std::string t = typeName(kind);
  std::string tensor = "tensor<256x256x" + t + ">";
  std::string source =
      "func.func @f(%x: " + tensor + ", %r: " + tensor + ", %w: tensor<256x" +
      t + ">) -> " + tensor +
      " attributes {llvm.emit_c_interface} {\n"
      "  %o, %res = sp.fused_add_rms_norm %x, %r, %w epsilon = 1.0e-5 : " +
      tensor + ", tensor<256x" + t +
      ">\n"
      "  %sum = arith.addf %o, %res : " + tensor + "\n"
      "  return %o : " + tensor + "\n}\n";
  // The residual output is checked through a second function below.
  Buffer x = everyPattern();
  Buffer r = randomValues({256, 256}, kind, -4.0f, 4.0f, 3);
  Buffer w = randomValues({256}, kind, -2.0f, 2.0f, 9);
  Buffer out = run(source, {&x, &r, &w}, {256, 256}, 2);
  std::string residualSource =
      "func.func @f(%x: " + tensor + ", %r: " + tensor + ", %w: tensor<256x" +
      t + ">) -> " + tensor +
      " attributes {llvm.emit_c_interface} {\n"
      "  %o, %res = sp.fused_add_rms_norm %x, %r, %w epsilon = 1.0e-5 : " +
      tensor + ", tensor<256x" + t + ">\n  return %res : " + tensor + "\n}\n";
  Buffer residualOut = run(residualSource, {&x, &r, &w}, {256, 256}, 2);

  Buffer expected({256, 256}, 2), expectedResidual({256, 256}, 2);
  std::vector<uint32_t> xs(256), rs(256), ws(256), o(256), ro(256);
  for (int64_t i = 0; i < 256; ++i)
    ws[i] = w.get(i);
  for (int64_t row = 0; row < 256; ++row) {
    for (int64_t i = 0; i < 256; ++i) {
      xs[i] = x.get(row * 256 + i);
      rs[i] = r.get(row * 256 + i);
    }
    fusedAddRMSNormRow(xs.data(), rs.data(), ws.data(), 256, 1e-5f, kind,
                       o.data(), ro.data());
    for (int64_t i = 0; i < 256; ++i) {
      expected.set(row * 256 + i, o[i]);
      expectedResidual.set(row * 256 + i, ro[i]);
    }
  }
  expectSameBits(out, expected, ("fused_add_rms_norm output " + t).c_str(),
                 kind);
  expectSameBits(residualOut, expectedResidual,
                 ("fused_add_rms_norm residual " + t).c_str(), kind);
}

INSTANTIATE_TEST_SUITE_P(Types, RMSNormExhaustive,
                         ::testing::Values(ElementKind::BF16, ElementKind::F16),
                         [](const auto &info) { return typeName(info.param); });

TEST_F(CompiledNumerics, RMSNormF32Random) {
  std::string source =
      "func.func @f(%x: tensor<64x1024xf32>, %w: tensor<1024xf32>) -> "
      "tensor<64x1024xf32> attributes {llvm.emit_c_interface} {\n"
      "  %0 = sp.rms_norm %x, %w epsilon = 1.0e-5 : tensor<64x1024xf32>, "
      "tensor<1024xf32>\n  return %0 : tensor<64x1024xf32>\n}\n";
  Buffer x = randomValues({64, 1024}, ElementKind::F32, -30.0f, 30.0f, 5);
  Buffer w = randomValues({1024}, ElementKind::F32, -2.0f, 2.0f, 6);
  Buffer out = run(source, {&x, &w}, {64, 1024}, 4);
  Buffer expected({64, 1024}, 4);
  std::vector<uint32_t> row(1024), weight(1024), result(1024);
  for (int64_t i = 0; i < 1024; ++i)
    weight[i] = w.get(i);
  for (int64_t r = 0; r < 64; ++r) {
    for (int64_t i = 0; i < 1024; ++i)
      row[i] = x.get(r * 1024 + i);
    rmsNormRow(row.data(), weight.data(), 1024, 1e-5f, ElementKind::F32,
               result.data());
    for (int64_t i = 0; i < 1024; ++i)
      expected.set(r * 1024 + i, result[i]);
  }
  expectSameBits(out, expected, "rms_norm f32");
}

struct QuantCase {
  ElementKind input;
  FP8Kind fp8;
};

class QuantExhaustive : public CompiledNumerics,
                        public ::testing::WithParamInterface<QuantCase> {};

TEST_P(QuantExhaustive, MatchesReferenceOnEveryPattern) {
  auto [kind, fp8] = GetParam();
  std::string t = typeName(kind);
  std::string f8 = fp8 == FP8Kind::E4M3FN ? "f8E4M3FN" : "f8E4M3FNUZ";
  std::string source = "func.func @f(%x: tensor<256x256x" + t +
                       ">, %s: tensor<f32>) -> tensor<256x256x" + f8 +
                       "> attributes {llvm.emit_c_interface} {\n"
                       "  %0 = sp.quant %x, %s : tensor<256x256x" + t +
                       "> -> tensor<256x256x" + f8 + ">\n"
                       "  return %0 : tensor<256x256x" + f8 + ">\n}\n";
  Buffer x = everyPattern();
  // Scales that saturate, that land values in the subnormals, and that make
  // 1/scale inexact.
  for (float scale : {1.0f, 1.0f / 448.0f, 0.37f, 3.0f, 1e-3f, 50.0f}) {
    Buffer s({}, 4);
    s.set(0, bitsOf(scale));
    Buffer out = run(source, {&x, &s}, {256, 256}, 1);
    Buffer expected({256, 256}, 1);
    for (int64_t i = 0; i < 65536; ++i)
      expected.set(i, quantFP8(toFloat(x.get(i), kind), scale, fp8));
    expectSameBits(out, expected,
                   ("quant " + t + " -> " + f8 + " scale " +
                    std::to_string(scale))
                       .c_str());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Types, QuantExhaustive,
    ::testing::Values(QuantCase{ElementKind::BF16, FP8Kind::E4M3FN},
                      QuantCase{ElementKind::F16, FP8Kind::E4M3FN},
                      QuantCase{ElementKind::BF16, FP8Kind::E4M3FNUZ},
                      QuantCase{ElementKind::F16, FP8Kind::E4M3FNUZ}),
    [](const auto &info) {
      return typeName(info.param.input) +
             (info.param.fp8 == FP8Kind::E4M3FN ? "_e4m3fn" : "_e4m3fnuz");
    });

TEST_F(CompiledNumerics, FP8WidensExactly) {
  // arith.extf from fp8 (sp-expand-fp8) against the reference decoder.
  for (auto [f8, kind] : {std::pair{"f8E4M3FN", FP8Kind::E4M3FN},
                          std::pair{"f8E4M3FNUZ", FP8Kind::E4M3FNUZ}}) {
    std::string source =
        std::string("func.func @f(%x: tensor<256x") + f8 +
        ">) -> tensor<256xf32> attributes {llvm.emit_c_interface} {\n"
        "  %e = tensor.empty() : tensor<256xf32>\n"
        "  %0 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, "
        "affine_map<(d0) -> (d0)>], iterator_types = [\"parallel\"]} ins(%x : "
        "tensor<256x" + f8 + ">) outs(%e : tensor<256xf32>) {\n"
        "  ^bb0(%a: " + f8 + ", %b: f32):\n"
        "    %w = arith.extf %a : " + f8 + " to f32\n"
        "    linalg.yield %w : f32\n  } -> tensor<256xf32>\n"
        "  return %0 : tensor<256xf32>\n}\n";
    Buffer x({256}, 1);
    for (int64_t i = 0; i < 256; ++i)
      x.set(i, static_cast<uint32_t>(i));
    Buffer out = run(source, {&x}, {256}, 4);
    for (int64_t i = 0; i < 256; ++i) {
      float expected = fp8ToFloat(static_cast<uint8_t>(i), kind);
      float actual = floatOf(out.get(i));
      if (std::isnan(expected))
        EXPECT_TRUE(std::isnan(actual)) << f8 << " code " << i;
      else
        EXPECT_EQ(bitsOf(actual), bitsOf(expected)) << f8 << " code " << i;
    }
  }
}
