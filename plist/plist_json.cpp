#include "plist/plist_json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <memory>

#include "common/clock.hpp"
#include "common/encoding.hpp"
#include "plist/plist.hpp"

namespace cairn {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
using Owned = std::unique_ptr<char, void (*)(void*)>;

void write(Writer& w, plist_t node) {
  switch (plist_get_node_type(node)) {
    case PLIST_DICT: {
      w.StartObject();
      for_each_entry(node, [&](const std::string& key, plist_t value) {
        const std::string name = valid_utf8(key);
        w.Key(name.c_str(), static_cast<rapidjson::SizeType>(name.size()));
        write(w, value);
      });
      w.EndObject();
      return;
    }
    case PLIST_ARRAY:
      w.StartArray();
      for (uint32_t i = 0; i < plist_array_get_size(node); ++i)
        write(w, plist_array_get_item(node, i));
      w.EndArray();
      return;
    case PLIST_STRING:
    case PLIST_KEY: {
      char* s = nullptr;
      plist_get_string_val(node, &s);
      const Owned owned(s, std::free);
      const std::string text = valid_utf8(s ? s : "");
      w.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
      return;
    }
    case PLIST_BOOLEAN: {
      uint8_t b = 0;
      plist_get_bool_val(node, &b);
      w.Bool(b != 0);
      return;
    }
    case PLIST_UINT: {
      uint64_t v = 0;
      plist_get_uint_val(node, &v);
      w.Int64(static_cast<int64_t>(v));
      return;
    }
    case PLIST_REAL: {
      double v = 0;
      plist_get_real_val(node, &v);
      if (std::isfinite(v))
        w.Double(v);
      else
        w.Null();  // JSON has no NaN or infinity
      return;
    }
    case PLIST_DATE: {
      int32_t sec = 0, usec = 0;
      plist_get_date_val(node, &sec, &usec);
      const auto t = std::chrono::system_clock::time_point(
          std::chrono::seconds(sec + kPlistDateEpoch) + std::chrono::microseconds(usec));
      w.String(format_rfc3339(std::chrono::time_point_cast<SystemTime::duration>(t)).c_str());
      return;
    }
    case PLIST_DATA: {
      char* bytes = nullptr;
      uint64_t length = 0;
      plist_get_data_val(node, &bytes, &length);
      const Owned owned(bytes, std::free);
      w.String(base64_encode(std::string_view(bytes ? bytes : "", length)).c_str());
      return;
    }
    default:
      w.Null();
  }
}

}  // namespace

std::string plist_to_json(plist_t node) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  write(w, node);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace cairn
