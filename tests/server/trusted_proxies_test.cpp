#include "server/trusted_proxies.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace ragd::server {
namespace {

TEST(TrustedProxies, NoneTrustedMeansThePeerIsTheClient) {
  TrustedProxies none;
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.client("10.0.0.5", "1.2.3.4"), "10.0.0.5");
}

TEST(TrustedProxies, AddressesAndNetworksOfBothFamilies) {
  auto t = TrustedProxies::parse({"127.0.0.1", "10.1.2.3/8", "fd00::/8", "::1", "192.168.1.0/31"});
  EXPECT_TRUE(t.contains("127.0.0.1"));
  EXPECT_FALSE(t.contains("127.0.0.2"));
  EXPECT_TRUE(t.contains("10.255.0.1"));  // host bits of 10.1.2.3/8 are ignored
  EXPECT_FALSE(t.contains("11.0.0.1"));
  EXPECT_TRUE(t.contains("fd12::7"));
  EXPECT_FALSE(t.contains("fe80::1"));
  EXPECT_TRUE(t.contains("::1"));
  EXPECT_TRUE(t.contains("[::1]"));
  EXPECT_TRUE(t.contains("192.168.1.1"));
  EXPECT_FALSE(t.contains("192.168.1.2"));
  EXPECT_FALSE(t.contains("not an address"));
  EXPECT_FALSE(t.contains(""));
  // An IPv4 network does not match IPv6 addresses outside the IPv4-mapped range.
  EXPECT_FALSE(t.contains("::a01:203"));
}

TEST(TrustedProxies, TheRightmostUntrustedHopIsTheClient) {
  auto t = TrustedProxies::parse({"10.0.0.0/8"});
  // Through one trusted proxy.
  EXPECT_EQ(t.client("10.0.0.5", "203.0.113.7"), "203.0.113.7");
  // A client that forges entries gets the address the trusted proxy saw, not its own claim.
  EXPECT_EQ(t.client("10.0.0.5", "1.1.1.1, 203.0.113.7"), "203.0.113.7");
  // Through two trusted proxies.
  EXPECT_EQ(t.client("10.0.0.5", "203.0.113.7, 10.0.0.9"), "203.0.113.7");
  // An untrusted peer's header is ignored.
  EXPECT_EQ(t.client("198.51.100.1", "203.0.113.7"), "198.51.100.1");
  // Nothing forwarded, or only trusted hops: the leftmost trusted address.
  EXPECT_EQ(t.client("10.0.0.5", ""), "10.0.0.5");
  EXPECT_EQ(t.client("10.0.0.5", "10.0.0.8, 10.0.0.9"), "10.0.0.8");
  // Malformed entries end the walk at the last hop vouched for.
  EXPECT_EQ(t.client("10.0.0.5", "203.0.113.7, garbage"), "10.0.0.5");
  EXPECT_EQ(t.client("10.0.0.5", "garbage, 10.0.0.9"), "10.0.0.9");
  EXPECT_EQ(t.client("10.0.0.5", " , "), "10.0.0.5");
  // IPv6 clients come back in canonical form.
  EXPECT_EQ(t.client("10.0.0.5", "2001:DB8:0:0::1"), "2001:db8::1");
}

TEST(TrustedProxies, BadEntriesAreRefusedByName) {
  for (const char* bad : {"nginx", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/8x", "1.2.3", ""}) {
    try {
      TrustedProxies::parse({bad});
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace ragd::server
