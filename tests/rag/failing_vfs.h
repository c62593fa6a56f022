// A SQLite VFS for tests that fails chosen I/O calls, the way SQLite's own io-error tests
// do: it wraps the default VFS (unix), forwards every call, and counts the calls of the
// operations it was told to watch on the files it was told to watch. When armed, the Nth
// such call (and, in persistent mode, every one after it: a full disk does not recover by
// itself) returns an error code instead of doing the I/O; or each watched call fails with a
// probability drawn from a seeded generator.
//
// Usage: FailingVfs& vfs = FailingVfs::install();  Store::open(dir, vfs.name());
//        vfs.arm({...});  ...  vfs.disarm();
//
// Invariants: a failed call has no effect on the file (the real call is not made), so what
// SQLite sees is exactly a device that refused the operation; calls made while disarmed are
// counted too (so a dry run measures how many failure points an operation has). Counters
// are atomic; the plan is meant to be changed while no connection is using the VFS.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>

namespace ragd::rag::testing {

// Operations that can be made to fail (bit mask).
enum FailOp : unsigned {
  kOpWrite = 1u << 0,     // xWrite: SQLITE_FULL in disk-full plans, else SQLITE_IOERR_WRITE
  kOpSync = 1u << 1,      // xSync: SQLITE_IOERR_FSYNC
  kOpTruncate = 1u << 2,  // xTruncate: SQLITE_IOERR_TRUNCATE
  kOpFileSize = 1u << 3,  // xFileSize: SQLITE_IOERR_FSTAT
  kOpRead = 1u << 4,      // xRead: SQLITE_IOERR_READ
  kOpWriteSide = kOpWrite | kOpSync | kOpTruncate | kOpFileSize,
};

// Files that can be watched (bit mask), by the role SQLite opens them in.
enum FailFile : unsigned {
  kFileMainDb = 1u << 0,
  kFileWal = 1u << 1,
  kFileJournal = 1u << 2,  // rollback journal (not used in WAL mode, kept for completeness)
  kFileOther = 1u << 3,    // temporary and transient files
  kFileAll = kFileMainDb | kFileWal | kFileJournal | kFileOther,
};

struct FailPlan {
  unsigned ops = kOpWriteSide;
  unsigned files = kFileAll;
  // Fail the fail_at-th watched call (1-based) when > 0.
  int64_t fail_at = 0;
  // With fail_at: every later watched call fails too (a full disk), instead of just one.
  bool persistent = true;
  // Writes fail with SQLITE_FULL ("database or disk is full") instead of SQLITE_IOERR_WRITE.
  bool disk_full = false;
  // Each watched call fails with this probability (seeded), when > 0 and fail_at == 0.
  double probability = 0;
  uint64_t seed = 0;
};

class FailingVfs {
 public:
  // Registers the VFS once per process (not as the default) and returns it.
  static FailingVfs& install();

  const char* name() const { return "ragd-failing"; }
  void arm(const FailPlan& plan);
  // Stops failing; counters keep counting.
  void disarm();
  void reset_counters();
  int64_t calls() const { return calls_.load(); }      // watched calls since reset
  int64_t failures() const { return failures_.load(); }  // calls failed since reset

  // Called by the file methods for each call of `op` on a file of role `file`: SQLITE_OK
  // to do the call, else the error code it must return instead.
  int fault(unsigned op, unsigned file);

 private:
  FailingVfs() = default;
  std::mutex mu_;
  FailPlan plan_;
  bool armed_ = false;
  bool tripped_ = false;  // a persistent plan has failed once
  std::mt19937_64 rng_;
  std::atomic<int64_t> calls_{0}, failures_{0};
};

}  // namespace ragd::rag::testing
