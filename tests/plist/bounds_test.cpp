// Hostile plists must be refused before libplist's recursive parser sees them. DESIGN.md measured
// Debian's libplist 2.2.0 dying on 100,000 nested binary arrays and on XML nested 300,000 deep;
// these tests feed exactly such bodies (the process surviving is part of the assertion).
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>

#include "common/errors.hpp"
#include "plist/plist.hpp"
#include "tests/support/fixtures.hpp"

namespace cairn {
namespace {

std::string nested_xml(int depth) {
  std::string s = "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>a</key>";
  for (int i = 0; i < depth; ++i) s += "<array>";
  for (int i = 0; i < depth; ++i) s += "</array>";
  return s + "</dict></plist>";
}

void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

// A binary plist of `objects` one-element arrays, object i referring to object `child(i)`; the
// last object is an empty array. References are 4 bytes, offsets 4 bytes.
template <typename Child>
std::string binary_arrays(uint32_t objects, Child child, uint32_t refs_per_array = 1) {
  std::string body = "bplist00";
  std::vector<uint32_t> offsets;
  for (uint32_t i = 0; i < objects; ++i) {
    offsets.push_back(static_cast<uint32_t>(body.size()));
    if (i + 1 == objects) {
      body += static_cast<char>(0xA0);
      continue;
    }
    body += static_cast<char>(0xA0 | refs_per_array);
    for (uint32_t r = 0; r < refs_per_array; ++r) put_be(body, child(i), 4);
  }
  const uint64_t table = body.size();
  for (auto o : offsets) put_be(body, o, 4);
  body += std::string(6, '\0');
  body += static_cast<char>(4);  // offset size
  body += static_cast<char>(4);  // ref size
  put_be(body, objects, 8);
  put_be(body, 0, 8);  // top object
  put_be(body, table, 8);
  return body;
}

TEST(PlistBounds, RefusesXmlNested300000Deep) {
  const auto body = nested_xml(300000);
  try {
    Plist::parse(body);
    FAIL() << "accepted";
  } catch (const BadRequest& e) {
    EXPECT_NE(std::string(e.what()).find("nests deeper"), std::string::npos) << e.what();
  }
}

TEST(PlistBounds, AcceptsModestNesting) {
  EXPECT_NO_THROW(Plist::parse(nested_xml(30)));
}

TEST(PlistBounds, RefusesBinaryPlistOf100000NestedArrays) {
  const auto body = binary_arrays(100000, [](uint32_t i) { return i + 1; });
  EXPECT_LT(body.size(), 1'000'000u);
  EXPECT_THROW(Plist::parse(body), BadRequest);
}

TEST(PlistBounds, RefusesBinaryReferenceCycle) {
  // Object 0 → 1 → 0 → ...: a tree walk would never end.
  const auto body = binary_arrays(3, [](uint32_t i) { return i == 1 ? 0u : i + 1; });
  EXPECT_THROW(Plist::parse(body), BadRequest);
}

TEST(PlistBounds, RefusesBinaryExponentialExpansion) {
  // 40 arrays, each referring twice to the next: 2^40 nodes once expanded into a tree.
  const auto body = binary_arrays(
      40, [](uint32_t i) { return i + 1; }, 2);
  try {
    Plist::parse(body);
    FAIL() << "accepted";
  } catch (const BadRequest& e) {
    EXPECT_NE(std::string(e.what()).find("more than"), std::string::npos) << e.what();
  }
}

// Markup that libplist skips must not be able to hide closing tags from the depth count.
TEST(PlistBounds, HiddenClosingTagsCannotMaskDeepNesting) {
  const std::string closers = [] {
    std::string c;
    for (int i = 0; i < 1000; ++i) c += "</array>";
    return c;
  }();
  std::string deep;  // well-formed: libplist would parse it if the check let it through
  for (int i = 0; i < 1000; ++i) deep += "<array>";
  deep += closers + "</dict></plist>";
  const std::string head = "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>a</key>";
  // "<!-->" opens a comment that runs to the next "-->", not a complete comment.
  EXPECT_THROW(Plist::parse(head + "<!-->" + closers + " -->" + deep), BadRequest);
  // A '>' or closing tags inside a quoted attribute value do not end the tag.
  std::string quoted;
  for (int i = 0; i < 1000; ++i) quoted += "<array a=\"</array></array>\">";
  EXPECT_THROW(Plist::parse(head + quoted + closers + "</dict></plist>"), BadRequest);
  // DTD internal subsets are refused outright.
  EXPECT_THROW(Plist::parse("<!DOCTYPE plist [ " + closers + " ]>" + head + deep), BadRequest);
  // And a closing tag with no opening one is malformed, whatever follows.
  EXPECT_THROW(Plist::parse(head + closers + deep), BadRequest);
}

TEST(PlistBounds, RefusesSelfReferencingArrayWithoutExpandingIt) {
  // One array holding a million references to itself (1-byte refs): the walk must refuse it
  // before queueing them, not after allocating for every level.
  constexpr uint32_t kRefs = 1'000'000;
  std::string body = "bplist00";
  body += static_cast<char>(0xAF);  // array, extended count follows
  body += static_cast<char>(0x12);  // 4-byte integer
  put_be(body, kRefs, 4);
  body += std::string(kRefs, '\0');  // every reference is object 0: itself
  const uint64_t table = body.size();
  put_be(body, 8, 1);
  body += std::string(6, '\0');
  body += static_cast<char>(1);  // offset size
  body += static_cast<char>(1);  // ref size
  put_be(body, 1, 8);
  put_be(body, 0, 8);
  put_be(body, table, 8);
  EXPECT_THROW(Plist::parse(body), BadRequest);
}

TEST(PlistBounds, RefusesTruncatedAndGarbage) {
  auto good = testing::fixture("device-messages/Authenticate.1.plist");
  EXPECT_THROW(Plist::parse(good.substr(0, good.size() / 2)), BadRequest);
  EXPECT_THROW(Plist::parse("this is not a plist"), BadRequest);
  EXPECT_THROW(Plist::parse(""), BadRequest);
  EXPECT_THROW(Plist::parse("bplist00\x01\x02"), BadRequest);
  const auto bad_trailer = binary_arrays(2, [](uint32_t) { return 7u; });  // reference out of range
  EXPECT_THROW(Plist::parse(bad_trailer), BadRequest);
}

TEST(PlistBounds, RefusesNonDictionaryRoot) {
  EXPECT_THROW(Plist::parse("<?xml version=\"1.0\"?><plist version=\"1.0\"><array/></plist>"),
               BadRequest);
}

TEST(Plist, ParsesRealDeviceMessagesBothEncodings) {
  const auto xml = testing::fixture("device-messages/TokenUpdate.1.plist");
  const auto parsed = Plist::parse(xml);
  EXPECT_EQ(parsed.string("MessageType"), "TokenUpdate");
  EXPECT_EQ(parsed.data("Token")->size(), 32u);
  // The same message in binary form parses to the same values.
  char* bin = nullptr;
  uint32_t len = 0;
  plist_to_bin(parsed.root(), &bin, &len);
  const std::string binary(bin, len);
  plist_to_bin_free(bin);
  const auto again = Plist::parse(binary);
  EXPECT_EQ(again.string("UDID"), parsed.string("UDID"));
  EXPECT_EQ(again.data("UnlockToken"), parsed.data("UnlockToken"));
}

TEST(Plist, WrongTypeIsNamed) {
  const auto p = Plist::parse(
      "<plist version=\"1.0\"><dict><key>UDID</key><integer>5</integer></dict></plist>");
  try {
    (void)p.string("UDID");
    FAIL();
  } catch (const BadRequest& e) {
    EXPECT_STREQ(e.what(), "UDID must be a string");
  }
}

}  // namespace
}  // namespace cairn
