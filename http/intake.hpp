// What a request is refused for on its headers alone, before httplib reads a byte of its body
// (Cairn runs this pre-routing): framing httplib would read or inflate without a bound, bodies
// over the limits, large bodies from anyone but an operator or admin key.
#pragma once

#include <httplib.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "ingest/api_keys.hpp"

namespace cairn::http {

struct BodyLimits {
  size_t device_bytes = 4u << 20;  // /mdm, /checkin, /scep, /enroll: and anyone's, keyed or not
  size_t admin_bytes = 64u << 20;  // /v1/, /api/: beyond device_bytes only with a key
};

struct Refusal {
  int status;
  std::string reason;
};

// The request's Content-Length as a number of bytes; nullopt if absent or not a plain number
// (intake_refusal refuses those).
std::optional<uint64_t> declared_length(const httplib::Request& req);

std::optional<Refusal> intake_refusal(const httplib::Request& req, const BodyLimits& limits,
                                      const ingest::ApiKeys& keys);

}  // namespace cairn::http
