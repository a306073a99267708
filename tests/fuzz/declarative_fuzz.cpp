// libFuzzer target: the bytes declarative device management reads from outside. The first byte
// chooses: a declaration as PUT /v1/declarations reads it (checked against Apple's schema: a
// mistake is a ClientError, never a crash or another exception), or a device's status report as
// ingest checks it and the projection applies it (whatever it holds, the enrollment's store stays
// within its bounds, its filter index in step, and a new enrollment clears all of it).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/errors.hpp"
#include "plist/plist.hpp"
#include "projector/declarative.hpp"
#include "projector/keys.hpp"
#include "protocol/declaration_catalog.hpp"

namespace {

size_t count(cairn::projector::State& state, const std::string& prefix) {
  size_t n = 0;
  state.scan(prefix, {}, [&](std::string_view, std::string_view) {
    ++n;
    return true;
  });
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  using namespace cairn;
  if (data[0] % 2 == 0) {
    try {
      (void)protocol::DeclarationCatalog::builtin().validate(input);
    } catch (const ClientError&) {
    }
    return 0;
  }
  Plist message = Plist::new_dict();
  message.set_string("MessageType", "DeclarativeManagement");
  message.set_string("Endpoint", "status");
  message.set_data("Data", input);
  events::Event e{
      "id-1",
      "2026-12-05T00:00:00.000Z",
      "FUZZ-DEVICE",
      "node",
      "device",
      events::StatusReported{data[0] % 4 == 1, "", events::raw_message(message.to_xml())}};
  projector::MemoryState state;
  for (int report = 0; report < 2; ++report)  // a second report meets the first's state
    (void)projector::apply_status_report(state, e, {PartitionId(0), Offset(report)},
                                         std::get<events::StatusReported>(e.payload));
  using projector::keys::ddm_prefix;
  if (count(state, ddm_prefix(projector::keys::kStatusValue, "FUZZ-DEVICE")) >
          projector::kMostStatusValues ||
      count(state, ddm_prefix(projector::keys::kDeclarationStatus, "FUZZ-DEVICE")) >
          projector::kMostStatusValues)
    std::abort();  // a device's report filled the store past its bound
  // Its status items' filter entries: one per value at most; none left once it enrolls anew.
  if (count(state, "x/") > count(state, ddm_prefix(projector::keys::kStatusValue, "FUZZ-DEVICE")))
    std::abort();
  projector::clear_reported_state(state, "FUZZ-DEVICE");
  if (!state.contents().empty()) std::abort();  // a stale filter entry or status survived
  return 0;
}
