#include "engine/embedding_cache.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include "util/durable_file.h"
#include "util/error.h"

namespace ragd::engine {
namespace {

constexpr char kMagic[8] = {'R', 'A', 'G', 'D', 'E', 'M', 'B', 'C'};
constexpr uint32_t kFormatVersion = 1;
// Bounds that no real entry reaches; they keep a corrupt count or length from driving a
// huge allocation before the size check below would catch it.
constexpr uint32_t kMaxModelId = 4096;
constexpr uint32_t kMaxDim = 1u << 16;

uint64_t fnv1a(const uint8_t* data, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= data[i];
    h *= 1099511628211ull;
  }
  return h;
}

template <typename T>
void append(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

// Bounds-checked reader over the file image.
class Reader {
 public:
  Reader(const std::string& bytes, const std::string& path) : bytes_(bytes), path_(path) {}
  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T value;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }
  std::string_view take(size_t n, const char* what) {
    need(n, what);
    std::string_view v(bytes_.data() + pos_, n);
    pos_ += n;
    return v;
  }
  size_t pos() const { return pos_; }
  size_t left() const { return bytes_.size() - pos_; }

 private:
  void need(size_t n, const char* what) const {
    if (n > bytes_.size() - pos_) {
      fail("embedding cache file {} is truncated (reading {} at byte {})", path_, what, pos_);
    }
  }
  const std::string& bytes_;
  const std::string& path_;
  size_t pos_ = 0;
};

}  // namespace

EmbeddingCache::Key EmbeddingCache::make_key(std::string_view model, std::string_view text) {
  // FNV-1a 64: stable across runs and platforms (std::hash is not guaranteed to be).
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return Key{std::string(model), h, text.size()};
}

size_t EmbeddingCache::KeyHash::operator()(const Key& k) const noexcept {
  return std::hash<std::string>{}(k.model) ^ (k.hash * 0x9E3779B97F4A7C15ull) ^ k.length;
}

std::optional<std::vector<float>> EmbeddingCache::get(std::string_view model,
                                                      std::string_view text) {
  if (capacity_ == 0) return std::nullopt;
  const Key key = make_key(model, text);
  std::lock_guard lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->vector;
}

void EmbeddingCache::put(std::string_view model, std::string_view text,
                         std::vector<float> vector) {
  if (capacity_ == 0) return;
  Key key = make_key(model, text);
  std::lock_guard lock(mu_);
  auto it = index_.find(key);
  if (it != index_.end()) {
    it->second->vector = std::move(vector);
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  if (lru_.size() >= capacity_) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
  lru_.push_front(Entry{key, std::move(vector)});
  index_.emplace(std::move(key), lru_.begin());
}

size_t EmbeddingCache::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

void EmbeddingCache::clear() {
  std::lock_guard lock(mu_);
  lru_.clear();
  index_.clear();
}

uint64_t EmbeddingCache::hits() const {
  std::lock_guard lock(mu_);
  return hits_;
}

uint64_t EmbeddingCache::misses() const {
  std::lock_guard lock(mu_);
  return misses_;
}

void EmbeddingCache::save(const std::string& path) const {
  std::string out;
  {
    std::lock_guard lock(mu_);
    out.append(kMagic, sizeof(kMagic));
    append<uint32_t>(out, kFormatVersion);
    append<uint64_t>(out, lru_.size());
    for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) {
      append<uint32_t>(out, static_cast<uint32_t>(it->key.model.size()));
      out += it->key.model;
      append<uint64_t>(out, it->key.hash);
      append<uint64_t>(out, it->key.length);
      append<uint32_t>(out, static_cast<uint32_t>(it->vector.size()));
      out.append(reinterpret_cast<const char*>(it->vector.data()), it->vector.size() * sizeof(float));
    }
  }
  append<uint64_t>(out, fnv1a(reinterpret_cast<const uint8_t*>(out.data()), out.size()));

  // Temporary file, fsync, rename, directory fsync: a crash mid-save leaves the old file.
  write_file_durably(path, out);
}

size_t EmbeddingCache::load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("cannot open embedding cache {}: {}", path, std::strerror(errno));
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) fail("cannot read embedding cache {}", path);

  // Parse and check everything into a staging list before touching the cache.
  Reader r(bytes, path);
  if (r.take(sizeof(kMagic), "the magic") != std::string_view(kMagic, sizeof(kMagic))) {
    fail("{} is not a ragd embedding cache file", path);
  }
  const auto version = r.read<uint32_t>("the version");
  if (version != kFormatVersion) {
    fail("embedding cache {} has format version {}; this ragd reads version {}", path, version,
         kFormatVersion);
  }
  const auto count = r.read<uint64_t>("the entry count");
  // Every entry takes at least 24 bytes: a count beyond that is corrupt, not just large.
  if (count > r.left() / 24) fail("embedding cache {} is corrupt (entry count {})", path, count);
  std::vector<Entry> staged;
  staged.reserve(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) {
    Entry e;
    const auto model_len = r.read<uint32_t>("a model id length");
    if (model_len == 0 || model_len > kMaxModelId) {
      fail("embedding cache {} is corrupt (entry {}: model id length {})", path, i, model_len);
    }
    e.key.model = std::string(r.take(model_len, "a model id"));
    e.key.hash = r.read<uint64_t>("a text hash");
    e.key.length = r.read<uint64_t>("a text length");
    const auto dim = r.read<uint32_t>("a dimension");
    if (dim == 0 || dim > kMaxDim) {
      fail("embedding cache {} is corrupt (entry {}: dimension {})", path, i, dim);
    }
    const std::string_view raw = r.take(size_t{dim} * sizeof(float), "a vector");
    e.vector.resize(dim);
    std::memcpy(e.vector.data(), raw.data(), raw.size());
    staged.push_back(std::move(e));
  }
  const size_t payload = r.pos();
  const auto checksum = r.read<uint64_t>("the checksum");
  if (r.left() != 0) fail("embedding cache {} is corrupt ({} bytes after the end)", path, r.left());
  if (checksum != fnv1a(reinterpret_cast<const uint8_t*>(bytes.data()), payload)) {
    fail("embedding cache {} is corrupt (checksum mismatch)", path);
  }

  std::lock_guard lock(mu_);
  for (auto& e : staged) {
    if (capacity_ == 0) break;
    if (auto it = index_.find(e.key); it != index_.end()) {
      lru_.erase(it->second);
      index_.erase(it);
    }
    if (lru_.size() >= capacity_) {
      index_.erase(lru_.back().key);
      lru_.pop_back();
    }
    lru_.push_front(std::move(e));
    index_.emplace(lru_.front().key, lru_.begin());
  }
  return staged.size();
}

}  // namespace ragd::engine
