// TrustedProxies: which peers may tell ragd who the client is. Behind nginx (deploy/nginx)
// every request comes from nginx's address, so per-client rate limits, scheduler fairness
// and the access log would see one client; with nginx's address trusted, the client is
// taken from X-Forwarded-For instead.
//
// Rule (the one nginx's realip module applies recursively): a peer that is not trusted is
// the client, whatever it sends. From a trusted peer, X-Forwarded-For is read from the
// right (each proxy appends the address it saw): trusted addresses are skipped and the
// first untrusted one is the client. A malformed entry ends the walk at the hop before it,
// and if every entry is trusted the leftmost one is the client. So a client can put
// anything it likes in the header, but only proxies ragd trusts decide which entry counts.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ragd::server {

class TrustedProxies {
 public:
  TrustedProxies() = default;
  // Entries: IPv4 or IPv6 addresses or CIDR networks ("10.0.0.5", "10.0.0.0/8", "::1",
  // "fd00::/8"). Throws ragd::Error naming the first entry that is none of these.
  static TrustedProxies parse(const std::vector<std::string>& entries);

  bool empty() const { return networks_.empty(); }
  bool contains(std::string_view address) const;
  // The client of a request from `peer` that carried `forwarded_for` (may be empty), in
  // the rule above; addresses come back in their canonical text form.
  std::string client(std::string_view peer, std::string_view forwarded_for) const;

 private:
  // An address as 16 bytes; IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d), so one match works
  // for both families.
  using Bytes = std::array<uint8_t, 16>;
  struct Network {
    Bytes base{};
    unsigned prefix = 128;  // leading bits that must match
  };
  static std::optional<Bytes> parse_address(std::string_view text);
  static std::string format(const Bytes& address);
  bool contains(const Bytes& address) const;

  std::vector<Network> networks_;
};

}  // namespace ragd::server
