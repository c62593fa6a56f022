#include "util/redis_kv_cache.h"

#include <algorithm>

#include "util/sha256.h"

namespace ragd {

RedisKvCache::RedisKvCache(std::shared_ptr<RedisClient> client, std::string name)
    : client_(std::move(client)), prefix_("ragd:" + name + ":") {}

std::string RedisKvCache::redis_key(std::string_view key) const {
  Sha256 h;
  h.update(key);
  return prefix_ + h.hex_digest();
}

std::optional<std::string> RedisKvCache::get(std::string_view key) {
  auto r = client_->command({"GET", redis_key(key)});
  if (!r) {
    count(errors_);
    count(misses_);
    return std::nullopt;
  }
  if (r->type != RedisReply::Type::String) {
    count(misses_);
    return std::nullopt;
  }
  count(hits_);
  return std::move(r->str);
}

void RedisKvCache::put(std::string_view key, std::string_view value, Ttl ttl) {
  const std::string k = redis_key(key);
  std::optional<RedisReply> r;
  if (ttl) {
    const std::string ms = std::to_string(std::max<int64_t>(1, ttl->count()));
    r = client_->command({"SET", k, value, "PX", ms});
  } else {
    r = client_->command({"SET", k, value});
  }
  if (!r) count(errors_);
}

void RedisKvCache::erase(std::string_view key) {
  if (!client_->command({"UNLINK", redis_key(key)})) count(errors_);
}

void RedisKvCache::clear() {
  // The prefix holds only [a-z_:] (cache names are ragd's own constants), so it needs no
  // glob escaping.
  const std::string pattern = prefix_ + "*";
  std::string cursor = "0";
  do {
    auto r = client_->command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
    if (!r || r->type != RedisReply::Type::Array || r->elements.size() != 2) {
      count(errors_);
      return;
    }
    cursor = r->elements[0].str;
    const auto& keys = r->elements[1].elements;
    if (!keys.empty()) {
      std::vector<std::string_view> args{"UNLINK"};
      for (const auto& k : keys) args.push_back(k.str);
      if (!client_->command(args)) {
        count(errors_);
        return;
      }
    }
  } while (cursor != "0");
}

KvCacheStats RedisKvCache::stats() const {
  KvCacheStats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.errors = errors_.load(std::memory_order_relaxed);
  return s;
}

std::shared_ptr<RedisClient> connect_cache(const CacheUrl& url) {
  if (url.kind != CacheUrl::Kind::Redis) return nullptr;
  RedisClient::Options o;
  o.host = url.host;
  o.port = url.port;
  o.db = url.db;
  return std::make_shared<RedisClient>(o);
}

}  // namespace ragd
