// What an enrollment endpoint answers a device with (SCEP, OTA): not JSON, so its own type.
#pragma once

#include <string>

namespace cairn::enrollment {

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type;
};

}  // namespace cairn::enrollment
