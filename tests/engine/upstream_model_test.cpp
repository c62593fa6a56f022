// UpstreamModel against fake OpenAI-compatible servers (httplib, in process): streamed
// text reaches the RequestStream, a failing server is taken out and the request retried on
// another before anything was streamed, a server that fails mid-stream ends the request
// with an error, refusals and fields that cannot be forwarded are reported by name.
#include "engine/upstream_model.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "engine/model_registry.h"
#include "util/error.h"

namespace ragd::engine {
namespace {

using nlohmann::json;

// One fake upstream on a free port. `mode` decides how it answers chat completions.
class FakeUpstream {
 public:
  enum class Mode { Stream, Fail500, Refuse400, CutMidStream, ErrorEvent };

  explicit FakeUpstream(Mode mode) : mode_(mode) {
    server_.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      res.status = mode_ == Mode::Fail500 ? 500 : 200;
      res.set_content(R"({"object":"list","data":[{"id":"m"}]})", "application/json");
    });
    server_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      ++requests;
      last_body = json::parse(req.body);
      if (mode_ == Mode::Fail500) {
        res.status = 500;
        res.set_content(R"({"error":{"message":"boom"}})", "application/json");
        return;
      }
      if (mode_ == Mode::Refuse400) {
        res.status = 400;
        res.set_content(R"({"error":{"message":"'top_k' is not allowed"}})", "application/json");
        return;
      }
      const Mode mode = mode_;
      res.set_chunked_content_provider("text/event-stream", [mode](size_t, httplib::DataSink& sink) {
        auto event = [&](const json& j) {
          std::string s = "data: " + j.dump() + "\n\n";
          sink.write(s.data(), s.size());
        };
        auto piece = [&](const std::string& text) {
          event({{"choices", {{{"index", 0}, {"delta", {{"content", text}}}, {"finish_reason", nullptr}}}}});
        };
        piece("Hello");
        piece(", world");
        if (mode == Mode::CutMidStream) return false;  // the connection drops
        if (mode == Mode::ErrorEvent) {
          event({{"error", {{"message", "out of memory"}}}});
        } else {
          event({{"choices", {{{"index", 0}, {"delta", json::object()}, {"finish_reason", "stop"}}}}});
          event({{"choices", json::array()}, {"usage", {{"prompt_tokens", 7}, {"completion_tokens", 3}}}});
        }
        std::string done = "data: [DONE]\n\n";
        sink.write(done.data(), done.size());
        sink.done();
        return true;
      });
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeUpstream() {
    server_.stop();
    thread_.join();
  }
  UpstreamEndpoint endpoint() const { return parse_upstream_endpoint(url() + "#m"); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

  std::atomic<int> requests{0};
  json last_body;

 private:
  Mode mode_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

UpstreamOptions fast_options() {
  UpstreamOptions o;
  o.health.backoff = 30;  // stays out for the whole test once failed
  o.health.max_backoff = 30;
  o.connect_timeout = 1;
  o.read_timeout = 5;
  return o;
}

UpstreamRequest hello(size_t max_tokens = 16) {
  UpstreamRequest r;
  r.prompt.messages = {{"user", "Say hello"}};
  r.options.max_tokens = max_tokens;
  r.options.sampling.temperature = 0;
  return r;
}

TEST(UpstreamModel, StreamsTextAndUsageIntoTheRequestStream) {
  FakeUpstream up(FakeUpstream::Mode::Stream);
  UpstreamModel m("local-name", {up.endpoint()}, fast_options());
  auto a = m.submit(hello());
  ASSERT_EQ(a.status, AdmitStatus::Accepted) << a.message;
  EXPECT_EQ(a.stream->wait_all(), "Hello, world");
  auto s = a.stream->summary();
  EXPECT_EQ(s.finish, FinishReason::Stop);
  EXPECT_EQ(s.prompt_tokens, 7u);
  EXPECT_EQ(s.completion_tokens, 3u);
  EXPECT_EQ(up.last_body["model"], "m");  // the #ID, not ragd's name
  EXPECT_EQ(up.last_body["stream"], true);
  EXPECT_EQ(up.last_body["messages"][0]["content"], "Say hello");
}

TEST(UpstreamModel, StopStringsApplyHereToo) {
  FakeUpstream up(FakeUpstream::Mode::Stream);
  UpstreamModel m("m", {up.endpoint()}, fast_options());
  auto r = hello();
  r.options.stop_after = {", "};  // a kept stop: no upstream knows it
  auto a = m.submit(r);
  ASSERT_EQ(a.status, AdmitStatus::Accepted);
  EXPECT_EQ(a.stream->wait_all(), "Hello, ");
  EXPECT_EQ(a.stream->summary().finish, FinishReason::Stop);
  EXPECT_FALSE(up.last_body.contains("stop_after"));
}

TEST(UpstreamModel, RetriesOnAnotherUpstreamAndTakesTheFailedOneOut) {
  FakeUpstream bad(FakeUpstream::Mode::Fail500);
  FakeUpstream good(FakeUpstream::Mode::Stream);
  UpstreamModel m("m", {bad.endpoint(), good.endpoint()}, fast_options());
  for (int k = 0; k < 3; ++k) {
    auto a = m.submit(hello());
    ASSERT_EQ(a.status, AdmitStatus::Accepted) << a.message;
    EXPECT_EQ(a.stream->wait_all(), "Hello, world");
  }
  // The bad one got at most one request (or none, if its start-up probe failed first).
  EXPECT_LE(bad.requests.load(), 1);
  EXPECT_EQ(good.requests.load(), 3);
  auto st = m.status();
  EXPECT_FALSE(st[0].up);
  EXPECT_TRUE(st[1].up);
}

TEST(UpstreamModel, NoUpstreamLeftIsOverloadedWithRetryAfter) {
  FakeUpstream bad(FakeUpstream::Mode::Fail500);
  UpstreamModel m("m", {bad.endpoint()}, fast_options());
  auto a = m.submit(hello());
  EXPECT_EQ(a.status, AdmitStatus::Overloaded);
  EXPECT_NE(a.message.find("no upstream of model 'm'"), std::string::npos) << a.message;
  EXPECT_GE(a.retry_after_seconds, 1);
}

TEST(UpstreamModel, ConnectionRefusedCountsAsDown) {
  std::string url;
  {
    FakeUpstream gone(FakeUpstream::Mode::Stream);
    url = gone.url();
  }  // its port is closed now
  UpstreamModel m("m", {parse_upstream_endpoint(url)}, fast_options());
  auto a = m.submit(hello());
  EXPECT_EQ(a.status, AdmitStatus::Overloaded) << a.message;
  EXPECT_FALSE(m.status()[0].up);
}

TEST(UpstreamModel, FailureAfterTextEndsTheStreamWithAnError) {
  FakeUpstream cut(FakeUpstream::Mode::CutMidStream);
  FakeUpstream good(FakeUpstream::Mode::Stream);
  UpstreamModel m("m", {cut.endpoint(), good.endpoint()}, fast_options());
  auto a = m.submit(hello());  // the first pick is the first upstream (round robin from 0)
  ASSERT_EQ(a.status, AdmitStatus::Accepted);
  EXPECT_EQ(a.stream->wait_all(), "Hello, world");
  auto s = a.stream->summary();
  EXPECT_EQ(s.finish, FinishReason::Error);
  EXPECT_NE(s.error.find("after part of the answer was sent"), std::string::npos) << s.error;
  EXPECT_EQ(good.requests.load(), 0);  // not replayed: the client already has text
  EXPECT_FALSE(m.status()[0].up);
}

TEST(UpstreamModel, ErrorEventFailsTheRequestButKeepsTheUpstream) {
  FakeUpstream up(FakeUpstream::Mode::ErrorEvent);
  UpstreamModel m("m", {up.endpoint()}, fast_options());
  auto a = m.submit(hello());
  ASSERT_EQ(a.status, AdmitStatus::Accepted);
  a.stream->wait_all();
  auto s = a.stream->summary();
  EXPECT_EQ(s.finish, FinishReason::Error);
  EXPECT_NE(s.error.find("out of memory"), std::string::npos) << s.error;
  EXPECT_TRUE(m.status()[0].up);
}

TEST(UpstreamModel, RefusalIsInvalidWithTheUpstreamsMessage) {
  FakeUpstream up(FakeUpstream::Mode::Refuse400);
  UpstreamModel m("m", {up.endpoint()}, fast_options());
  auto a = m.submit(hello());
  EXPECT_EQ(a.status, AdmitStatus::Invalid);
  EXPECT_NE(a.message.find("'top_k' is not allowed"), std::string::npos) << a.message;
  EXPECT_TRUE(m.status()[0].up);  // the request was wrong, not the server
}

TEST(UpstreamModel, FieldsThatCannotBeForwardedAreNamed) {
  GenerationOptions o;
  EXPECT_TRUE(UpstreamModel::unsupported_fields(o).empty());
  o.logprobs = 0;
  o.sampling.logit_bias[5] = -1;
  o.sampling.repeat_last_n = 8;
  EXPECT_EQ(UpstreamModel::unsupported_fields(o), (std::vector<std::string>{"logprobs", "logit_bias", "repeat_last_n"}));
  UpstreamModel m("m", {parse_upstream_endpoint("http://127.0.0.1:9/v1")}, fast_options());
  UpstreamRequest r = hello();
  r.options = o;
  auto a = m.submit(r);
  EXPECT_EQ(a.status, AdmitStatus::Invalid);
  EXPECT_NE(a.message.find("'logprobs'"), std::string::npos) << a.message;
}

TEST(UpstreamModel, BodyForwardsWhatMapsOneToOne) {
  UpstreamRequest r;
  r.prompt.api = UpstreamApi::Completion;
  r.prompt.text = "Once upon";
  r.options.max_tokens = 12;
  r.options.stop = {"\n"};
  r.options.sampling.temperature = 0.7f;
  r.options.sampling.top_p = 0.9f;
  r.options.sampling.seed = 42;
  r.user = "alice";
  json b = UpstreamModel::request_body(r, "up-model");
  EXPECT_EQ(b["model"], "up-model");
  EXPECT_EQ(b["prompt"], "Once upon");
  EXPECT_FALSE(b.contains("messages"));
  EXPECT_EQ(b["max_tokens"], 12);
  EXPECT_EQ(b["stop"], json::array({"\n"}));
  EXPECT_DOUBLE_EQ(b["temperature"].get<double>(), 0.7);
  EXPECT_DOUBLE_EQ(b["top_p"].get<double>(), 0.9);
  EXPECT_EQ(b["seed"], 42);
  EXPECT_EQ(b["user"], "alice");
  EXPECT_EQ(b["stream_options"]["include_usage"], true);
  // Off at their neutral values: a server without these extensions is not sent them.
  for (const char* absent : {"frequency_penalty", "presence_penalty", "repetition_penalty", "stop_token_ids", "ignore_eos"}) {
    EXPECT_FALSE(b.contains(absent)) << absent;
  }
  r.options.sampling.repeat_penalty = 1.1f;
  r.options.sampling.seed = ~uint64_t{0};
  b = UpstreamModel::request_body(r, "up-model");
  EXPECT_DOUBLE_EQ(b["repetition_penalty"].get<double>(), 1.1);
  EXPECT_EQ(b["seed"].get<uint64_t>(), 0x7fffffffffffffffULL);
}

TEST(UpstreamModel, RegistryBalancesEntriesOfOneName) {
  FakeUpstream a(FakeUpstream::Mode::Stream);
  FakeUpstream b(FakeUpstream::Mode::Stream);
  RegistryOptions ro;
  ro.upstream = fast_options();
  ro.max_instances = 1;
  ModelRegistry registry(ro);
  ModelSpec spec{.name = "up", .path = "", .upstreams = {a.endpoint()}};
  registry.add(spec);
  spec.upstreams = {b.endpoint()};
  registry.add(spec);
  auto m = registry.acquire("up", ModelKind::Llm);
  ASSERT_TRUE(m->upstream);
  EXPECT_FALSE(m->scheduler);
  for (int k = 0; k < 4; ++k) {
    auto adm = m->upstream->submit(hello());
    ASSERT_EQ(adm.status, AdmitStatus::Accepted);
    adm.stream->wait_all();
  }
  EXPECT_EQ(a.requests.load(), 2);
  EXPECT_EQ(b.requests.load(), 2);
  auto st = registry.status();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_TRUE(st[0].spec.pinned);
  EXPECT_EQ(st[0].quantization, "upstream");
  EXPECT_EQ(st[0].upstreams.size(), 2u);
  // Once loaded, more servers for it are refused, and so is a local model of that name.
  EXPECT_THROW(registry.add(spec), Error);
  const std::string embedder = std::string(RAGD_SOURCE_DIR) + "/models/all-MiniLM-L6-v2.F32.gguf";
  EXPECT_THROW(registry.add(ModelSpec{.name = "up", .path = embedder, .kind = ModelKind::Embedder}), Error);
}

}  // namespace
}  // namespace ragd::engine
