// A DeclarativeManagement check-in, answered from the projection (projector/declarative): the
// enrollment's tokens, its declaration items, one of its declarations, or its status report taken
// in. Independent of HTTP; the caller (DeviceService) has authorized the device and records the
// event this returns before answering.
#pragma once

#include <string>
#include <string_view>

#include "projector/declarative.hpp"
#include "protocol/messages.hpp"
#include "schemas/events.hpp"

namespace cairn::ingest {

class DeclarativeService {
 public:
  explicit DeclarativeService(const projector::DeclarativeReader& reader) : reader_(reader) {}

  struct Answer {
    std::string json;  // empty: 200 with no body (a status report taken in)
    events::Payload event;
  };
  // Throws BadRequest (an unknown endpoint, a status report that is no report) or ClientError 404
  // (a declaration this enrollment is not given).
  Answer handle(const protocol::DeclarativeManagement& m, std::string_view body,
                const std::string& certificate_fingerprint) const;

 private:
  const projector::DeclarativeReader& reader_;
};

}  // namespace cairn::ingest
