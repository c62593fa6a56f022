#include "rag/store/sqlite_store.h"
#include "rag/ingest/ingest.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "rag/search/bm25_search.h"
#include "rag/store/schema.h"
#include "rag/ingest/synthetic_corpus.h"
#include "rag/ingest/temp_dir.h"
#include "test_util.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

using testing::write_file;

struct Fixture {
  TempDir tmp;
  std::filesystem::path docs = tmp.path() / "docs";
  std::unique_ptr<SqliteStore> store = SqliteStore::open(tmp.path() / "db");

  IngestStats ingest(std::vector<std::string> paths = {}, IngestOptions o = {}) {
    if (paths.empty()) paths = {docs.string()};
    Ingestor ingestor(*store, o);
    return ingestor.ingest(collect_input_files(paths));
  }
  int64_t documents() { return store->stats(store->require_collection("default").id).documents; }
};

TEST(Ingest, CollectsSupportedFilesRecursivelyInOrder) {
  Fixture f;
  write_file(f.docs / "b.md", "# B\ntext");
  write_file(f.docs / "a.txt", "text");
  write_file(f.docs / "sub" / "c.html", "<p>x</p>");
  write_file(f.docs / "skip.docx", "PK");
  write_file(f.docs / ".hidden" / "d.txt", "x");
  write_file(f.docs / ".e.txt", "x");
  auto files = collect_input_files({f.docs.string(), (f.docs / "a.txt").string()});
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].filename(), "a.txt");
  EXPECT_EQ(files[1].filename(), "b.md");
  EXPECT_EQ(files[2].filename(), "c.html");
  EXPECT_TRUE(files[0].is_absolute());
  EXPECT_THROW(collect_input_files({(f.docs / "skip.docx").string()}), Error);
  EXPECT_THROW(collect_input_files({(f.docs / "missing").string()}), Error);
}

TEST(Ingest, ReingestingUnchangedFilesIsANoOp) {
  Fixture f;
  write_file(f.docs / "a.md", "# Alpha\n\nAardvarks are animals.");
  write_file(f.docs / "b.jsonl", "{\"_id\":\"1\",\"title\":\"One\",\"text\":\"first\"}\n{\"_id\":\"2\",\"text\":\"second\"}\n");
  auto first = f.ingest();
  EXPECT_EQ(first.files, 2u);
  EXPECT_EQ(first.documents_added, 3u);
  EXPECT_EQ(first.chunks_written, 3u);
  auto second = f.ingest();
  EXPECT_EQ(second.files_unchanged, 2u);
  EXPECT_EQ(second.documents_added + second.documents_updated + second.chunks_written, 0u);
  EXPECT_EQ(f.documents(), 3);
}

TEST(Ingest, AChangedFileReplacesItsChunksAndDropsVanishedRecords) {
  Fixture f;
  write_file(f.docs / "a.md", "# Alpha\n\nAardvarks are animals.");
  write_file(f.docs / "b.jsonl", "{\"_id\":\"1\",\"text\":\"first\"}\n{\"_id\":\"2\",\"text\":\"second\"}\n");
  f.ingest();
  write_file(f.docs / "a.md", "# Alpha\n\nBadgers are animals.");
  write_file(f.docs / "b.jsonl", "{\"_id\":\"1\",\"text\":\"first\"}\n{\"_id\":\"3\",\"text\":\"third\"}\n");
  auto s = f.ingest();
  EXPECT_EQ(s.files_unchanged, 0u);
  EXPECT_EQ(s.documents_updated, 1u);    // a.md
  EXPECT_EQ(s.documents_unchanged, 1u);  // record 1
  EXPECT_EQ(s.documents_added, 1u);      // record 3
  EXPECT_EQ(s.documents_removed, 1u);    // record 2
  auto c = f.store->require_collection("default");
  EXPECT_TRUE(bm25_search(*f.store, c, "aardvarks", 5).empty());
  EXPECT_EQ(bm25_search(*f.store, c, "badgers", 5).size(), 1u);
  EXPECT_TRUE(bm25_search(*f.store, c, "second", 5).empty());
  EXPECT_EQ(f.documents(), 3);
}

TEST(Ingest, OtherChunkSettingsRechunkUnchangedFiles) {
  Fixture f;
  std::string text;
  for (int i = 0; i < 300; ++i) text += fmt::format("Sentence number {} is here. ", i);
  write_file(f.docs / "long.txt", text);
  auto a = f.ingest();
  IngestOptions small;
  small.chunker.chunk_tokens = 64;
  small.chunker.overlap_tokens = 8;
  auto b = f.ingest({}, small);
  EXPECT_EQ(b.files_unchanged, 0u);
  EXPECT_EQ(b.documents_updated, 1u);
  EXPECT_GT(b.chunks_written, a.chunks_written);
}

TEST(Ingest, BadRecordsAreReportedAndKeepWhatWasStored) {
  Fixture f;
  write_file(f.docs / "b.jsonl", "{\"_id\":\"1\",\"text\":\"first\"}\n{\"_id\":\"2\",\"text\":\"second\"}\n");
  f.ingest();
  write_file(f.docs / "b.jsonl", "{\"_id\":\"1\",\"text\":\"first\"}\n{not json\n");
  auto s = f.ingest();
  EXPECT_EQ(s.errors, 1u);
  EXPECT_EQ(s.documents_removed, 0u);  // record 2 is kept: its line may just be damaged
  EXPECT_EQ(f.documents(), 2);
  EXPECT_EQ(f.ingest().files_unchanged, 0u);  // the file is read again next time
}

TEST(Ingest, ExtraMetadataIsStoredAndHeadingsReachChunks) {
  Fixture f;
  write_file(f.docs / "guide.md", "# Guide\n\n## Setup\n\nInstall the widget.");
  IngestOptions o;
  o.extra_metadata = {{"team", "search"}};
  f.ingest({}, o);
  auto c = f.store->require_collection("default");
  auto hits = bm25_search(*f.store, c, "widget", 5);
  ASSERT_EQ(hits.size(), 1u);
  auto rec = f.store->get_chunks(std::vector<int64_t>{hits[0].chunk_id}).at(0);
  EXPECT_EQ(rec.title, "Guide");
  EXPECT_EQ(rec.heading, "Setup");
  auto meta = nlohmann::json::parse(rec.metadata);
  EXPECT_EQ(meta["team"], "search");
  EXPECT_EQ(meta["type"], "markdown");
  EXPECT_EQ(bm25_search(*f.store, c, "setup", 5).size(), 1u);  // headings are indexed

  o.extra_metadata = {{"team", "ranking"}};  // other --meta: the unchanged file is rewritten
  auto again = f.ingest({}, o);
  EXPECT_EQ(again.files_unchanged, 0u);
  EXPECT_EQ(again.documents_updated, 1u);
}

// Kills an ingesting child process with SIGKILL part-way through, then checks that the
// database opens, passes integrity checks, and holds every document the child had reported
// committed, each complete with all of its chunks.
TEST(Ingest, SurvivesSigkillMidway) {
  TempDir tmp;
  auto corpus = tmp.path() / "corpus.jsonl";
  SyntheticCorpusOptions corpus_options{20000, 80, 30000, 3};
  write_synthetic_corpus(corpus, corpus_options);
  auto db_dir = tmp.path() / "db";
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    try {
      auto store = SqliteStore::open(db_dir);
      IngestOptions o;
      o.batch_documents = 200;
      o.on_commit = [&](size_t committed) {
        uint64_t n = committed;
        if (write(fds[1], &n, sizeof n) != sizeof n) _exit(3);
      };
      Ingestor(*store, o).ingest({corpus});
    } catch (...) {
      _exit(2);
    }
    _exit(0);
  }
  close(fds[1]);
  uint64_t committed = 0, n = 0;
  // Wait for a few commits, then kill in the middle of the next batch.
  while (committed < 1000 && read(fds[0], &n, sizeof n) == sizeof n) committed = n;
  usleep(20000);
  kill(pid, SIGKILL);
  while (read(fds[0], &n, sizeof n) == sizeof n) committed = n;  // commits before the kill
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child finished before it was killed";
  ASSERT_GE(committed, 1000u);

  auto store = SqliteStore::open(db_dir);
  auto check = store->db().prepare("PRAGMA integrity_check");
  ASSERT_TRUE(check.step());
  EXPECT_EQ(check.text(0), "ok");
  auto c = store->require_collection("default");
  store->db().exec(fmt::format("INSERT INTO {0}({0}) VALUES('integrity-check')", fts_table_name(c.id)));
  auto stats = store->stats(c.id);
  EXPECT_GE(stats.documents, static_cast<int64_t>(committed));
  EXPECT_LT(stats.documents, 20000);
  // Documents are ingested in file order: every one of the first `committed` is present,
  // and every stored document has exactly the chunks it says it has.
  for (uint64_t i = 0; i < committed; i += 97) {
    EXPECT_TRUE(store->find_document(c.id, fmt::format("doc{}", i))) << i;
  }
  auto bad = store->db().prepare(
      "SELECT count(*) FROM documents d WHERE chunk_count != (SELECT count(*) FROM chunks WHERE document_id = d.id)");
  bad.step();
  EXPECT_EQ(bad.int64(0), 0);
  size_t found = 0;
  for (const auto& q : synthetic_queries(corpus_options, 10)) found += bm25_search(*store, c, q, 5).size();
  EXPECT_GT(found, 0u);

  // Ingesting again completes the job without duplicating anything.
  auto s = Ingestor(*store, IngestOptions{}).ingest({corpus});
  EXPECT_EQ(s.documents_unchanged, static_cast<size_t>(stats.documents));
  EXPECT_EQ(store->stats(c.id).documents, 20000);
}

}  // namespace
}  // namespace ragd::rag
