// What the admin commands print for people (`--output table`, the default): rows as aligned
// columns, one object as "name  value" lines. Values come from devices and are shown as text with
// every control character escaped, so a device named with terminal escape sequences cannot
// rewrite an operator's screen.
#pragma once

#include <rapidjson/document.h>

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::cli {

struct Column {
  std::string header;
  std::string path;  // into each row, dotted: "inventory.DeviceInformation.OSVersion.value"
};

// One line per row of `rows` (a JSON array of objects); "-" where a row lacks a value.
void print_table(std::ostream& out, const rapidjson::Value& rows,
                 const std::vector<Column>& columns);
// Every leaf of `object`, its dotted path then its value; arrays of scalars on one line.
void print_fields(std::ostream& out, const rapidjson::Value& object);
// `text` with control characters and DEL as \xHH (and a backslash doubled).
std::string printable(std::string_view text);
// A value as one line of text: strings as they are, the rest as compact JSON.
std::string cell_text(const rapidjson::Value& v);

}  // namespace cairn::cli
