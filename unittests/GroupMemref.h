//===- GroupMemref.h - group descriptors for the ABI tests ------*- C++ -*-===//
//
// A group descriptor (memref<?xi64>, sp/Runtime/RuntimeABI.h) over its
// words, as compiled code passes it to the CUDA runtime's ABI layer. Shared
// by the ABI and mock-GPU unit tests.
//
//===----------------------------------------------------------------------===//

#ifndef SP_UNITTESTS_GROUPMEMREF_H
#define SP_UNITTESTS_GROUPMEMREF_H

#include "CompiledABI.h"

#include <cstdint>
#include <utility>
#include <vector>

struct GroupMemref {
  std::vector<int64_t> words;
  sp_cuda_abi::GroupDescriptor descriptor;
  explicit GroupMemref(std::vector<int64_t> groupWords)
      : words(std::move(groupWords)) {
    descriptor.basePtr = descriptor.data = words.data();
    descriptor.offset = 0;
    descriptor.sizes[0] = int64_t(words.size());
    descriptor.strides[0] = 1;
  }
  sp_cuda_abi::GroupDescriptor *operator&() { return &descriptor; }
};

#endif // SP_UNITTESTS_GROUPMEMREF_H
