// Commands as JSON, for the typed admin API: fields named as Apple names them, with JSON values —
// data as base64, dates as RFC 3339 ("2026-11-23T10:00:00Z"), integers as whole JSON numbers,
// reals as any JSON number (so 1 and 1.0 stay what the schema says), dictionaries as objects,
// arrays as arrays. The result is the command plist, checked against the catalog; every
// problem is an InvalidCommand naming the field.
#pragma once

#include <rapidjson/document.h>

#include <set>
#include <string>

#include "plist/plist.hpp"
#include "protocol/command_catalog.hpp"

namespace cairn::protocol {

// {CommandUUID, Command: {RequestType, <fields>}} from the members of `fields` that are not in
// `reserved` (the API's own members: request_type, devices...).
Plist command_from_json(const CommandCatalog& catalog, const CommandSpec& spec,
                        const rapidjson::Value& fields, const std::string& command_uuid,
                        const std::set<std::string, std::less<>>& reserved);

// One value from JSON as `spec` says (null: its type inferred from the JSON). Throws
// InvalidCommand naming `path`.
Plist value_from_json(const rapidjson::Value& value, const KeySpec* spec, const std::string& path);

}  // namespace cairn::protocol
