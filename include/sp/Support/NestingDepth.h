//===- NestingDepth.h - refuse input MLIR's parser cannot survive -*- C++ -*-===//
//
// MLIR's parser recurses once per nesting level of attributes, types and
// regions and has no depth limit: `[[[[...` 20,000 levels deep (20 KB of
// text) overflows the stack inside libMLIR (mlir-opt crashes the same
// way). sp's tools scan their input first and refuse nesting deeper than
// any real program with a located error instead of a crash. Found by
// sp-fuzz (fuzz/regressions/deep-nesting-*.mlir).
//
//===----------------------------------------------------------------------===//

#ifndef SP_SUPPORT_NESTINGDEPTH_H
#define SP_SUPPORT_NESTINGDEPTH_H

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

namespace mlir::sp {

/// Deeper than this, the input is refused (real models nest a few dozen
/// levels; the parser overflows an 8 MiB stack at a few thousand under
/// AddressSanitizer).
inline constexpr unsigned kMaxNestingDepth = 1000;

/// Where `source` first nests brackets ((, [, {, <) deeper than `limit`:
/// the offset of the bracket that goes too deep. String literals, `//`
/// comments and `->` arrows are skipped; unbalanced closers are ignored (the parser reports
/// those).
inline std::optional<size_t>
findExcessiveNesting(llvm::StringRef source,
                     unsigned limit = kMaxNestingDepth) {
  unsigned depth = 0;
  for (size_t i = 0, e = source.size(); i < e; ++i) {
    char c = source[i];
    if (c == '"') {
      // A string literal: up to the closing quote, honouring escapes.
      for (++i; i < e && source[i] != '"'; ++i)
        if (source[i] == '\\')
          ++i;
      continue;
    }
    if (c == '/' && i + 1 < e && source[i + 1] == '/') {
      while (i < e && source[i] != '\n')
        ++i;
      continue;
    }
    if (c == '(' || c == '[' || c == '{' || c == '<') {
      if (++depth > limit)
        return i;
    } else if (c == '>' && i > 0 && source[i - 1] == '-') {
      continue; // a function type's arrow
    } else if ((c == ')' || c == ']' || c == '}' || c == '>') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

/// Reads `path` ('-': stdin is left alone, it cannot be read twice) and,
/// when it nests too deep, prints a located error and returns true. A file
/// that cannot be read is left to the caller's own reading to report.
inline bool refuseExcessiveNesting(llvm::StringRef path) {
  if (path == "-")
    return false;
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> file =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!file)
    return false;
  std::optional<size_t> offset = findExcessiveNesting((*file)->getBuffer());
  if (!offset)
    return false;
  llvm::SourceMgr sourceMgr;
  const char *at = (*file)->getBufferStart() + *offset;
  sourceMgr.AddNewSourceBuffer(std::move(*file), llvm::SMLoc());
  sourceMgr.PrintMessage(llvm::errs(), llvm::SMLoc::getFromPointer(at),
                         llvm::SourceMgr::DK_Error,
                         "nested more than " + llvm::Twine(kMaxNestingDepth) +
                             " levels deep; MLIR's parser would overflow the "
                             "stack");
  return true;
}

} // namespace mlir::sp

#endif // SP_SUPPORT_NESTINGDEPTH_H
