// Test data copied into tests/fixtures (see SOURCE.txt there) and Apple's schemas in schemas/.
#pragma once

#include <string>

#include "common/files.hpp"

namespace cairn::testing {

inline std::string fixture(const std::string& relative_path) {
  return read_file(std::string(CAIRN_TEST_FIXTURES) + "/" + relative_path);
}

}  // namespace cairn::testing
