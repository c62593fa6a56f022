// ThreadPool: every task runs exactly once per call, on a valid thread index, across
// many back-to-back calls (the decode pattern), with zero, one, few and many tasks, from
// several calling threads, and after the workers have gone to sleep.
// The suite is also run under ThreadSanitizer (configure with -DRAGD_TSAN=ON).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "kernels/thread_pool.h"

namespace ragd::kernels {
namespace {

void expect_each_task_once(ThreadPool& pool, size_t n_tasks) {
  std::vector<std::atomic<int>> hits(n_tasks);
  std::atomic<bool> bad_thread{false};
  pool.parallel_for(n_tasks, [&](size_t task, size_t thread) {
    if (thread >= pool.size()) bad_thread = true;
    hits[task].fetch_add(1, std::memory_order_relaxed);
  });
  for (size_t t = 0; t < n_tasks; ++t) ASSERT_EQ(hits[t].load(), 1) << "task " << t;
  EXPECT_FALSE(bad_thread.load());
}

TEST(ThreadPool, SizeCountsTheCaller) {
  ThreadPool one(1), three(3), all(0);
  EXPECT_EQ(one.size(), 1u);
  EXPECT_EQ(three.size(), 3u);
  EXPECT_GE(all.size(), 1u);
}

TEST(ThreadPool, ZeroTasksIsANoOp) {
  ThreadPool pool(2);
  bool called = false;
  pool.parallel_for(0, [&](size_t, size_t) { called = true; });
  EXPECT_FALSE(called);
}

TEST(ThreadPool, FewerAndMoreTasksThanThreads) {
  for (size_t threads : {1u, 2u, 4u}) {
    ThreadPool pool(threads);
    for (size_t n : {1u, 2u, 3u, 7u, 64u, 1000u}) expect_each_task_once(pool, n);
  }
}

TEST(ThreadPool, ManyBackToBackCalls) {
  ThreadPool pool(2);
  std::vector<int> data(64, 0);
  for (int call = 0; call < 20000; ++call) {
    // Non-atomic writes to disjoint slots: the pool's own synchronisation must make them
    // visible to the caller (and TSan must see no race).
    pool.parallel_for(data.size(), [&](size_t task, size_t) { data[task] += 1; });
  }
  for (int v : data) EXPECT_EQ(v, 20000);
}

TEST(ThreadPool, WorkIsSharedAcrossThreads) {
  ThreadPool pool(2);
  std::atomic<int> on_worker{0};
  for (int call = 0; call < 200; ++call) {
    pool.parallel_for(16, [&](size_t, size_t thread) {
      if (thread != 0) on_worker.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    });
  }
  EXPECT_GT(on_worker.load(), 0);
}

TEST(ThreadPool, WakesAfterWorkersSleep) {
  ThreadPool pool(3);
  expect_each_task_once(pool, 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // past the spin window
  expect_each_task_once(pool, 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  expect_each_task_once(pool, 3);
}

TEST(ThreadPool, ConcurrentCallersAreSerialised) {
  ThreadPool pool(2);
  std::atomic<int> in_flight{0}, max_in_flight{0};
  std::vector<std::thread> callers;
  std::atomic<long> total{0};
  for (int c = 0; c < 3; ++c) {
    callers.emplace_back([&] {
      for (int call = 0; call < 300; ++call) {
        pool.parallel_for(8, [&](size_t task, size_t) {
          if (task == 0) {
            const int now = in_flight.fetch_add(1) + 1;
            int prev = max_in_flight.load();
            while (now > prev && !max_in_flight.compare_exchange_weak(prev, now)) {
            }
            in_flight.fetch_sub(1);
          }
          total.fetch_add(1);
        });
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(total.load(), 3 * 300 * 8);
  EXPECT_EQ(max_in_flight.load(), 1);
}

TEST(ThreadPool, RawFunctionPointerOverload) {
  ThreadPool pool(2);
  std::vector<std::atomic<int>> hits(33);
  pool.parallel_for(
      hits.size(),
      [](void* ctx, size_t task, size_t) {
        (*static_cast<std::vector<std::atomic<int>>*>(ctx))[task].fetch_add(1);
      },
      &hits);
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

}  // namespace
}  // namespace ragd::kernels
