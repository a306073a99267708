// The admin API of declarative device management, in KMFDDM's shape (its routes, bodies and status
// codes: 204 changed, 304 unchanged), so its users' scripts work unchanged: declarations, sets,
// the sets of each enrollment, and what enrollments reported. Every change is an event carrying the
// admin's name; a change that gives an enrollment other declarations makes it sync (a
// DeclarativeManagement command carrying its new tokens, one per enrollment at a time) unless the
// caller says nonotify.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "eventlog/event_log.hpp"
#include "ingest/api_keys.hpp"
#include "ingest/api_response.hpp"
#include "ingest/event_writer.hpp"
#include "projector/declarative.hpp"
#include "projector/queries.hpp"

namespace cairn::ingest {

class DeclarationApi {
 public:
  DeclarationApi(EventWriter& writer, const projector::ProjectionReader& reader,
                 eventlog::EventLog& log)
      : writer_(writer), reader_(reader), ddm_(reader.store()), log_(log) {}

  // PUT /v1/declarations: checked against Apple's schema (400 naming the path), the declarations
  // it names must be stored already (400 naming the reference). 204 stored, 304 unchanged.
  ApiResponse put_declaration(std::string_view json, bool notify, const Principal& actor);
  ApiResponse declarations() const;                      // GET /v1/declarations
  ApiResponse declaration(const std::string& id) const;  // GET /v1/declarations/{id}
  // DELETE /v1/declarations/{id}: 204, 304 when there is none; 409 while a set holds it or another
  // declaration names it (a device would be left with a dangling reference).
  ApiResponse delete_declaration(const std::string& id, const Principal& actor);
  // POST /v1/declarations/{id}/touch: a new ServerToken, so every device fetches it again.
  ApiResponse touch_declaration(const std::string& id, bool notify, const Principal& actor);

  ApiResponse sets() const;                                    // GET /v1/sets
  ApiResponse set_declarations(const std::string& set) const;  // GET /v1/set-declarations/{set}
  ApiResponse declaration_sets(const std::string& id) const;   // GET /v1/declaration-sets/{id}
  ApiResponse set_enrollments(const std::string& set) const;   // GET /v1/set-enrollments/{set}
  ApiResponse enrollment_sets(const std::string& enrollment) const;  // GET /v1/enrollment-sets/{id}
  // PUT (member) or DELETE /v1/set-declarations/{set}?declaration=: 204, or 304 unchanged.
  ApiResponse change_set_declaration(const std::string& set, const std::string& declaration,
                                     bool member, bool notify, const Principal& actor);
  // PUT or DELETE /v1/enrollment-sets/{id}?set=: 204, or 304 unchanged. An enrollment not yet
  // known may be given sets (it gets them when it enrolls).
  ApiResponse change_enrollment_set(const std::string& enrollment, const std::string& set,
                                    bool member, bool notify, const Principal& actor);
  // PUT or DELETE /v1/enrollment-sets?set=&<filter>=<value>…|all=true (Cairn's own): the set
  // given to (taken from) every device matching the filters now, as /api/v1/devices takes them
  // (status.<item> included), or every device. Once: a device matching later is not given it.
  // 200 {"set", "matched", "changed", "synced"}.
  ApiResponse change_matching_enrollments_set(const DeviceFilters& filters, bool all,
                                              const std::string& set, bool member, bool notify,
                                              const Principal& actor);
  // POST /v1/notify?id=&set=&declaration=: the enrollments named, or those given the sets or
  // declarations named, sync now. 204.
  ApiResponse notify(const std::vector<std::string>& enrollments,
                     const std::vector<std::string>& sets,
                     const std::vector<std::string>& declarations, const Principal& actor);

  // GET /v1/declaration-status/{ids}: per enrollment, each declaration's reported status, with
  // `current` when it reported the ServerToken stored now.
  ApiResponse declaration_status(const std::vector<std::string>& enrollments) const;
  // GET /v1/status-errors/{ids}: the latest report's Errors and each declaration reported not
  // valid.
  ApiResponse status_errors(const std::vector<std::string>& enrollments) const;
  // GET /v1/status-values/{ids}?prefix=: status item values (".StatusItems.device.…").
  ApiResponse status_values(const std::vector<std::string>& enrollments,
                            const std::string& prefix) const;
  // GET /v1/status-report/{id}?index=N: the Nth latest status report (0: the latest), verbatim
  // from the log.
  ApiResponse status_report(const std::string& enrollment, size_t index) const;

 private:
  // Queues a DeclarativeManagement command with its current tokens on each enrollment that can
  // take one and has none waiting; returns how many were queued.
  size_t sync(const std::set<std::string>& enrollments, const Principal& actor);
  // The enrollments given `declarations` (and the declarations naming them).
  std::set<std::string> enrollments_given(std::vector<std::string> declarations) const;

  EventWriter& writer_;
  const projector::ProjectionReader& reader_;
  projector::DeclarativeReader ddm_;
  eventlog::EventLog& log_;
};

}  // namespace cairn::ingest
