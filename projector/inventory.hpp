// Typed inventory: what a device said in its latest result of each kind (DeviceInformation,
// SecurityInfo, InstalledApplicationList, ProfileList, ProvisioningProfileList, CertificateList,
// Restrictions, ManagedApplicationList), field by field, each with when and from which command.
// A projection of the results the log keeps verbatim: a replay rebuilds it, and a better
// extraction here applies to the whole history.
//
//   f/<udid>/<field>                  → InventoryRecord (the value as JSON)
//   x/<filter>=<value>/<udid>         → "" (what devices can be filtered on; value escaped)
// Filters: os_version, model (ProductName), serial, passcode_compliant (true|false), app (an
// installed app's identifier), profile (an installed profile's PayloadIdentifier); and each
// declarative (DDM) status item a device reports, as status.<item> (status.passcode.is-compliant,
// status.device.operating-system.version): its latest scalar value.
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

// DDM status items as filters: "status.<item path>" for items whose path is plain ([A-Za-z0-9._-],
// as Apple names them) and whose value is a string, boolean or integer of at most 256 bytes; the
// projection of status reports (projector/declarative) keeps this index in step with its values.
inline constexpr std::string_view kStatusFilterPrefix = "status.";
inline constexpr size_t kLongestIndexedStatusPath = 256;
inline constexpr size_t kLongestIndexedStatusValue = 256;
// The filter of a status item ("status.<item>"), or "" when the item cannot be filtered on.
std::string status_filter(std::string_view item);
// Moves the device's entry in the item's index from its value `before_json` to `after_json` (JSON
// text; empty when there is none).
void index_status_value(State& state, const std::string& udid, std::string_view item,
                        std::string_view before_json, std::string_view after_json);
// A filter name /api/v1/devices takes: one of kInventoryFilters or status.<item>.
bool is_known_filter(std::string_view filter);

inline constexpr std::string_view kInventoryFilters[] = {"os_version",         "model", "serial",
                                                         "passcode_compliant", "app",   "profile"};

}  // namespace cairn::projector
