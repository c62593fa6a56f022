#include "failing_vfs.h"

#include <cstddef>
#include <stdexcept>

namespace ragd::rag::testing {
namespace {

// The wrapper file: our methods first, then the real VFS's file object in the same block
// (szOsFile reserves room for both), so no allocation can fail mid-open.
struct WrappedFile {
  sqlite3_file base;
  unsigned role;
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};

sqlite3_vfs* real_vfs(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }
FailingVfs* state = nullptr;
WrappedFile* wrapped(sqlite3_file* f) { return reinterpret_cast<WrappedFile*>(f); }
sqlite3_file* real(sqlite3_file* f) { return wrapped(f)->real(); }

unsigned role_of(int flags) {
  if (flags & SQLITE_OPEN_MAIN_DB) return kFileMainDb;
  if (flags & SQLITE_OPEN_WAL) return kFileWal;
  if (flags & SQLITE_OPEN_MAIN_JOURNAL) return kFileJournal;
  return kFileOther;
}

// SQLITE_OK, or the error the plan makes this call return.
int fault(sqlite3_file* f, unsigned op) { return state->fault(op, wrapped(f)->role); }

int x_close(sqlite3_file* f) {
  int rc = real(f)->pMethods ? real(f)->pMethods->xClose(real(f)) : SQLITE_OK;
  f->pMethods = nullptr;
  return rc;
}
int x_read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  if (int rc = fault(f, kOpRead)) return rc;
  return real(f)->pMethods->xRead(real(f), buf, n, off);
}
int x_write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  if (int rc = fault(f, kOpWrite)) return rc;
  return real(f)->pMethods->xWrite(real(f), buf, n, off);
}
int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (int rc = fault(f, kOpTruncate)) return rc;
  return real(f)->pMethods->xTruncate(real(f), size);
}
int x_sync(sqlite3_file* f, int flags) {
  if (int rc = fault(f, kOpSync)) return rc;
  return real(f)->pMethods->xSync(real(f), flags);
}
int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
  if (int rc = fault(f, kOpFileSize)) return rc;
  return real(f)->pMethods->xFileSize(real(f), size);
}
int x_lock(sqlite3_file* f, int level) { return real(f)->pMethods->xLock(real(f), level); }
int x_unlock(sqlite3_file* f, int level) { return real(f)->pMethods->xUnlock(real(f), level); }
int x_check_reserved(sqlite3_file* f, int* out) {
  return real(f)->pMethods->xCheckReservedLock(real(f), out);
}
int x_file_control(sqlite3_file* f, int op, void* arg) {
  return real(f)->pMethods->xFileControl(real(f), op, arg);
}
int x_sector_size(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
int x_device_characteristics(sqlite3_file* f) {
  return real(f)->pMethods->xDeviceCharacteristics(real(f));
}
// The WAL index (shared memory) is memory, not the disk: passed through untouched.
int x_shm_map(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return real(f)->pMethods->xShmMap(real(f), page, size, extend, out);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); }
int x_shm_unmap(sqlite3_file* f, int del) { return real(f)->pMethods->xShmUnmap(real(f), del); }
int x_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
  if (real(f)->pMethods->iVersion < 3) {
    *out = nullptr;
    return SQLITE_OK;
  }
  return real(f)->pMethods->xFetch(real(f), off, n, out);
}
int x_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  if (real(f)->pMethods->iVersion < 3) return SQLITE_OK;
  return real(f)->pMethods->xUnfetch(real(f), off, p);
}

const sqlite3_io_methods kMethods = {
    3, x_close, x_read, x_write, x_truncate, x_sync, x_file_size, x_lock, x_unlock,
    x_check_reserved, x_file_control, x_sector_size, x_device_characteristics, x_shm_map,
    x_shm_lock, x_shm_barrier, x_shm_unmap, x_fetch, x_unfetch};

int v_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  auto* w = wrapped(f);
  w->role = role_of(flags);
  w->real()->pMethods = nullptr;
  int rc = real_vfs(vfs)->xOpen(real_vfs(vfs), name, w->real(), flags, out_flags);
  // SQLite calls xClose only when pMethods is set, so a failed open leaves it null.
  f->pMethods = w->real()->pMethods ? &kMethods : nullptr;
  return rc;
}
int v_delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return real_vfs(vfs)->xDelete(real_vfs(vfs), name, sync_dir);
}
int v_access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return real_vfs(vfs)->xAccess(real_vfs(vfs), name, flags, out);
}
int v_full_pathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  return real_vfs(vfs)->xFullPathname(real_vfs(vfs), name, n, out);
}
void* v_dl_open(sqlite3_vfs* vfs, const char* name) {
  return real_vfs(vfs)->xDlOpen(real_vfs(vfs), name);
}
void v_dl_error(sqlite3_vfs* vfs, int n, char* out) {
  real_vfs(vfs)->xDlError(real_vfs(vfs), n, out);
}
void (*v_dl_sym(sqlite3_vfs* vfs, void* lib, const char* sym))(void) {
  return real_vfs(vfs)->xDlSym(real_vfs(vfs), lib, sym);
}
void v_dl_close(sqlite3_vfs* vfs, void* lib) { real_vfs(vfs)->xDlClose(real_vfs(vfs), lib); }
int v_randomness(sqlite3_vfs* vfs, int n, char* out) {
  return real_vfs(vfs)->xRandomness(real_vfs(vfs), n, out);
}
int v_sleep(sqlite3_vfs* vfs, int us) { return real_vfs(vfs)->xSleep(real_vfs(vfs), us); }
int v_current_time(sqlite3_vfs* vfs, double* out) {
  return real_vfs(vfs)->xCurrentTime(real_vfs(vfs), out);
}
int v_get_last_error(sqlite3_vfs* vfs, int n, char* out) {
  return real_vfs(vfs)->xGetLastError(real_vfs(vfs), n, out);
}
int v_current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return real_vfs(vfs)->xCurrentTimeInt64(real_vfs(vfs), out);
}

}  // namespace

FailingVfs& FailingVfs::install() {
  static FailingVfs* instance = [] {
    sqlite3_vfs* base = sqlite3_vfs_find(nullptr);
    if (!base || base->iVersion < 2) throw std::runtime_error("no usable default SQLite VFS");
    auto* self = new FailingVfs();
    state = self;
    // Version 2 (no system-call overrides): SQLite only needs those on the unix VFS itself.
    static sqlite3_vfs vfs = {};
    vfs.iVersion = 2;
    vfs.szOsFile = static_cast<int>(sizeof(WrappedFile)) + base->szOsFile;
    vfs.mxPathname = base->mxPathname;
    vfs.zName = self->name();
    vfs.pAppData = base;
    vfs.xOpen = v_open;
    vfs.xDelete = v_delete;
    vfs.xAccess = v_access;
    vfs.xFullPathname = v_full_pathname;
    vfs.xDlOpen = v_dl_open;
    vfs.xDlError = v_dl_error;
    vfs.xDlSym = v_dl_sym;
    vfs.xDlClose = v_dl_close;
    vfs.xRandomness = v_randomness;
    vfs.xSleep = v_sleep;
    vfs.xCurrentTime = v_current_time;
    vfs.xGetLastError = v_get_last_error;
    vfs.xCurrentTimeInt64 = v_current_time_int64;
    if (sqlite3_vfs_register(&vfs, /*makeDflt=*/0) != SQLITE_OK) {
      throw std::runtime_error("cannot register the failing SQLite VFS");
    }
    return self;
  }();
  return *instance;
}

void FailingVfs::arm(const FailPlan& plan) {
  std::lock_guard lock(mu_);
  plan_ = plan;
  armed_ = plan.fail_at > 0 || plan.probability > 0;
  tripped_ = false;
  rng_.seed(plan.seed);
}

void FailingVfs::disarm() {
  std::lock_guard lock(mu_);
  armed_ = false;
  tripped_ = false;
}

void FailingVfs::reset_counters() {
  calls_ = 0;
  failures_ = 0;
}

int FailingVfs::fault(unsigned op, unsigned file) {
  std::lock_guard lock(mu_);
  if (!(plan_.ops & op) || !(plan_.files & file)) return SQLITE_OK;
  const int64_t n = ++calls_;
  bool fail = false;
  if (armed_ && plan_.fail_at > 0) {
    fail = n == plan_.fail_at || (plan_.persistent && tripped_);
    tripped_ = tripped_ || fail;
  } else if (armed_ && plan_.probability > 0) {
    fail = std::uniform_real_distribution<double>(0, 1)(rng_) < plan_.probability;
  }
  if (!fail) return SQLITE_OK;
  ++failures_;
  switch (op) {
    case kOpWrite: return plan_.disk_full ? SQLITE_FULL : SQLITE_IOERR_WRITE;
    case kOpSync: return SQLITE_IOERR_FSYNC;
    case kOpTruncate: return SQLITE_IOERR_TRUNCATE;
    case kOpFileSize: return SQLITE_IOERR_FSTAT;
    default: return SQLITE_IOERR_READ;
  }
}

}  // namespace ragd::rag::testing
