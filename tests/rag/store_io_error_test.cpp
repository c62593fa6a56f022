// I/O errors injected under the store (issue 13, "Nothing acknowledged is lost"): a SQLite
// VFS that fails the Nth write, sync, truncate, size or read call (failing_vfs.h), swept
// over every such call that an ingest makes, like SQLite's own io-error tests, on a new
// store and on one holding an earlier version of the corpus. For each failure point the run
// goes through the same steps as `ragd ingest` (open the store, Ingestor,
// embed_missing_chunks, CollectionVectors::open, close) with the fault armed, and then:
//  * the failure surfaced as a ragd::Error with SQLite's reason (no crash, no abort, no
//    other exception type), or was absorbed by SQLite without losing anything;
//  * with the fault gone, the store reopens, PRAGMA integrity_check and the FTS5 index's
//    integrity-check pass, no document is half-written, and every document committed
//    before the fault is present, complete and found by BM25;
//  * re-running the ingest completes the rest: every document is then found by BM25 and by
//    dense search.
// The sweep's figures (trials, clean errors, absorbed faults) are printed and recorded as
// test properties; docs/reliability.md quotes them.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>

#include "rag/store/sqlite_store.h"
#include "failing_vfs.h"
#include "rag/ingest/embed_chunks.h"
#include "rag/ingest/ingest.h"
#include "rag/ingest/temp_dir.h"
#include "rag/search/bm25_search.h"
#include "rag/search/collection_vectors.h"
#include "rag/store/schema.h"
#include "test_util.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

namespace fs = std::filesystem;
using testing::FailingVfs;
using testing::FailPlan;

// Bag of hashed words, L2-normalised: cheap and deterministic, and a query for a word
// finds the chunks that contain it (every chunk's embedding text carries its title).
class HashEmbedder : public Embedder {
 public:
  std::string name() const override { return "hash-bow"; }
  size_t dim() const override { return kDim; }
  std::vector<float> embed_query(std::string_view text) override { return embed(text); }
  std::vector<std::vector<float>> embed_passages(const std::vector<std::string>& texts) override {
    std::vector<std::vector<float>> out;
    for (const auto& t : texts) out.push_back(embed(t));
    return out;
  }

 private:
  static constexpr size_t kDim = 256;
  static std::vector<float> embed(std::string_view text) {
    std::vector<float> v(kDim, 0.0f);
    uint64_t h = 1469598103934665603ull;
    bool in_word = false;
    auto end_word = [&] {
      if (in_word) v[h % kDim] += 1.0f;
      h = 1469598103934665603ull;
      in_word = false;
    };
    for (char c : text) {
      if (std::isalnum(static_cast<unsigned char>(c))) {
        h = (h ^ static_cast<unsigned char>(std::tolower(static_cast<unsigned char>(c)))) *
            1099511628211ull;
        in_word = true;
      } else {
        end_word();
      }
    }
    end_word();
    float norm = 0;
    for (float x : v) norm += x * x;
    if (norm > 0) {
      for (float& x : v) x /= std::sqrt(norm);
    } else {
      v[0] = 1;
    }
    return v;
  }
};

const char* const kMarkers[] = {"mrkalpha", "mrkbravo",  "mrkcharlie", "mrkdelta",
                                "mrkecho",  "mrkfoxtrot", "mrkgolf",    "mrkhotel",
                                "mrkindia", "mrkjuliet", "mrkkilo",    "mrklima"};
constexpr size_t kDocuments = std::size(kMarkers);

std::string filler(size_t i, size_t words) {
  static const char* const kWords[] = {"river", "stone", "lamp", "orbit", "cable", "meadow",
                                       "signal", "harbor", "copper", "lantern", "glacier",
                                       "thread", "window", "pepper", "canyon", "ledger"};
  std::string s;
  for (size_t w = 0; w < words; ++w) {
    s += kWords[(i * 7 + w * 3) % std::size(kWords)];
    s += (w % 12 == 11) ? ". " : " ";
  }
  return s;
}

// Six Markdown files of one document each, and a JSONL file of six records: each document
// has its marker in its title and 3-4 chunks at 40 tokens per chunk. The earlier version
// is the first three files only, doc01.md with a shorter text (fewer chunks).
std::vector<fs::path> write_corpus(const fs::path& dir, bool earlier = false) {
  for (size_t i = 0; i < (earlier ? 3 : 6); ++i) {
    const bool shorter = earlier && i == 1;
    testing::write_file(dir / fmt::format("doc{:02}.md", i),
                        fmt::format("# Report {}\n\n{}\n\n## Details\n\n{}\n", kMarkers[i],
                                    filler(i, shorter ? 20 : 60), filler(i + 1, shorter ? 10 : 50)));
  }
  if (earlier) return collect_input_files({dir.string()});
  std::string jsonl;
  for (size_t i = 6; i < kDocuments; ++i) {
    jsonl += nlohmann::json{{"_id", fmt::format("rec{}", i)},
                            {"title", fmt::format("Record {}", kMarkers[i])},
                            {"text", filler(i, 90)}}
                 .dump() +
             "\n";
  }
  testing::write_file(dir / "records.jsonl", jsonl);
  return collect_input_files({dir.string()});
}

IngestOptions ingest_options() {
  IngestOptions o;
  o.chunker.chunk_tokens = 40;
  o.chunker.overlap_tokens = 4;
  o.batch_documents = 2;  // several commits per run: some documents are acknowledged early
  o.batch_seconds = 1e9;
  return o;
}

struct RunResult {
  bool returned = false;          // the whole sequence finished without an exception
  bool ingest_returned = false;   // Ingestor::ingest returned
  size_t file_errors = 0;         // IngestStats::errors
  size_t committed = 0;           // documents acknowledged (on_commit)
  bool ragd_error = false;        // a ragd::Error escaped
  bool other_exception = false;   // anything else escaped: a bug
  std::string message;
  std::string fault_phase;        // the step during which the first fault was injected
};

// What `ragd ingest` does (src/app/cmd_ingest.cpp), with the store opened through `vfs`
// (empty: the default VFS). The store is closed before returning, so a checkpoint at
// close runs under the same fault.
RunResult run_ingest(const fs::path& db_dir, const std::vector<fs::path>& files,
                     const std::string& vfs) {
  RunResult r;
  HashEmbedder embedder;
  std::unique_ptr<SqliteStore> store;
  const FailingVfs* faults = vfs.empty() ? nullptr : &FailingVfs::install();
  // Called at the end of each step: names the step in which the first fault fired.
  const char* step = "open";
  auto step_done = [&](const char* next) {
    if (faults && faults->failures() > 0 && r.fault_phase.empty()) r.fault_phase = step;
    step = next;
  };
  try {
    store = SqliteStore::open(db_dir, vfs);
    step_done("create collection");
    IngestOptions o = ingest_options();
    o.on_commit = [&](size_t n) { r.committed = n; };
    Ingestor ingestor(*store, o);
    step_done("ingest");
    IngestStats s = ingestor.ingest(files);
    r.ingest_returned = true;
    r.file_errors = s.errors;
    step_done("embed");
    Collection c = store->require_collection("default");
    embed_missing_chunks(*store, c, embedder, 4);
    step_done("vector index");
    CollectionVectors::open(*store, c);
    step_done("close");
    r.returned = true;
  } catch (const Error& e) {
    r.ragd_error = true;
    r.message = e.what();
  } catch (const std::exception& e) {
    r.other_exception = true;
    r.message = e.what();
  }
  step_done("close");
  store.reset();
  step_done("");
  return r;
}

// Documents are matched across stores by their file name (Markdown files' external ids are
// absolute paths, which differ between the temporary directories) or record id.
std::string doc_key(const std::string& external_id) {
  return fs::path(external_id).filename().string();
}

struct RefDoc {
  std::string external_id;  // doc_key() of the clean run's id
  std::string marker;
  int64_t chunks = 0;
};

// The documents of a clean run, in the order they were written (= acknowledged).
std::vector<RefDoc> reference_documents(const fs::path& db_dir) {
  auto store = SqliteStore::open(db_dir);
  auto s = store->db().prepare("SELECT external_id, title, chunk_count FROM documents ORDER BY id");
  std::vector<RefDoc> docs;
  while (s.step()) {
    std::string title = s.text(1);
    docs.push_back({doc_key(s.text(0)), title.substr(title.rfind(' ') + 1), s.int64(2)});
  }
  return docs;
}

std::string one_text(SqliteStore& store, const std::string& sql) {
  auto s = store.db().prepare(sql);
  return s.step() ? s.text(0) : std::string();
}

int64_t one_int(SqliteStore& store, const std::string& sql) {
  auto s = store.db().prepare(sql);
  return s.step() ? s.int64(0) : -1;
}

// doc_key → document id of the collection's documents.
std::map<std::string, int64_t> stored_documents(SqliteStore& store, const Collection& c) {
  auto s = store.db().prepare("SELECT external_id, id FROM documents WHERE collection_id = ?");
  s.bind(1, c.id);
  std::map<std::string, int64_t> out;
  while (s.step()) out[doc_key(s.text(0))] = s.int64(1);
  return out;
}

bool owned_by(SqliteStore& store, const std::vector<int64_t>& chunk_ids, int64_t doc_id) {
  auto owners = store.document_ids(chunk_ids);
  return std::any_of(owners.begin(), owners.end(), [&](auto& p) { return p.second == doc_id; });
}

bool bm25_finds(SqliteStore& store, const Collection& c, const RefDoc& d, int64_t doc_id) {
  std::vector<int64_t> ids;
  for (const auto& h : bm25_search(store, c, d.marker, 5)) ids.push_back(h.chunk_id);
  return owned_by(store, ids, doc_id);
}

bool dense_finds(SqliteStore& store, const Collection& c, const RefDoc& d, int64_t doc_id) {
  HashEmbedder embedder;
  auto cv = CollectionVectors::open(store, c);
  std::vector<int64_t> ids;
  for (const auto& h : cv->search(embedder.embed_query(d.marker), 5)) ids.push_back(h.id);
  return owned_by(store, ids, doc_id);
}

// What a trial starts from and what it may end with.
struct Scenario {
  bool existing = false;                    // the store holds the earlier version first
  std::vector<RefDoc> ref;                  // a clean run's documents, in write order
  std::map<std::string, int64_t> earlier;   // key → chunks, of the earlier version's documents
  std::vector<std::string> written;         // keys a run writes (new or changed), in order
};

// Writes the corpus under dir/docs and, for an existing store, ingests the earlier version
// into dir/db first (cleanly) before the files change to the full corpus.
std::vector<fs::path> prepare(const fs::path& dir, bool existing) {
  if (existing) {
    RunResult r = run_ingest(dir / "db", write_corpus(dir / "docs", /*earlier=*/true), "");
    EXPECT_TRUE(r.returned) << r.message;
  }
  return write_corpus(dir / "docs");
}

// The store after a failed run, opened with the default VFS: intact, nothing half-written
// (every document whole, in its earlier or its new version), every acknowledged document
// present and searchable.
void check_after_fault(const fs::path& db_dir, const Scenario& sc, const RunResult& r) {
  std::map<std::string, const RefDoc*> ref;
  for (const auto& d : sc.ref) ref[d.external_id] = &d;
  // Acknowledged: the earlier version's documents, and those a commit of this run covered.
  std::map<std::string, bool> must_have;  // key → must be the new version
  for (const auto& [key, chunks] : sc.earlier) must_have[key] = false;
  const size_t committed = r.committed;  // on_commit runs after every commit, the last included
  for (size_t i = 0; i < committed && i < sc.written.size(); ++i) must_have[sc.written[i]] = true;

  std::unique_ptr<SqliteStore> store;
  ASSERT_NO_THROW(store = SqliteStore::open(db_dir));
  EXPECT_EQ(one_text(*store, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(one_int(*store, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
  auto c = store->find_collection("default");
  if (!c) {
    EXPECT_TRUE(must_have.empty()) << "the collection is gone";
    return;
  }
  const std::string fts = fts_table_name(c->id);
  EXPECT_NO_THROW(store->db().exec(
      fmt::format("INSERT INTO {0}({0}) VALUES('integrity-check')", fts)));
  auto docs = store->db().prepare(
      "SELECT d.external_id, d.chunk_count, (SELECT count(*) FROM chunks WHERE document_id = d.id) "
      "FROM documents d");
  while (docs.step()) {
    const std::string key = doc_key(docs.text(0));
    const int64_t chunks = docs.int64(1);
    EXPECT_EQ(chunks, docs.int64(2)) << key << " is half-written";
    ASSERT_TRUE(ref.count(key)) << "unknown document " << key;
    auto it = must_have.find(key);
    const bool may_be_earlier = sc.earlier.count(key) && (it == must_have.end() || !it->second);
    EXPECT_TRUE(chunks == ref[key]->chunks || (may_be_earlier && chunks == sc.earlier.at(key)))
        << key << " has " << chunks << " chunks";
  }
  EXPECT_EQ(one_int(*store, fmt::format("SELECT count(*) FROM embeddings WHERE length(vector) != {}",
                                        HashEmbedder().dim() * sizeof(float))),
            0);
  const auto stored = stored_documents(*store, *c);
  for (const auto& [key, is_new] : must_have) {
    auto it = stored.find(key);
    EXPECT_TRUE(it != stored.end()) << "acknowledged document lost: " << key;
    if (it == stored.end()) continue;
    EXPECT_TRUE(bm25_finds(*store, *c, *ref[key], it->second)) << key;
    if (is_new) {
      EXPECT_EQ(one_int(*store, fmt::format("SELECT chunk_count FROM documents WHERE id = {}", it->second)),
                ref[key]->chunks)
          << "acknowledged update lost: " << key;
    }
  }
}

// After the re-run: the whole corpus, every chunk embedded, found both ways.
void check_complete(const fs::path& db_dir, const std::vector<RefDoc>& ref) {
  std::unique_ptr<SqliteStore> store;
  ASSERT_NO_THROW(store = SqliteStore::open(db_dir));
  EXPECT_EQ(one_text(*store, "PRAGMA integrity_check"), "ok");
  auto c = store->find_collection("default");
  ASSERT_TRUE(c.has_value());
  auto stats = store->stats(c->id);
  EXPECT_EQ(stats.documents, static_cast<int64_t>(ref.size()));
  EXPECT_EQ(stats.embeddings, stats.chunks);
  EXPECT_EQ(one_int(*store, "SELECT count(*) FROM sources WHERE content_hash = 'pending'"), 0);
  const auto stored = stored_documents(*store, *c);
  for (const auto& d : ref) {
    auto it = stored.find(d.external_id);
    ASSERT_TRUE(it != stored.end()) << d.external_id;
    EXPECT_EQ(one_int(*store, fmt::format("SELECT count(*) FROM chunks WHERE document_id = {}", it->second)),
              d.chunks);
    EXPECT_TRUE(bm25_finds(*store, *c, d, it->second)) << d.external_id;
    EXPECT_TRUE(dense_finds(*store, *c, d, it->second)) << d.external_id;
  }
}

// Failed assertions recorded so far in the running test.
int failed_parts() {
  const auto* result = ::testing::UnitTest::GetInstance()->current_test_info()->result();
  int n = 0;
  for (int i = 0; i < result->total_part_count(); ++i) n += result->GetTestPartResult(i).failed();
  return n;
}

struct SweepFigures {
  int trials = 0, faults = 0, clean_errors = 0, absorbed = 0, file_errors = 0, failed_checks = 0;
  std::map<std::string, int> absorbed_in;  // step → faults absorbed there
};

// One failure point: a fresh store (empty or holding the earlier version), the ingest
// under `plan`, the checks, the re-run.
void trial(const FailPlan& plan, const Scenario& sc, SweepFigures& fig) {
  FailingVfs& vfs = FailingVfs::install();
  TempDir tmp("ragd-ioerr");
  auto files = prepare(tmp.path(), sc.existing);
  const fs::path db = tmp.path() / "db";
  const int failed_before = failed_parts();
  vfs.reset_counters();
  vfs.arm(plan);
  RunResult r = run_ingest(db, files, vfs.name());
  vfs.disarm();
  const int64_t failures = vfs.failures();
  ++fig.trials;
  fig.faults += failures > 0;
  EXPECT_FALSE(r.other_exception) << "a non-ragd exception escaped: " << r.message;
  if (r.ragd_error) {
    ++fig.clean_errors;
    EXPECT_GT(failures, 0) << "an error without an injected fault: " << r.message;
    // SQLite's reason reaches the message: "disk I/O error" or "database or disk is full".
    EXPECT_NE(r.message.find("disk"), std::string::npos) << r.message;
  } else if (failures > 0) {
    ++fig.absorbed;
    ++fig.absorbed_in[r.fault_phase];
  }
  if (r.file_errors > 0) {
    ++fig.file_errors;
    ADD_FAILURE() << "a store fault was reported as an unreadable file";
  }
  check_after_fault(db, sc, r);
  RunResult again = run_ingest(db, files, "");
  EXPECT_TRUE(again.returned) << again.message;
  EXPECT_EQ(again.file_errors, 0u);
  check_complete(db, sc.ref);
  if (failed_parts() > failed_before) {
    ++fig.failed_checks;
    tmp.keep();
  }
}

// A clean run of the scenario: its documents, and how many calls of the plan's operations
// it makes (the failure points).
Scenario make_scenario(bool existing, const FailPlan& counting, int64_t* calls) {
  Scenario sc;
  sc.existing = existing;
  if (existing) {
    TempDir earlier("ragd-ioerr");
    run_ingest(earlier.path() / "db", write_corpus(earlier.path() / "docs", true), "");
    for (const auto& d : reference_documents(earlier.path() / "db")) sc.earlier[d.external_id] = d.chunks;
  }
  FailingVfs& vfs = FailingVfs::install();
  TempDir tmp("ragd-ioerr");
  auto files = prepare(tmp.path(), existing);
  FailPlan plan = counting;
  plan.fail_at = 0;
  plan.probability = 0;
  vfs.reset_counters();
  vfs.arm(plan);
  RunResult r = run_ingest(tmp.path() / "db", files, vfs.name());
  vfs.disarm();
  EXPECT_TRUE(r.returned) << r.message;
  *calls = vfs.calls();
  sc.ref = reference_documents(tmp.path() / "db");
  for (const auto& d : sc.ref) {
    auto it = sc.earlier.find(d.external_id);
    if (it == sc.earlier.end() || it->second != d.chunks) sc.written.push_back(d.external_id);
  }
  return sc;
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

void report(const char* sweep, int64_t points, const SweepFigures& f) {
  std::string where;
  for (const auto& [step, n] : f.absorbed_in) where += fmt::format("{}{}: {}", where.empty() ? "" : ", ", step, n);
  const std::string line = fmt::format(
      "{}: {} failure points, {} trials, {} with a fault injected, {} clean ragd::Errors, {} "
      "absorbed by SQLite ({}), {} reported as file errors, {} trials failing a check",
      sweep, points, f.trials, f.faults, f.clean_errors, f.absorbed, where, f.file_errors,
      f.failed_checks);
  std::printf("%s\n", line.c_str());
  ::testing::Test::RecordProperty("figures", line);
}

// Sweeps fail_at over every watched call of a clean run (every RAGD_IO_ERROR_STRIDE-th).
void sweep(const std::string& name, FailPlan plan, bool existing) {
  int64_t points = 0;
  const Scenario sc = make_scenario(existing, plan, &points);
  ASSERT_EQ(sc.ref.size(), kDocuments);
  // The earlier version's doc01.md has fewer chunks, so its update is told apart.
  ASSERT_EQ(sc.written.size(), existing ? kDocuments - 2 : kDocuments);
  ASSERT_GT(points, 10);
  const int stride = std::max(1, env_int("RAGD_IO_ERROR_STRIDE", 1));
  SweepFigures fig;
  // One past the end too: a plan that never fires must leave a normal, complete run.
  for (int64_t n = 1; n <= points + 1; n += stride) {
    SCOPED_TRACE(fmt::format("{}: failure at call {} of {}", name, n, points));
    plan.fail_at = n;
    trial(plan, sc, fig);
  }
  report(name.c_str(), points, fig);
  EXPECT_EQ(fig.failed_checks, 0);
  EXPECT_GT(fig.clean_errors, 0);
}

FailPlan disk_full() {
  FailPlan plan;
  plan.ops = testing::kOpWriteSide;
  plan.persistent = true;  // a full disk stays full
  plan.disk_full = true;
  return plan;
}

FailPlan one_io_error(unsigned ops) {
  FailPlan plan;
  plan.ops = ops;
  plan.persistent = false;  // a single failed call, then the device works again
  return plan;
}

TEST(StoreIoError, DiskFullAtEveryWritePointOfANewStore) {
  sweep("new store, disk full (write/sync/truncate/size, persistent)", disk_full(), false);
}

TEST(StoreIoError, DiskFullAtEveryWritePointOfAnExistingStore) {
  sweep("existing store, disk full (write/sync/truncate/size, persistent)", disk_full(), true);
}

TEST(StoreIoError, OneIoErrorAtEveryWritePointOfANewStore) {
  sweep("new store, one I/O error (write/sync/truncate/size)", one_io_error(testing::kOpWriteSide),
        false);
}

TEST(StoreIoError, OneIoErrorAtEveryWritePointOfAnExistingStore) {
  sweep("existing store, one I/O error (write/sync/truncate/size)",
        one_io_error(testing::kOpWriteSide), true);
}

// Reads: an existing store starts with a cold page cache, so the run reads its pages.
TEST(StoreIoError, OneReadErrorAtEveryReadPointOfAnExistingStore) {
  sweep("existing store, one read error", one_io_error(testing::kOpRead), true);
}

// Random faults of every kind on every file, seeded (RAGD_IO_ERROR_SEEDS trials), on new
// and existing stores in turn.
TEST(StoreIoError, RandomFaults) {
  FailPlan counting;
  counting.ops = testing::kOpWriteSide | testing::kOpRead;
  int64_t calls[2] = {0, 0};
  const Scenario scenarios[2] = {make_scenario(false, counting, &calls[0]),
                                 make_scenario(true, counting, &calls[1])};
  const int seeds = env_int("RAGD_IO_ERROR_SEEDS", 40);
  SweepFigures fig;
  for (int seed = 1; seed <= seeds; ++seed) {
    const int which = seed % 2;
    FailPlan plan = counting;
    plan.seed = static_cast<uint64_t>(seed);
    // About one to five faults per run.
    plan.probability = (1.0 + seed % 5) / static_cast<double>(calls[which]);
    plan.disk_full = seed % 3 == 0;
    SCOPED_TRACE(fmt::format("random faults, seed {}, p = {:.4f}, {} store", seed, plan.probability,
                             which ? "existing" : "new"));
    trial(plan, scenarios[which], fig);
  }
  report("random faults (every operation, seeded, new and existing stores)",
         calls[0] + calls[1], fig);
  EXPECT_EQ(fig.failed_checks, 0);
}

// The VFS itself: a dry run counts without failing, and an armed plan fails exactly the
// calls it names (so the sweeps above test what they claim).
TEST(StoreIoError, TheShimFailsExactlyThePlannedCall) {
  FailingVfs& vfs = FailingVfs::install();
  TempDir tmp("ragd-ioerr");
  FailPlan plan;
  plan.ops = testing::kOpWrite;
  plan.files = testing::kFileWal;
  vfs.reset_counters();
  vfs.arm(plan);
  {
    auto store = SqliteStore::open(tmp.path(), vfs.name());
    store->create_collection("a");
  }
  const int64_t wal_writes = vfs.calls();
  EXPECT_GT(wal_writes, 0);
  EXPECT_EQ(vfs.failures(), 0);
  auto store = SqliteStore::open(tmp.path(), vfs.name());
  plan.fail_at = 1;
  plan.disk_full = true;
  vfs.reset_counters();
  vfs.arm(plan);
  try {
    store->create_collection("b");
    ADD_FAILURE() << "the WAL write did not fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("database or disk is full"), std::string::npos) << e.what();
  }
  vfs.disarm();
  EXPECT_EQ(vfs.failures(), 1);
  store->create_collection("c");  // the same connection works again
  EXPECT_TRUE(store->find_collection("c").has_value());
  EXPECT_FALSE(store->find_collection("b").has_value());
}

}  // namespace
}  // namespace ragd::rag
