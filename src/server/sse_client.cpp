#include "server/sse_client.h"

#include <httplib.h>

#include <algorithm>

#include "util/error.h"

namespace ragd::server {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

SseChatClient::SseChatClient(const std::string& url, std::chrono::seconds read_timeout) {
  std::string base_url = url;
  if (base_url.size() > 7 && base_url.back() == '/') base_url.pop_back();  // "http://h:p/"
  const size_t scheme = base_url.find("://");
  if (base_url.rfind("http://", 0) != 0 ||
      base_url.find('/', scheme == std::string::npos ? 0 : scheme + 3) != std::string::npos) {
    fail("bad server URL '{}': expected http://HOST:PORT", url);
  }
  client_ = std::make_unique<httplib::Client>(base_url);
  if (!client_->is_valid()) fail("bad server URL '{}': expected http://HOST:PORT", url);
  // One connection per request: a server may close the connection after a streamed
  // response (llama-server does), and reusing it would fail the next request on a read. A
  // fresh 127.0.0.1 connection costs well under a millisecond per request.
  client_->set_keep_alive(false);
  client_->set_connection_timeout(std::chrono::seconds(10));
  client_->set_read_timeout(read_timeout);
  client_->set_write_timeout(std::chrono::seconds(30));
}

SseChatClient::~SseChatClient() = default;

StreamResult SseChatClient::stream(const std::string& path, nlohmann::json body,
                                   const std::string& api_key) {
  body["stream"] = true;
  StreamResult r;
  SseParser parser;
  std::string error_body;  // body of a non-200 response
  Clock::time_point last_chunk;
  const auto start = Clock::now();

  auto on_event = [&](const std::string& data) {
    if (data == "[DONE]") {
      r.done = true;
      return true;
    }
    if (r.done) {
      r.error = "data after [DONE]";
      return false;
    }
    auto j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      r.error = "unparsable event: " + data.substr(0, 200);
      return false;
    }
    if (j.contains("error")) {
      const auto& e = j["error"];
      r.error = "error event: " + (e.is_object() && e.contains("message") && e["message"].is_string()
                                       ? e["message"].get<std::string>()
                                       : e.dump());
      return false;
    }
    if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
      if (auto c = u->find("completion_tokens"); c != u->end() && c->is_number_unsigned()) {
        r.completion_tokens = c->get<size_t>();
      }
    }
    auto choices = j.find("choices");
    if (choices == j.end() || !choices->is_array() || choices->empty()) return true;
    const auto& choice = choices->front();
    auto delta = choice.find("delta");
    if (delta == choice.end() || !delta->is_object()) return true;
    auto content = delta->find("content");
    if (content == delta->end() || !content->is_string()) return true;
    const auto& piece = content->get_ref<const std::string&>();
    if (piece.empty()) return true;
    const auto now = Clock::now();
    if (r.content_chunks == 0) {
      r.ttft_seconds = std::chrono::duration<double>(now - start).count();
    } else {
      r.itl_seconds.push_back(std::chrono::duration<double>(now - last_chunk).count());
    }
    last_chunk = now;
    ++r.content_chunks;
    r.text += piece;
    return true;
  };

  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  req.set_header("Content-Type", "application/json");
  req.set_header("Accept", "text/event-stream");
  if (!api_key.empty()) req.set_header("Authorization", "Bearer " + api_key);
  req.response_handler = [&](const httplib::Response& res) {
    r.status = res.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (r.status != 200) {
      if (error_body.size() < 4096) error_body.append(data, std::min<size_t>(n, 4096));
      return true;
    }
    return parser.feed(std::string_view(data, n), on_event);
  };

  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  const bool sent = client_->send(req, res, err);
  if (r.status == 200 && r.error.empty()) parser.finish(on_event);
  r.total_seconds = since(start);

  if (!r.error.empty()) return r;  // a parse or error event stopped the stream
  if (r.status == 0) r.status = res.status > 0 ? res.status : 0;
  if (!sent && r.status == 0) {
    r.error = err == httplib::Error::Connection ? "cannot connect to the server"
                                                : "request failed: " + httplib::to_string(err);
    return r;
  }
  if (r.status != 200) {
    r.error = "HTTP " + std::to_string(r.status) + (error_body.empty() ? "" : ": " + error_body);
    return r;
  }
  if (!sent) {
    r.error = "stream broken: " + httplib::to_string(err);
    return r;
  }
  if (!r.done) {
    r.error = "stream ended without [DONE]";
    return r;
  }
  r.ok = true;
  return r;
}

nlohmann::json chat_request(const std::string& model, const std::string& prompt, size_t max_tokens) {
  nlohmann::json body = {{"messages", {{{"role", "user"}, {"content", prompt}}}},
                         {"max_tokens", max_tokens},
                         {"stream", true},
                         // Count tokens from the final usage, not from content chunks: a
                         // server may send several tokens in one chunk when a client lags.
                         {"stream_options", {{"include_usage", true}}}};
  if (!model.empty()) body["model"] = model;
  return body;
}

}  // namespace ragd::server
