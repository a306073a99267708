// The admin API's devices, independent of HTTP: devices, their inventory, queues and command
// status read from the projection (results from the log), and re-enrollment. Commands are in
// ingest/command_api, push certificates in ingest/push_certificate_api.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_writer.hpp"
#include "ingest/api_keys.hpp"
#include "ingest/api_response.hpp"
#include "ingest/event_writer.hpp"
#include "projector/queries.hpp"
#include "store/database.hpp"

namespace cairn::ingest {

class AdminApi {
 public:
  AdminApi(EventWriter& writer, const projector::ProjectionReader& reader,
           const store::Database& store, eventlog::EventLog& log)
      : writer_(writer), reader_(reader), store_(store), log_(log) {}

  // POST /v1/devices/{id}/reenrollment: records ReenrollmentAllowed (the next Authenticate with
  // a new identity within `valid_for` is accepted); 404 for an unknown device.
  ApiResponse allow_reenrollment(const std::string& udid, const std::string& note,
                                 std::chrono::hours valid_for, const Principal& actor);

  ApiResponse devices(const std::string& after, size_t limit) const;
  // GET /api/v1/devices?<filter>=<value>&…: devices whose inventory matches every filter
  // (projector/inventory), cursor paging like devices().
  ApiResponse devices_matching(const DeviceFilters& filters, const std::string& after,
                               size_t limit) const;
  ApiResponse device(const std::string& udid) const;
  ApiResponse device_commands(const std::string& udid) const;  // queue and history
  ApiResponse command(const std::string& uuid) const;          // status on each device
  // GET /v1/commands?status=: the commands in one state across the fleet, oldest enqueued first,
  // cursor paging like devices() (without results: GET /v1/commands/{uuid} reads them).
  ApiResponse commands(const std::string& status, const std::string& after, size_t limit) const;
  ApiResponse projection() const;  // digest and position

 private:
  // The device's final result for a command, read from the log where it is kept verbatim.
  std::string result_of(const projector::CommandRecord& c) const;
  void write_command(JsonWriter& j, const projector::CommandRecord& c, bool with_result) const;

  EventWriter& writer_;
  const projector::ProjectionReader& reader_;
  const store::Database& store_;
  eventlog::EventLog& log_;
};

}  // namespace cairn::ingest
