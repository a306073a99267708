#include "cli/table.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdio>

namespace cairn::cli {
namespace {

constexpr size_t kMaxCell = 60;  // longer values are cut with "…" in a table (not in fields)

const rapidjson::Value* at_path(const rapidjson::Value& row, std::string_view path) {
  const rapidjson::Value* v = &row;
  while (v && !path.empty()) {
    const auto dot = path.find('.');
    const auto name = path.substr(0, dot);
    if (!v->IsObject()) return nullptr;
    const auto it = v->FindMember(rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
    v = it == v->MemberEnd() ? nullptr : &it->value;
    path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
  }
  return v;
}

bool starts_character(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
}

// Display width, counting each UTF-8 sequence as one column (near enough for names).
size_t width(std::string_view s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), starts_character));
}

std::string cut(std::string s) {
  if (width(s) <= kMaxCell) return s;
  size_t columns = 0, i = 0;
  for (; i < s.size(); ++i)
    if (starts_character(s[i]) && columns++ == kMaxCell - 1) break;
  return s.substr(0, i) + "…";
}

bool all_scalars(const rapidjson::Value& array) {
  return std::none_of(array.Begin(), array.End(),
                      [](const auto& v) { return v.IsObject() || v.IsArray(); });
}

void fields(const rapidjson::Value& v, const std::string& prefix,
            std::vector<std::pair<std::string, std::string>>& lines) {
  if (v.IsObject() && v.MemberCount() > 0) {
    for (const auto& m : v.GetObject())
      fields(m.value, prefix.empty() ? m.name.GetString() : prefix + "." + m.name.GetString(),
             lines);
  } else if (v.IsArray() && v.Size() > 0 && !all_scalars(v)) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
      fields(v[i], prefix + "[" + std::to_string(i) + "]", lines);
  } else {
    lines.emplace_back(printable(prefix), cell_text(v));
  }
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02X", u);
      out += hex;
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      out += c;
    }
  }
  return out;
}

std::string cell_text(const rapidjson::Value& v) {
  if (v.IsString()) return printable({v.GetString(), v.GetStringLength()});
  if (v.IsArray() && v.Size() > 0 && all_scalars(v)) {
    std::string joined;
    for (const auto& item : v.GetArray()) joined += (joined.empty() ? "" : ", ") + cell_text(item);
    return joined;
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return printable({buffer.GetString(), buffer.GetSize()});
}

void print_table(std::ostream& out, const rapidjson::Value& rows,
                 const std::vector<Column>& columns) {
  std::vector<std::vector<std::string>> cells;
  cells.emplace_back();
  for (const auto& c : columns) cells.back().push_back(c.header);
  if (rows.IsArray())
    for (const auto& row : rows.GetArray()) {
      cells.emplace_back();
      for (const auto& c : columns) {
        const auto* v = at_path(row, c.path);
        cells.back().push_back(v && !v->IsNull() ? cut(cell_text(*v)) : "-");
      }
    }
  std::vector<size_t> widths(columns.size(), 0);
  for (const auto& line : cells)
    for (size_t i = 0; i < line.size(); ++i) widths[i] = std::max(widths[i], width(line[i]));
  for (const auto& line : cells) {
    std::string text;
    for (size_t i = 0; i < line.size(); ++i) {
      text += line[i];
      if (i + 1 < line.size()) text += std::string(widths[i] - width(line[i]) + 2, ' ');
    }
    out << text << '\n';
  }
}

void print_fields(std::ostream& out, const rapidjson::Value& object) {
  std::vector<std::pair<std::string, std::string>> lines;
  fields(object, "", lines);
  size_t name_width = 0;
  for (const auto& [name, value] : lines) name_width = std::max(name_width, width(name));
  for (const auto& [name, value] : lines)
    out << name << std::string(name_width - width(name) + 2, ' ') << value << '\n';
}

}  // namespace cairn::cli
