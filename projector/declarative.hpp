// Declarative device management (DDM) in the projection: declarations, sets, the sets assigned to
// each enrollment, and what each enrollment reported (declaration status, status item values).
// Key layout: projector/keys.hpp.
//
// Declarations and sets come from device-less events, assignments and reports from the
// enrollment's own: what an enrollment is given (its manifest: its sets' declarations and those
// they name, with the DeclarationsToken over them) is joined when read, never stored per
// enrollment. So a change to a declaration in a set of 100,000 devices is one event and one key,
// and the projection stays independent of how partitions interleave.
#pragma once

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <vector>

#include "common/strong_types.hpp"
#include "projector/records.hpp"
#include "projector/state.hpp"
#include "schemas/events.hpp"
#include "store/reader.hpp"

namespace cairn::projector {

// What reading a status report could not use: a report is checked at ingest, so this is a body
// older code accepted or a log edited by hand. It changes nothing (the log keeps it).
enum class StatusApplied { kApplied, kUnreadable };

// Status values (and declaration statuses) kept per enrollment, and how long an item's path and
// value may be: a report is the device's to write, and a stolen identity must not fill the store.
inline constexpr size_t kMostStatusValues = 512;
inline constexpr size_t kLongestStatusPath = 256;
inline constexpr size_t kLongestStatusValue = 8192;
// Status reports whose place in the log an enrollment keeps (GET /v1/status-report?index=).
inline constexpr size_t kStatusReportsKept = 10;

void apply_declaration_stored(State& state, const events::Event& e,
                              const events::DeclarationStored& p);
void apply_declaration_deleted(State& state, const events::DeclarationDeleted& p);
void apply_set_declaration(State& state, const events::SetDeclarationChanged& p);
void apply_enrollment_set(State& state, const events::Event& e,
                          const events::EnrollmentSetChanged& p);
void apply_declarative_request(State& state, const events::Event& e,
                               const events::DeclarativeRequested& p);
StatusApplied apply_status_report(State& state, const events::Event& e, LogPosition position,
                                  const events::StatusReported& p);
// A new enrollment of the device (it was erased, or enrolled anew) starts with nothing reported:
// its declaration statuses, status values (and their filter entries) and report history go. The
// sets assigned to it stay: they are the administrator's, by enrollment ID.
void clear_reported_state(State& state, const std::string& enrollment);

// Status reports nested deeper than this are refused at ingest and not applied: reading a value
// (writing it back as JSON) recurses, and a report is the device's to write.
inline constexpr size_t kDeepestStatusReport = 32;

// The status report inside a StatusReported message (the JSON in its Data); throws BadRequest when
// there is none. Shared by ingest, which checks a report before recording it.
std::string status_report_json(std::string_view message_body);
// Whether `value` is nested at most `most` levels (walked without recursion).
bool nested_within(const rapidjson::Value& value, size_t most);

// What an enrollment is given: its sets' declarations and, transitively, those they name, by
// Identifier; `token` (the DeclarationsToken) changes exactly when any of them does.
struct Manifest {
  std::vector<DeclarationRecord> declarations;
  std::string token;
  std::string timestamp;  // the newest declaration's time, RFC 3339 to the second
};

class DeclarativeReader {
 public:
  explicit DeclarativeReader(const store::Reader& store) : store_(store) {}

  std::optional<DeclarationRecord> declaration(const std::string& identifier) const;
  std::vector<std::string> declarations() const;  // identifiers, in order
  std::vector<std::string> sets() const;          // the sets holding a declaration
  std::vector<std::string> set_declarations(const std::string& set) const;
  std::vector<std::string> declaration_sets(const std::string& identifier) const;
  std::vector<std::string> referrers(const std::string& identifier) const;
  std::vector<std::string> enrollment_sets(const std::string& enrollment) const;
  std::vector<std::string> set_enrollments(const std::string& set) const;

  Manifest manifest(const std::string& enrollment) const;
  // What enrollments given exactly `sets` are given (enrollments sharing sets share it).
  Manifest manifest_of_sets(const std::vector<std::string>& sets) const;
  std::optional<DeclarativeEnrollmentRecord> enrollment(const std::string& enrollment) const;
  std::vector<DeclarationStatusRecord> statuses(const std::string& enrollment) const;
  // Status values by item path ("device.operating-system.version"), those starting with `prefix`.
  std::vector<std::pair<std::string, StatusValueRecord>> status_values(
      const std::string& enrollment, const std::string& prefix = {}) const;

 private:
  // The second names under `prefix` (keys "<prefix><name>").
  std::vector<std::string> names(const std::string& prefix) const;
  const store::Reader& store_;
};

}  // namespace cairn::projector
