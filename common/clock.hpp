// Wall-clock time as Cairn records it in events: RFC 3339, UTC, millisecond precision.
// Only ingest reads the clock; the projector takes every time from the event it applies.
#pragma once

#include <chrono>
#include <string>

namespace cairn {

using SystemTime = std::chrono::system_clock::time_point;

std::string format_rfc3339(SystemTime t);
std::string now_rfc3339();

}  // namespace cairn
