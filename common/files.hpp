// Whole-file reads, for certificates, keys and fixtures.
#pragma once

#include <string>

namespace cairn {

// The file's bytes; throws std::runtime_error naming the path if it cannot be read.
std::string read_file(const std::string& path);

}  // namespace cairn
