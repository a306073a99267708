// Appends events for ingest and implements the read-your-writes wait: after the log accepts an
// event durably, wait until the local projection has applied it, so the answer reflects it.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "common/throttle.hpp"
#include "eventlog/event_log.hpp"
#include "projector/watermark.hpp"
#include "schemas/events.hpp"

namespace cairn::ingest {

// What a refusal's event and log line keep of a field the sender chose (a reason quoting input,
// a path, a content type, a SCEP transaction ID).
inline constexpr size_t kMaxRecordedField = 256;

class EventWriter {
 public:
  EventWriter(eventlog::EventLog& log, const projector::AppliedWatermark& watermark,
              std::string node, std::chrono::milliseconds apply_timeout,
              std::chrono::seconds refusal_record_interval = std::chrono::seconds(10));

  // A new event with a fresh id, the current time and this node's name.
  events::Event make(std::string device, std::string actor, events::Payload payload) const;

  // Durable when it returns. Throws Unavailable if the log refuses.
  std::vector<LogPosition> append(const std::vector<events::Event>& batch);
  // Durable and applied to the projection when it returns. Throws Unavailable on timeout.
  void append_and_wait_applied(const std::vector<events::Event>& batch);
  // Waits until the projection has applied these positions. Throws Unavailable on timeout.
  void wait_applied(const std::vector<LogPosition>& positions) const;
  // Waits until the projection has applied everything the log holds now. A negative answer
  // about a device (unknown, checked out) is only trusted after this. Throws Unavailable.
  void wait_caught_up() const;
  // `read()`, and once more after catching up if it found nothing: what another node recorded a
  // moment ago may not be applied here yet. Found things are answered without waiting.
  template <class Read>
  auto find_caught_up(Read read) const {
    auto found = read();
    if (!found) {
      wait_caught_up();
      found = read();
    }
    return found;
  }
  // Whether a refusal of an unauthenticated request from `source` (its address) is recorded: the
  // first per source per refusal_record_interval is, with the number dropped since (`repeated`
  // of the event); the rest are only counted. A stranger's flood then costs a counter, not a
  // durable write and a log line each.
  std::optional<uint64_t> admit_refusal(const std::string& source) {
    return refusals_.admit(source);
  }
  uint64_t refusals_not_recorded() const { return refusals_.suppressed_total(); }

  // `refusal()`: why something may not be done, or empty if it may. A refusal is trusted only
  // on a projection caught up with the log (what another node recorded a moment ago may allow
  // it), so it is asked once more after catching up. Allowances are answered without waiting.
  template <class Refusal>
  std::string refusal_caught_up(Refusal refusal) const {
    std::string why = refusal();
    if (why.empty()) return why;
    wait_caught_up();
    return refusal();
  }

 private:
  void wait_applied(const std::map<PartitionId, Offset>& last_offsets) const;
  static std::map<PartitionId, Offset> highest(const std::vector<LogPosition>& positions);

  eventlog::EventLog& log_;
  const projector::AppliedWatermark& watermark_;
  std::string node_;
  std::chrono::milliseconds apply_timeout_;
  KeyedThrottle refusals_;
};

}  // namespace cairn::ingest
