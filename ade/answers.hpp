// The ADE service's JSON answers, read as what they are: bytes from outside. Each reader bounds
// what it keeps (devices per page, field lengths) and throws AdeAnswerError naming what is wrong;
// a device record with an unusable serial number is dropped and counted, not fatal.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/events.hpp"

namespace cairn::ade {

class AdeAnswerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Largest answer read (a page of 1,000 devices is ~400 KiB), most devices kept from one page
// (Cairn asks for 1,000, Apple's most), longest device field kept (cut at a character), longest
// cursor, session token or profile UUID taken (longer is an error: cut, it would not work).
inline constexpr size_t kLargestAnswer = 8 << 20;
inline constexpr size_t kMostDevicesPerPage = 1000;
inline constexpr size_t kLongestField = 256;
inline constexpr size_t kLongestToken = 4096;

struct DevicePage {
  std::string cursor;
  std::string fetched_until;
  bool more_to_follow = false;
  std::vector<events::AdeDevice> devices;
  size_t dropped = 0;  // records without a usable serial number, or past the bound
};

// POST /server/devices and POST /devices/sync.
DevicePage read_device_page(std::string_view json);
// GET /session: the auth_session_token.
std::string read_session(std::string_view json);
// POST /profile: the profile_uuid.
std::string read_profile_uuid(std::string_view json);
// PUT /profile/devices: the answer per device, and retry_after_seconds when given.
struct AssignAnswer {
  std::vector<events::AdeDeviceOutcome> devices;
  int64_t retry_after_seconds = 0;
};
AssignAnswer read_assign(std::string_view json);

}  // namespace cairn::ade
