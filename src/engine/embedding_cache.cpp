#include "engine/embedding_cache.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include <fmt/format.h>

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

EmbeddingCache::EmbeddingCache(size_t capacity, std::shared_ptr<KvCache> shared, double shared_ttl_seconds)
    : capacity_(capacity),
      shared_(std::move(shared)),
      shared_ttl_(std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::duration<double>(shared_ttl_seconds))),
      lru_(LruLimits{.max_entries = capacity}) {}

std::string EmbeddingCache::shared_key(const Key& key) {
  return fmt::format("{}\n{:016x}:{}", key.model, key.hash, key.length);
}

std::optional<std::vector<float>> EmbeddingCache::get(std::string_view model,
                                                      std::string_view text) {
  if (capacity_ == 0) return std::nullopt;
  const Key key = make_key(model, text);
  if (auto local = lru_.get(key)) return local;
  if (!shared_) return std::nullopt;
  const std::string k = shared_key(key);
  auto bytes = shared_->get(k);
  if (!bytes) return std::nullopt;
  if (bytes->empty() || bytes->size() % sizeof(float) != 0 || bytes->size() > kMaxDim * sizeof(float)) {
    shared_->erase(k);  // not a vector this cache wrote
    return std::nullopt;
  }
  std::vector<float> v(bytes->size() / sizeof(float));
  std::memcpy(v.data(), bytes->data(), bytes->size());
  lru_.put(key, v, v.size() * sizeof(float));
  shared_hits_.fetch_add(1, std::memory_order_relaxed);
  return v;
}

void EmbeddingCache::put(std::string_view model, std::string_view text,
                         std::vector<float> vector) {
  if (capacity_ == 0) return;
  Key key = make_key(model, text);
  if (shared_ && !vector.empty()) {
    shared_->put(shared_key(key),
                 std::string_view(reinterpret_cast<const char*>(vector.data()), vector.size() * sizeof(float)),
                 shared_ttl_);
  }
  const size_t bytes = vector.size() * sizeof(float);
  lru_.put(key, std::move(vector), bytes);
}

size_t EmbeddingCache::size() const { return lru_.stats().entries; }

void EmbeddingCache::clear() {
  lru_.clear();
  if (shared_) shared_->clear();
}

uint64_t EmbeddingCache::hits() const {
  const uint64_t shared = shared_hits();
  return lru_.stats().hits + shared;
}

uint64_t EmbeddingCache::misses() const {
  // Shared hits first: each was a local miss before it was counted (see ResultCache::stats).
  const uint64_t shared = shared_hits();
  return lru_.stats().misses - shared;
}

void EmbeddingCache::save(const std::string& path) const {
  std::string out;
  {
    std::string body;
    uint64_t count = 0;
    lru_.for_each_oldest_first([&](const Key& key, const std::vector<float>& vector) {
      append<uint32_t>(body, static_cast<uint32_t>(key.model.size()));
      body += key.model;
      append<uint64_t>(body, key.hash);
      append<uint64_t>(body, key.length);
      append<uint32_t>(body, static_cast<uint32_t>(vector.size()));
      body.append(reinterpret_cast<const char*>(vector.data()), vector.size() * sizeof(float));
      ++count;
    });
    out.append(kMagic, sizeof(kMagic));
    append<uint32_t>(out, kFormatVersion);
    append<uint64_t>(out, count);
    out += body;
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
  struct Staged {
    Key key;
    std::vector<float> vector;
  };
  std::vector<Staged> staged;
  staged.reserve(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) {
    Staged e;
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

  // Oldest first, each as the most recently used: the file's recency order is restored.
  for (auto& e : staged) {
    const size_t bytes = e.vector.size() * sizeof(float);
    lru_.put(e.key, std::move(e.vector), bytes);
  }
  return staged.size();
}

}  // namespace ragd::engine
