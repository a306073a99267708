// Whole-file reads and writes, for certificates, keys and fixtures.
#pragma once

#include <string>

namespace cairn {

// The file's bytes; throws std::runtime_error naming the path if it cannot be read.
std::string read_file(const std::string& path);
// Replaces the file's content; `secret` files are created readable by the owner only.
void write_file(const std::string& path, const std::string& content, bool secret);

}  // namespace cairn
