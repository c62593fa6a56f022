#include "rag/search/bm25_index_cache.h"

#include <sys/stat.h>

#include <map>
#include <mutex>
#include <string>

#include "util/error.h"
#include "util/log.h"
#include "util/timing.h"

namespace ragd::rag {
namespace {

struct Entry {
  std::shared_ptr<const Bm25Index> index;
  double last_build_seconds = 0;
  std::string failed_version;  // the version whose build failed, if any
  // FTS5 queries since the index went missing or stale.
  size_t fts_queries = 0;
  double fts_seconds = 0;
  bool building = false;
};

// The database file's path and inode: a database deleted and recreated at the same path
// (tests, benchmarks) gets a new inode while it exists beside the old one's cache entry.
std::string db_key(SqliteStore& store) {
  const std::string path = store.db().path().string();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return path;
  return path + '#' + std::to_string(st.st_dev) + ':' + std::to_string(st.st_ino);
}

class Cache {
 public:
  std::shared_ptr<const Bm25Index> for_query(SqliteStore& store, const Collection& collection) {
    std::string version = Bm25Index::fts_version(store, collection);
    std::string key = entry_key(store, collection);
    {
      std::lock_guard lock(mu_);
      Entry& e = entries_[key];
      if (e.index && e.index->version() == version) return e.index;
      if (e.building || e.failed_version == version) return nullptr;
      if (e.fts_queries == 0 || e.fts_seconds < e.last_build_seconds) return nullptr;
      e.building = true;
    }
    return build(store, collection, key);
  }

  void note(SqliteStore& store, const Collection& collection, double seconds) {
    std::lock_guard lock(mu_);
    Entry& e = entries_[entry_key(store, collection)];
    ++e.fts_queries;
    e.fts_seconds += seconds;
  }

  std::shared_ptr<const Bm25Index> warm(SqliteStore& store, const Collection& collection, double* seconds) {
    std::string version = Bm25Index::fts_version(store, collection);
    std::string key = entry_key(store, collection);
    {
      std::lock_guard lock(mu_);
      Entry& e = entries_[key];
      if (e.index && e.index->version() == version) {
        if (seconds) *seconds = 0;
        return e.index;
      }
      e.building = true;
    }
    auto index = build(store, collection, key);
    if (!index) fail("cannot build the BM25 index of collection '{}'", collection.name);
    if (seconds) {
      std::lock_guard lock(mu_);
      *seconds = entries_[key].last_build_seconds;
    }
    return index;
  }

  void forget(SqliteStore& store) {
    std::string prefix = db_key(store) + '/';
    std::lock_guard lock(mu_);
    std::erase_if(entries_, [&](const auto& kv) { return kv.first.starts_with(prefix) && !kv.second.building; });
  }

 private:
  static std::string entry_key(SqliteStore& store, const Collection& collection) {
    return db_key(store) + '/' + std::to_string(collection.id);
  }

  // Called with `building` set by this thread; never throws.
  std::shared_ptr<const Bm25Index> build(SqliteStore& store, const Collection& collection, const std::string& key) {
    Stopwatch watch;
    std::shared_ptr<const Bm25Index> index;
    std::string error;
    try {
      index = Bm25Index::build(store, collection);
    } catch (const std::exception& ex) {
      error = ex.what();
    }
    std::string failed_version;
    if (!index) {
      try {
        failed_version = Bm25Index::fts_version(store, collection);
      } catch (const std::exception&) {
      }
      log::warn("BM25 index of collection '{}' not built, FTS5 answers its queries: {}", collection.name, error);
    }
    std::lock_guard lock(mu_);
    Entry& e = entries_[key];
    e.building = false;
    e.fts_queries = 0;
    e.fts_seconds = 0;
    if (index) {
      e.index = index;
      e.last_build_seconds = watch.seconds();
      e.failed_version.clear();
    } else {
      e.failed_version = failed_version;
    }
    return index;
  }

  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

Cache& cache() {
  static Cache c;
  return c;
}

}  // namespace

std::shared_ptr<const Bm25Index> bm25_index_for_query(SqliteStore& store, const Collection& collection) {
  return cache().for_query(store, collection);
}

void note_fts_query(SqliteStore& store, const Collection& collection, double seconds) {
  cache().note(store, collection, seconds);
}

std::shared_ptr<const Bm25Index> warm_bm25_index(SqliteStore& store, const Collection& collection,
                                                 double* build_seconds) {
  return cache().warm(store, collection, build_seconds);
}

void forget_bm25_indexes(SqliteStore& store) { cache().forget(store); }

}  // namespace ragd::rag
