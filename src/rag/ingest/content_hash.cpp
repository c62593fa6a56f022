#include "rag/ingest/content_hash.h"

#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <vector>

#include "util/error.h"
#include "util/hash.h"

namespace ragd::rag {

void ContentHasher::mix_word(uint64_t w) {
  // Two lanes with different update rules so that the 128-bit digest is not two copies of
  // the same 64-bit state.
  a_ = mix64(a_ ^ w) + 0x632be59bd9b4e019ULL;
  b_ = (b_ ^ mix64(w + 0x8cb92ba72f3d8dd7ULL)) * 0x9fb21c651e98df25ULL + 1;
}

void ContentHasher::update(std::string_view bytes) {
  length_ += bytes.size();
  size_t i = 0;
  // Top up a partial word first; then whole words straight from the input (the fast path
  // for large files); then keep the tail for the next call.
  while (pending_len_ != 0 && i < bytes.size()) {
    pending_ |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i++])) << (8 * pending_len_);
    if (++pending_len_ == 8) {
      mix_word(pending_);
      pending_ = 0;
      pending_len_ = 0;
    }
  }
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);  // little-endian hosts: same as the byte loop
    mix_word(w);
  }
  for (; i < bytes.size(); ++i) {
    pending_ |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * pending_len_);
    ++pending_len_;
  }
}

std::string ContentHasher::hex() const {
  ContentHasher h = *this;
  // The length and the tail are folded in last, so "ab" and "ab\0" differ.
  h.mix_word(h.pending_ ^ (static_cast<uint64_t>(h.pending_len_) << 56));
  h.mix_word(h.length_);
  return fmt::format("{:016x}{:016x}", mix64(h.a_), mix64(h.b_ ^ h.a_));
}

void ContentHasher::update_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot read {}", file.string());
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    update({buf.data(), static_cast<size_t>(in.gcount())});
  }
}

std::string content_hash(std::string_view bytes) {
  ContentHasher h;
  h.update(bytes);
  return h.hex();
}

}  // namespace ragd::rag
