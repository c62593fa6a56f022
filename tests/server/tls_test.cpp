// HTTPS on the connection server (server/tls_transport.h, server/tls_context.h), against a
// self-signed certificate made here: verified requests over kept-alive connections, bodies
// of many TLS records each way, plain HTTP answered 400, clients that never finish their
// handshake closed at the header timeout without blocking anyone, and certificate / key
// errors at load.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/http_server.h"
#include "server/tls_context.h"
#include "util/error.h"

namespace ragd::server {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A P-256 key and a self-signed certificate for 127.0.0.1, as PEM files in a temporary folder.
struct CertFiles {
  fs::path dir, cert, key;

  explicit CertFiles(const std::string& name) {
    dir = fs::temp_directory_path() / ("ragd-tls-test-" + std::to_string(::getpid()) + "-" + name);
    fs::create_directories(dir);
    cert = dir / "cert.pem";
    key = dir / "key.pem";
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(EVP_EC_gen("P-256"), EVP_PKEY_free);
    std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
    if (!pkey || !x) throw std::runtime_error("openssl: cannot make a key");
    X509_set_version(x.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 86400);
    X509_set_pubkey(x.get(), pkey.get());
    X509_NAME* subject = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1,
                               -1, 0);
    X509_set_issuer_name(x.get(), subject);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x.get(), x.get(), nullptr, nullptr, 0);
    X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
    X509_add_ext(x.get(), san, -1);
    X509_EXTENSION_free(san);
    if (X509_sign(x.get(), pkey.get(), EVP_sha256()) == 0) throw std::runtime_error("openssl: cannot sign");
    FILE* f = std::fopen(cert.c_str(), "w");
    PEM_write_X509(f, x.get());
    std::fclose(f);
    f = std::fopen(key.c_str(), "w");
    PEM_write_PrivateKey(f, pkey.get(), nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
  }
  ~CertFiles() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Everything the peer sends until it closes or `limit` passes; `closed` says which.
std::string read_until_closed(int fd, std::chrono::milliseconds limit, bool& closed) {
  std::string out;
  closed = false;
  auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      closed = true;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

class HttpsServer : public ::testing::Test {
 protected:
  // A vanished peer makes OpenSSL's write() raise SIGPIPE; `ragd serve` ignores it too.
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }

  void start() {
    ServerOptions o;
    o.port = 0;
    o.threads = 4;
    o.log_requests = false;
    o.header_timeout_s = 0.5;
    o.max_body_bytes = 4u << 20;
    o.tls = TlsContext::load(certs.cert, certs.key);
    http = std::make_unique<HttpServer>(o, metrics);
    http->get("/health", "/health", [](const httplib::Request&, httplib::Response& res, const RequestInfo&) {
      send_json(res, 200, {{"status", "ok"}});
    }, Scope::Public);
    http->post("/echo", "/echo", [](const httplib::Request& req, httplib::Response& res, const RequestInfo&) {
      res.set_content(req.body, "application/octet-stream");
    }, Scope::Public);
    port = http->bind();
    thread = std::thread([this] { http->run(); });
    for (int i = 0; i < 200 && !http->running(); ++i) std::this_thread::sleep_for(5ms);
  }
  void TearDown() override {
    if (http) http->stop();
    if (thread.joinable()) thread.join();
  }
  std::unique_ptr<httplib::SSLClient> client() {
    auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", port);
    c->set_ca_cert_path(certs.cert.c_str());
    c->enable_server_certificate_verification(true);
    c->set_keep_alive(true);
    c->set_connection_timeout(5);
    c->set_read_timeout(10);
    return c;
  }

  CertFiles certs{"server"};
  MetricsRegistry metrics;
  std::unique_ptr<HttpServer> http;
  std::thread thread;
  int port = 0;
};

TEST_F(HttpsServer, AnswersVerifiedRequestsOnAKeptAliveConnection) {
  start();
  auto c = client();
  for (int i = 0; i < 3; ++i) {
    auto res = c->Get("/health");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, R"({"status":"ok"})");
  }
}

TEST_F(HttpsServer, CarriesBodiesOfManyRecordsBothWays) {
  start();
  std::string body(3u << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  auto res = client()->Post("/echo", body, "application/octet-stream");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(res->body == body) << "echoed " << res->body.size() << " of " << body.size() << " bytes";
}

TEST_F(HttpsServer, PlainHttpIsAnsweredInPlainText) {
  start();
  int fd = connect_to(port);
  ASSERT_GE(fd, 0);
  std::string request = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  bool closed = false;
  std::string reply = read_until_closed(fd, 3000ms, closed);
  ::close(fd);
  EXPECT_TRUE(closed);
  EXPECT_EQ(reply.substr(0, reply.find("\r\n")), "HTTP/1.1 400 Bad Request") << reply;
  EXPECT_NE(reply.find("https://"), std::string::npos) << reply;
  auto res = client()->Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(HttpsServer, SilentClientsBlockNobodyAndAreClosedAtTheHeaderTimeout) {
  start();
  // More than the 4 workers: some never send a byte, some stop inside a ClientHello.
  std::vector<int> silent;
  for (int i = 0; i < 12; ++i) {
    silent.push_back(connect_to(port));
    ASSERT_GE(silent.back(), 0);
    if (i % 2) {
      ASSERT_EQ(::send(silent.back(), "\x16\x03\x01\x02\x00\x01", 6, MSG_NOSIGNAL), 6);
    }
  }
  auto res = client()->Get("/health");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  auto start = Clock::now();
  for (int fd : silent) {
    bool closed = false;
    std::string got = read_until_closed(fd, 3000ms, closed);
    EXPECT_TRUE(closed);
    EXPECT_EQ(got, "");
    ::close(fd);
  }
  EXPECT_LT(Clock::now() - start, 2500ms);  // the 0.5 s header timeout, not the 3 s limit
}

TEST(TlsContext, RefusesBadFilesWithTheirNames) {
  CertFiles a("a"), b("b");
  auto message = [](const fs::path& cert, const fs::path& key) {
    try {
      TlsContext::load(cert, key);
    } catch (const ragd::Error& e) {
      return std::string(e.what());
    }
    return std::string("loaded");
  };
  EXPECT_EQ(message(a.cert, a.key), "loaded");
  EXPECT_NE(message(a.cert, b.key).find("does not match the certificate"), std::string::npos)
      << message(a.cert, b.key);
  EXPECT_NE(message(a.dir / "absent.pem", a.key).find("cannot be read"), std::string::npos);
  std::ofstream(a.dir / "garbage.pem") << "not PEM\n";
  EXPECT_NE(message(a.dir / "garbage.pem", a.key).find("is not a PEM certificate"), std::string::npos);
  EXPECT_NE(message(a.cert, a.dir / "garbage.pem").find("is not a PEM private key"), std::string::npos);
  EXPECT_NE(message(a.cert, a.dir / "garbage.pem").find("garbage.pem"), std::string::npos);
}

}  // namespace
}  // namespace ragd::server
