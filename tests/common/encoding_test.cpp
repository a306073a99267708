#include "common/encoding.hpp"

#include <gtest/gtest.h>

#include "common/clock.hpp"
#include "common/errors.hpp"

namespace cairn {

TEST(Base64, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes) << "length " << i;
    bytes += static_cast<char>(i * 37);
  }
}

TEST(Base64, DecodesWrappedPlistData) {
  EXPECT_EQ(base64_decode("\n\tc2Vj\n\tcmV0\n"), "secret");
}

TEST(Base64, RejectsForeignCharacters) {
  EXPECT_THROW(base64_decode("ab$d"), BadRequest);
}

TEST(PercentDecode, DecodesNginxEscapedPem) {
  EXPECT_EQ(percent_decode("-----BEGIN%20CERTIFICATE-----%0AMII"),
            "-----BEGIN CERTIFICATE-----\nMII");
  EXPECT_THROW(percent_decode("abc%2"), BadRequest);
  EXPECT_THROW(percent_decode("abc%zz"), BadRequest);
}

TEST(Utf8, AcceptsTextRejectsBinary) {
  EXPECT_TRUE(is_valid_utf8("plain ascii and caf\xc3\xa9"));
  EXPECT_FALSE(is_valid_utf8("bplist00\xd1\x01"));
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));  // truncated sequence
}

}  // namespace cairn

namespace cairn {
namespace {

TEST(Clock, Rfc3339RoundTripsAndRefusesOtherShapes) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795454757774));
  EXPECT_EQ(format_rfc3339(t), "2026-11-23T17:25:57.774Z");
  EXPECT_EQ(parse_rfc3339(format_rfc3339(t)), t);
  EXPECT_EQ(parse_rfc3339("2026-11-23T17:25:57Z"), t - std::chrono::milliseconds(774));
  for (const char* bad : {"", "2026-11-23", "2026-11-23T17:25:57", "2026-11-23T17:25:57+01:00",
                          "2026-11-23T17:25:57.7Z", "2026-11-23T17:25:57.77xZ"})
    EXPECT_EQ(parse_rfc3339(bad), std::nullopt) << bad;
}

}  // namespace
}  // namespace cairn
