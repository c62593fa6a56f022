// run_program: exit statuses, captured output, and a callback that throws leaving no child.
#include "util/subprocess.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>

namespace ragd {
namespace {

std::string collect(const std::vector<std::string>& argv, int* rc, bool merge_stderr) {
  std::string out;
  *rc = run_program(
      argv, [&](std::span<const uint8_t> c) { out.append(reinterpret_cast<const char*>(c.data()), c.size()); },
      merge_stderr);
  return out;
}

TEST(RunProgram, CapturesStdoutAndOptionallyStderr) {
  int rc = -1;
  EXPECT_EQ(collect({"sh", "-c", "echo out; echo err >&2"}, &rc, true), "out\nerr\n");
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(collect({"sh", "-c", "echo out; echo err >&2"}, &rc, false), "out\n");
}

TEST(RunProgram, ReportsExitStatusSignalAndMissingProgram) {
  EXPECT_EQ(run_program({"sh", "-c", "exit 3"}), 3);
  EXPECT_EQ(run_program({"sh", "-c", "kill -9 $$"}), 128 + 9);
  EXPECT_EQ(run_program({"/nonexistent/ragd-no-such-program"}), 127);
}

TEST(RunProgram, ThrowingCallbackKillsTheChild) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(run_program({"sh", "-c", "echo started; sleep 30"},
                           [](std::span<const uint8_t>) { throw std::runtime_error("client gone"); }),
               std::runtime_error);
  // Waiting for `sleep 30` would take 30 s: the child was killed, and reaped before returning.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(RunProgram, ChildInheritsNoExtraDescriptors) {
  // Descriptors without O_CLOEXEC, as a server's sockets may be: the child must not get them.
  const int a = ::open("/dev/null", O_RDONLY), b = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  int rc = -1;
  // Only 0, 1, 2 and the descriptor `ls` opens to read the listing.
  const std::string fds = collect({"sh", "-c", "ls /proc/self/fd | wc -l"}, &rc, false);
  ::close(a);
  ::close(b);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(std::stoi(fds), 4) << fds;
}

}  // namespace
}  // namespace ragd
