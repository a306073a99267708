// Cairn reports failures as exceptions, one type per HTTP meaning, so the HTTP layer maps them in
// one place. The rule that matters: only NotManaged becomes 401 (which unenrolls a device); every
// exception that is not one of these types becomes a 5xx, so the device retries.
#pragma once

#include <stdexcept>
#include <string>

namespace cairn {

// The request itself is wrong (4xx other than 401). `status` is the HTTP status to answer.
class ClientError : public std::runtime_error {
 public:
  ClientError(int status, const std::string& reason)
      : std::runtime_error(reason), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

class BadRequest : public ClientError {
 public:
  explicit BadRequest(const std::string& reason) : ClientError(400, reason) {}
};

// The device is truly not managed by this server: unknown, checked out, or its certificate is not
// the one bound to its UDID. The only error answered with 401.
class NotManaged : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A dependency is temporarily unable to serve (log, store, timeout): answered 503 with Retry-After.
class Unavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace cairn
