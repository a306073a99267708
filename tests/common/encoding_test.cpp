#include "common/encoding.hpp"

#include <gtest/gtest.h>

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
