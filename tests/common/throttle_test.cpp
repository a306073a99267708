#include "common/throttle.hpp"

#include <gtest/gtest.h>

#include "common/address_ranges.hpp"

namespace cairn {
namespace {

using std::chrono::seconds;

TEST(KeyedThrottle, OnePerKeyPerIntervalWithACountOfTheRest) {
  KeyedThrottle throttle(seconds(10), 100);
  const auto t0 = KeyedThrottle::Clock::time_point{} + seconds(1000);
  EXPECT_EQ(throttle.admit("a", t0), 0u);
  EXPECT_FALSE(throttle.admit("a", t0 + seconds(1)));
  EXPECT_FALSE(throttle.admit("a", t0 + seconds(9)));
  EXPECT_EQ(throttle.admit("b", t0 + seconds(9)), 0u);   // keys are apart
  EXPECT_EQ(throttle.admit("a", t0 + seconds(10)), 2u);  // the two dropped, told once
  EXPECT_EQ(throttle.suppressed_total(), 2u);
}

TEST(KeyedThrottle, KeysBeyondTheBoundShareOneEntry) {
  KeyedThrottle throttle(seconds(10), 2);
  const auto t0 = KeyedThrottle::Clock::time_point{} + seconds(1000);
  EXPECT_TRUE(throttle.admit("a", t0));
  EXPECT_TRUE(throttle.admit("b", t0));
  EXPECT_TRUE(throttle.admit("c", t0));   // the shared entry, first time
  EXPECT_FALSE(throttle.admit("d", t0));  // shares it: suppressed
  // Keys whose interval is over and with nothing pending are forgotten to make room.
  EXPECT_TRUE(throttle.admit("e", t0 + seconds(11)));
}

TEST(KeyedThrottle, ZeroIntervalLetsEverythingThrough) {
  KeyedThrottle throttle(seconds(0), 10);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(throttle.admit("a"), 0u);
}

TEST(AddressRanges, Ipv4Ipv6AndMapped) {
  const auto r = AddressRanges::parse("10.0.0.0/8, 192.168.1.7,fd00::/16");
  EXPECT_TRUE(r.contains("10.1.2.3"));
  EXPECT_TRUE(r.contains("::ffff:10.1.2.3"));
  EXPECT_FALSE(r.contains("11.0.0.1"));
  EXPECT_TRUE(r.contains("192.168.1.7"));
  EXPECT_FALSE(r.contains("192.168.1.8"));
  EXPECT_TRUE(r.contains("fd00:1::5"));
  EXPECT_FALSE(r.contains("fe80::1"));
  EXPECT_FALSE(r.contains("not an address"));
  EXPECT_TRUE(AddressRanges::parse("").empty());
  for (const char* bad : {"10.0.0.0/33", "nope", "10.0.0.0/", "::1/129", "1.2.3.4/x"})
    EXPECT_THROW(AddressRanges::parse(bad), std::invalid_argument) << bad;
}

}  // namespace
}  // namespace cairn
