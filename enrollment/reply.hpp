// What an enrollment endpoint answers a device with (SCEP, OTA, ADE): not JSON, so its own type.
#pragma once

#include <string>

#include "ingest/event_writer.hpp"

namespace cairn::enrollment {

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type;
};

// Refuses an enrollment step of a device not known yet (OTA, ADE): an EnrollmentRefused event and
// a log line (once per address per interval, EventWriter::admit_refusal), then ClientError.
[[noreturn]] void refuse_enrollment(ingest::EventWriter& writer, const std::string& stage,
                                    int status, const std::string& reason,
                                    const std::string& remote);

}  // namespace cairn::enrollment
