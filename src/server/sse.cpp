#include "server/sse.h"

namespace ragd::server {
namespace {
constexpr auto kJsonReplace = nlohmann::json::error_handler_t::replace;
}

bool SseWriter::write(const std::string& text) {
  if (!ok_) return false;
  if (!sink_.is_writable() || !sink_.write(text.data(), text.size())) ok_ = false;
  return ok_;
}

bool SseWriter::data(const nlohmann::json& payload) {
  return write("data: " + payload.dump(-1, ' ', false, kJsonReplace) + "\n\n");
}

bool SseWriter::event(std::string_view name, const nlohmann::json& payload) {
  return write("event: " + std::string(name) + "\ndata: " + payload.dump(-1, ' ', false, kJsonReplace) + "\n\n");
}

bool SseWriter::done() { return write("data: [DONE]\n\n"); }

bool SseWriter::comment(std::string_view text) { return write(": " + std::string(text) + "\n\n"); }

bool pump_text(engine::RequestStream& stream, const std::function<bool(std::string_view)>& on_text,
               const std::function<bool()>& on_idle, std::chrono::milliseconds idle_every) {
  auto last_write = std::chrono::steady_clock::now();
  std::string text;
  while (true) {
    text.clear();
    bool more = stream.next(text, std::chrono::milliseconds(50));
    auto now = std::chrono::steady_clock::now();
    bool alive = true;
    if (!text.empty()) {
      alive = on_text(text);
      last_write = now;
    } else if (more && now - last_write >= idle_every) {
      alive = on_idle();
      last_write = now;
    }
    if (!alive) {
      stream.cancel();
      return false;
    }
    if (!more) return true;
  }
}

bool pump_stream(engine::RequestStream& stream, SseWriter& sse,
                 const std::function<bool(std::string_view)>& on_text,
                 std::chrono::milliseconds keep_alive) {
  return pump_text(
      stream, [&](std::string_view text) { return on_text(text) && sse.ok(); },
      [&] { return sse.comment("keep-alive"); }, keep_alive);
}

void set_sse_headers(httplib::Response& res) {
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
}

}  // namespace ragd::server
