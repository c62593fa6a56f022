#include "server/trusted_proxies.h"

#include <arpa/inet.h>

#include <cstring>

#include "util/error.h"

namespace ragd::server {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<TrustedProxies::Bytes> TrustedProxies::parse_address(std::string_view text) {
  text = trim(text);
  // "[::1]" as some proxies write IPv6 literals; longer than any address: not one.
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string s(text);
  Bytes out{};
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

std::string TrustedProxies::format(const Bytes& a) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  char buf[INET6_ADDRSTRLEN] = {};
  if (std::memcmp(a.data(), kMapped, 12) == 0) {
    inet_ntop(AF_INET, a.data() + 12, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
  }
  return buf;
}

TrustedProxies TrustedProxies::parse(const std::vector<std::string>& entries) {
  TrustedProxies t;
  for (const std::string& entry : entries) {
    std::string_view e = trim(entry);
    const size_t slash = e.find('/');
    auto address = parse_address(e.substr(0, slash));
    if (!address) fail("trusted proxy '{}' is not an IPv4 or IPv6 address or CIDR network", entry);
    const bool v4 = e.substr(0, slash).find(':') == std::string_view::npos;
    Network n{*address, 128};
    if (slash != std::string_view::npos) {
      const std::string_view bits = e.substr(slash + 1);
      unsigned prefix = 0;
      const unsigned max = v4 ? 32 : 128;
      bool ok = !bits.empty() && bits.size() <= 3;
      for (char c : bits) ok = ok && c >= '0' && c <= '9';
      if (ok) {
        for (char c : bits) prefix = prefix * 10 + static_cast<unsigned>(c - '0');
        ok = prefix <= max;
      }
      if (!ok) fail("trusted proxy '{}': the prefix length must be 0-{}", entry, max);
      n.prefix = v4 ? 96 + prefix : prefix;
    }
    // Clear the host bits, so that 10.1.2.3/8 means 10.0.0.0/8.
    for (unsigned bit = n.prefix; bit < 128; ++bit) n.base[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
    t.networks_.push_back(n);
  }
  return t;
}

bool TrustedProxies::contains(const Bytes& a) const {
  for (const Network& n : networks_) {
    const unsigned whole = n.prefix / 8, rest = n.prefix % 8;
    if (std::memcmp(a.data(), n.base.data(), whole) != 0) continue;
    if (rest == 0) return true;
    const auto mask = static_cast<uint8_t>(0xffu << (8 - rest));
    if ((a[whole] & mask) == n.base[whole]) return true;
  }
  return false;
}

bool TrustedProxies::contains(std::string_view address) const {
  auto a = parse_address(address);
  return a && contains(*a);
}

std::string TrustedProxies::client(std::string_view peer, std::string_view forwarded_for) const {
  auto hop = parse_address(peer);
  if (!hop || !contains(*hop)) return std::string(peer);
  // Walk X-Forwarded-For from the right while the hops are trusted.
  std::string_view rest = forwarded_for;
  while (!rest.empty()) {
    const size_t comma = rest.rfind(',');
    const std::string_view entry = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    auto address = parse_address(entry);
    if (!address) break;  // malformed: the hop before it is as far as anyone vouches for
    hop = address;
    if (!contains(*hop)) break;
  }
  return format(*hop);
}

}  // namespace ragd::server
