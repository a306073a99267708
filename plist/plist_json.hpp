// A plist value as JSON: dictionaries as objects, arrays as arrays, data as base64, dates as
// RFC 3339, integers and reals as numbers. For inventory and APIs that show what devices said.
#pragma once

#include <plist/plist.h>

#include <string>

namespace cairn {

std::string plist_to_json(plist_t node);

}  // namespace cairn
