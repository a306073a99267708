// Cairn's plist reader against hostile bodies, and against libplist's own reader on good ones.
// Debian's libplist 2.2.0 dies on 100,000 nested binary arrays and on XML nested 300,000 deep, and
// issue 13 crashed a node with markup its old pre-check and libplist delimited differently; these
// tests feed exactly such bodies (the process surviving is part of the assertion).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/errors.hpp"
#include "common/files.hpp"
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

TEST(PlistReader, RefusesXmlNested300000Deep) {
  const auto body = nested_xml(300000);
  try {
    Plist::parse(body);
    FAIL() << "accepted";
  } catch (const BadRequest& e) {
    EXPECT_NE(std::string(e.what()).find("nests deeper"), std::string::npos) << e.what();
  }
}

TEST(PlistReader, AcceptsModestNesting) {
  EXPECT_NO_THROW(Plist::parse(nested_xml(30)));
}

TEST(PlistReader, RefusesBinaryPlistOf100000NestedArrays) {
  const auto body = binary_arrays(100000, [](uint32_t i) { return i + 1; });
  EXPECT_LT(body.size(), 1'000'000u);
  EXPECT_THROW(Plist::parse(body), BadRequest);
}

TEST(PlistReader, RefusesBinaryReferenceCycle) {
  // Object 0 → 1 → 0 → ...: a tree walk would never end.
  const auto body = binary_arrays(3, [](uint32_t i) { return i == 1 ? 0u : i + 1; });
  EXPECT_THROW(Plist::parse(body), BadRequest);
}

TEST(PlistReader, RefusesBinaryExponentialExpansion) {
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
TEST(PlistReader, HiddenClosingTagsCannotMaskDeepNesting) {
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

TEST(PlistReader, RefusesSelfReferencingArrayWithoutExpandingIt) {
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

TEST(PlistReader, RefusesTruncatedAndGarbage) {
  auto good = testing::fixture("device-messages/Authenticate.1.plist");
  EXPECT_THROW(Plist::parse(good.substr(0, good.size() / 2)), BadRequest);
  EXPECT_THROW(Plist::parse("this is not a plist"), BadRequest);
  EXPECT_THROW(Plist::parse(""), BadRequest);
  EXPECT_THROW(Plist::parse("bplist00\x01\x02"), BadRequest);
  const auto bad_trailer = binary_arrays(2, [](uint32_t) { return 7u; });  // reference out of range
  EXPECT_THROW(Plist::parse(bad_trailer), BadRequest);
}

TEST(PlistReader, RefusesNonDictionaryRoot) {
  EXPECT_THROW(Plist::parse("<?xml version=\"1.0\"?><plist version=\"1.0\"><array/></plist>"),
               BadRequest);
}

TEST(Plist, ParsesRealDeviceMessagesBothEncodings) {
  const auto xml = testing::fixture("device-messages/TokenUpdate.1.plist");
  const auto parsed = Plist::parse(xml);
  EXPECT_EQ(parsed.string("MessageType"), "TokenUpdate");
  EXPECT_EQ(parsed.data("Token")->size(), 32u);
  // The same message in binary form parses to the same values.
  const auto again = Plist::parse(parsed.to_binary());
  EXPECT_EQ(again.string("UDID"), parsed.string("UDID"));
  EXPECT_EQ(again.data("UnlockToken"), parsed.data("UnlockToken"));
}

// libplist's reader, for comparison on trusted input only.
std::string libplist_xml(const std::string& body) {
  plist_t root = nullptr;
  if (body.starts_with("bplist00"))
    plist_from_bin(body.data(), static_cast<uint32_t>(body.size()), &root);
  else
    plist_from_xml(body.data(), static_cast<uint32_t>(body.size()), &root);
  if (!root) return "(libplist refused)";
  return Plist::adopt(root).to_xml();
}

// Every value type, entities, CDATA, comments, empty elements, negative and hex integers.
const char* const kEveryType = R"(<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<!-- a comment -->
<dict>
  <key>String</key><string>caf&#xE9; &amp; &lt;tea&gt; &#128512; <![CDATA[<raw> & ]]>done</string>
  <key>Empty</key><string/>
  <key>Spaces</key><string>  kept  </string>
  <key>Negative</key><integer>-42</integer>
  <key>Big</key><integer>9223372036854775807</integer>
  <key>Hex</key><integer>0x1F</integer>
  <key>Real</key><real>3.25</real>
  <key>Date</key><date>2024-02-29T13:45:07Z</date>
  <key>Data</key><data>
    AAECAwQF
    BgcICQ==
  </data>
  <key>True</key><true/>
  <key>False</key><false/>
  <key>EmptyDict</key><dict/>
  <key>Nested</key><array><dict><key>a</key><array><string>x</string></array></dict><array/></array>
</dict>
</plist>
)";

TEST(PlistReader, AgreesWithLibplistOnEveryFixtureAndEveryType) {
  std::vector<std::string> bodies{kEveryType};
  for (const auto& dir : {"device-messages", "schuetz"})
    for (const auto& entry :
         std::filesystem::directory_iterator(std::string(CAIRN_TEST_FIXTURES) + "/" + dir)) {
      if (entry.path().extension() != ".plist") continue;
      const std::string body = read_file(entry.path());
      // Schuetz's 2011 captures print "[ redacted ]" where base64 stood: libplist skips the
      // invalid characters, Cairn refuses them.
      if (body.find("<data>") != std::string::npos && body.find("redacted ]") != std::string::npos)
        EXPECT_THROW(Plist::parse(body), BadRequest) << entry.path();
      else
        bodies.push_back(body);
    }
  ASSERT_GT(bodies.size(), 7u);
  for (const auto& xml : bodies) {
    const Plist ours = Plist::parse(xml);
    EXPECT_EQ(ours.to_xml(), libplist_xml(xml)) << xml.substr(0, 200);
    const std::string binary = ours.to_binary();
    EXPECT_EQ(Plist::parse(binary).to_xml(), libplist_xml(binary)) << xml.substr(0, 200);
  }
  const Plist every = Plist::parse(kEveryType);
  EXPECT_EQ(every.string("String"), "caf\xC3\xA9 & <tea> \xF0\x9F\x98\x80 <raw> & done");
  EXPECT_EQ(every.integer("Negative"), -42);
  EXPECT_EQ(every.data("Data")->size(), 10u);
}

// Issue 13, item 1: a quote inside a tag hid 200,000 levels from the old pre-check; libplist then
// built them and the node died freeing the tree (and again at every restart, from the log).
TEST(PlistReader, QuotesInTagsAndProcessingInstructionsHideNothing) {
  std::string nest;
  for (int i = 0; i < 200000; ++i) nest += "<array>";
  for (int i = 0; i < 200000; ++i) nest += "</array>";
  for (const char* open : {"<dict '>", "<dict \">", "<dict a='>'>"}) {
    const std::string body =
        std::string("<plist version=\"1.0\">") + open + "<key>a</key>" + nest + "</dict '></plist>";
    try {
      Plist::parse(body);
      FAIL() << "accepted " << open;
    } catch (const BadRequest& e) {
      SUCCEED() << e.what();
    }
  }
  const std::string pi =
      "<?xml version=\"1.0\"?><?x a=\"?>\"?><plist version=\"1.0\"><dict><key>a</key>";
  EXPECT_THROW(Plist::parse(pi + nest + "</dict></plist>"), BadRequest);
}

TEST(PlistReader, RefusesWhatNoPlistHolds) {
  const std::string head = "<plist version=\"1.0\"><dict><key>a</key>";
  for (const char* value : {"<string>a&#0;b</string>", "<string>&bogus;</string>", "<unknown/>",
                            "<integer>1x</integer>", "<integer>99999999999999999999</integer>",
                            "<date>2024-13-01T00:00:00Z</date>", "<data>!!</data>",
                            "<string>a<b/></string>", "<true>yes</true>"}) {
    EXPECT_THROW(Plist::parse(head + value + "</dict></plist>"), BadRequest) << value;
  }
  EXPECT_THROW(Plist::parse(head + "<true/><key>a</key><false/></dict></plist>"), BadRequest)
      << "duplicate key";
  EXPECT_THROW(Plist::parse(head + "</dict></plist>"), BadRequest) << "key without value";
  EXPECT_THROW(Plist::parse(head + "<true/></dict></plist><x/>"), BadRequest) << "trailing";
  EXPECT_THROW(Plist::parse(head + "<true/></array></plist>"), BadRequest) << "mismatched";
}

// Issue 13, item 6: thousands of keys libplist must compare one by one.
TEST(PlistReader, RefusesDictionariesTooCostlyToBuild) {
  const std::string prefix(200, 'k');
  std::string body = "<plist version=\"1.0\"><dict>";
  for (int i = 0; i < 20000; ++i) body += "<key>" + prefix + std::to_string(i) + "</key><true/>";
  body += "</dict></plist>";
  try {
    Plist::parse(body);
    FAIL() << "accepted";
  } catch (const BadRequest& e) {
    EXPECT_NE(std::string(e.what()).find("too many keys"), std::string::npos) << e.what();
  }
  // A Restrictions answer's few hundred keys, and a few thousand short ones, are fine.
  std::string fine = "<plist version=\"1.0\"><dict>";
  for (int i = 0; i < 3000; ++i) fine += "<key>restriction" + std::to_string(i) + "</key><true/>";
  EXPECT_NO_THROW(Plist::parse(fine + "</dict></plist>"));
}

// Issue 13, item 6: one 16 KiB data object referred to 20,000 times from a 36 KB body.
TEST(PlistReader, RefusesBinaryPayloadExpansion) {
  constexpr uint32_t kRefs = 10000;
  std::string body = "bplist00";
  const uint32_t data_offset = static_cast<uint32_t>(body.size());
  body += static_cast<char>(0x4F);  // data, extended length
  body += static_cast<char>(0x12);
  put_be(body, 16384, 4);
  body += std::string(16384, 'x');
  const uint32_t array_offset = static_cast<uint32_t>(body.size());
  body += static_cast<char>(0xAF);
  body += static_cast<char>(0x12);
  put_be(body, kRefs, 4);
  for (uint32_t i = 0; i < kRefs; ++i) put_be(body, 0, 1);  // every element is object 0
  const uint64_t table = body.size();
  put_be(body, data_offset, 4);
  put_be(body, array_offset, 4);
  body += std::string(6, '\0');
  body += static_cast<char>(4);
  body += static_cast<char>(1);
  put_be(body, 2, 8);
  put_be(body, 1, 8);  // top: the array
  put_be(body, table, 8);
  PlistLimits limits;
  try {
    Plist::parse(body, limits);
    FAIL() << "accepted";
  } catch (const BadRequest& e) {
    EXPECT_NE(std::string(e.what()).find("add up to more than"), std::string::npos) << e.what();
  }
}

TEST(PlistReader, ReadsUtf16AndUidFromBinary) {
  std::string body = "bplist00";
  body += static_cast<char>(0xD2);  // dict of 2: keys 1, 2; values 3, 4
  for (int r : {1, 2, 3, 4}) put_be(body, static_cast<uint64_t>(r), 1);
  const std::vector<std::string> objects = {
      std::string("\x51k", 2), std::string("\x51u", 2),
      std::string("\x63\x00\xE9\xD8\x3D\xDE\x00", 7),  // "é😀" in UTF-16BE
      std::string("\x80\x07", 2)};
  std::vector<uint32_t> offsets{8};
  for (const auto& o : objects) {
    offsets.push_back(static_cast<uint32_t>(body.size()));
    body += o;
  }
  const uint64_t table = body.size();
  for (auto o : offsets) put_be(body, o, 1);
  body += std::string(6, '\0');
  body += static_cast<char>(1);
  body += static_cast<char>(1);
  put_be(body, offsets.size(), 8);
  put_be(body, 0, 8);
  put_be(body, table, 8);
  const Plist p = Plist::parse(body);
  EXPECT_EQ(p.string("k"), "\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(p.to_xml(), libplist_xml(body));
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
