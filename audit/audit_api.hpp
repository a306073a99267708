// The admin API of the audit trail (routes in http/http_server.cpp, shapes in
// schemas/openapi.yaml): a device's events, as the log holds them, found through the node's audit
// ledger. Errors are exceptions, as in ingest's APIs.
#pragma once

#include <string>

#include "audit/ledger.hpp"
#include "eventlog/event_log.hpp"
#include "ingest/api_response.hpp"

namespace cairn::audit {

class AuditApi {
 public:
  AuditApi(eventlog::EventLog& log, const LedgerReader& ledger) : log_(log), ledger_(ledger) {}

  // GET /v1/devices/{id}/events?since=&until=&type=&after=&limit=: the device's events, oldest
  // first, each as the log holds it (a device's secrets are cut out there) with its position;
  // `since`/`until` RFC 3339 ([since, until)), `type` an event type; cursor paging. Events the
  // ledger has not read yet are not listed.
  ingest::ApiResponse device_events(const std::string& device, const std::string& since,
                                    const std::string& until, const std::string& type,
                                    const std::string& after, size_t limit) const;

 private:
  eventlog::EventLog& log_;
  const LedgerReader& ledger_;
};

}  // namespace cairn::audit
