// Wall-clock time as Cairn records it in events: RFC 3339, UTC, millisecond precision.
// Only ingest reads the clock; the projector takes every time from the event it applies.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace cairn {

using SystemTime = std::chrono::system_clock::time_point;

std::string format_rfc3339(SystemTime t);
std::string now_rfc3339();
// Reads what format_rfc3339 writes (UTC, "Z", milliseconds optional); nullopt for anything else.
std::optional<SystemTime> parse_rfc3339(std::string_view text);

}  // namespace cairn
