// The projection function: how one event changes device state and command queues.
// Pure: it reads only the event and the state built from earlier events (never the clock or
// randomness), so replaying the log into an empty store reproduces the live store byte for byte.
#pragma once

#include "common/strong_types.hpp"
#include "projector/state.hpp"
#include "schemas/events.hpp"

namespace cairn::projector {

// What applying an event could not use. A result whose body does not parse still answers its
// command (the command's state moves on) but leaves inventory as it was; the caller counts it.
enum class Applied { kFully, kResultUninterpretable };

Applied apply_event(const events::Event& event, LogPosition position, State& state);

}  // namespace cairn::projector
