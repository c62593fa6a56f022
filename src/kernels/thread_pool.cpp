// ThreadPool implementation.
//
// Protocol (one job at a time, callers serialised by call_mutex):
//   caller: writes the job (fn, ctx, n_tasks), resets next_task and finished, opens the
//           job in `job_word` (generation g, joined 0), bumps `generation` to g and
//           wakes sleepers. It runs tasks itself, then *closes* the job (sets the closed
//           bit, learning how many workers joined) and waits until that many have
//           reported `finished`.
//   worker: waits for `generation` to change (spinning first, then futex sleep), then
//           tries to join by incrementing the joined count in `job_word` with a CAS that
//           fails if the job is closed or is no longer generation g. Only a worker that
//           joined reads the job, claims tasks from `next_task` and reports `finished`.
// So a worker that is preempted or asleep when a job arrives never delays the caller:
// the caller runs the tasks itself and closes the job without it. The job fields are
// rewritten only after every joined worker has finished, and non-joined workers never
// read them. Sleeping uses the Dekker pattern on `sleepers` and `generation` (both
// seq_cst), so a wake-up can never be missed: either the caller sees the sleeper count
// or the sleeper sees the new generation (and the futex re-checks the value atomically).
#include "kernels/thread_pool.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <mutex>
#include <thread>
#include <vector>

namespace ragd::kernels {
namespace {

// Workers spin this long after their last job before sleeping. Decode issues a job every
// few microseconds and a new token within ~100 us, so 250 us keeps them awake through a
// whole generation, while an idle server (or one whose main thread is busy with serial
// work) stops burning a core almost at once. Waking a sleeper costs ~10-50 us, once.
constexpr auto kSpinTime = std::chrono::microseconds(250);

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

void futex_wait(std::atomic<uint32_t>* addr, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}

void futex_wake_all(std::atomic<uint32_t>* addr) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
          nullptr, 0);
}

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));

}  // namespace

struct ThreadPool::Impl {
  size_t n_threads = 1;
  std::vector<std::thread> workers;
  std::mutex call_mutex;

  // The current job; written only by the caller while no worker is running a job.
  TaskFn fn = nullptr;
  void* ctx = nullptr;
  size_t n_tasks = 0;
  std::atomic<bool> stop{false};

  alignas(64) std::atomic<uint32_t> generation{0};
  // (generation << 32) | closed bit | number of workers that joined that generation.
  alignas(64) std::atomic<uint64_t> job_word{0};
  static constexpr uint64_t kClosed = uint64_t{1} << 31;
  static constexpr uint64_t kJoinedMask = kClosed - 1;
  alignas(64) std::atomic<size_t> next_task{0};
  alignas(64) std::atomic<size_t> finished{0};
  alignas(64) std::atomic<uint32_t> sleepers{0};

  void run_tasks(size_t thread) {
    for (size_t t; (t = next_task.fetch_add(1, std::memory_order_relaxed)) < n_tasks;) {
      fn(ctx, t, thread);
    }
  }

  uint32_t wait_for_job(uint32_t seen) {
    const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
    for (uint32_t spins = 0;; ++spins) {
      const uint32_t g = generation.load(std::memory_order_acquire);
      if (g != seen) return g;
      cpu_relax();
      if ((spins & 255) == 255 && std::chrono::steady_clock::now() > deadline) break;
    }
    sleepers.fetch_add(1, std::memory_order_seq_cst);
    uint32_t g;
    while ((g = generation.load(std::memory_order_seq_cst)) == seen) futex_wait(&generation, seen);
    sleepers.fetch_sub(1, std::memory_order_relaxed);
    return g;
  }

  // Joins job generation g unless it is closed or superseded.
  bool try_join(uint32_t g) {
    uint64_t w = job_word.load(std::memory_order_acquire);
    for (;;) {
      if ((w >> 32) != g || (w & kClosed)) return false;
      if (job_word.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
        return true;
      }
    }
  }

  void worker_main(size_t thread) {
    uint32_t seen = 0;
    for (;;) {
      seen = wait_for_job(seen);
      if (stop.load(std::memory_order_acquire)) return;
      if (!try_join(seen)) continue;
      run_tasks(thread);
      finished.fetch_add(1, std::memory_order_release);
    }
  }

  // Opens the job written into the fields above and wakes any sleeping worker.
  void publish() {
    const uint32_t g = generation.load(std::memory_order_relaxed) + 1;
    job_word.store(static_cast<uint64_t>(g) << 32, std::memory_order_release);
    generation.store(g, std::memory_order_seq_cst);
    if (sleepers.load(std::memory_order_seq_cst) > 0) futex_wake_all(&generation);
  }

  // Closes the current job to late joiners and waits for the workers that joined.
  void close_and_wait() {
    const uint64_t w = job_word.fetch_or(kClosed, std::memory_order_acq_rel);
    const size_t joined = w & kJoinedMask;
    for (uint32_t spins = 0; finished.load(std::memory_order_acquire) != joined; ++spins) {
      // A worker that was descheduled can take a whole time slice: stop burning the core.
      if (spins > (1u << 16)) {
        std::this_thread::yield();
      } else {
        cpu_relax();
      }
    }
  }
};

ThreadPool::ThreadPool(size_t n_threads) : impl_(std::make_unique<Impl>()) {
  if (n_threads == 0) n_threads = std::max(1u, std::thread::hardware_concurrency());
  impl_->n_threads = n_threads;
  impl_->workers.reserve(n_threads - 1);
  for (size_t i = 1; i < n_threads; ++i) {
    impl_->workers.emplace_back([impl = impl_.get(), i] { impl->worker_main(i); });
  }
}

ThreadPool::~ThreadPool() {
  std::lock_guard lock(impl_->call_mutex);
  impl_->stop.store(true, std::memory_order_release);
  impl_->publish();
  for (auto& t : impl_->workers) t.join();
}

size_t ThreadPool::size() const { return impl_->n_threads; }

void ThreadPool::parallel_for(size_t n_tasks, TaskFn fn, void* ctx) {
  if (n_tasks == 0) return;
  Impl& p = *impl_;
  std::lock_guard lock(p.call_mutex);
  if (p.workers.empty() || n_tasks == 1) {
    for (size_t t = 0; t < n_tasks; ++t) fn(ctx, t, 0);
    return;
  }
  p.fn = fn;
  p.ctx = ctx;
  p.n_tasks = n_tasks;
  p.next_task.store(0, std::memory_order_relaxed);
  p.finished.store(0, std::memory_order_relaxed);
  p.publish();
  p.run_tasks(0);
  p.close_and_wait();
}

void ThreadPool::parallel_for(size_t n_tasks,
                              const std::function<void(size_t task, size_t thread)>& fn) {
  using Fn = std::function<void(size_t, size_t)>;
  parallel_for(
      n_tasks, [](void* ctx, size_t task, size_t thread) { (*static_cast<const Fn*>(ctx))(task, thread); },
      const_cast<Fn*>(&fn));
}

}  // namespace ragd::kernels
