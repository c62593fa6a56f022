// MappedFile: a whole file mapped read-only into memory (RAII). Model files are opened this
// way so weights are used in place (zero copy) and shared by every user of the file; pages
// are loaded lazily by the OS on first touch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace ragd {

class MappedFile {
 public:
  // Throws ragd::Error naming the path when it cannot be opened, is not a regular file or
  // cannot be mapped. An empty file gives an empty span.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const uint8_t> bytes() const { return {static_cast<const uint8_t*>(data_), size_}; }

  // Drops the whole pages inside `range` (a part of bytes()) from this process's resident
  // memory, for data that was copied elsewhere. The mapping stays valid: a later read
  // pages the file back in.
  void release(std::span<const uint8_t> range) const;

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ragd
