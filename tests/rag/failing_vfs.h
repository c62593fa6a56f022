#include "rag/store/sqlite_store.h"
// A SQLite VFS for tests that fails chosen I/O calls, the way SQLite's own io-error tests
#include "rag/store/sqlite_store.h"
// do: it wraps the default VFS (unix), forwards every call, and counts the calls of the
#include "rag/store/sqlite_store.h"
// operations it was told to watch on the files it was told to watch. When armed, the Nth
#include "rag/store/sqlite_store.h"
// such call (and, in persistent mode, every one after it: a full disk does not recover by
#include "rag/store/sqlite_store.h"
// itself) returns an error code instead of doing the I/O; or each watched call fails with a
#include "rag/store/sqlite_store.h"
// probability drawn from a seeded generator.
#include "rag/store/sqlite_store.h"
//
#include "rag/store/sqlite_store.h"
// Usage: FailingVfs& vfs = FailingVfs::install();  SqliteStore::open(dir, vfs.name());
#include "rag/store/sqlite_store.h"
//        vfs.arm({...});  ...  vfs.disarm();
#include "rag/store/sqlite_store.h"
//
#include "rag/store/sqlite_store.h"
// Invariants: a failed call has no effect on the file (the real call is not made), so what
#include "rag/store/sqlite_store.h"
// SQLite sees is exactly a device that refused the operation; calls made while disarmed are
#include "rag/store/sqlite_store.h"
// counted too (so a dry run measures how many failure points an operation has). Counters
#include "rag/store/sqlite_store.h"
// are atomic; the plan is meant to be changed while no connection is using the VFS.
#include "rag/store/sqlite_store.h"
#pragma once
#include "rag/store/sqlite_store.h"

#include "rag/store/sqlite_store.h"
#include <sqlite3.h>
#include "rag/store/sqlite_store.h"

#include "rag/store/sqlite_store.h"
#include <atomic>
#include "rag/store/sqlite_store.h"
#include <cstdint>
#include "rag/store/sqlite_store.h"
#include <mutex>
#include "rag/store/sqlite_store.h"
#include <random>
#include "rag/store/sqlite_store.h"
#include <string>
#include "rag/store/sqlite_store.h"

#include "rag/store/sqlite_store.h"
namespace ragd::rag::testing {
#include "rag/store/sqlite_store.h"

#include "rag/store/sqlite_store.h"
// Operations that can be made to fail (bit mask).
#include "rag/store/sqlite_store.h"
enum FailOp : unsigned {
#include "rag/store/sqlite_store.h"
  kOpWrite = 1u << 0,     // xWrite: SQLITE_FULL in disk-full plans, else SQLITE_IOERR_WRITE
#include "rag/store/sqlite_store.h"
  kOpSync = 1u << 1,      // xSync: SQLITE_IOERR_FSYNC
#include "rag/store/sqlite_store.h"
  kOpTruncate = 1u << 2,  // xTruncate: SQLITE_IOERR_TRUNCATE
#include "rag/store/sqlite_store.h"
  kOpFileSize = 1u << 3,  // xFileSize: SQLITE_IOERR_FSTAT
#include "rag/store/sqlite_store.h"
  kOpRead = 1u << 4,      // xRead: SQLITE_IOERR_READ
#include "rag/store/sqlite_store.h"
  kOpWriteSide = kOpWrite | kOpSync | kOpTruncate | kOpFileSize,
#include "rag/store/sqlite_store.h"
};
#include "rag/store/sqlite_store.h"

#include "rag/store/sqlite_store.h"
// Files that can be watched (bit mask), by the role SQLite opens them in.
#include "rag/store/sqlite_store.h"
enum FailFile : unsigned {
#include "rag/store/sqlite_store.h"
  kFileMainDb = 1u << 0,
#include "rag/store/sqlite_store.h"
  kFileWal = 1u << 1,
#include "rag/store/sqlite_store.h"
  kFileJournal = 1u << 2,  // rollback journal (not used in WAL mode, kept for completeness)
#include "rag/store/sqlite_store.h"
  kFileOther = 1u << 3,    // temporary and transient files
#include "rag/store/sqlite_store.h"
  kFileAll = kFileMainDb | kFileWal | kFileJournal | kFileOther,
#include "rag/store/sqlite_store.h"
};
#include "rag/store/sqlite_store.h"

#include "rag/store/sqlite_store.h"
struct FailPlan {
#include "rag/store/sqlite_store.h"
  unsigned ops = kOpWriteSide;
#include "rag/store/sqlite_store.h"
  unsigned files = kFileAll;
#include "rag/store/sqlite_store.h"
  // Fail the fail_at-th watched call (1-based) when > 0.
#include "rag/store/sqlite_store.h"
  int64_t fail_at = 0;
#include "rag/store/sqlite_store.h"
  // With fail_at: every later watched call fails too (a full disk), instead of just one.
#include "rag/store/sqlite_store.h"
  bool persistent = true;
#include "rag/store/sqlite_store.h"
  // Writes fail with SQLITE_FULL ("database or disk is full") instead of SQLITE_IOERR_WRITE.
#include "rag/store/sqlite_store.h"
  bool disk_full = false;
#include "rag/store/sqlite_store.h"
  // Each watched call fails with this probability (seeded), when > 0 and fail_at == 0.
#include "rag/store/sqlite_store.h"
  double probability = 0;
#include "rag/store/sqlite_store.h"
  uint64_t seed = 0;
#include "rag/store/sqlite_store.h"
};
#include "rag/store/sqlite_store.h"

#include "rag/store/sqlite_store.h"
class FailingVfs {
#include "rag/store/sqlite_store.h"
 public:
#include "rag/store/sqlite_store.h"
  // Registers the VFS once per process (not as the default) and returns it.
#include "rag/store/sqlite_store.h"
  static FailingVfs& install();
#include "rag/store/sqlite_store.h"

#include "rag/store/sqlite_store.h"
  const char* name() const { return "ragd-failing"; }
#include "rag/store/sqlite_store.h"
  void arm(const FailPlan& plan);
#include "rag/store/sqlite_store.h"
  // Stops failing; counters keep counting.
#include "rag/store/sqlite_store.h"
  void disarm();
#include "rag/store/sqlite_store.h"
  void reset_counters();
#include "rag/store/sqlite_store.h"
  int64_t calls() const { return calls_.load(); }      // watched calls since reset
#include "rag/store/sqlite_store.h"
  int64_t failures() const { return failures_.load(); }  // calls failed since reset
#include "rag/store/sqlite_store.h"

#include "rag/store/sqlite_store.h"
  // Called by the file methods for each call of `op` on a file of role `file`: SQLITE_OK
#include "rag/store/sqlite_store.h"
  // to do the call, else the error code it must return instead.
#include "rag/store/sqlite_store.h"
  int fault(unsigned op, unsigned file);
#include "rag/store/sqlite_store.h"

#include "rag/store/sqlite_store.h"
 private:
#include "rag/store/sqlite_store.h"
  FailingVfs() = default;
#include "rag/store/sqlite_store.h"
  std::mutex mu_;
#include "rag/store/sqlite_store.h"
  FailPlan plan_;
#include "rag/store/sqlite_store.h"
  bool armed_ = false;
#include "rag/store/sqlite_store.h"
  bool tripped_ = false;  // a persistent plan has failed once
#include "rag/store/sqlite_store.h"
  std::mt19937_64 rng_;
#include "rag/store/sqlite_store.h"
  std::atomic<int64_t> calls_{0}, failures_{0};
#include "rag/store/sqlite_store.h"
};
#include "rag/store/sqlite_store.h"

#include "rag/store/sqlite_store.h"
}  // namespace ragd::rag::testing
