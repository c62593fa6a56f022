// ragd bench all --report DIR: the standard benchmarks at small sizes (minutes on a laptop,
// not hours), one combined report (report/bench_report.h). Each benchmark runs as a child
// process of this binary with --json, as a user would run it by hand, so a crash or an
// error in one is recorded in the report and the others still run; throughput runs against
// a `ragd serve` child started on a free 127.0.0.1 port and stopped afterwards.
#include <fcntl.h>
#include <fmt/format.h>
#include <httplib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "app/bench_registry.h"
#include "app/commands.h"
#include "app/report/bench_report.h"
#include "rag/ingest/temp_dir.h"
#include "util/error.h"

namespace ragd::app {
namespace {

const std::vector<std::string> kBenchmarks = {"inference", "embed", "rag", "retrieval", "memory", "throughput"};
// bench retrieval's default data; without it (a fresh clone) that benchmark is skipped.
constexpr const char* kDefaultQaData = "../shared/data/qa/squad-dev10";

struct BenchAllOptions {
  std::string report;
  std::vector<std::string> models;  // LLM files for inference (the first also for serve/memory)
  std::string embedder;
  std::string qa_data;  // empty: kDefaultQaData when present
  size_t threads = 0;
  std::vector<std::string> skip;
};

// A child of this binary with `args`; stdout is a pipe read by the caller, stderr is ours
// (or `stderr_file` when given). Returns the pid and the read end of the pipe.
std::pair<pid_t, int> spawn(const std::vector<std::string>& args, const std::string& stderr_file = "") {
  int fds[2];
  if (pipe(fds) != 0) fail("bench all: pipe: {}", std::strerror(errno));
  const pid_t pid = fork();
  if (pid < 0) fail("bench all: fork: {}", std::strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // no orphaned benchmark or server if we are killed
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    if (!stderr_file.empty()) {
      const int err = open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (err >= 0) dup2(err, STDERR_FILENO);
    }
    std::vector<char*> argv;
    static std::string self = "/proc/self/exe";
    argv.push_back(self.data());
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(self.c_str(), argv.data());
    _exit(127);
  }
  close(fds[1]);
  return {pid, fds[0]};
}

// Runs `ragd <args> --json` to completion; its JSON, or {"error": ...} if it failed.
nlohmann::json run_json(std::vector<std::string> args) {
  args.push_back("--json");
  fmt::print(stderr, "bench all: ragd {}\n", fmt::join(args, " "));
  auto [pid, fd] = spawn(args);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fd);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return {{"error", fmt::format("`ragd {}` failed ({})", fmt::join(args, " "),
                                  WIFEXITED(status) ? fmt::format("exit {}", WEXITSTATUS(status))
                                                    : fmt::format("signal {}", WTERMSIG(status)))}};
  }
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded()) return {{"error", fmt::format("`ragd {}` printed no valid JSON", fmt::join(args, " "))}};
  return j;
}

// `ragd serve` on a free port for the throughput benchmark; stopped (SIGTERM) on scope exit.
class ServeChild {
 public:
  ServeChild(const BenchAllOptions& o, const std::filesystem::path& dir) {
    std::vector<std::string> args = {"serve", "--port", "0", "--db", (dir / "db").string(), "--threads",
                                     std::to_string(o.threads), "--warmup"};
    if (!o.models.empty()) args.insert(args.end(), {"--model", o.models.front()});
    if (!o.embedder.empty()) args.insert(args.end(), {"--embedder", o.embedder});
    auto [pid, fd] = spawn(args, (dir / "server.log").string());
    pid_ = pid;
    stdout_ = fd;  // kept open until the server stops: it must not get SIGPIPE on a later write
    try {
      wait_ready(dir);
    } catch (...) {
      stop();
      throw;
    }
  }
  ~ServeChild() { stop(); }
  ServeChild(const ServeChild&) = delete;
  ServeChild& operator=(const ServeChild&) = delete;
  const std::string& url() const { return url_; }

 private:
  // Reads the "listening on URL" line, then polls /ready (models load at --warmup).
  void wait_ready(const std::filesystem::path& dir) {
    std::string line;
    char c;
    while (read(stdout_, &c, 1) == 1 && c != '\n') line += c;
    std::smatch m;
    if (!std::regex_search(line, m, std::regex(R"(listening on (http://[\d.]+:(\d+)))"))) {
      fail("bench all: ragd serve did not start:\n{}", log_tail(dir));
    }
    url_ = m[1];
    httplib::Client client("127.0.0.1", std::stoi(m[2]));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
    while (true) {
      auto res = client.Get("/ready");
      if (res && res->status == 200) break;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        fail("bench all: ragd serve exited before it was ready:\n{}", log_tail(dir));
      }
      if (std::chrono::steady_clock::now() > deadline) {
        fail("bench all: ragd serve not ready after 180 s:\n{}", log_tail(dir));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    if (stdout_ >= 0) close(stdout_);
    stdout_ = -1;
  }
  // The end of the server's log, for error messages (its directory is temporary).
  static std::string log_tail(const std::filesystem::path& dir) {
    std::ifstream in(dir / "server.log", std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
  }

  pid_t pid_ = -1;
  int stdout_ = -1;
  std::string url_;
};

nlohmann::json run_one(const std::string& name, const BenchAllOptions& o) {
  const std::string threads = std::to_string(o.threads);
  if (name == "inference") {
    std::vector<std::string> args = {"bench", "inference", "-t", threads, "-p", "64", "-n", "32", "-r", "2"};
    for (const auto& m : o.models) args.insert(args.end(), {"-m", m});
    return run_json(args);
  }
  if (name == "embed") {
    std::vector<std::string> args = {"bench", "embed", "-t", threads, "-n", "64", "--callers", "4"};
    if (!o.embedder.empty()) args.insert(args.end(), {"-m", o.embedder});
    return run_json(args);
  }
  if (name == "rag") {
    return run_json({"bench", "rag", "--documents", "10,100,1000", "--queries", "50"});
  }
  if (name == "retrieval") {
    const std::string data = o.qa_data.empty() ? kDefaultQaData : o.qa_data;
    if (o.qa_data.empty() && !std::filesystem::is_directory(data)) {
      return {{"skipped", fmt::format("no QA data at {} (pass --qa-data DIR)", data)}};
    }
    std::vector<std::string> args = {"bench", "retrieval", "--data", data, "--questions", "50", "--sizes",
                                     "25,50,100", "--threads", threads};
    if (!o.embedder.empty()) args.insert(args.end(), {"--embed-model", o.embedder});
    return run_json(args);
  }
  if (name == "memory") {
    std::vector<std::string> args = {"bench", "memory", "-t", threads, "-n", "8", "--kv-mib", "64"};
    if (!o.models.empty()) args.insert(args.end(), {"-m", o.models.front()});
    if (!o.embedder.empty()) args.insert(args.end(), {"--embed-model", o.embedder});
    return run_json(args);
  }
  rag::TempDir tmp("ragd-bench-all");
  ServeChild server(o, tmp.path());
  return run_json({"bench", "throughput", "--url", server.url(), "-c", "1,2,4", "-d", "4", "--ramp-up", "1",
                   "-n", "16"});
}

int run(const BenchAllOptions& o) {
  const std::set<std::string> skip(o.skip.begin(), o.skip.end());
  for (const auto& s : skip) {
    if (std::find(kBenchmarks.begin(), kBenchmarks.end(), s) == kBenchmarks.end()) {
      fail("--skip: unknown benchmark '{}' (one of {})", s, fmt::join(kBenchmarks, ", "));
    }
  }
  // Fail before minutes of benchmarks, not after, when the report cannot be written.
  std::error_code ec;
  std::filesystem::create_directories(o.report, ec);
  if (ec) fail("--report: cannot create {}: {}", o.report, ec.message());
  nlohmann::json results = nlohmann::json::object();
  int failures = 0;
  for (const auto& name : kBenchmarks) {
    if (skip.count(name)) continue;
    try {
      results[name] = run_one(name, o);
    } catch (const std::exception& e) {
      results[name] = {{"error", e.what()}};
    }
    if (results[name].is_object() && results[name].contains("error")) {
      ++failures;
      fmt::print(stderr, "bench all: {}: {}\n", name, results[name]["error"].get<std::string>());
    }
  }
  report::write_bench_report(o.report, results);
  fmt::print("report: {}/report.html (raw numbers: {}/results.json)\n", o.report, o.report);
  return failures == 0 ? 0 : 1;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto o = std::make_shared<BenchAllOptions>();
  auto* sub = bench_command(app)->add_subcommand(
      "all", "The standard benchmarks at small sizes, written as one HTML report with charts");
  sub->add_option("--report", o->report, "Directory for report.html and results.json")->required();
  sub->add_option("-m,--model", o->models, "LLM GGUF file(s) (default: the default model); several "
                                           "quantizations fill the inference table");
  sub->add_option("--embed-model", o->embedder, "Embedder GGUF file (default: the default embedder)");
  sub->add_option("--qa-data", o->qa_data, std::string("QA folder for bench retrieval (default: ") +
                                              kDefaultQaData + " when present, else skipped)");
  sub->add_option("-t,--threads", o->threads, "Compute threads (0 = all cores)")->capture_default_str();
  sub->add_option("--skip", o->skip, "Benchmarks to leave out: inference, embed, rag, retrieval, memory, throughput")
      ->delimiter(',');
  return Command{sub, [o] { return run(*o); }};
});

}  // namespace
}  // namespace ragd::app
