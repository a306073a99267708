// A declarative management (DDM) sync as a device runs it when a DeclarativeManagement command
// asks: its tokens; when the DeclarationsToken is not the one it holds, the declaration items,
// each new or changed declaration, and then a status report of what it holds now.
#pragma once

#include <string>

#include "devsim/connection.hpp"
#include "devsim/simulated_device.hpp"

namespace cairn::devsim {

struct SyncOutcome {
  int requests = 0;
  int declarations_fetched = 0;
  bool reported = false;  // a status report was sent (and taken: 200)
  std::string error;      // empty when every request was answered 200
};

SyncOutcome sync_declarations(SimulatedDevice& device, DeviceConnection& connection);

}  // namespace cairn::devsim
