// Content fingerprints used to make re-ingestion a no-op. Not cryptographic: it guards
// against accidental change, not against an adversary crafting collisions. 128 bits, so
// accidental collisions are out of the question at any realistic corpus size.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace ragd::rag {

// Streaming hasher: feeding the same bytes in any split yields the same digest.
class ContentHasher {
 public:
  void update(std::string_view bytes);
  // Feeds a whole file's bytes, streamed in 1 MiB pieces. Throws ragd::Error when the file
  // cannot be read.
  void update_file(const std::filesystem::path& file);
  // 32 lowercase hex characters. The hasher may keep being updated afterwards.
  std::string hex() const;

 private:
  void mix_word(uint64_t w);
  uint64_t a_ = 0x9e3779b97f4a7c15ULL;
  uint64_t b_ = 0xc2b2ae3d27d4eb4fULL;
  uint64_t length_ = 0;
  uint64_t pending_ = 0;  // bytes not yet forming a full 8-byte word, low byte first
  unsigned pending_len_ = 0;
};

std::string content_hash(std::string_view bytes);

}  // namespace ragd::rag
