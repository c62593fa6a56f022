// HttpServer under slow and greedy clients (server/connection_server.h): connections that
// trickle their headers cost no worker, so normal requests still get answers; slow bodies
// and stalled headers are cut at their deadlines; an oversized Content-Length is refused
// before its body is read; a full server answers 503 at once; a busy port is an error;
// streamed responses are counted with their real status when they end.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/api_error.h"
#include "server/http_server.h"
#include "util/error.h"

namespace ragd::server {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A raw client socket to 127.0.0.1:port (nonblocking reads with a limit).
class RawClient {
 public:
  explicit RawClient(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  bool send(const std::string& s) { return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()); }
  // Everything received until the peer closes or `limit` passes; `closed` says which.
  std::string read_all(std::chrono::milliseconds limit, bool* closed = nullptr) {
    std::string out;
    auto end = Clock::now() + limit;
    if (closed) *closed = false;
    while (Clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
      if (::poll(&p, 1, static_cast<int>(std::max<long long>(left, 1))) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        if (closed) *closed = true;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // Reads until a complete response head has arrived (or the limit).
  std::string read_head(std::chrono::milliseconds limit) {
    std::string out;
    auto end = Clock::now() + limit;
    while (Clock::now() < end && out.find("\r\n\r\n") == std::string::npos) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      char c[512];
      ssize_t n = ::recv(fd_, c, sizeof(c), 0);
      if (n <= 0) break;
      out.append(c, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_;
  bool connected_ = false;
};

struct TestServer {
  explicit TestServer(ServerOptions o) : http(std::move(o), metrics) {}
  void start() {
    port = http.bind();
    thread = std::thread([this] { http.run(); });
    for (int i = 0; i < 200 && !http.running(); ++i) std::this_thread::sleep_for(5ms);
  }
  ~TestServer() {
    http.stop();
    if (thread.joinable()) thread.join();
  }
  MetricsRegistry metrics;
  HttpServer http;
  std::thread thread;
  int port = 0;
};

ServerOptions fast_limits() {
  ServerOptions o;
  o.port = 0;
  o.threads = 4;
  o.log_requests = false;
  o.header_timeout_s = 0.5;
  o.read_timeout_s = 0.3;
  o.body_timeout_s = 1.0;
  o.keep_alive_timeout_s = 0.5;
  o.max_body_bytes = 1024;
  return o;
}

std::string status_line(const std::string& response) { return response.substr(0, response.find("\r\n")); }

void add_echo_routes(HttpServer& http) {
  http.get("/health", "/health", [](const httplib::Request&, httplib::Response& res, const RequestInfo&) {
    send_json(res, 200, {{"status", "ok"}});
  }, Scope::Public);
  http.post("/echo", "/echo", [](const httplib::Request& req, httplib::Response& res, const RequestInfo&) {
    send_json(res, 200, {{"bytes", req.body.size()}});
  }, Scope::Public);
}

TEST(HttpLimits, SlowHeadersDoNotStarveNormalRequests) {
  TestServer s(fast_limits());
  s.http.get("/health", "/health", [](const httplib::Request&, httplib::Response& res, const RequestInfo&) {
    send_json(res, 200, {{"status", "ok"}});
  }, Scope::Public);
  s.start();
  // Far more slow clients than the 4 worker threads, each with half a request line.
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 40; ++i) {
    slow.push_back(std::make_unique<RawClient>(s.port));
    ASSERT_TRUE(slow.back()->connected());
    slow.back()->send("GET /hea");
  }
  for (int round = 0; round < 3; ++round) {
    RawClient normal(s.port);
    normal.send("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    std::string reply = normal.read_all(2000ms);
    EXPECT_EQ(status_line(reply), "HTTP/1.1 200 OK") << reply;
    for (auto& c : slow) c->send("l");  // still trickling
  }
}

TEST(HttpLimits, StalledHeadersAreClosedAtTheHeaderTimeout) {
  TestServer s(fast_limits());
  s.start();
  RawClient c(s.port);
  c.send("GET /health HTTP/1.1\r\nHo");
  bool closed = false;
  auto start = Clock::now();
  std::string reply = c.read_all(3000ms, &closed);
  EXPECT_TRUE(closed);
  EXPECT_LT(Clock::now() - start, 2000ms);
  EXPECT_EQ(status_line(reply), "HTTP/1.1 408 Request Timeout");
}

TEST(HttpLimits, OversizedContentLengthIsRefusedBeforeTheBody) {
  TestServer s(fast_limits());
  add_echo_routes(s.http);
  s.start();
  RawClient c(s.port);
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n");
  std::string head = c.read_head(1000ms);  // answered without waiting for any body byte
  EXPECT_EQ(status_line(head), "HTTP/1.1 413 Payload Too Large") << head;
  std::string rest = c.read_all(3000ms);
  EXPECT_NE((head + rest).find("request body too large"), std::string::npos);
}

TEST(HttpLimits, OversizedExpectContinueIsRefusedBeforeTheBody) {
  TestServer s(fast_limits());
  add_echo_routes(s.http);
  s.start();
  RawClient c(s.port);
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n");
  EXPECT_EQ(status_line(c.read_head(1000ms)), "HTTP/1.1 413 Payload Too Large");
}

TEST(HttpLimits, PostWithoutLengthHasAnEmptyBody) {
  ServerOptions o = fast_limits();
  o.read_timeout_s = 5;
  o.body_timeout_s = 5;
  TestServer s(o);
  add_echo_routes(s.http);
  s.start();
  RawClient c(s.port);
  // No Content-Length, not chunked: no body (not "read until the client closes").
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  auto start = Clock::now();
  std::string head = c.read_head(4000ms);
  EXPECT_EQ(status_line(head), "HTTP/1.1 200 OK");
  EXPECT_LT(Clock::now() - start, 2500ms);  // not after waiting out the 5 s read timeout
  EXPECT_NE((head + c.read_all(200ms)).find("{\"bytes\":0}"), std::string::npos);
}

TEST(HttpLimits, ChunkedBodyOverTheLimitIsRefused) {
  TestServer s(fast_limits());
  add_echo_routes(s.http);
  s.start();
  RawClient c(s.port);
  std::string chunk(16 * 1024, 'x');
  std::string request = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 8; ++i) request += "4000\r\n" + chunk + "\r\n";
  request += "0\r\n\r\n";
  c.send(request);
  std::string reply = c.read_all(3000ms);
  EXPECT_EQ(status_line(reply), "HTTP/1.1 413 Payload Too Large") << reply.substr(0, 200);
}

TEST(HttpLimits, TrickledBodyIsCutAtTheReadTimeout) {
  TestServer s(fast_limits());
  add_echo_routes(s.http);
  s.start();
  RawClient c(s.port);
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":");
  bool closed = false;
  std::string reply = c.read_all(3000ms, &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(status_line(reply), "HTTP/1.1 408 Request Timeout") << reply;
}

TEST(HttpLimits, BodyDeadlineHoldsAgainstSteadyTrickle) {
  TestServer s(fast_limits());
  add_echo_routes(s.http);
  s.start();
  RawClient c(s.port);
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n");
  // One byte every 100 ms never trips the 300 ms read timeout; the 1 s body deadline ends it.
  auto start = Clock::now();
  bool sent_ok = true;
  while (Clock::now() - start < 2500ms && sent_ok) {
    sent_ok = c.send("x");
    std::this_thread::sleep_for(100ms);
  }
  std::string reply = c.read_all(1000ms);
  EXPECT_EQ(status_line(reply), "HTTP/1.1 408 Request Timeout") << reply;
}

TEST(HttpLimits, FullServerAnswers503AtOnce) {
  ServerOptions o = fast_limits();
  o.threads = 2;
  o.read_timeout_s = 5;
  TestServer s(o);
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> inside{0};
  s.http.get("/slow", "/slow", [&](const httplib::Request&, httplib::Response& res, const RequestInfo&) {
    ++inside;
    std::unique_lock lock(mu);
    cv.wait_for(lock, 5s, [&] { return release; });
    send_json(res, 200, {{"ok", true}});
  }, Scope::Public);
  s.start();
  RawClient a(s.port), b(s.port), c(s.port);
  a.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  b.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  for (int i = 0; i < 200 && inside < 2; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(inside.load(), 2);
  c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string reply = c.read_all(1000ms);
  EXPECT_EQ(status_line(reply), "HTTP/1.1 503 Service Unavailable") << reply;
  EXPECT_NE(reply.find("Retry-After: 1"), std::string::npos);
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  EXPECT_EQ(status_line(a.read_head(2000ms)), "HTTP/1.1 200 OK");
  EXPECT_NE(s.metrics.render().find(R"(ragd_http_requests_total{endpoint="other",status="503"} 1)"), std::string::npos);
}

TEST(HttpLimits, KeptAliveConnectionServesSeveralRequests) {
  TestServer s(fast_limits());
  add_echo_routes(s.http);
  s.start();
  RawClient c(s.port);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::string head = c.read_head(1000ms);
    EXPECT_EQ(status_line(head), "HTTP/1.1 200 OK") << i;
    c.read_all(100ms);  // the body
  }
  // Two pipelined requests in one write.
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string both = c.read_all(2000ms);
  EXPECT_NE(both.find("{\"bytes\":2}"), std::string::npos) << both;
  EXPECT_NE(both.find("{\"status\":\"ok\"}"), std::string::npos) << both;
}

TEST(HttpLimits, PortInUseIsAnError) {
  TestServer first(fast_limits());
  first.start();
  ServerOptions o = fast_limits();
  o.port = first.port;
  TestServer second(o);
  try {
    second.http.bind();
    FAIL() << "a second server bound the same port";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on 127.0.0.1:" + std::to_string(first.port)),
              std::string::npos)
        << e.what();
  }
}

TEST(HttpLimits, StreamsAreCountedWhenTheyEnd) {
  TestServer s(fast_limits());
  s.http.get("/stream", "/stream", [](const httplib::Request&, httplib::Response& res, const RequestInfo&) {
    res.set_chunked_content_provider("text/plain", [](size_t offset, httplib::DataSink& sink) {
      if (offset >= 3) {
        sink.done();
        return true;
      }
      std::this_thread::sleep_for(100ms);
      sink.write("x", 1);
      return true;
    });
  }, Scope::Public);
  s.start();
  RawClient c(s.port);
  c.send("GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string reply = c.read_all(3000ms);
  ASSERT_EQ(status_line(reply), "HTTP/1.1 200 OK");
  std::string metrics;
  for (int i = 0; i < 100; ++i) {  // the releaser runs just after the last write
    metrics = s.metrics.render();
    if (metrics.find(R"(endpoint="/stream",status="200")") != std::string::npos) break;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_NE(metrics.find(R"(ragd_http_requests_total{endpoint="/stream",status="200"} 1)"), std::string::npos)
      << metrics;
  EXPECT_EQ(metrics.find("status=\"-1\""), std::string::npos);
  // Three 100 ms pauses: the recorded duration covers the stream, not just the handler.
  const std::string sum_key = R"(ragd_http_request_duration_seconds_sum{endpoint="/stream"} )";
  auto at = metrics.find(sum_key);
  ASSERT_NE(at, std::string::npos) << metrics;
  EXPECT_GE(std::stod(metrics.substr(at + sum_key.size())), 0.25);
}

}  // namespace
}  // namespace ragd::server
