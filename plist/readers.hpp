// The two plist readers behind Plist::parse (internal to plist/): each reads untrusted bytes in one
// non-recursive pass and builds the tree through TreeBuilder, which enforces PlistLimits.
#pragma once

#include <string_view>

#include "common/errors.hpp"
#include "plist/plist.hpp"

namespace cairn::plist_reader {

Plist read_xml(std::string_view body, const PlistLimits& limits);
Plist read_binary(std::string_view body, const PlistLimits& limits);  // "bplist00"

}  // namespace cairn::plist_reader
