// SseParser, SseChatClient and the load generator against a fake streaming endpoint on
// 127.0.0.1 (real HTTP, canned SSE bodies chosen by the request's "model").
#include "server/sse_client.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <set>
#include <thread>

#include "server/load_generator.h"
#include "util/error.h"

namespace ragd::server {
namespace {

std::string chunk_event(const std::string& content) {
  nlohmann::json j = {{"object", "chat.completion.chunk"},
                      {"choices", {{{"index", 0}, {"delta", {{"content", content}}}}}}};
  return "data: " + j.dump() + "\n\n";
}

class FakeServer {
 public:
  FakeServer() {
    server_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      const auto body = nlohmann::json::parse(req.body);
      {
        std::lock_guard lock(mu_);
        prompts_.insert(body["messages"][0]["content"].get<std::string>());
        temperatures_.insert(body.contains("temperature") ? body["temperature"].dump() : "unset");
        ++requests_;
      }
      const std::string model = body.value("model", "ok");
      if (model == "error500") {
        res.status = 500;
        res.set_content(R"({"error":{"message":"model exploded"}})", "application/json");
        return;
      }
      std::vector<std::string> parts;
      bool abort_midway = false;
      if (model == "ok") {
        parts = {": keep-alive comment\n\n", "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n",
                 chunk_event("Hel"), chunk_event("lo"), chunk_event(" world"), "data: [DONE]\n\n"};
      } else if (model == "usage") {
        parts = {chunk_event("a"), chunk_event("b"),
                 "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7}}\n\n",
                 "data: [DONE]\n\n"};
      } else if (model == "split") {
        // CRLF line ends, events cut mid-line across writes.
        std::string all = "event: message\r\n" + chunk_event("x") + chunk_event("y") + "data: [DONE]\r\n\r\n";
        for (size_t i = 0; i < all.size(); i += 3) parts.push_back(all.substr(i, 3));
      } else if (model == "nodone") {
        parts = {chunk_event("a")};
      } else if (model == "cut") {
        parts = {chunk_event("a")};
        abort_midway = true;
      } else if (model == "errevent") {
        parts = {chunk_event("a"), "data: {\"error\":{\"message\":\"boom\"}}\n\n", "data: [DONE]\n\n"};
      } else if (model == "garbage") {
        parts = {"data: {not json\n\n", "data: [DONE]\n\n"};
      }
      res.set_chunked_content_provider("text/event-stream", [parts, abort_midway](size_t, httplib::DataSink& sink) {
        for (const auto& p : parts) sink.write(p.data(), p.size());
        if (abort_midway) return false;  // drops the connection before the final chunk
        sink.done();
        return true;
      });
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  size_t distinct_prompts() {
    std::lock_guard lock(mu_);
    return prompts_.size();
  }
  std::set<std::string> temperatures() {
    std::lock_guard lock(mu_);
    return temperatures_;
  }
  size_t requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::set<std::string> prompts_;
  std::set<std::string> temperatures_;  // as sent, "unset" when absent
  size_t requests_ = 0;
};

TEST(SseParser, SplitsEventsAcrossArbitraryReads) {
  const std::string stream =
      ": comment\r\nevent: x\r\ndata: one\r\n\r\ndata: two\ndata: lines\n\nid: 3\ndata:three\n\ndata: tail";
  for (size_t step : {1, 2, 5, 1000}) {
    SseParser p;
    std::vector<std::string> got;
    auto on = [&](const std::string& d) {
      got.push_back(d);
      return true;
    };
    for (size_t i = 0; i < stream.size(); i += step) p.feed(std::string_view(stream).substr(i, step), on);
    EXPECT_EQ(got.size(), 3u) << step;
    p.finish(on);
    EXPECT_EQ(got, (std::vector<std::string>{"one", "two\nlines", "three", "tail"})) << step;
  }
}

TEST(SseParser, StopsWhenTheCallbackSaysSo) {
  SseParser p;
  int calls = 0;
  EXPECT_FALSE(p.feed("data: a\n\ndata: b\n\n", [&](const std::string&) { return ++calls < 1; }));
  EXPECT_EQ(calls, 1);
}

TEST(SseChatClient, ReadsAStreamWithTimings) {
  FakeServer server;
  SseChatClient client(server.url());
  auto r = client.stream("/v1/chat/completions", chat_request("ok", "hi", 16));
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.text, "Hello world");
  EXPECT_EQ(r.content_chunks, 3u);  // the role-only delta is not content
  EXPECT_EQ(r.tokens(), 3u);
  EXPECT_GE(r.ttft_seconds, 0);
  EXPECT_EQ(r.itl_seconds.size(), 2u);
  // The connection is reused for the next request.
  auto again = client.stream("/v1/chat/completions", chat_request("split", "hi", 16));
  EXPECT_TRUE(again.ok) << again.error;
  EXPECT_EQ(again.text, "xy");
}

TEST(SseChatClient, UsageOverridesTheChunkCount) {
  FakeServer server;
  SseChatClient client(server.url());
  auto r = client.stream("/v1/chat/completions", chat_request("usage", "hi", 16));
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.content_chunks, 2u);
  EXPECT_EQ(r.tokens(), 7u);
}

TEST(SseChatClient, CountsEveryKindOfFailure) {
  FakeServer server;
  SseChatClient client(server.url());
  struct Case {
    const char* model;
    int status;
    const char* error_part;
  };
  for (const Case& c : {Case{"error500", 500, "model exploded"}, Case{"nodone", 200, "without [DONE]"},
                        Case{"cut", 200, "stream"}, Case{"errevent", 200, "boom"},
                        Case{"garbage", 200, "unparsable"}}) {
    auto r = client.stream("/v1/chat/completions", chat_request(c.model, "hi", 16));
    EXPECT_FALSE(r.ok) << c.model;
    EXPECT_EQ(r.status, c.status) << c.model;
    EXPECT_NE(r.error.find(c.error_part), std::string::npos) << c.model << ": " << r.error;
  }
}

TEST(SseChatClient, ConnectionRefusedIsAFailureNotAnException) {
  // A port that was free a moment ago and now has no listener (bound, then closed).
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  SseChatClient client("http://127.0.0.1:" + std::to_string(port));
  auto r = client.stream("/v1/chat/completions", chat_request("ok", "hi", 16));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
  EXPECT_THROW(SseChatClient("localhost:80"), Error);
  EXPECT_THROW(SseChatClient("http://localhost:80/v1"), Error);
}

TEST(LoadGenerator, AggregatesRequestsTokensAndErrors) {
  FakeServer server;
  LoadOptions o;
  o.url = server.url();
  o.model = "ok";
  o.concurrency = 3;
  o.duration_seconds = 0.3;
  o.ramp_up_seconds = 0.05;
  auto r = run_load(o);
  EXPECT_EQ(r.concurrency, 3u);
  EXPECT_GT(r.requests, 0u);
  EXPECT_EQ(r.errors, 0u);
  // Tokens generated inside the window: at most 3 per request the server saw.
  EXPECT_GT(r.tokens, 0u);
  EXPECT_LE(r.tokens, 3 * server.requests());
  EXPECT_EQ(r.ttft_ms.count, r.requests);
  EXPECT_EQ(r.itl_ms.count, 2 * r.requests);
  EXPECT_GT(r.tokens_per_second, 0);
  // Requests during ramp-up are sent but not recorded; every prompt differs.
  EXPECT_GE(server.requests(), r.requests);
  EXPECT_EQ(server.distinct_prompts(), server.requests());

  o.model = "error500";
  r = run_load(o);
  EXPECT_GT(r.requests, 0u);
  EXPECT_EQ(r.errors, r.requests);
  EXPECT_EQ(r.tokens, 0u);
  ASSERT_EQ(r.error_samples.size(), 1u);
  EXPECT_NE(r.error_samples[0].find("HTTP 500"), std::string::npos);
}

// Two clients of the fake server's "ok" model for 0.1 s, no ramp-up.
LoadOptions short_load(FakeServer& server) {
  LoadOptions o;
  o.url = server.url();
  o.model = "ok";
  o.concurrency = 2;
  o.duration_seconds = 0.1;
  o.ramp_up_seconds = 0;
  return o;
}

TEST(LoadGenerator, SamePromptWhenAsked) {
  FakeServer server;
  LoadOptions o = short_load(server);
  o.same_prompt = true;
  run_load(o);
  EXPECT_GT(server.requests(), 0u);
  EXPECT_EQ(server.distinct_prompts(), 1u);
}

TEST(LoadGenerator, SendsTheTemperatureOnlyWhenSet) {
  for (std::optional<double> t : {std::optional<double>{}, std::optional<double>{0.0}}) {
    FakeServer server;
    LoadOptions o = short_load(server);
    o.temperature = t;
    run_load(o);
    EXPECT_GT(server.requests(), 0u);
    EXPECT_EQ(server.temperatures(), (std::set<std::string>{t ? "0.0" : "unset"}));
  }
}

TEST(LoadGenerator, Percentiles) {
  auto p = percentiles({5, 1, 4, 2, 3, 6, 7, 8, 9, 10});
  EXPECT_EQ(p.p50, 5);
  EXPECT_EQ(p.p95, 10);
  EXPECT_EQ(p.max, 10);
  EXPECT_EQ(p.count, 10u);
  EXPECT_EQ(percentiles({}).count, 0u);
  EXPECT_EQ(percentiles({42}).p95, 42);
}

}  // namespace
}  // namespace ragd::server
