//===- CostModel.cpp - predicted time of collectives from a profile -------===//

#include "sp/Dialect/SP/Analysis/CostModel.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::sp;
using llvm::SmallString;
using llvm::SmallVector;
using llvm::StringRef;

#ifndef SP_SOURCE_COST_PROFILE_DIR
#define SP_SOURCE_COST_PROFILE_DIR ""
#endif

StringRef mlir::sp::stringifyCollectiveKind(CollectiveKind kind) {
  switch (kind) {
  case CollectiveKind::allReduce:
    return "all_reduce";
  case CollectiveKind::reduceScatter:
    return "reduce_scatter";
  case CollectiveKind::allGather:
    return "all_gather";
  }
  return "";
}

namespace {
/// Reads a profile, remembering where it is (a JSON path) for errors.
class Reader {
public:
  explicit Reader(StringRef origin) : origin(origin.str()) {}

  llvm::Error fail(const std::string &path, const llvm::Twine &message) {
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "cost profile '" + origin + "': " + path + ": " + message);
  }

  /// A number {"value": x, "source": "..."} or {"value": x, "assumption":
  /// "..."}: every number says where it comes from.
  llvm::Expected<double> quantity(const llvm::json::Object &parent,
                                  StringRef key, const std::string &path,
                                  bool positive = true) {
    std::string here = path + "." + key.str();
    const llvm::json::Value *value = parent.get(key);
    if (!value)
      return fail(path, "missing field '" + key + "'");
    const llvm::json::Object *object = value->getAsObject();
    if (!object)
      return fail(here, "expected an object {\"value\": number, \"source\" or "
                        "\"assumption\": string}");
    std::optional<double> number = object->getNumber("value");
    if (!number)
      return fail(here, "missing number 'value'");
    if (positive ? !(*number > 0) : !(*number >= 0))
      return fail(here, "'value' must be " +
                            llvm::Twine(positive ? "> 0" : ">= 0") + ", got " +
                            std::to_string(*number));
    std::optional<StringRef> source = object->getString("source");
    std::optional<StringRef> assumption = object->getString("assumption");
    if ((source && !source->trim().empty()) ==
        (assumption && !assumption->trim().empty()))
      return fail(here, "needs exactly one non-empty 'source' (a published "
                        "measurement: URL and what it is) or 'assumption' "
                        "(why)");
    return *number;
  }

  llvm::Expected<int64_t> integer(const llvm::json::Object &parent,
                                  StringRef key, const std::string &path,
                                  std::optional<int64_t> fallback) {
    const llvm::json::Value *value = parent.get(key);
    if (!value) {
      if (fallback)
        return *fallback;
      return fail(path, "missing field '" + key + "'");
    }
    std::optional<int64_t> number = value->getAsInteger();
    if (!number || *number < 0)
      return fail(path + "." + key.str(), "expected a non-negative integer");
    return *number;
  }

private:
  std::string origin;
};
} // namespace

llvm::Expected<DeviceProfile> DeviceProfile::parse(StringRef text,
                                                   StringRef origin) {
  Reader reader(origin);
  llvm::Expected<llvm::json::Value> document = llvm::json::parse(text);
  if (!document)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "cost profile '" + origin + "': malformed JSON: " +
            llvm::toString(document.takeError()));
  const llvm::json::Object *root = document->getAsObject();
  if (!root)
    return reader.fail("profile", "expected a JSON object");

  DeviceProfile profile;
  std::optional<StringRef> name = root->getString("name");
  if (!name || name->empty())
    return reader.fail("profile", "missing string 'name'");
  profile.name = name->str();

  llvm::Expected<double> hbm = reader.quantity(*root, "hbm_gbs", "profile");
  if (!hbm)
    return hbm.takeError();
  llvm::Expected<double> efficiency =
      reader.quantity(*root, "hbm_efficiency", "profile");
  if (!efficiency)
    return efficiency.takeError();
  if (*efficiency > 1)
    return reader.fail("profile.hbm_efficiency", "must be at most 1");
  profile.hbmBytesPerSecond = *hbm * 1e9 * *efficiency;
  llvm::Expected<double> overlap = reader.quantity(
      *root, "collective_matmul_overlap", "profile", /*positive=*/false);
  if (!overlap)
    return overlap.takeError();
  if (*overlap > 1)
    return reader.fail("profile.collective_matmul_overlap",
                       "must be at most 1");
  profile.overlap = *overlap;

  const llvm::json::Object *collectives = root->getObject("collectives");
  if (!collectives)
    return reader.fail("profile", "missing object 'collectives'");
  for (CollectiveKind kind :
       {CollectiveKind::allReduce, CollectiveKind::reduceScatter,
        CollectiveKind::allGather}) {
    StringRef key = stringifyCollectiveKind(kind);
    std::string path = "profile.collectives." + key.str();
    const llvm::json::Array *rows = collectives->getArray(key);
    if (!rows || rows->empty())
      return reader.fail("profile.collectives",
                         "missing non-empty array '" + key + "'");
    for (auto [index, row] : llvm::enumerate(*rows)) {
      std::string here = path + "[" + std::to_string(index) + "]";
      const llvm::json::Object *object = row.getAsObject();
      if (!object)
        return reader.fail(here, "expected an object");
      Entry entry;
      llvm::Expected<int64_t> tpMin =
          reader.integer(*object, "tp_min", here, std::nullopt);
      if (!tpMin)
        return tpMin.takeError();
      llvm::Expected<int64_t> tpMax =
          reader.integer(*object, "tp_max", here, std::nullopt);
      if (!tpMax)
        return tpMax.takeError();
      llvm::Expected<int64_t> minBytes =
          reader.integer(*object, "min_bytes", here, int64_t(0));
      if (!minBytes)
        return minBytes.takeError();
      if (*tpMin < 2 || *tpMax < *tpMin)
        return reader.fail(here, "needs 2 <= tp_min <= tp_max, got " +
                                     llvm::Twine(*tpMin) + ".." +
                                     llvm::Twine(*tpMax));
      llvm::Expected<double> busbw = reader.quantity(*object, "busbw_gbs", here);
      if (!busbw)
        return busbw.takeError();
      llvm::Expected<double> latency =
          reader.quantity(*object, "latency_us", here, /*positive=*/false);
      if (!latency)
        return latency.takeError();
      entry.tpMin = *tpMin;
      entry.tpMax = *tpMax;
      entry.minBytes = *minBytes;
      entry.busBytesPerSecond = *busbw * 1e9;
      entry.latencySeconds = *latency * 1e-6;
      profile.tables[static_cast<int>(kind)].push_back(entry);
    }
  }
  return profile;
}

std::vector<std::string> DeviceProfile::getSearchDirectories() {
  std::vector<std::string> dirs;
  if (std::optional<std::string> env =
          llvm::sys::Process::GetEnv("SP_COST_PROFILE_PATH")) {
    SmallVector<StringRef> parts;
    StringRef(*env).split(parts, ':', -1, /*KeepEmpty=*/false);
    for (StringRef part : parts)
      dirs.push_back(part.str());
  }
  std::string exe = llvm::sys::fs::getMainExecutable(nullptr, nullptr);
  if (!exe.empty()) {
    // <prefix>/bin/tool -> <prefix>/share/sp/cost-profiles
    SmallString<256> dir(llvm::sys::path::parent_path(
        llvm::sys::path::parent_path(exe)));
    llvm::sys::path::append(dir, "share", "sp", "cost-profiles");
    dirs.push_back(std::string(dir));
  }
  if (*SP_SOURCE_COST_PROFILE_DIR)
    dirs.push_back(SP_SOURCE_COST_PROFILE_DIR);
  return dirs;
}

std::vector<std::string> DeviceProfile::listAvailable() {
  std::vector<std::string> names;
  for (const std::string &dir : getSearchDirectories()) {
    std::error_code error;
    for (llvm::sys::fs::directory_iterator it(dir, error), end;
         !error && it != end; it.increment(error)) {
      StringRef file = llvm::sys::path::filename(it->path());
      if (file.consume_back(".json"))
        names.push_back(file.str());
    }
  }
  llvm::sort(names);
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

llvm::Expected<DeviceProfile> DeviceProfile::load(StringRef nameOrPath) {
  std::string path;
  if (nameOrPath.contains('/') || nameOrPath.ends_with(".json")) {
    path = nameOrPath.str();
  } else {
    for (const std::string &dir : getSearchDirectories()) {
      SmallString<256> candidate(dir);
      llvm::sys::path::append(candidate, nameOrPath + ".json");
      if (llvm::sys::fs::exists(candidate)) {
        path = std::string(candidate);
        break;
      }
    }
    if (path.empty()) {
      std::string known;
      llvm::raw_string_ostream os(known);
      llvm::interleaveComma(listAvailable(), os);
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "unknown cost profile '" + nameOrPath + "' (known: " +
              (known.empty() ? std::string("none found") : known) +
              "; or give a path to a .json file, or set "
              "SP_COST_PROFILE_PATH)");
    }
  }
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return llvm::createStringError(buffer.getError(),
                                   "cannot read cost profile '" + path +
                                       "': " + buffer.getError().message());
  return parse((*buffer)->getBuffer(), path);
}

std::optional<DeviceProfile::Time>
DeviceProfile::predict(CollectiveKind kind, int64_t bytes, int64_t tp) const {
  if (tp <= 1)
    return Time{};
  const Entry *best = nullptr;
  for (const Entry &entry : tables[static_cast<int>(kind)])
    if (entry.tpMin <= tp && tp <= entry.tpMax && entry.minBytes <= bytes &&
        (!best || entry.minBytes > best->minBytes))
      best = &entry;
  if (!best)
    return std::nullopt;
  double share = double(tp - 1) / double(tp) * double(bytes);
  if (kind == CollectiveKind::allReduce)
    share *= 2;
  return Time{best->latencySeconds, share / best->busBytesPerSecond};
}

double DeviceProfile::memoryTime(int64_t bytes) const {
  return double(bytes) / hbmBytesPerSecond;
}
