#include "app/ingest_progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "app/progress_bar.h"

namespace ragd::app {
namespace {

std::string format_duration(double s) {
  if (s < 0 || s > 1e7) return "?";
  auto t = static_cast<long>(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, t / 60 % 60);
  return fmt::format("{}:{:02}", t / 60, t % 60);
}

}  // namespace

IngestProgressBar::IngestProgressBar(bool enabled)
    : enabled_(enabled), tty_(::isatty(STDERR_FILENO) == 1) {}

rag::ProgressFn IngestProgressBar::callback() {
  if (!enabled_) return {};
  return [this](const rag::IngestProgress& p) { update(p, false); };
}

void IngestProgressBar::update(const rag::IngestProgress& p, bool force) {
  last_ = p;
  double now = watch_.seconds();
  if (!force && now - last_draw_ < (tty_ ? 0.1 : 5.0)) return;
  last_draw_ = now;
  double frac = p.bytes_total ? static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total) : 1.0;
  double rate = now > 0 ? static_cast<double>(p.documents) / now : 0;
  double bytes_rate = now > 0 ? static_cast<double>(p.bytes_done) / now : 0;
  uint64_t left = p.bytes_total > p.bytes_done ? p.bytes_total - p.bytes_done : 0;
  double eta = bytes_rate > 0 ? static_cast<double>(left) / bytes_rate : -1;
  std::string line = fmt::format("{:5.1f}% files {}/{} docs {} chunks {} {:.0f} docs/s {}/s ETA {}",
                                 frac * 100, p.files_done, p.files_total, p.documents, p.chunks,
                                 rate, format_bytes(static_cast<uint64_t>(bytes_rate)),
                                 format_duration(eta));
  draw(frac, line);
}

rag::EmbedProgressFn IngestProgressBar::embed_callback() {
  if (!enabled_) return {};
  return [this](size_t done, size_t total) { update_embed(done, total); };
}

void IngestProgressBar::update_embed(size_t done, size_t total) {
  if (!embedding_) embed_watch_.reset();
  embedding_ = true;
  embed_done_ = done;
  embed_total_ = total;
  double now = watch_.seconds();
  if (done < total && now - last_draw_ < (tty_ ? 0.1 : 5.0)) return;
  last_draw_ = now;
  double secs = embed_watch_.seconds();
  double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
  double eta = rate > 0 ? static_cast<double>(total - std::min(done, total)) / rate : -1;
  double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  draw(frac, fmt::format("{:5.1f}% embedding chunks {}/{} {:.1f} chunks/s ETA {}", frac * 100,
                         done, total, rate, format_duration(eta)));
}

void IngestProgressBar::draw(double frac, const std::string& line) {
  if (tty_) {
    constexpr int kWidth = 20;
    std::string bar(static_cast<size_t>(frac * kWidth), '#');
    bar.resize(kWidth, '.');
    fmt::print(stderr, "\r[{}] {}\x1b[K", bar, line);
    drawn_ = true;
  } else {
    fmt::print(stderr, "{}: {}\n", embedding_ ? "embed" : "ingest", line);
  }
  std::fflush(stderr);
}

void IngestProgressBar::finish() {
  if (!enabled_) return;
  if (tty_) {
    if (embedding_) {
      last_draw_ = -1;
      update_embed(embed_done_, embed_total_);
    } else {
      update(last_, true);
    }
    if (drawn_) std::fputc('\n', stderr);
  }
  drawn_ = false;
}

}  // namespace ragd::app
