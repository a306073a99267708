// Events in → state out. The sequences here are the ones that broke other servers' queues
// (docs/design.md, "Lessons"): duplicate and late results, NotNow, results for unknown commands.
#include "projector/apply.hpp"

#include <gtest/gtest.h>

#include "plist/plist.hpp"
#include "projector/declarative.hpp"
#include "projector/inventory.hpp"
#include "projector/keys.hpp"
#include "projector/projection_store.hpp"
#include "projector/queries.hpp"
#include "projector/state.hpp"
#include "tests/support/temp_dir.hpp"

namespace cairn::projector {
namespace {

using events::Event;

const std::string kUdid = "UDID-1";
const std::string kCert(64, 'c');

class Projection {
 public:
  Projection() : store_(dir_ / "db"), reader_(store_) {}

  void apply(const std::vector<Event>& events, size_t batch_size = 1) {
    for (size_t i = 0; i < events.size(); i += batch_size) {
      store::Batch batch(store_);
      BatchState state(batch);
      for (size_t k = i; k < std::min(events.size(), i + batch_size); ++k)
        apply_event(events[k], {PartitionId(0), Offset(next_++)}, state);
      batch.set_next_offset(PartitionId(0), Offset(next_));
      store_.write(batch);
    }
  }
  void apply(const Event& e) { apply(std::vector<Event>{e}); }
  // One event at its own place in the log (several partitions), as a replica reads them.
  void apply_at(const Event& e, LogPosition at) {
    store::Batch batch(store_);
    BatchState state(batch);
    apply_event(e, at, state);
    batch.set_next_offset(at.partition, Offset(at.offset.value() + 1));
    store_.write(batch);
  }

  const ProjectionReader& reader() const { return reader_; }
  std::string digest() const { return store_.digest().sha256; }
  bool has(const std::string& key) const { return store_.get(key).has_value(); }
  std::optional<std::string> next() const {
    auto c = reader_.next_command(DeviceId(kUdid));
    return c ? std::optional(c->command_uuid) : std::nullopt;
  }
  CommandState state(const std::string& uuid) const {
    return reader_.command(DeviceId(kUdid), CommandUuid(uuid))->state;
  }

 private:
  testing::TempDir dir_;
  ProjectionStore store_;
  ProjectionReader reader_;
  int64_t next_ = 0;
};

int g_clock = 0;
Event event(events::Payload p, const std::string& actor = "device",
            const std::string& udid = kUdid) {
  char time[32];
  std::snprintf(time, sizeof time, "2026-11-22T00:00:%02d.%03dZ", (g_clock / 1000) % 60,
                g_clock % 1000);
  ++g_clock;
  return Event{"id-" + std::to_string(g_clock), time, udid, "node", actor, std::move(p)};
}
Event authenticated(const std::string& cert = kCert) {
  return event(events::DeviceAuthenticated{"com.apple.mgmt.t", "", cert, "tls", {}, ""});
}
Event token_updated() {
  return event(
      events::TokenUpdated{"com.apple.mgmt.t", "abcd", "magic", "v1.x.y", false, kCert, {}});
}
Event enqueued(const std::string& uuid) {
  return event(events::CommandEnqueued{uuid, "DeviceInformation", "<plist/>", false}, "admin");
}
Event delivered(const std::string& uuid) {
  return event(events::CommandDelivered{uuid}, "server");
}
Event reported(const std::string& status, const std::string& uuid = "") {
  events::RawMessage raw;
  raw.body = "<result " + status + "/>";
  return event(events::CommandReported{status, uuid, kCert, raw, {}});
}

Event status_report(const std::string& report_json, bool full_report = false,
                    const std::string& cert = kCert) {
  cairn::Plist message = cairn::Plist::new_dict();
  message.set_string("MessageType", "DeclarativeManagement");
  message.set_string("Endpoint", "status");
  message.set_data("Data", report_json);
  return event(events::StatusReported{full_report, cert, events::raw_message(message.to_xml())});
}

std::vector<Event> enrolled_with_queue(std::initializer_list<std::string> uuids) {
  std::vector<Event> events{authenticated(), token_updated()};
  for (const auto& u : uuids) events.push_back(enqueued(u));
  return events;
}

TEST(Apply, EnrollmentStates) {
  Projection p;
  p.apply(authenticated());
  auto d = p.reader().device(DeviceId(kUdid));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->state, EnrollmentState::kAuthenticated);
  EXPECT_EQ(p.reader().devices_for_certificate(kCert), std::vector{DeviceId(kUdid)});
  p.apply(token_updated());
  d = p.reader().device(DeviceId(kUdid));
  EXPECT_EQ(d->state, EnrollmentState::kEnrolled);
  EXPECT_EQ(d->push_magic, "magic");
  EXPECT_FALSE(d->enrolled_at.empty());
  p.apply(event(events::DeviceCheckedOut{"com.apple.mgmt.t", kCert, {}}));
  EXPECT_EQ(p.reader().device(DeviceId(kUdid))->state, EnrollmentState::kCheckedOut);
}

TEST(Apply, BodiesAndSecretsLeaveWithTheirCommandsAndEnrollments) {
  Projection p;
  p.apply(enrolled_with_queue({"A", "B"}));
  const auto next = p.reader().next_command(DeviceId(kUdid));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->plist, "<plist/>");
  EXPECT_TRUE(p.reader().device(DeviceId(kUdid))->unlock_token_escrowed);
  EXPECT_EQ(p.reader().unlock_token_sealed(DeviceId(kUdid)), "v1.x.y");
  p.apply({delivered("A"), reported("Acknowledged", "A")});
  EXPECT_FALSE(p.has(keys::command_body(kUdid, "A")));  // finished: only the log keeps it
  EXPECT_TRUE(p.has(keys::command_body(kUdid, "B")));
  p.apply(authenticated());  // re-enrollment cancels B and forgets the old UnlockToken
  EXPECT_FALSE(p.has(keys::command_body(kUdid, "B")));
  EXPECT_EQ(p.state("B"), CommandState::kCancelled);
  EXPECT_FALSE(p.reader().device(DeviceId(kUdid))->unlock_token_escrowed);
  EXPECT_EQ(p.reader().unlock_token_sealed(DeviceId(kUdid)), std::nullopt);
}

// A cancel and the device's messages are ordered by the log: whichever came first counts.
TEST(Apply, ACancelledCommandLeavesTheQueueAndAFinishedOneStaysFinished) {
  Projection p;
  p.apply(enrolled_with_queue({"A", "B", "C"}));
  p.apply(event(events::CommandCancelled{"B"}, "admin"));
  EXPECT_EQ(p.state("B"), CommandState::kCancelled);
  EXPECT_FALSE(p.has(keys::command_body(kUdid, "B")));
  EXPECT_EQ(p.next(), "A");
  p.apply({delivered("A"), reported("Acknowledged", "A")});
  EXPECT_EQ(p.next(), "C");                                // B is skipped for good
  p.apply(event(events::CommandCancelled{"A"}, "admin"));  // too late: finished first
  EXPECT_EQ(p.state("A"), CommandState::kAcknowledged);
  // A delivery recorded after the cancel (a session that read the queue just before it) does
  // not bring the command back: the device path sees it cancelled and sends the next instead.
  p.apply({event(events::CommandCancelled{"C"}, "admin"), delivered("C")});
  EXPECT_EQ(p.state("C"), CommandState::kCancelled);
  EXPECT_EQ(p.next(), std::nullopt);
  p.apply(event(events::CommandCancelled{"NEVER-QUEUED"}, "admin"));
  EXPECT_FALSE(p.reader().command(DeviceId(kUdid), CommandUuid("NEVER-QUEUED")));
}

static std::vector<std::string> uuids(const ProjectionReader::CommandPage& page) {
  std::vector<std::string> out;
  for (const auto& c : page.commands) out.push_back(c.command_uuid);
  return out;
}

// GET /v1/commands?status= reads this index: each command under its current state only.
TEST(Apply, ACommandIsListedUnderItsCurrentStateOnlyAndPaged) {
  Projection p;
  p.apply(enrolled_with_queue({"A", "B", "C"}));
  const auto& r = p.reader();
  auto first = r.commands_in_state("pending", "", 2);
  EXPECT_EQ(uuids(first), (std::vector<std::string>{"A", "B"}));
  ASSERT_FALSE(first.cursor.empty());
  const auto second = r.commands_in_state("pending", first.cursor, 2);
  EXPECT_EQ(uuids(second), (std::vector<std::string>{"C"}));
  EXPECT_EQ(second.cursor, "");
  p.apply(delivered("A"));
  EXPECT_EQ(uuids(r.commands_in_state("delivered", "", 10)), (std::vector<std::string>{"A"}));
  p.apply({reported("Acknowledged", "A"), event(events::CommandCancelled{"B"}, "admin")});
  EXPECT_EQ(uuids(r.commands_in_state("pending", "", 10)), (std::vector<std::string>{"C"}));
  EXPECT_TRUE(r.commands_in_state("delivered", "", 10).commands.empty());
  EXPECT_EQ(uuids(r.commands_in_state("acknowledged", "", 10)), (std::vector<std::string>{"A"}));
  EXPECT_EQ(uuids(r.commands_in_state("cancelled", "", 10)), (std::vector<std::string>{"B"}));
  p.apply(reported("NotNow", "C"));
  EXPECT_EQ(uuids(r.commands_in_state("not_now", "", 10)), (std::vector<std::string>{"C"}));
  EXPECT_TRUE(r.commands_in_state("pending", "", 10).commands.empty());
}

TEST(Apply, PushOutcomesAndInactivityShowOnTheDevice) {
  Projection p;
  p.apply({authenticated(), token_updated()});
  p.apply(event(events::PushSent{"com.apple.mgmt.t", "abcd", "ID"}, "dispatcher"));
  EXPECT_FALSE(p.reader().device(DeviceId(kUdid))->last_push_at.empty());
  p.apply(event(events::PushTokenInvalidated{"com.apple.mgmt.t", "stale", 410, "Unregistered"},
                "dispatcher"));
  EXPECT_TRUE(p.reader().device(DeviceId(kUdid))->push_token_invalid_since.empty())
      << "an invalidation of an older token must not mark the current one";
  p.apply(event(events::PushTokenInvalidated{"com.apple.mgmt.t", "abcd", 410, "Unregistered"},
                "dispatcher"));
  EXPECT_EQ(p.reader().device(DeviceId(kUdid))->push_token_invalid_reason, "Unregistered");
  p.apply(event(events::DeviceInactive{"2026-11-22T00:00:00.000Z"}, "dispatcher"));
  EXPECT_FALSE(p.reader().device(DeviceId(kUdid))->inactive_since.empty());
  p.apply(reported("Idle"));
  EXPECT_TRUE(p.reader().device(DeviceId(kUdid))->inactive_since.empty());
  p.apply(token_updated());
  EXPECT_TRUE(p.reader().device(DeviceId(kUdid))->push_token_invalid_since.empty());
}

TEST(Apply, QueueIsFifoAndOnlyFinalStatusesDequeue) {
  Projection p;
  p.apply(enrolled_with_queue({"A", "B", "C"}));
  EXPECT_EQ(p.next(), "A");
  p.apply(delivered("A"));
  EXPECT_EQ(p.next(), "A");  // delivered but not answered: still first
  p.apply(reported("Acknowledged", "A"));
  EXPECT_EQ(p.next(), "B");
  p.apply({delivered("B"), reported("Error", "B")});
  EXPECT_EQ(p.state("B"), CommandState::kError);
  p.apply({delivered("C"), reported("CommandFormatError", "C")});
  EXPECT_EQ(p.next(), std::nullopt);
  EXPECT_EQ(p.reader().queue(DeviceId(kUdid)).size(), 0u);
  EXPECT_EQ(p.reader().commands(DeviceId(kUdid)).size(), 3u);  // history stays
}

TEST(Apply, RepeatedResultForLastCommandDoesNotWipePendingCommands) {
  Projection p;
  p.apply(enrolled_with_queue({"A", "B"}));
  p.apply({delivered("A"), reported("Acknowledged", "A"), reported("Acknowledged", "A")});
  EXPECT_EQ(p.next(), "B");
  EXPECT_EQ(p.state("B"), CommandState::kPending);
  EXPECT_EQ(p.reader().command(DeviceId(kUdid), CommandUuid("A"))->duplicate_results, 1u);
}

TEST(Apply, AcknowledgedCommandIsNeverOfferedAgain) {
  Projection p;
  p.apply(enrolled_with_queue({"A"}));
  p.apply({delivered("A"), reported("Acknowledged", "A")});
  // A late NotNow or a second delivery record for A must not bring it back.
  p.apply({reported("NotNow", "A"), delivered("A")});
  EXPECT_EQ(p.next(), std::nullopt);
  EXPECT_EQ(p.state("A"), CommandState::kAcknowledged);
}

TEST(Apply, LateResultForEarlierCommandDequeuesOnlyThatCommand) {
  Projection p;
  p.apply(enrolled_with_queue({"A", "B", "C"}));
  p.apply({delivered("A"), reported("Acknowledged", "B")});  // B's result arrives out of order
  EXPECT_EQ(p.next(), "A");
  EXPECT_EQ(p.state("B"), CommandState::kAcknowledged);
  p.apply(reported("Acknowledged", "A"));
  EXPECT_EQ(p.next(), "C");
}

TEST(Apply, NotNowWaitsForTheNextSession) {
  Projection p;
  p.apply(enrolled_with_queue({"A", "B"}));
  p.apply({reported("Idle"), delivered("A"), reported("NotNow", "A")});
  EXPECT_EQ(p.state("A"), CommandState::kNotNow);
  EXPECT_EQ(p.next(), "B");  // same session: A is passed over
  p.apply({delivered("B"), reported("NotNow", "B")});
  EXPECT_EQ(p.next(), std::nullopt);  // everything refused: the session ends
  p.apply(reported("Idle"));          // a later session
  EXPECT_EQ(p.next(), "A");           // offered again, still first
  p.apply({delivered("A"), reported("Acknowledged", "A")});
  EXPECT_EQ(p.next(), "B");  // refused in an earlier session: offered in this one
  p.apply({delivered("B"), reported("NotNow", "B")});
  EXPECT_EQ(p.next(), std::nullopt);
  EXPECT_EQ(p.reader().command(DeviceId(kUdid), CommandUuid("B"))->not_now_count, 2u);
}

TEST(Apply, ResultForUnknownCommandChangesNoQueue) {
  Projection p;
  p.apply(enrolled_with_queue({"A"}));
  const auto before = p.reader().queue(DeviceId(kUdid)).size();
  p.apply(reported("Acknowledged", "NEVER-QUEUED"));
  EXPECT_EQ(p.reader().queue(DeviceId(kUdid)).size(), before);
  EXPECT_FALSE(p.reader().command(DeviceId(kUdid), CommandUuid("NEVER-QUEUED")));
}

TEST(Apply, SameUuidTwiceForADeviceKeepsTheFirst) {
  Projection p;
  p.apply(enrolled_with_queue({"A"}));
  p.apply(event(events::CommandEnqueued{"A", "EraseDevice", "<other/>", false}, "admin"));
  EXPECT_EQ(p.reader().queue(DeviceId(kUdid)).size(), 1u);
  EXPECT_EQ(p.reader().command(DeviceId(kUdid), CommandUuid("A"))->request_type,
            "DeviceInformation");
}

TEST(Apply, ReEnrollmentCancelsCommandsQueuedForThePreviousEnrollment) {
  Projection p;
  p.apply(enrolled_with_queue({"ERASE"}));
  const std::string new_cert(64, 'd');
  p.apply(authenticated(new_cert));
  EXPECT_EQ(p.next(), std::nullopt);
  EXPECT_EQ(p.state("ERASE"), CommandState::kCancelled);
  EXPECT_EQ(p.reader().devices_for_certificate(new_cert), std::vector{DeviceId(kUdid)});
  EXPECT_TRUE(p.reader().devices_for_certificate(kCert).empty());  // the old one is unbound
}

// A live replica interleaves partitions as records arrive; `cairn replay` applies them one
// partition after another. Two devices in different partitions claiming one certificate (at the
// same moment, on two ingest nodes) must leave the same projection either way.
TEST(Apply, ProjectionDoesNotDependOnHowPartitionsInterleave) {
  const std::string shared(64, 'x'), own(64, 'y');
  auto as = [](const std::string& udid, const std::string& cert) {
    return event(events::DeviceAuthenticated{"com.apple.mgmt.t", "", cert, "tls", {}, ""}, "device",
                 udid);
  };
  // Device A (partition 0) takes the certificate, then moves to its own; B (partition 1) takes it.
  const std::vector<std::pair<Event, LogPosition>> a = {
      {as("A", shared), {PartitionId(0), Offset(0)}}, {as("A", own), {PartitionId(0), Offset(1)}}};
  const std::pair<Event, LogPosition> b = {as("B", shared), {PartitionId(1), Offset(0)}};
  Projection a_first, b_first, b_between;
  for (const auto& [e, at] : a) a_first.apply_at(e, at);
  a_first.apply_at(b.first, b.second);
  b_first.apply_at(b.first, b.second);
  for (const auto& [e, at] : a) b_first.apply_at(e, at);
  b_between.apply_at(a[0].first, a[0].second);
  b_between.apply_at(b.first, b.second);
  b_between.apply_at(a[1].first, a[1].second);
  EXPECT_EQ(a_first.digest(), b_first.digest());
  EXPECT_EQ(a_first.digest(), b_between.digest());
  EXPECT_EQ(b_between.reader().devices_for_certificate(shared), std::vector{DeviceId("B")});
  // While both held it, both were recorded: ingest refuses it to any third device.
  Projection both;
  both.apply_at(a[0].first, a[0].second);
  both.apply_at(b.first, b.second);
  EXPECT_EQ(both.reader().devices_for_certificate(shared),
            (std::vector{DeviceId("A"), DeviceId("B")}));
}

TEST(Apply, IssuedIdentitiesAreKeptInExpiryOrder) {
  Projection p;
  auto issued = [](const std::string& fp, const std::string& not_after) {
    return event(events::CertificateIssued{"scep", "01", "CN=" + fp, fp, not_after, "tx", ""},
                 "scep", "");
  };
  p.apply({issued("late", "2027-03-01T00:00:00.000Z"), issued("early", "2027-01-01T00:00:00.000Z"),
           issued("gone", "2026-01-01T00:00:00.000Z")});
  const auto soon =
      p.reader().identities_expiring("2026-11-01T00:00:00.000Z", "2027-06-01T00:00:00.000Z", 10);
  ASSERT_EQ(soon.size(), 2u);  // the expired one is outside the window
  EXPECT_EQ(soon[0].fingerprint, "early");
  EXPECT_EQ(soon[1].fingerprint, "late");
  EXPECT_EQ(p.reader()
                .identities_expiring("2026-11-01T00:00:00.000Z", "2027-02-01T00:00:00.000Z", 10)
                .size(),
            1u);
  EXPECT_EQ(p.reader()
                .identities_expiring("2020-01-01T00:00:00.000Z", "2030-01-01T00:00:00.000Z", 2)
                .size(),
            2u);  // the limit
}

TEST(Apply, ProjectionIsAPureFunctionOfTheLog) {
  std::vector<Event> log = enrolled_with_queue({"A", "B", "C"});
  for (const auto& e : std::vector<Event>{
           delivered("A"), reported("NotNow", "A"), delivered("B"), reported("Acknowledged", "B"),
           reported("Acknowledged", "B"), reported("Idle"), delivered("A"), reported("Error", "A")})
    log.push_back(e);
  Projection one_by_one, all_at_once, in_threes;
  one_by_one.apply(log, 1);
  all_at_once.apply(log, log.size());
  in_threes.apply(log, 3);
  EXPECT_EQ(one_by_one.digest(), all_at_once.digest());
  EXPECT_EQ(one_by_one.digest(), in_threes.digest());
  Projection shorter;
  shorter.apply(std::vector<Event>(log.begin(), log.end() - 1));
  EXPECT_NE(shorter.digest(), one_by_one.digest());
}

// Declarative device management: what an enrollment is given is joined when read, so a change to
// a declaration changes the token of every enrollment given it, through the references.
TEST(DeclarativeProjection, AManifestFollowsReferencesAndItsTokenChangesWithThem) {
  Projection p;
  DeclarativeReader ddm(p.reader().store());
  p.apply(
      {event(
           events::DeclarationStored{
               "config", "com.apple.configuration.passcode.settings", "t1", "{}", {}},
           "admin", ""),
       event(
           events::DeclarationStored{"act", "com.apple.activation.simple", "t2", "{}", {"config"}},
           "admin", ""),
       event(events::SetDeclarationChanged{"staff", "act", true}, "admin", ""),
       event(events::EnrollmentSetChanged{"staff", true}, "admin")});
  const auto first = ddm.manifest(kUdid);
  ASSERT_EQ(first.declarations.size(), 2u) << "the activation and the configuration it names";
  EXPECT_EQ(ddm.referrers("config"), std::vector<std::string>{"act"});
  EXPECT_EQ(ddm.manifest("UDID-OTHER").declarations.size(), 0u);
  p.apply(event(
      events::DeclarationStored{
          "config", "com.apple.configuration.passcode.settings", "t3", "{\"x\":1}", {}},
      "admin", ""));
  const auto second = ddm.manifest(kUdid);
  EXPECT_NE(second.token, first.token);
  p.apply(event(events::SetDeclarationChanged{"staff", "act", false}, "admin", ""));
  EXPECT_TRUE(ddm.manifest(kUdid).declarations.empty());
  EXPECT_TRUE(ddm.sets().empty());
}

// A report is the device's to write: one naming thousands of items and declarations (a stolen
// identity) keeps at most the bounds, and says how much it dropped.
TEST(DeclarativeProjection, AHostileStatusReportIsBounded) {
  Projection p;
  DeclarativeReader ddm(p.reader().store());
  std::string items = R"({"StatusItems":{"x":{)";
  for (int i = 0; i < 3000; ++i) items += (i ? "," : "") + ("\"v" + std::to_string(i) + "\":1");
  items += "},\"" + std::string(kLongestStatusPath + 1, 'p') + "\":1,";
  items += R"("management":{"declarations":{"configurations":[)";
  for (int i = 0; i < 3000; ++i)
    items += (i ? "," : "") + (R"({"identifier":"d)" + std::to_string(i) +
                               R"(","server-token":"t","active":true,"valid":"valid"})");
  items += "]}}},\"Errors\":[]}";
  p.apply({authenticated(), token_updated(), status_report(items)});
  EXPECT_EQ(ddm.status_values(kUdid).size(), kMostStatusValues);
  EXPECT_EQ(ddm.statuses(kUdid).size(), kMostStatusValues);
  EXPECT_EQ(ddm.enrollment(kUdid)->values_dropped, 2u * (3000 - kMostStatusValues) + 1);
  EXPECT_EQ(ddm.enrollment(kUdid)->reports.size(), 1u);

  // Nested deeper than any report (reading values recurses): not applied, and no crash.
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  rapidjson::Document parsed;
  const std::string too_deep = R"({"StatusItems":{"x":)" + deep + "}}";
  parsed.Parse<rapidjson::kParseIterativeFlag>(too_deep.c_str());
  EXPECT_FALSE(nested_within(parsed, kDeepestStatusReport));
  MemoryState state;
  const auto e = status_report(R"({"StatusItems":{"x":)" + deep + R"(},"Errors":[]})");
  EXPECT_EQ(apply_status_report(state, e, {PartitionId(0), Offset(0)},
                                std::get<events::StatusReported>(e.payload)),
            StatusApplied::kUnreadable);
  EXPECT_TRUE(state.contents().empty());
}

TEST(DeclarativeProjection, StatusItemsAreFiltersAndANewEnrollmentStartsWithoutThem) {
  Projection p;
  DeclarativeReader ddm(p.reader().store());
  const auto matching = [&](const std::string& filter, const std::string& value) {
    return p.reader().devices_matching(filter, value, "", 10).size();
  };
  p.apply({authenticated(), token_updated(),
           event(events::EnrollmentSetChanged{"staff", true}, "admin")});
  p.apply(status_report(
      R"({"StatusItems":{"passcode":{"is-compliant":false},"device":{"operating-system":)"
      R"({"version":"17.1"}},"odd/name":{"x":"1"},"long":{"x":")" +
      std::string(kLongestIndexedStatusValue + 1, 'v') + R"("}},"Errors":[]})"));
  EXPECT_EQ(matching("status.passcode.is-compliant", "false"), 1u);
  EXPECT_EQ(matching("status.device.operating-system.version", "17.1"), 1u);
  EXPECT_EQ(ddm.status_values(kUdid).size(), 4u);  // all kept; two not filterable:
  EXPECT_TRUE(status_filter("odd/name.x").empty());
  EXPECT_EQ(matching("status.long.x", std::string(kLongestIndexedStatusValue + 1, 'v')), 0u);

  // A changed value moves the device in its index; a full report drops what it no longer has.
  p.apply(status_report(
      R"({"StatusItems":{"device":{"operating-system":{"version":"17.2"}}},"Errors":[]})"));
  EXPECT_EQ(matching("status.device.operating-system.version", "17.1"), 0u);
  EXPECT_EQ(matching("status.device.operating-system.version", "17.2"), 1u);
  EXPECT_EQ(matching("status.passcode.is-compliant", "false"), 1u);
  p.apply(status_report(
      R"({"StatusItems":{"device":{"operating-system":{"version":"17.2"}}},"Errors":[]})", true));
  EXPECT_EQ(matching("status.passcode.is-compliant", "false"), 0u);
  EXPECT_EQ(ddm.status_values(kUdid).size(), 1u);

  // An item a report names replaces what was there, a value or an object of them; a value too
  // long to keep is forgotten rather than left for the filter to find.
  p.apply(status_report(R"({"StatusItems":{"device":{"operating-system":"18"}},"Errors":[]})"));
  EXPECT_EQ(matching("status.device.operating-system.version", "17.2"), 0u);
  EXPECT_EQ(matching("status.device.operating-system", "18"), 1u);
  p.apply(status_report(
      R"({"StatusItems":{"device":{"operating-system":{"version":"18.1"}}},"Errors":[]})"));
  EXPECT_EQ(matching("status.device.operating-system", "18"), 0u);
  EXPECT_EQ(matching("status.device.operating-system.version", "18.1"), 1u);
  p.apply(status_report(R"({"StatusItems":{"device":{"operating-system":{"version":")" +
                        std::string(kLongestStatusValue, 'v') + R"("}}},"Errors":[]})"));
  EXPECT_EQ(matching("status.device.operating-system.version", "18.1"), 0u);
  EXPECT_TRUE(ddm.status_values(kUdid).empty());

  // Enrolled anew (erased) with another identity: nothing it reported before is left, its sets
  // are; a report the old identity sent just before, applied after, stays in the log only.
  p.apply(status_report(R"({"StatusItems":{"passcode":{"is-compliant":true}},"Errors":[]})"));
  p.apply(authenticated(std::string(64, 'n')));
  EXPECT_EQ(matching("status.passcode.is-compliant", "true"), 0u);
  EXPECT_TRUE(ddm.status_values(kUdid).empty());
  EXPECT_FALSE(ddm.enrollment(kUdid).has_value());
  EXPECT_EQ(ddm.enrollment_sets(kUdid), std::vector<std::string>{"staff"});
  p.apply(status_report(R"({"StatusItems":{"passcode":{"is-compliant":true}},"Errors":[]})"));
  EXPECT_EQ(matching("status.passcode.is-compliant", "true"), 0u) << "from the old identity";
  p.apply(status_report(R"({"StatusItems":{"passcode":{"is-compliant":true}},"Errors":[]})", false,
                        std::string(64, 'n')));
  EXPECT_EQ(matching("status.passcode.is-compliant", "true"), 1u) << "from the new one";
}

}  // namespace
}  // namespace cairn::projector
