// The projection function: how one event changes device state and command queues.
// Pure: it reads only the event and the state built from earlier events (never the clock or
// randomness), so replaying the log into an empty store reproduces the live store byte for byte.
#pragma once

#include "common/strong_types.hpp"
#include "projector/state.hpp"
#include "schemas/events.hpp"

namespace cairn::projector {

void apply_event(const events::Event& event, LogPosition position, State& state);

}  // namespace cairn::projector
