// RedisClient: a small pool of hiredis connections to one Redis server, for the shared
// caches (util/redis_kv_cache.h).
//
// Failure policy (a cache must never fail a request): command() returns nullopt when Redis
// cannot be reached or answers with an error, counts it in errors(), and logs one warning
// per outage (not one per request). After a connection failure no connection is tried for
// a backoff interval that doubles from 100 ms to 5 s while failures continue; calls in that
// interval fail at once (counted as errors) instead of waiting for a timeout each. The
// first success logs that Redis is back and resets the backoff.
//
// Thread safety: connections are taken from an idle list under a mutex and used by one
// thread at a time; a thread that finds the list empty opens a new connection, and at most
// max_idle connections are kept when returned.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct redisContext;

namespace ragd {

struct RedisReply {
  enum class Type { Nil, String, Integer, Status, Array } type = Type::Nil;
  std::string str;  // String and Status
  long long integer = 0;
  std::vector<RedisReply> elements;  // Array
};

class RedisClient {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 6379;
    int db = 0;
    std::chrono::milliseconds timeout{250};  // connect and per-command
    std::chrono::milliseconds min_backoff{100}, max_backoff{5000};
    size_t max_idle = 8;
  };

  explicit RedisClient(Options options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Runs one command given as binary-safe arguments, e.g. {"SET", key, value}.
  std::optional<RedisReply> command(std::initializer_list<std::string_view> args);
  std::optional<RedisReply> command(const std::vector<std::string_view>& args);

  uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }
  const Options& options() const { return options_; }
  std::string location() const;

 private:
  redisContext* acquire();  // null: unreachable (or in backoff)
  void release(redisContext* c);
  void connection_failed(const std::string& why);
  void succeeded();

  const Options options_;
  std::mutex mu_;
  std::vector<redisContext*> idle_;
  std::atomic<bool> outage_{false};  // a warning was logged and no success since
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point retry_at_{};
  std::atomic<uint64_t> errors_{0};
};

}  // namespace ragd
