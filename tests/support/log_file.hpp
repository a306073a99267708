// The embedded log's file edited by hand, as someone with access to the disk could: records are
// parsed, changed, removed or moved, and written back with valid CRCs (a CRC is no seal; the
// audit chain is). The framing is eventlog/embedded_log.hpp's.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace cairn::testing {

class LogFile {
 public:
  struct Record {
    std::string key, type, value;
  };

  explicit LogFile(std::string path) : path_(std::move(path)) {
    std::ifstream in(path_, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    for (size_t pos = 0; pos + 8 <= bytes.size();) {
      const uint32_t length = get_u32(bytes, pos);
      const std::string body = bytes.substr(pos + 8, length);
      const uint16_t key_length = get_u16(body, 0);
      const uint16_t type_length = get_u16(body, 2 + key_length);
      records.push_back({body.substr(2, key_length), body.substr(4 + key_length, type_length),
                         body.substr(4 + key_length + type_length)});
      pos += 8 + length;
    }
  }

  void save() const {
    std::string out;
    for (const auto& r : records) {
      std::string body;
      put_u16(body, static_cast<uint16_t>(r.key.size()));
      body += r.key;
      put_u16(body, static_cast<uint16_t>(r.type.size()));
      body += r.type + r.value;
      put_u32(out, static_cast<uint32_t>(body.size()));
      put_u32(out, static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(body.data()),
                                               static_cast<uInt>(body.size()))));
      out += body;
    }
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << out;
  }

  std::vector<Record> records;

 private:
  static uint32_t get_u32(const std::string& s, size_t at) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(s.at(at + i));
    return v;
  }
  static uint16_t get_u16(const std::string& s, size_t at) {
    return static_cast<uint16_t>(static_cast<uint8_t>(s.at(at)) | static_cast<uint8_t>(s.at(at + 1))
                                                                      << 8);
  }
  static void put_u32(std::string& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
  }
  static void put_u16(std::string& out, uint16_t v) {
    out.push_back(static_cast<char>(v));
    out.push_back(static_cast<char>(v >> 8));
  }

  std::string path_;
};

}  // namespace cairn::testing
