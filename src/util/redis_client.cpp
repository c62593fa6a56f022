#include "util/redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>

#include "util/log.h"

namespace ragd {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::String;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::Status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::Integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::Array;
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      out.type = RedisReply::Type::Nil;
  }
  return out;
}

}  // namespace

RedisClient::RedisClient(Options options) : options_(std::move(options)) {}

RedisClient::~RedisClient() {
  for (redisContext* c : idle_) redisFree(c);
}

std::string RedisClient::location() const {
  return "redis://" + options_.host + ":" + std::to_string(options_.port) + "/" + std::to_string(options_.db);
}

void RedisClient::connection_failed(const std::string& why) {
  std::vector<redisContext*> stale;
  {
    std::lock_guard lock(mu_);
    backoff_ = backoff_.count() == 0 ? options_.min_backoff : std::min(backoff_ * 2, options_.max_backoff);
    retry_at_ = std::chrono::steady_clock::now() + backoff_;
    // The idle connections most likely died with the one that failed: do not reuse them.
    stale.swap(idle_);
    if (!outage_) {
      outage_ = true;
      log::warn("cache backend {} unreachable ({}): serving cache misses, retrying with backoff", location(),
                why);
    }
  }
  for (redisContext* c : stale) redisFree(c);
}

void RedisClient::succeeded() {
  if (!outage_.load(std::memory_order_relaxed)) return;  // the common case takes no lock
  std::lock_guard lock(mu_);
  if (outage_) log::info("cache backend {} reachable again", location());
  outage_ = false;
  backoff_ = std::chrono::milliseconds{0};
}

redisContext* RedisClient::acquire() {
  {
    std::lock_guard lock(mu_);
    if (outage_ && std::chrono::steady_clock::now() < retry_at_) return nullptr;
    if (!idle_.empty()) {
      redisContext* c = idle_.back();
      idle_.pop_back();
      return c;
    }
  }
  redisContext* c = redisConnectWithTimeout(options_.host.c_str(), options_.port, to_timeval(options_.timeout));
  if (!c || c->err) {
    connection_failed(c ? c->errstr : "cannot allocate a connection");
    if (c) redisFree(c);
    return nullptr;
  }
  redisSetTimeout(c, to_timeval(options_.timeout));
  if (options_.db != 0) {
    const std::string db = std::to_string(options_.db);
    auto* r = static_cast<redisReply*>(redisCommand(c, "SELECT %s", db.c_str()));
    const bool ok = r && r->type != REDIS_REPLY_ERROR;
    const std::string why = !r ? std::string(c->errstr) : ok ? "" : std::string(r->str, r->len);
    if (r) freeReplyObject(r);
    if (!ok) {
      connection_failed("SELECT " + db + ": " + why);
      redisFree(c);
      return nullptr;
    }
  }
  return c;
}

void RedisClient::release(redisContext* c) {
  {
    std::lock_guard lock(mu_);
    if (idle_.size() < options_.max_idle) {
      idle_.push_back(c);
      return;
    }
  }
  redisFree(c);
}

std::optional<RedisReply> RedisClient::command(std::initializer_list<std::string_view> args) {
  return command(std::vector<std::string_view>(args));
}

std::optional<RedisReply> RedisClient::command(const std::vector<std::string_view>& args) {
  redisContext* c = acquire();
  if (!c) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  std::vector<const char*> argv;
  std::vector<size_t> argvlen;
  for (std::string_view a : args) {
    argv.push_back(a.data());
    argvlen.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), argvlen.data()));
  if (!r) {  // I/O error or timeout: the connection is unusable
    const std::string why = c->errstr;
    redisFree(c);
    errors_.fetch_add(1, std::memory_order_relaxed);
    connection_failed(why);
    return std::nullopt;
  }
  release(c);
  if (r->type == REDIS_REPLY_ERROR) {  // e.g. OOM with maxmemory-policy noeviction
    log::warn("cache backend {}: {} failed: {}", location(), args.size() ? std::string(*args.begin()) : "",
              std::string(r->str, r->len));
    freeReplyObject(r);
    errors_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  RedisReply out = convert(r);
  freeReplyObject(r);
  succeeded();
  return out;
}

}  // namespace ragd
