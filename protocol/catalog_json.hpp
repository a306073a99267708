// Reading the generated catalogs' JSON (protocol/catalog/generate_catalog.cpp): shared by the
// command and the declaration catalog, which hold their keys in the same shape.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "protocol/command_catalog.hpp"

namespace cairn::protocol {

// The string member `name` of `v`; empty when absent.
std::string catalog_text(const rapidjson::Value& v, const char* name);
// A list of keys as the generator writes them.
std::vector<KeySpec> catalog_keys(const rapidjson::Value& list);

}  // namespace cairn::protocol
