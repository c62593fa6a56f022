#include "app/progress_bar.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace ragd::app {

ProgressBar::ProgressBar(bool enabled, std::string unit)
    : enabled_(enabled), unit_(std::move(unit)), tty_(::isatty(STDERR_FILENO) == 1) {}

model::ProgressFn ProgressBar::callback() {
  if (!enabled_) return {};
  return [this](const model::WriteProgress& p) { update(p); };
}

std::string format_bytes(uint64_t n) {
  if (n >= (uint64_t{1} << 30)) return fmt::format("{:.2f} GiB", n / 1073741824.0);
  if (n >= (uint64_t{1} << 20)) return fmt::format("{:.1f} MiB", n / 1048576.0);
  if (n >= 1024) return fmt::format("{:.1f} KiB", n / 1024.0);
  return fmt::format("{} B", n);
}

void ProgressBar::update(const model::WriteProgress& p) {
  const double frac = p.bytes_total ? static_cast<double>(p.bytes_done) / p.bytes_total : 0.0;
  const bool last = p.tensor_done && p.tensor_index + 1 == p.n_tensors;
  const double mbps = p.seconds > 0 ? p.bytes_done / p.seconds / 1e6 : 0.0;
  if (tty_) {
    if (!last && p.seconds - last_draw_ < 0.1) return;
    last_draw_ = p.seconds;
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(frac * kWidth);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::string name(p.tensor_name.substr(0, 32));
    fmt::print(stderr, "\r[{}] {:5.1f}% {} {:>4}/{} {:>10} {:7.1f} MB/s  {:<32}", bar,
               frac * 100, unit_, p.tensor_index + 1, p.n_tensors, format_bytes(p.bytes_done), mbps,
               name);
    drawn_ = true;
  } else {
    const int decile = static_cast<int>(frac * 10);
    if (!last && decile == last_decile_) return;
    if (!last && !p.tensor_done) return;
    last_decile_ = decile;
    fmt::print(stderr, "{:5.1f}% {} {}/{} {} {:.1f} MB/s\n", frac * 100, unit_, p.tensor_index + 1,
               p.n_tensors, format_bytes(p.bytes_done), mbps);
  }
  std::fflush(stderr);
}

void print_notes(const std::vector<std::string>& notes, size_t max_shown) {
  for (size_t i = 0; i < notes.size() && i < max_shown; ++i) {
    fmt::print(stderr, "note: {}\n", notes[i]);
  }
  if (notes.size() > max_shown) {
    fmt::print(stderr, "note: ... and {} more like these\n", notes.size() - max_shown);
  }
}

void ProgressBar::finish() {
  if (drawn_) {
    std::fputc('\n', stderr);
    drawn_ = false;
  }
}

}  // namespace ragd::app
