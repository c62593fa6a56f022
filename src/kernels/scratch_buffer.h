// A grow-only, 64-byte aligned scratch buffer, for the per-thread buffers of the kernels
// (packed activations, dequantized weight panels): allocated once at the largest size a
// thread has needed, never shrunk, so steady-state calls allocate nothing.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "util/error.h"

namespace ragd::kernels::detail {

class ScratchBuffer {
 public:
  // At least `bytes` bytes, 64-byte aligned; earlier contents are lost when it grows.
  uint8_t* get(size_t bytes) {
    if (bytes > cap_) {
      cap_ = std::max(bytes, cap_ * 2);
      buf_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, (cap_ + 63) & ~size_t{63})));
      if (!buf_) fail("out of memory allocating {} bytes of kernel scratch", cap_);
    }
    return buf_.get();
  }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> buf_;
  size_t cap_ = 0;
};

}  // namespace ragd::kernels::detail
