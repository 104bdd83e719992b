//===- HostTensor.cpp - tensors in host memory for sp-run -----------------===//

#include "HostTensor.h"

#include "sp/Runtime/Numerics.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace mlir;
using namespace mlir::sp::numerics;

namespace sp_run {

size_t elementBytes(Type type) {
  if (type.isF32() || type.isInteger(32))
    return 4;
  if (type.isF64() || type.isInteger(64))
    return 8;
  if (type.isF16() || type.isBF16() || type.isInteger(16))
    return 2;
  if (isa<Float8E4M3FNType, Float8E4M3FNUZType>(type) || type.isInteger(8))
    return 1;
  return 0;
}

std::string npyDescr(Type type) {
  if (type.isF32())
    return "<f4";
  if (type.isF64())
    return "<f8";
  if (type.isF16())
    return "<f2";
  if (type.isBF16())
    return "<u2"; // raw bf16 bits (numpy has no bfloat16)
  if (isa<Float8E4M3FNType, Float8E4M3FNUZType>(type))
    return "|u1"; // raw fp8 bits
  if (type.isInteger(8))
    return "|i1";
  if (type.isInteger(16))
    return "<i2";
  if (type.isInteger(32))
    return "<i4";
  if (type.isInteger(64))
    return "<i8";
  return "";
}

int64_t HostTensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

size_t HostTensor::elementBytes() const {
  return sp_run::elementBytes(elementType);
}

double HostTensor::valueAt(int64_t i) const {
  const char *p = bytes.data() + i * elementBytes();
  auto load = [&](auto value) {
    std::memcpy(&value, p, sizeof(value));
    return value;
  };
  if (elementType.isF32())
    return load(float());
  if (elementType.isF64())
    return load(double());
  if (elementType.isF16())
    return f16ToFloat(load(uint16_t()));
  if (elementType.isBF16())
    return bf16ToFloat(load(uint16_t()));
  if (isa<Float8E4M3FNType>(elementType))
    return fp8ToFloat(load(uint8_t()), FP8Kind::E4M3FN);
  if (isa<Float8E4M3FNUZType>(elementType))
    return fp8ToFloat(load(uint8_t()), FP8Kind::E4M3FNUZ);
  if (elementType.isInteger(8))
    return load(int8_t());
  if (elementType.isInteger(16))
    return load(int16_t());
  if (elementType.isInteger(32))
    return load(int32_t());
  return static_cast<double>(load(int64_t()));
}

std::string HostTensor::typeString() const {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "tensor<";
  for (int64_t d : shape)
    os << d << "x";
  os << elementType << ">";
  return text;
}

llvm::Error writeNpy(const std::string &path, const HostTensor &tensor) {
  std::string header = "{'descr': '" + npyDescr(tensor.elementType) +
                       "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < tensor.shape.size(); ++i)
    header += (i ? ", " : "") + std::to_string(tensor.shape[i]);
  header += tensor.shape.size() == 1 ? ",), }" : "), }"; // numpy: (4,) (4, 8)
  // Magic (6) + version (2) + length (2) + header + '\n', padded to 64.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  // Written under a temporary name in the same directory and renamed: a
  // file with the final name is complete, whatever happens to the process.
  std::string partial = path + ".partial";
  {
    std::error_code error;
    llvm::raw_fd_ostream os(partial, error, llvm::sys::fs::OF_None);
    if (error)
      return llvm::createStringError(error, "cannot write '%s': %s",
                                     path.c_str(), error.message().c_str());
    os << "\x93NUMPY" << char(1) << char(0);
    uint16_t length = static_cast<uint16_t>(header.size());
    os << char(length & 0xFF) << char(length >> 8) << header;
    os.write(tensor.bytes.data(), tensor.bytes.size());
    os.close();
    if (os.has_error()) {
      std::error_code failed = os.error();
      os.clear_error();
      llvm::sys::fs::remove(partial);
      return llvm::createStringError(failed, "cannot write '%s': %s",
                                     path.c_str(), failed.message().c_str());
    }
  }
  if (std::error_code error = llvm::sys::fs::rename(partial, path)) {
    llvm::sys::fs::remove(partial);
    return llvm::createStringError(error, "cannot write '%s': %s",
                                   path.c_str(), error.message().c_str());
  }
  return llvm::Error::success();
}

llvm::Error readNpy(const std::string &path, HostTensor &tensor) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  if (!buffer)
    return llvm::createStringError(buffer.getError(), "cannot read '%s': %s",
                                   path.c_str(),
                                   buffer.getError().message().c_str());
  llvm::StringRef data = (*buffer)->getBuffer();
  auto bad = [&](const char *why) {
    return llvm::createStringError(std::errc::invalid_argument,
                                   "'%s' is not a valid .npy file: %s",
                                   path.c_str(), why);
  };
  if (data.size() < 10 || !data.starts_with("\x93NUMPY"))
    return bad("missing magic");
  unsigned major = static_cast<unsigned char>(data[6]);
  size_t headerLength, offset;
  if (major == 1) {
    headerLength = static_cast<unsigned char>(data[8]) |
                   static_cast<unsigned char>(data[9]) << 8;
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (data.size() < 12)
      return bad("truncated header");
    headerLength = 0;
    for (int i = 0; i < 4; ++i)
      headerLength |= size_t(static_cast<unsigned char>(data[8 + i])) << (8 * i);
    offset = 12;
  } else {
    return bad("unknown version");
  }
  if (offset + headerLength > data.size())
    return bad("truncated header");
  llvm::StringRef header = data.substr(offset, headerLength);
  auto field = [&](llvm::StringRef key) -> llvm::StringRef {
    size_t at = header.find("'" + key.str() + "'");
    if (at == llvm::StringRef::npos)
      return "";
    llvm::StringRef rest = header.substr(at + key.size() + 2).ltrim();
    rest = rest.drop_front(rest.starts_with(":") ? 1 : 0).ltrim();
    return rest;
  };
  llvm::StringRef descrField = field("descr");
  if (!descrField.starts_with("'"))
    return bad("no descr");
  llvm::StringRef descr = descrField.drop_front().take_until(
      [](char c) { return c == '\''; });
  std::string expected = npyDescr(tensor.elementType);
  // '<' and '|' mean the same for 1-byte types; '=' is native little endian.
  auto normalize = [](std::string d) {
    if (!d.empty() && (d[0] == '|' || d[0] == '='))
      d[0] = '<';
    return d;
  };
  if (normalize(descr.str()) != normalize(expected)) {
    std::string text;
    llvm::raw_string_ostream os(text);
    os << "'" << path << "' holds dtype '" << descr << "', but the argument "
       << "has element type " << tensor.elementType << " (expects '"
       << expected << "')";
    return llvm::createStringError(std::errc::invalid_argument, "%s",
                                   text.c_str());
  }
  if (field("fortran_order").starts_with("True"))
    return bad("fortran_order arrays are not supported");
  llvm::StringRef shapeField = field("shape");
  if (!shapeField.starts_with("("))
    return bad("no shape");
  llvm::StringRef dims =
      shapeField.drop_front().take_until([](char c) { return c == ')'; });
  tensor.shape.clear();
  while (!dims.trim().empty()) {
    auto [head, tail] = dims.split(',');
    int64_t d;
    if (head.trim().getAsInteger(10, d))
      return bad("malformed shape");
    tensor.shape.push_back(d);
    dims = tail;
  }
  size_t bytes = tensor.numElements() * tensor.elementBytes();
  size_t start = offset + headerLength;
  if (data.size() - start != bytes) {
    std::string why =
        (data.size() - start < bytes ? "truncated data: " : "extra data: ") +
        std::string("the shape holds ") + std::to_string(bytes) +
        " bytes of data, the file " + std::to_string(data.size() - start);
    return bad(why.c_str());
  }
  tensor.bytes.assign(data.begin() + start, data.end());
  return llvm::Error::success();
}

namespace {
/// SplitMix64: small, fast and the same on every platform.
struct Random {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1) with 24 random bits (exact in f32).
  float unit() { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }
};
} // namespace

void fillSeeded(HostTensor &tensor, uint64_t seed) {
  Random random{seed};
  int64_t n = tensor.numElements();
  tensor.bytes.assign(n * tensor.elementBytes(), 0);
  char *out = tensor.bytes.data();
  Type t = tensor.elementType;
  bool scale = tensor.shape.empty() && t.isF32();
  for (int64_t i = 0; i < n; ++i) {
    float u = random.unit();
    float value = scale ? (1.0f / 512.0f) + u * (1.0f / 32.0f - 1.0f / 512.0f)
                        : 2.0f * u - 1.0f;
    char *p = out + i * tensor.elementBytes();
    auto store = [&](auto v) { std::memcpy(p, &v, sizeof(v)); };
    if (t.isF32())
      store(value);
    else if (t.isF64())
      store(static_cast<double>(value));
    else if (t.isF16())
      store(floatToF16(value));
    else if (t.isBF16())
      store(floatToBF16(value));
    else if (isa<Float8E4M3FNType>(t))
      store(floatToFP8(value * 8.0f, FP8Kind::E4M3FN));
    else if (isa<Float8E4M3FNUZType>(t))
      store(floatToFP8(value * 8.0f, FP8Kind::E4M3FNUZ));
    else {
      int64_t v = static_cast<int64_t>(random.next() % 16) - 8;
      if (t.isInteger(8))
        store(static_cast<int8_t>(v));
      else if (t.isInteger(16))
        store(static_cast<int16_t>(v));
      else if (t.isInteger(32))
        store(static_cast<int32_t>(v));
      else
        store(v);
    }
  }
}

} // namespace sp_run
