// Typed inventory: what a device said in its latest result of each kind (DeviceInformation,
// SecurityInfo, InstalledApplicationList, ProfileList, ProvisioningProfileList, CertificateList,
// Restrictions, ManagedApplicationList), field by field, each with when and from which command.
// A projection of the results the log keeps verbatim: a replay rebuilds it, and a better
// extraction here applies to the whole history.
//
//   f/<udid>/<field>                  → InventoryRecord (the value as JSON)
//   x/<filter>=<value>/<udid>         → "" (what devices can be filtered on; value escaped)
// Filters: os_version, model (ProductName), serial, passcode_compliant (true|false), app (an
// installed app's identifier), profile (an installed profile's PayloadIdentifier).
#pragma once

#include <string>
#include <string_view>

#include "projector/state.hpp"

namespace cairn::projector {

bool is_inventory_request(std::string_view request_type);

// From an Acknowledged result's plist body (as received) to the command `command_plist` (as
// queued). A body it cannot read changes nothing (the log keeps it) and returns false. A list
// narrowed by the command (Identifiers, ManagedOnly, ManagedAppsOnly) does not replace the full
// one: it is kept as "<field>.Narrowed", unindexed.
bool apply_inventory(State& state, const std::string& udid, const std::string& request_type,
                     const std::string& command_uuid, const std::string& time,
                     std::string_view body, std::string_view command_plist);

// A new enrollment starts without the previous one's inventory (and its filter entries).
void clear_inventory(State& state, const std::string& udid);

inline constexpr std::string_view kInventoryFilters[] = {"os_version",         "model", "serial",
                                                         "passcode_compliant", "app",   "profile"};

}  // namespace cairn::projector
