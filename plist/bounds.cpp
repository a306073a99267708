// Iterative structure checks for XML and binary plists (see plist.hpp for why).
#include <cstring>
#include <vector>

#include "common/errors.hpp"
#include "plist/plist.hpp"

namespace cairn {
namespace {

constexpr std::string_view kBinaryMagic = "bplist00";

// Mirrors how libplist 2.2's XML reader delimits markup, so that nothing the reader sees as
// nesting can hide from this count: comments end at the first "-->" after "<!--", tag ends skip
// quoted attribute values, and DTD internal subsets (which real plists never have) are refused.
void check_xml(std::string_view s, const PlistLimits& limits) {
  int depth = 0;
  size_t objects = 0;
  size_t pos = 0;
  auto skip_to = [&](size_t from, std::string_view terminator) {
    const size_t end = s.find(terminator, from);
    if (end == std::string_view::npos) throw BadRequest("malformed XML plist: unterminated markup");
    pos = end + terminator.size();
  };
  // Position of the '>' ending the tag that starts at `from`, ignoring '>' inside quotes.
  auto tag_end = [&](size_t from) {
    char quote = 0;
    for (size_t i = from; i < s.size(); ++i) {
      if (quote) {
        if (s[i] == quote) quote = 0;
      } else if (s[i] == '"' || s[i] == '\'') {
        quote = s[i];
      } else if (s[i] == '>') {
        return i;
      }
    }
    throw BadRequest("malformed XML plist: unterminated tag");
  };
  while ((pos = s.find('<', pos)) != std::string_view::npos) {
    const std::string_view rest = s.substr(pos);
    if (rest.starts_with("<?")) {
      skip_to(pos + 2, "?>");
    } else if (rest.starts_with("<!--")) {
      skip_to(pos + 4, "-->");
    } else if (rest.starts_with("<![CDATA[")) {
      skip_to(pos + 9, "]]>");
    } else if (rest.starts_with("<!")) {
      const size_t end = tag_end(pos + 2);
      if (s.substr(pos, end - pos).find('[') != std::string_view::npos)
        throw BadRequest("XML plist with a DTD internal subset is not accepted");
      pos = end + 1;
    } else if (rest.starts_with("</")) {
      pos = tag_end(pos + 2) + 1;
      if (--depth < 0) throw BadRequest("malformed XML plist: unbalanced closing tag");
    } else {
      const size_t end = tag_end(pos + 1);
      const bool self_closing = s[end - 1] == '/';
      pos = end + 1;
      if (++objects > limits.max_objects)
        throw BadRequest("plist has more than " + std::to_string(limits.max_objects) + " objects");
      // Every element counts toward depth (plist, dict, array, leaves): conservative by two levels.
      if (!self_closing && ++depth > limits.max_depth + 2)
        throw BadRequest("plist nests deeper than " + std::to_string(limits.max_depth));
    }
  }
}

// A reader over the binary plist's object table that never trusts an offset or a count.
class BinaryPlistWalker {
 public:
  explicit BinaryPlistWalker(std::string_view s) : s_(s) {
    if (s.size() < kBinaryMagic.size() + 32) fail("truncated");
    const auto* t = reinterpret_cast<const uint8_t*>(s.data() + s.size() - 32);
    offset_size_ = t[6];
    ref_size_ = t[7];
    num_objects_ = be(t + 8, 8);
    top_ = be(t + 16, 8);
    table_ = be(t + 24, 8);
    if (offset_size_ < 1 || offset_size_ > 8 || ref_size_ < 1 || ref_size_ > 8) fail("bad trailer");
    if (num_objects_ == 0 || top_ >= num_objects_) fail("bad trailer");
    if (table_ >= s.size() - 32 || num_objects_ > (s.size() - 32 - table_) / offset_size_)
      fail("offset table out of bounds");
  }

  void check(const PlistLimits& limits) const {
    struct Pending {
      uint64_t object;
      int depth;
    };
    std::vector<Pending> stack{{top_, 1}};
    size_t visited = 0;
    while (!stack.empty()) {
      const auto [object, depth] = stack.back();
      stack.pop_back();
      if (++visited > limits.max_objects)
        throw BadRequest("plist has more than " + std::to_string(limits.max_objects) + " objects");
      if (depth > limits.max_depth)
        throw BadRequest("plist nests deeper than " + std::to_string(limits.max_depth));
      const uint64_t offset = be(table_entry(object), offset_size_);
      if (offset < kBinaryMagic.size() || offset >= table_) fail("object offset out of bounds");
      const uint8_t marker = byte(offset);
      const uint8_t kind = marker >> 4;
      if (kind != 0xA && kind != 0xC && kind != 0xD) continue;  // leaves need no walk
      uint64_t pos = offset + 1;
      const uint64_t count = length(marker, pos);
      const uint64_t refs = kind == 0xD ? count * 2 : count;
      if (count > table_ || refs > (table_ - pos) / ref_size_) fail("container out of bounds");
      // Checked before pushing, so the pending stack itself stays within the object limit.
      if (visited + stack.size() + refs > limits.max_objects)
        throw BadRequest("plist has more than " + std::to_string(limits.max_objects) + " objects");
      for (uint64_t i = 0; i < refs; ++i) {
        const uint64_t child = be(bytes(pos + i * ref_size_, ref_size_), ref_size_);
        if (child >= num_objects_) fail("object reference out of range");
        stack.push_back({child, depth + 1});
      }
    }
  }

 private:
  [[noreturn]] static void fail(const std::string& why) {
    throw BadRequest("malformed binary plist: " + why);
  }
  static uint64_t be(const uint8_t* p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
    return v;
  }
  const uint8_t* bytes(uint64_t offset, uint64_t n) const {
    if (offset > s_.size() || n > s_.size() - offset) fail("read out of bounds");
    return reinterpret_cast<const uint8_t*>(s_.data() + offset);
  }
  uint8_t byte(uint64_t offset) const { return *bytes(offset, 1); }
  const uint8_t* table_entry(uint64_t object) const {
    return bytes(table_ + object * offset_size_, offset_size_);
  }
  // Element count of a container whose marker is at pos-1; advances pos past an extended count.
  uint64_t length(uint8_t marker, uint64_t& pos) const {
    if ((marker & 0x0f) != 0x0f) return marker & 0x0f;
    const uint8_t int_marker = byte(pos++);
    if ((int_marker >> 4) != 0x1 || (int_marker & 0x0f) > 3) fail("bad container length");
    const size_t n = size_t{1} << (int_marker & 0x0f);
    const uint64_t v = be(bytes(pos, n), n);
    pos += n;
    return v;
  }

  std::string_view s_;
  size_t offset_size_ = 0, ref_size_ = 0;
  uint64_t num_objects_ = 0, top_ = 0, table_ = 0;
};

}  // namespace

void check_plist_bounds(std::string_view body, const PlistLimits& limits) {
  if (body.empty()) throw BadRequest("empty body: expected a plist");
  if (body.starts_with(kBinaryMagic)) {
    BinaryPlistWalker(body).check(limits);
  } else {
    const size_t first = body.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
    if (first == std::string_view::npos || body[first] != '<')
      throw BadRequest("body is not a plist (neither XML nor binary)");
    check_xml(body, limits);
  }
}

}  // namespace cairn
