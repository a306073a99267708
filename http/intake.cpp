#include "http/intake.hpp"

#include <cstdint>

namespace cairn::http {

std::optional<uint64_t> declared_length(const httplib::Request& req) {
  const std::string declared = req.get_header_value("Content-Length");
  if (declared.empty() || declared.size() > 18 ||
      declared.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoull(declared);
}

std::optional<Refusal> intake_refusal(const httplib::Request& req, const BodyLimits& limits,
                                      const ingest::ApiKeys& keys) {
  // httplib inflates gzip, deflate and br bodies without a bound (0.5 MB became 514 MiB).
  if (req.has_header("Content-Encoding"))
    return Refusal{415, "Content-Encoding is not accepted: send the body uncompressed"};
  // httplib reads chunked bodies, and bodies without a length, without a bound.
  if (req.has_header("Transfer-Encoding"))
    return Refusal{411, "Transfer-Encoding is not accepted: send the body with a Content-Length"};
  const bool has_body = req.method == "PUT" || req.method == "POST";
  const bool declared = !req.get_header_value("Content-Length").empty();
  if (has_body && !declared) return Refusal{411, "a Content-Length is required"};
  const auto length = declared ? declared_length(req) : std::optional<uint64_t>(0);
  if (!length) return Refusal{400, "Content-Length must be a number of bytes"};
  const bool admin = req.path.starts_with("/api/") || req.path.starts_with("/v1/");
  // httplib parses multipart bodies even for a content reader (on_device_body); no device or
  // admin client sends one.
  if (req.get_header_value("Content-Type").starts_with("multipart/"))
    return Refusal{415, "a multipart body is not accepted"};
  const size_t limit = admin ? limits.admin_bytes : limits.device_bytes;
  if (*length > limit)
    return Refusal{413, "body of " + std::to_string(*length) + " bytes exceeds the limit of " +
                            std::to_string(limit)};
  // Admin requests may be large (one command to 100,000 devices); device messages are not.
  // Whoever sends a body beyond the device limit must show an API key before it is read.
  if (*length > limits.device_bytes) {
    const auto principal = keys.authenticate(req.get_header_value("Authorization"));
    if (!principal) return Refusal{401, "missing or unknown API key"};
    if (!principal->may(ingest::Role::kOperator))
      return Refusal{403, "this API key's role may not send bodies"};
  }
  return std::nullopt;
}

}  // namespace cairn::http
