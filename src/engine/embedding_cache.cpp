#include "engine/embedding_cache.h"

#include <functional>

namespace ragd::engine {

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

}  // namespace ragd::engine
