// libFuzzer target: what `cairn` prints for people from a server's JSON (device-reported text
// among it). Whatever the JSON holds, the output has no control character but the newlines that
// end its lines, so nothing a device wrote reaches an operator's terminal as a command.
#include <rapidjson/document.h>

#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "cli/table.hpp"

namespace {

void check(const std::string& out) {
  for (const char c : out) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n') || u == 0x7F) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rapidjson::Document d;
  d.Parse(reinterpret_cast<const char*>(data), size);
  if (d.HasParseError()) return 0;
  std::ostringstream fields, table;
  cairn::cli::print_fields(fields, d);
  check(fields.str());
  const rapidjson::Value* rows = &d;
  if (d.IsObject() && d.HasMember("devices")) rows = &d["devices"];
  cairn::cli::print_table(table, *rows,
                          {{"UDID", "udid"}, {"NAME", "inventory.DeviceName.value"}, {"N", "n"}});
  check(table.str());
  return 0;
}
