// ThreadPool: a fixed set of workers for data-parallel kernels.
//
// parallel_for(n, fn) runs fn(i) for i in [0, n) across the calling thread and the
// workers and returns when all are done. It is called hundreds of times per generated
// token (once per matmul), so dispatch must cost microseconds: workers spin briefly on an
// atomic generation counter before sleeping. Calls from several threads are serialised.
// fn must not throw.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace ragd::kernels {

class ThreadPool {
 public:
  // n_threads includes the calling thread; 0 means all hardware threads.
  explicit ThreadPool(size_t n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const;
  // fn(task, thread_index) with thread_index in [0, size()).
  void parallel_for(size_t n_tasks, const std::function<void(size_t task, size_t thread)>& fn);

  // The same without std::function: fn(ctx, task, thread). For hot callers (matmul) that
  // want no allocation or type erasure cost per call.
  using TaskFn = void (*)(void* ctx, size_t task, size_t thread);
  void parallel_for(size_t n_tasks, TaskFn fn, void* ctx);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragd::kernels
