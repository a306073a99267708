// Cairn's own XML plist reader: a single forward pass with no recursion, accepting the plist
// vocabulary only (Apple's DTD), and nothing a device never sends (DTD internal subsets, unknown
// elements or entities). libplist builds the nodes; it never parses untrusted text.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "common/encoding.hpp"
#include "plist/readers.hpp"
#include "plist/tree_builder.hpp"

namespace cairn::plist_reader {
namespace {

constexpr std::string_view kSpace = " \t\r\n";

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Seconds since Apple's 2001 epoch, held by libplist in 32 bits: dates beyond 1933..2069 are
// clamped rather than refused (the body in the log keeps what the device said).
NodePtr date_node(int64_t unix_seconds) {
  const int64_t since_2001 = unix_seconds - kPlistDateEpoch;
  const int64_t clamped = std::clamp<int64_t>(since_2001, INT32_MIN, INT32_MAX);
  return own(plist_new_date(static_cast<int32_t>(clamped), 0));
}

class XmlReader {
 public:
  XmlReader(std::string_view s, const PlistLimits& limits) : s_(s), tree_(limits) {}

  Plist read() {
    skip_prolog();
    bool wrapped = false;
    Tag root = next_tag();
    if (root.name == "plist" && !root.closing) {
      if (root.empty) TreeBuilder::fail("an empty <plist/>");
      wrapped = true;
      root = next_tag();
    }
    element(root);
    while (tree_.depth() > 0) element(next_tag());
    if (wrapped) {
      const Tag end = next_tag();
      if (!end.closing || end.name != "plist") TreeBuilder::fail("expected </plist>");
    }
    skip_misc();
    if (pos_ != s_.size()) TreeBuilder::fail("content after the root element");
    return tree_.finish();
  }

 private:
  struct Tag {
    std::string_view name;
    bool closing = false;
    bool empty = false;  // <name/>
  };

  bool at(std::string_view token) const { return s_.substr(pos_).starts_with(token); }
  void skip_space() { pos_ = std::min(s_.size(), s_.find_first_not_of(kSpace, pos_)); }
  void skip_past(std::string_view terminator) {
    const size_t end = s_.find(terminator, pos_);
    if (end == std::string_view::npos) TreeBuilder::fail("unterminated markup");
    pos_ = end + terminator.size();
  }
  // Whitespace, comments and processing instructions: allowed between any two elements.
  void skip_misc() {
    for (;;) {
      skip_space();
      if (at("<!--")) {
        skip_past("-->");
      } else if (at("<?")) {
        skip_past("?>");
      } else {
        return;
      }
    }
  }
  void skip_prolog() {
    if (at("\xEF\xBB\xBF")) pos_ += 3;
    skip_misc();
    if (at("<!DOCTYPE")) {
      // The public and system identifiers are quoted; a '[' outside them opens an internal subset
      // (entity definitions), which no plist has.
      char quote = 0;
      for (++pos_; pos_ < s_.size(); ++pos_) {
        const char c = s_[pos_];
        if (quote) {
          if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
          quote = c;
        } else if (c == '[') {
          TreeBuilder::fail("a DTD internal subset");
        } else if (c == '>') {
          break;
        }
      }
      if (pos_ >= s_.size()) TreeBuilder::fail("unterminated DOCTYPE");
      ++pos_;
    }
    skip_misc();
  }

  // The next tag after whitespace and comments; attributes are skipped (quoted values may hold
  // '>'), text before it is an error.
  Tag next_tag() {
    skip_misc();
    if (pos_ >= s_.size()) TreeBuilder::fail("unexpected end");
    if (s_[pos_] != '<') TreeBuilder::fail("text where an element was expected");
    Tag tag;
    ++pos_;
    if (pos_ < s_.size() && s_[pos_] == '/') {
      tag.closing = true;
      ++pos_;
    }
    const size_t name_start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) != 0)) ++pos_;
    tag.name = s_.substr(name_start, pos_ - name_start);
    if (tag.name.empty()) TreeBuilder::fail("a tag without a name");
    char quote = 0;
    for (; pos_ < s_.size(); ++pos_) {
      const char c = s_[pos_];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        if (tag.closing) TreeBuilder::fail("attributes on a closing tag");
        quote = c;
      } else if (c == '>') {
        tag.empty = s_[pos_ - 1] == '/';
        ++pos_;
        if (tag.empty && tag.closing) TreeBuilder::fail("a tag both closing and empty");
        return tag;
      } else if (c == '<') {
        TreeBuilder::fail("'<' inside a tag");
      }
    }
    TreeBuilder::fail("unterminated tag");
  }

  // Character data up to the closing tag `</name>`, with entities and CDATA decoded.
  std::string text(std::string_view name) {
    std::string out;
    for (;;) {
      const size_t lt = s_.find_first_of("<&", pos_);
      if (lt == std::string_view::npos)
        TreeBuilder::fail("unterminated <" + std::string(name) + ">");
      out.append(s_.substr(pos_, lt - pos_));
      pos_ = lt;
      if (s_[pos_] == '&') {
        entity(out);
      } else if (at("<![CDATA[")) {
        pos_ += 9;
        const size_t end = s_.find("]]>", pos_);
        if (end == std::string_view::npos) TreeBuilder::fail("unterminated CDATA");
        out.append(s_.substr(pos_, end - pos_));
        pos_ = end + 3;
      } else if (at("<!--")) {
        skip_past("-->");
      } else {
        const Tag end = next_tag();
        if (!end.closing || end.name != name)
          TreeBuilder::fail("<" + std::string(name) + "> holds markup");
        return out;
      }
    }
  }

  void entity(std::string& out) {
    const size_t semi = s_.find(';', pos_);
    if (semi == std::string_view::npos || semi - pos_ > 12) TreeBuilder::fail("a bad entity");
    const std::string_view name = s_.substr(pos_ + 1, semi - pos_ - 1);
    pos_ = semi + 1;
    static constexpr std::pair<std::string_view, char> kNamed[] = {
        {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    for (const auto& [n, c] : kNamed)
      if (name == n) return out.push_back(c);
    if (!name.starts_with('#')) TreeBuilder::fail("an unknown entity");
    const bool hex = name.size() > 1 && (name[1] == 'x' || name[1] == 'X');
    const std::string_view digits = name.substr(hex ? 2 : 1);
    uint32_t cp = 0;
    const auto [end, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || cp == 0 ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      TreeBuilder::fail("a bad character reference");
    append_utf8(out, cp);
  }

  static std::string_view trimmed(std::string_view v) {
    const size_t first = v.find_first_not_of(kSpace);
    if (first == std::string_view::npos) return {};
    return v.substr(first, v.find_last_not_of(kSpace) - first + 1);
  }

  static NodePtr integer(std::string_view raw) {
    std::string_view v = trimmed(raw);
    const bool negative = v.starts_with('-');
    if (negative || v.starts_with('+')) v.remove_prefix(1);
    const bool hex = v.starts_with("0x") || v.starts_with("0X");
    if (hex) v.remove_prefix(2);
    uint64_t magnitude = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), magnitude, hex ? 16 : 10);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size())
      TreeBuilder::fail("a bad <integer>");
    if (negative && magnitude > uint64_t{1} << 63) TreeBuilder::fail("an <integer> out of range");
    // libplist keeps integers as 64 bits; a negative one is its two's complement.
    return own(plist_new_uint(negative ? ~magnitude + 1 : magnitude));
  }

  static NodePtr real(std::string_view raw) {
    const std::string_view v = trimmed(raw);
    double d = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size())
      TreeBuilder::fail("a bad <real>");
    return own(plist_new_real(d));
  }

  // YYYY-MM-DDTHH:MM:SSZ, as Apple writes dates.
  static NodePtr date(std::string_view raw) {
    const std::string_view v = trimmed(raw);
    int fields[6] = {};
    static constexpr char kSeparators[] = "--T::Z";
    static constexpr size_t kWidths[] = {4, 2, 2, 2, 2, 2};
    size_t p = 0;
    for (int i = 0; i < 6; ++i) {
      const auto [end, ec] = std::from_chars(v.data() + p, v.data() + v.size(), fields[i]);
      if (ec != std::errc() || static_cast<size_t>(end - (v.data() + p)) != kWidths[i] ||
          end == v.data() + v.size() || *end != kSeparators[i])
        TreeBuilder::fail("a bad <date>");
      p = static_cast<size_t>(end - v.data()) + 1;
    }
    const auto [y, mo, d, h, mi, sec] = fields;
    if (p != v.size() || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
      TreeBuilder::fail("a bad <date>");
    const int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
    return date_node(days * 86400 + h * 3600 + mi * 60 + sec);
  }

  static void no_nul(const std::string& v) {
    // libplist keeps strings NUL-terminated: a NUL would silently cut the value short.
    if (v.find('\0') != std::string::npos) TreeBuilder::fail("a string holds a NUL character");
  }

  // One tag where a value (or, in a dictionary, a key or the dictionary's end) may stand.
  void element(const Tag& tag) {
    const std::string_view n = tag.name;
    if (tag.closing) {
      const bool dict = tree_.in_dict();
      if (tree_.depth() == 0 || n != (dict ? "dict" : "array"))
        TreeBuilder::fail("an unexpected </" + std::string(n.substr(0, 16)) + ">");
      tree_.close();
      return;
    }
    if (n == "key") {
      std::string k = tag.empty ? std::string() : text(n);
      tree_.key(std::move(k));
      return;
    }
    if (n == "dict" || n == "array") {
      if (n == "dict")
        tree_.open_dict();
      else
        tree_.open_array();
      if (tag.empty) tree_.close();
      return;
    }
    if (n == "true" || n == "false") {
      if (!tag.empty && !trimmed(text(n)).empty()) TreeBuilder::fail("<true> or <false> with text");
      return tree_.value(own(plist_new_bool(n == "true" ? 1 : 0)));
    }
    const std::string content = tag.empty ? std::string() : text(n);
    if (n == "string") {
      no_nul(content);
      tree_.value(own(plist_new_string(content.c_str())), content.size());
    } else if (n == "data") {
      const std::string bytes = base64_decode(content);
      tree_.value(own(plist_new_data(bytes.data(), bytes.size())), bytes.size());
    } else if (n == "integer") {
      tree_.value(integer(content));
    } else if (n == "real") {
      tree_.value(real(content));
    } else if (n == "date") {
      tree_.value(date(content));
    } else {
      TreeBuilder::fail("an unknown element <" + std::string(n.substr(0, 16)) + ">");
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  TreeBuilder tree_;
};

}  // namespace

Plist read_xml(std::string_view body, const PlistLimits& limits) {
  return XmlReader(body, limits).read();
}

}  // namespace cairn::plist_reader
