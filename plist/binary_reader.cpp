// Cairn's own binary plist ("bplist00") reader. Objects refer to each other by index, so one body
// can describe a tree far larger than itself, or a cycle: the reader walks it with an explicit
// stack, emitting each object as often as it is referred to, and TreeBuilder's limits (objects,
// depth, bytes) stop an expansion or a cycle at the first object past them. Offsets and counts are
// never trusted.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/encoding.hpp"
#include "plist/readers.hpp"
#include "plist/tree_builder.hpp"

namespace cairn::plist_reader {
namespace {

constexpr size_t kHeader = 8;    // "bplist00"
constexpr size_t kTrailer = 32;  // sizes, object count, top object, offset table position

class BinaryReader {
 public:
  BinaryReader(std::string_view s, const PlistLimits& limits)
      : s_(s), limits_(limits), tree_(limits) {
    if (s.size() < kHeader + kTrailer) fail("truncated");
    const size_t t = s.size() - kTrailer;
    offset_size_ = byte(t + 6);
    ref_size_ = byte(t + 7);
    num_objects_ = be(t + 8, 8);
    top_ = be(t + 16, 8);
    table_ = be(t + 24, 8);
    if (offset_size_ < 1 || offset_size_ > 8 || ref_size_ < 1 || ref_size_ > 8) fail("bad trailer");
    if (num_objects_ == 0 || top_ >= num_objects_) fail("bad trailer");
    if (table_ < kHeader || table_ > t || num_objects_ > (t - table_) / offset_size_)
      fail("offset table out of bounds");
  }

  Plist read() {
    enum class Step { kValue, kKey, kClose };
    struct Pending {
      Step step;
      uint64_t object;
    };
    std::vector<Pending> stack{{Step::kValue, top_}};
    while (!stack.empty()) {
      const Pending next = stack.back();
      stack.pop_back();
      if (next.step == Step::kClose) {
        tree_.close();
        continue;
      }
      uint64_t pos = object_offset(next.object);
      const uint8_t marker = byte(pos++);
      if (next.step == Step::kKey) {
        tree_.key(string(marker, pos, "a dictionary key that is not a string"));
        continue;
      }
      const uint8_t kind = marker >> 4;
      if (kind != 0xA && kind != 0xD) {
        leaf(marker, pos);
        continue;
      }
      const uint64_t count = length(marker, pos);
      const uint64_t refs = kind == 0xD ? count * 2 : count;
      if (count > table_ || refs > (table_ - pos) / ref_size_) fail("container out of bounds");
      // Every pending reference becomes an object: refuse before queueing past the limit.
      if (stack.size() + refs > limits_.max_objects + static_cast<size_t>(limits_.max_depth))
        throw BadRequest("plist has more than " + std::to_string(limits_.max_objects) + " objects");
      if (kind == 0xD)
        tree_.open_dict();
      else
        tree_.open_array();
      stack.push_back({Step::kClose, 0});
      // Pushed last to first, so they are emitted in order; a dictionary's keys come first in
      // the body, then its values.
      for (uint64_t i = count; i-- > 0;) {
        if (kind == 0xD) {
          stack.push_back({Step::kValue, reference(pos + (count + i) * ref_size_)});
          stack.push_back({Step::kKey, reference(pos + i * ref_size_)});
        } else {
          stack.push_back({Step::kValue, reference(pos + i * ref_size_)});
        }
      }
    }
    return tree_.finish();
  }

 private:
  [[noreturn]] static void fail(const std::string& why) {
    throw BadRequest("malformed binary plist: " + why);
  }

  // Bytes [offset, offset + n) of the object area (before the offset table), or a refusal.
  const char* bytes(uint64_t offset, uint64_t n, uint64_t end) const {
    if (offset > end || n > end - offset) fail("read out of bounds");
    return s_.data() + offset;
  }
  uint8_t byte(uint64_t offset) const { return static_cast<uint8_t>(*bytes(offset, 1, s_.size())); }
  uint64_t be(uint64_t offset, size_t n, uint64_t end) const {
    const char* p = bytes(offset, n, end);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
    return v;
  }
  uint64_t be(uint64_t offset, size_t n) const { return be(offset, n, s_.size()); }

  uint64_t object_offset(uint64_t object) const {
    const uint64_t offset = be(table_ + object * offset_size_, offset_size_);
    if (offset < kHeader || offset >= table_) fail("object offset out of bounds");
    return offset;
  }
  uint64_t reference(uint64_t pos) const {
    const uint64_t object = be(pos, ref_size_, table_);
    if (object >= num_objects_) fail("object reference out of range");
    return object;
  }
  // Element count of an object whose marker precedes `pos`; advances `pos` past an extended count.
  uint64_t length(uint8_t marker, uint64_t& pos) const {
    if ((marker & 0x0f) != 0x0f) return marker & 0x0f;
    const uint8_t int_marker = byte(pos++);
    if ((int_marker >> 4) != 0x1 || (int_marker & 0x0f) > 3) fail("bad length");
    const size_t n = size_t{1} << (int_marker & 0x0f);
    const uint64_t v = be(pos, n, table_);
    pos += n;
    return v;
  }

  // An ASCII (0x5) or UTF-16BE (0x6) string as UTF-8.
  std::string string(uint8_t marker, uint64_t pos, const char* otherwise) const {
    const uint8_t kind = marker >> 4;
    if (kind != 0x5 && kind != 0x6) fail(otherwise);
    const uint64_t count = length(marker, pos);
    if (kind == 0x5) {
      std::string s(bytes(pos, count, table_), count);
      if (s.find('\0') != std::string::npos) fail("a string holds a NUL character");
      return s;
    }
    if (count > table_) fail("read out of bounds");
    const char* p = bytes(pos, count * 2, table_);
    auto unit = [&](uint64_t i) {
      return static_cast<uint32_t>((static_cast<uint8_t>(p[2 * i]) << 8) |
                                   static_cast<uint8_t>(p[2 * i + 1]));
    };
    std::string out;
    for (uint64_t i = 0; i < count; ++i) {
      uint32_t cp = unit(i);
      if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < count && unit(i + 1) >= 0xDC00 &&
          unit(i + 1) <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (unit(++i) - 0xDC00);
      } else if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) {
        fail("a bad UTF-16 string");
      }
      append_utf8(out, cp);
    }
    return out;
  }

  double floating(uint64_t pos, size_t n) const {
    const uint64_t bits = be(pos, n, table_);
    if (n == 4) return std::bit_cast<float>(static_cast<uint32_t>(bits));
    return std::bit_cast<double>(bits);
  }

  void leaf(uint8_t marker, uint64_t pos) {
    const uint8_t low = marker & 0x0f;
    switch (marker >> 4) {
      case 0x0:
        if (marker == 0x08 || marker == 0x09) return tree_.value(own(plist_new_bool(marker & 1)));
        fail("an unsupported simple object");
      case 0x1: {
        if (low > 4) fail("a bad integer size");
        // 16-byte integers keep their low 64 bits, as libplist's own reader does.
        const size_t n = size_t{1} << low;
        return tree_.value(
            own(plist_new_uint(be(pos + (n > 8 ? n - 8 : 0), std::min<size_t>(n, 8), table_))));
      }
      case 0x2:
        if (low != 2 && low != 3) fail("a bad real size");
        return tree_.value(own(plist_new_real(floating(pos, size_t{1} << low))));
      case 0x3: {
        if (marker != 0x33) fail("a bad date");
        const double since_2001 = floating(pos, 8);
        if (!std::isfinite(since_2001)) fail("a bad date");
        const double clamped = std::clamp(since_2001, double{INT32_MIN}, double{INT32_MAX});
        const double whole = std::floor(clamped);
        return tree_.value(own(plist_new_date(static_cast<int32_t>(whole),
                                              static_cast<int32_t>((clamped - whole) * 1e6))));
      }
      case 0x4: {
        const uint64_t count = length(marker, pos);
        return tree_.value(own(plist_new_data(bytes(pos, count, table_), count)), count);
      }
      case 0x5:
      case 0x6: {
        const std::string s = string(marker, pos, "");
        return tree_.value(own(plist_new_string(s.c_str())), s.size());
      }
      case 0x8:
        if (low > 7) fail("a bad UID size");
        return tree_.value(own(plist_new_uid(be(pos, size_t{low} + 1, table_))));
      default:
        fail("an unsupported object type");
    }
  }

  std::string_view s_;
  const PlistLimits& limits_;
  TreeBuilder tree_;
  size_t offset_size_ = 0, ref_size_ = 0;
  uint64_t num_objects_ = 0, top_ = 0, table_ = 0;
};

}  // namespace

Plist read_binary(std::string_view body, const PlistLimits& limits) {
  return BinaryReader(body, limits).read();
}

}  // namespace cairn::plist_reader
