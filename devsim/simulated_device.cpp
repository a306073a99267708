#include "devsim/simulated_device.hpp"

#include <openssl/cms.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>

#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "crypto/certificate.hpp"
#include "crypto/digest.hpp"
#include "plist/plist.hpp"
#include "protocol/declaration_catalog.hpp"

namespace cairn::devsim {
namespace {

// The version DeviceInformation and status reports give.
constexpr const char* kOsVersion = "17.5.1";

constexpr std::array<std::string_view, 9> kNeverNotNow{"DeviceInformation",
                                                       "ProfileList",
                                                       "DeviceLock",
                                                       "EraseDevice",
                                                       "ClearPasscode",
                                                       "CertificateList",
                                                       "ProvisioningProfileList",
                                                       "InstalledApplicationList",
                                                       "Restrictions"};

plist_t str(std::string_view s) {
  return plist_new_string(std::string(s).c_str());
}
plist_t data_node(std::string_view bytes) {
  return plist_new_data(bytes.data(), bytes.size());
}
void set(plist_t dict, const char* key, plist_t value) {
  plist_dict_set_item(dict, key, value);
}

std::string string_in(plist_t dict, const char* key) {
  plist_t node = dict ? plist_dict_get_item(dict, key) : nullptr;
  if (!node || plist_get_node_type(node) != PLIST_STRING) return {};
  char* raw = nullptr;
  plist_get_string_val(node, &raw);
  std::string out(raw ? raw : "");
  std::free(raw);
  return out;
}

std::string data_in(plist_t dict, const char* key) {
  plist_t node = dict ? plist_dict_get_item(dict, key) : nullptr;
  if (!node || plist_get_node_type(node) != PLIST_DATA) return {};
  char* raw = nullptr;
  uint64_t length = 0;
  plist_get_data_val(node, &raw, &length);
  std::string out(raw ? raw : "", raw ? length : 0);
  std::free(raw);
  return out;
}

// The plist inside a profile: as sent, or the content of a CMS signature around it.
std::string unwrap_profile(const std::string& payload) {
  if (payload.empty() || static_cast<unsigned char>(payload[0]) != 0x30) return payload;
  auto bio = crypto::memory_bio(payload);
  crypto::CmsPtr cms(d2i_CMS_bio(bio.get(), nullptr));
  if (!cms) return {};
  ASN1_OCTET_STRING** content = CMS_get0_content(cms.get());
  if (!content || !*content) return {};
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(*content)),
                     static_cast<size_t>(ASN1_STRING_length(*content)));
}

}  // namespace

// A command result being built: Status, UDID, CommandUUID, and what the handler adds.
class SimulatedDevice::Answer {
 public:
  Answer(std::string_view status, const SimulatedDevice& device, const std::string& uuid)
      : plist_(Plist::new_dict()) {
    set(root(), "Status", str(status));
    device.name_channel(root());
    set(root(), "CommandUUID", str(uuid));
  }
  plist_t root() const { return plist_.root(); }
  // Turns the result into an Error with one ErrorChain entry, as devices report failures.
  Answer& error(int code, std::string_view domain, std::string_view description) {
    set(root(), "Status", str("Error"));
    plist_t entry = plist_new_dict();
    set(entry, "ErrorCode", plist_new_uint(static_cast<uint64_t>(code)));
    set(entry, "ErrorDomain", str(domain));
    set(entry, "LocalizedDescription", str(description));
    set(entry, "USEnglishDescription", str(description));
    plist_t chain = plist_new_array();
    plist_array_append_item(chain, entry);
    set(root(), "ErrorChain", chain);
    return *this;
  }
  std::string xml() const { return plist_.to_xml(); }

 private:
  Plist plist_;
};

bool never_not_now(std::string_view request_type) {
  for (auto t : kNeverNotNow)
    if (t == request_type) return true;
  return false;
}

SimulatedDevice::SimulatedDevice(std::string udid, pki::Identity identity, std::string topic,
                                 uint64_t seed, Enrollment enrollment)
    : udid_(std::move(udid)),
      identity_(std::move(identity)),
      topic_(std::move(topic)),
      enrollment_(enrollment),
      rng_(seed) {
  auto bytes = [this](size_t n) {
    std::string out(n, '\0');
    for (auto& c : out) c = static_cast<char>(rng_() & 0xff);
    return out;
  };
  token_ = bytes(32);
  push_magic_ = hex_encode(bytes(16));
  unlock_token_ = bytes(2048);
  serial_ = "SIM" + hex_encode(bytes(4));
  profiles_["com.example.mdm.enrollment"] = {hex_encode(bytes(16)), "MDM enrollment", false};
}

std::string SimulatedDevice::push_token_hex() const {
  return hex_encode(token_);
}

SimulatedDevice SimulatedDevice::mac_user(const SimulatedDevice& device, std::string user_id,
                                          uint64_t seed) {
  SimulatedDevice user(device.udid_, pki::share(device.identity_), device.topic_, seed,
                       device.enrollment_);
  user.user_id_ = std::move(user_id);
  return user;
}

std::string SimulatedDevice::channel_id() const {
  return user_id_.empty() ? udid_ : udid_ + ":" + user_id_;
}

void SimulatedDevice::name_channel(plist_t message) const {
  set(message, enrollment_ == Enrollment::kUser ? "EnrollmentID" : "UDID", str(udid_));
  if (user_id_.empty()) return;
  set(message, "UserID", str(user_id_));
  set(message, "UserShortName", str("user-" + user_id_));
  set(message, "UserLongName", str("Simulated User " + user_id_));
}

Plist SimulatedDevice::checkin_message(std::string_view type) const {
  Plist p = Plist::new_dict();
  p.set_string("MessageType", type);
  p.set_string("Topic", topic_);
  name_channel(p.root());
  return p;
}

std::string SimulatedDevice::user_authenticate() const {
  Plist p = checkin_message("UserAuthenticate");
  p.remove("Topic");  // not one of UserAuthenticate's keys
  return p.to_xml();
}

std::string SimulatedDevice::authenticate() const {
  Plist p = checkin_message("Authenticate");
  // A User Enrollment keeps the hardware's identifiers to itself.
  if (enrollment_ == Enrollment::kDevice) p.set_string("SerialNumber", serial_);
  return p.to_xml();
}

std::string SimulatedDevice::token_update() const {
  Plist p = checkin_message("TokenUpdate");
  p.set_data("Token", token_);
  p.set_string("PushMagic", push_magic_);
  // Only a device channel escrows an UnlockToken, and not a User Enrollment's.
  if (enrollment_ == Enrollment::kDevice && user_id_.empty())
    p.set_data("UnlockToken", unlock_token_);
  if (awaiting_configuration_) p.set_bool("AwaitingConfiguration", true);
  return p.to_xml();
}

void SimulatedDevice::begin_automated_enrollment(std::string serial) {
  serial_ = std::move(serial);
  awaiting_configuration_ = true;
}

std::string SimulatedDevice::machine_info() const {
  Plist p = Plist::new_dict();
  p.set_string("UDID", udid_);
  p.set_string("SERIAL", serial_);
  p.set_string("PRODUCT", "iPhone15,4");
  p.set_string("VERSION", "21F90");
  p.set_string("OS_VERSION", kOsVersion);
  p.set_string("LANGUAGE", "en");
  return p.to_xml();
}

std::string SimulatedDevice::checkout() const {
  return checkin_message("CheckOut").to_xml();
}

std::string SimulatedDevice::idle() const {
  Plist p = Plist::new_dict();
  p.set_string("Status", "Idle");
  name_channel(p.root());
  return p.to_xml();
}

std::set<std::string> SimulatedDevice::profile_identifiers() const {
  std::set<std::string> ids;
  for (const auto& [id, _] : profiles_) ids.insert(id);
  return ids;
}

std::string SimulatedDevice::execute(std::string_view command_plist) {
  std::string uuid, type;
  std::optional<Plist> command;
  try {
    const Plist message = Plist::parse(command_plist);
    uuid = message.string("CommandUUID").value_or("");
    command = message.dict("Command");
    if (command) type = command->string("RequestType").value_or("");
  } catch (const BadRequest&) {
  }
  if (!command || type.empty()) return Answer("CommandFormatError", *this, uuid).xml();
  if (locked_ && !never_not_now(type)) return Answer("NotNow", *this, uuid).xml();
  using Handler = void (SimulatedDevice::*)(plist_t, Answer&);
  static const std::map<std::string_view, Handler> kHandlers{
      {"ProfileList", &SimulatedDevice::profile_list},
      {"InstallProfile", &SimulatedDevice::install_profile},
      {"RemoveProfile", &SimulatedDevice::remove_profile},
      {"ProvisioningProfileList", &SimulatedDevice::provisioning_profile_list},
      {"InstallProvisioningProfile", &SimulatedDevice::install_provisioning_profile},
      {"RemoveProvisioningProfile", &SimulatedDevice::remove_provisioning_profile},
      {"CertificateList", &SimulatedDevice::certificate_list},
      {"InstalledApplicationList", &SimulatedDevice::installed_application_list},
      {"DeviceInformation", &SimulatedDevice::device_information},
      {"SecurityInfo", &SimulatedDevice::security_info},
      {"DeviceLock", &SimulatedDevice::device_lock},
      {"ClearPasscode", &SimulatedDevice::clear_passcode},
      {"EraseDevice", &SimulatedDevice::erase_device},
      {"Restrictions", &SimulatedDevice::restrictions},
      {"InstallApplication", &SimulatedDevice::install_application},
      {"ApplyRedemptionCode", &SimulatedDevice::apply_redemption_code},
      {"ManagedApplicationList", &SimulatedDevice::managed_application_list},
      {"RemoveApplication", &SimulatedDevice::remove_application},
      {"Settings", &SimulatedDevice::settings},
      {"DeclarativeManagement", &SimulatedDevice::declarative_management_command},
      {"DeviceConfigured", &SimulatedDevice::device_configured},
  };
  const auto handler = kHandlers.find(type);
  // A request type the device does not know, answered as a real device answers it.
  if (handler == kHandlers.end()) return Answer("CommandFormatError", *this, uuid).xml();
  Answer answer("Acknowledged", *this, uuid);
  (this->*handler->second)(command->root(), answer);
  return answer.xml();
}

void SimulatedDevice::profile_list(plist_t, Answer& answer) {
  plist_t list = plist_new_array();
  for (const auto& [id, profile] : profiles_) {
    plist_t entry = plist_new_dict();
    set(entry, "PayloadIdentifier", str(id));
    set(entry, "PayloadUUID", str(profile.uuid));
    set(entry, "PayloadDisplayName", str(profile.display_name));
    set(entry, "PayloadVersion", plist_new_uint(1));
    set(entry, "IsManaged", plist_new_bool(profile.managed));
    plist_array_append_item(list, entry);
  }
  set(answer.root(), "ProfileList", list);
}

void SimulatedDevice::install_profile(plist_t command, Answer& answer) {
  const std::string inner = unwrap_profile(data_in(command, "Payload"));
  try {
    const Plist profile = Plist::parse(inner);
    const auto id = profile.string("PayloadIdentifier").value_or("");
    if (id.empty()) throw BadRequest("no PayloadIdentifier");
    profiles_[id] = {profile.string("PayloadUUID").value_or(""),
                     profile.string("PayloadDisplayName").value_or(id), true};
  } catch (const BadRequest&) {
    answer.error(1000, "MCProfileErrorDomain", "The profile is malformed.");
  }
}

void SimulatedDevice::remove_profile(plist_t command, Answer& answer) {
  const auto id = string_in(command, "Identifier");
  auto it = profiles_.find(id);
  if (it == profiles_.end() || !it->second.managed)
    answer.error(1001, "MCProfileErrorDomain",
                 "The profile \"" + id + "\" is not installed by MDM.");
  else
    profiles_.erase(it);
}

void SimulatedDevice::provisioning_profile_list(plist_t, Answer& answer) {
  plist_t list = plist_new_array();
  for (const auto& [profile_uuid, name] : provisioning_profiles_) {
    plist_t entry = plist_new_dict();
    set(entry, "Name", str(name));
    set(entry, "UUID", str(profile_uuid));
    set(entry, "ExpiryDate", plist_new_date(1893456000 - kPlistDateEpoch, 0));  // 2030
    plist_array_append_item(list, entry);
  }
  set(answer.root(), "ProvisioningProfileList", list);
}

void SimulatedDevice::install_provisioning_profile(plist_t command, Answer& answer) {
  const auto bytes = data_in(command, "ProvisioningProfile");
  if (bytes.empty()) {
    answer.error(2001, "MCProvisioningProfileErrorDomain", "The provisioning profile is invalid.");
  } else {
    const auto id = crypto::sha256_hex(bytes).substr(0, 32);  // "no error if already installed"
    provisioning_profiles_[id] = "Provisioning profile " + id.substr(0, 8);
  }
}

void SimulatedDevice::remove_provisioning_profile(plist_t command, Answer& answer) {
  if (provisioning_profiles_.erase(string_in(command, "UUID")) == 0)
    answer.error(2002, "MCProvisioningProfileErrorDomain",
                 "The provisioning profile is not installed.");
}

void SimulatedDevice::certificate_list(plist_t, Answer& answer) {
  plist_t list = plist_new_array();
  plist_t entry = plist_new_dict();
  set(entry, "CommonName", str(udid_));
  set(entry, "IsIdentity", plist_new_bool(1));
  set(entry, "Data", data_node(crypto::certificate_der(identity_.cert.get())));
  plist_array_append_item(list, entry);
  set(answer.root(), "CertificateList", list);
}

void SimulatedDevice::installed_application_list(plist_t, Answer& answer) {
  plist_t list = plist_new_array();
  auto add = [&](const std::string& id, const std::string& name, const std::string& version) {
    plist_t entry = plist_new_dict();
    set(entry, "Identifier", str(id));
    set(entry, "Name", str(name));
    set(entry, "Version", str(version));
    set(entry, "ShortVersion", str(version));
    set(entry, "BundleSize", plist_new_uint(25'000'000));
    set(entry, "DynamicSize", plist_new_uint(1'000'000));
    plist_array_append_item(list, entry);
  };
  add("com.example.mail", "Mail Client", "4.2");
  for (const auto& [id, app] : managed_apps_)
    if (!app.needs_redemption) add(id, app.name, app.version);
  set(answer.root(), "InstalledApplicationList", list);
}

void SimulatedDevice::device_information(plist_t command, Answer& answer) {
  std::map<std::string, std::string> strings{
      {"UDID", udid_},
      {"DeviceName", "Simulated iPhone " + udid_.substr(udid_.size() > 4 ? udid_.size() - 4 : 0)},
      {"OSVersion", kOsVersion},
      {"BuildVersion", "21F90"},
      {"ModelName", "iPhone"},
      {"Model", "MQ8T3LL/A"},
      {"ProductName", "iPhone15,4"},
      {"SerialNumber", serial_},
      {"IMEI", "35 209900 176148 1"},
      {"ModemFirmwareVersion", "1.50.00"},
      {"ICCID", "8901 2600 0000 0000 001"},
      {"BluetoothMAC", "a4:83:e7:00:00:01"},
      {"WiFiMAC", "a4:83:e7:00:00:02"},
      {"CurrentCarrierNetwork", "Carrier"},
      {"SIMCarrierNetwork", "Carrier"},
      {"SubscriberCarrierNetwork", "Carrier"},
      {"CarrierSettingsVersion", "55.0"},
      {"PhoneNumber", "15555550100"},
      {"SubscriberMCC", "310"},
      {"SubscriberMNC", "260"},
      {"SIMMCC", "310"},
      {"SIMMNC", "260"},
      {"CurrentMCC", "310"},
      {"CurrentMNC", "260"}};
  if (enrollment_ == Enrollment::kUser)  // what a User Enrollment does not reveal
    for (const char* hidden : {"UDID", "SerialNumber", "IMEI", "ICCID", "PhoneNumber"})
      strings.erase(hidden);
  const std::map<std::string, double> reals{
      {"DeviceCapacity", 119.1}, {"AvailableDeviceCapacity", 87.3}, {"BatteryLevel", 0.82}};
  const std::map<std::string, bool> bools{
      {"VoiceRoamingEnabled", false}, {"DataRoamingEnabled", false}, {"isRoaming", false}};
  plist_t responses = plist_new_dict();
  auto respond = [&](const std::string& q) {  // queries the device does not know are dropped
    if (auto s = strings.find(q); s != strings.end()) set(responses, q.c_str(), str(s->second));
    if (auto d = reals.find(q); d != reals.end())
      set(responses, q.c_str(), plist_new_real(d->second));
    if (auto b = bools.find(q); b != bools.end())
      set(responses, q.c_str(), plist_new_bool(b->second));
    if (q == "CellularTechnology") set(responses, q.c_str(), plist_new_uint(1));
  };
  plist_t queries = plist_dict_get_item(command, "Queries");
  if (queries && plist_get_node_type(queries) == PLIST_ARRAY) {
    for (uint32_t i = 0; i < plist_array_get_size(queries); ++i) {
      plist_t q = plist_array_get_item(queries, i);
      if (plist_get_node_type(q) != PLIST_STRING) continue;
      char* raw = nullptr;
      plist_get_string_val(q, &raw);
      respond(raw ? raw : "");
      std::free(raw);
    }
  } else {
    for (const auto& [q, _] : strings) respond(q);
    for (const auto& [q, _] : reals) respond(q);
    for (const auto& [q, _] : bools) respond(q);
    respond("CellularTechnology");
  }
  set(answer.root(), "QueryResponses", responses);
}

void SimulatedDevice::security_info(plist_t, Answer& answer) {
  plist_t info = plist_new_dict();
  set(info, "HardwareEncryptionCaps", plist_new_uint(3));
  set(info, "PasscodePresent", plist_new_bool(passcode_present_));
  set(info, "PasscodeCompliant", plist_new_bool(passcode_present_));
  set(info, "PasscodeCompliantWithProfiles", plist_new_bool(passcode_present_));
  set(answer.root(), "SecurityInfo", info);
}

void SimulatedDevice::device_lock(plist_t, Answer&) {
  locked_ = true;
}

void SimulatedDevice::clear_passcode(plist_t command, Answer& answer) {
  if (data_in(command, "UnlockToken") != unlock_token_)
    answer.error(12021, "MCMDMErrorDomain", "The unlock token is invalid.");
  else
    passcode_present_ = false;
}

void SimulatedDevice::erase_device(plist_t, Answer&) {
  erased_ = true;  // the answer goes out; then the device is wiped and unmanaged
  profiles_.clear();
  managed_apps_.clear();
  provisioning_profiles_.clear();
}

void SimulatedDevice::restrictions(plist_t command, Answer& answer) {
  auto restrictions = [] {
    plist_t d = plist_new_dict();
    plist_t bools = plist_new_dict();
    plist_t camera = plist_new_dict();
    set(camera, "value", plist_new_bool(1));
    set(bools, "allowCamera", camera);
    set(d, "restrictedBool", bools);
    plist_t values = plist_new_dict();
    plist_t inactivity = plist_new_dict();
    set(inactivity, "value", plist_new_uint(5));
    set(values, "maxInactivity", inactivity);
    set(d, "restrictedValue", values);
    return d;
  };
  set(answer.root(), "GlobalRestrictions", restrictions());
  plist_t per_profile = plist_dict_get_item(command, "ProfileRestrictions");
  if (per_profile && plist_get_node_type(per_profile) == PLIST_BOOLEAN &&
      plist_bool_val_is_true(per_profile)) {
    plist_t by_profile = plist_new_dict();
    for (const auto& [id, profile] : profiles_)
      if (profile.managed) set(by_profile, id.c_str(), restrictions());
    set(answer.root(), "ProfileRestrictions", by_profile);
  }
}

void SimulatedDevice::install_application(plist_t command, Answer& answer) {
  plist_t store_id = plist_dict_get_item(command, "iTunesStoreID");
  const std::string manifest = string_in(command, "ManifestURL");
  if ((store_id != nullptr) == !manifest.empty()) {
    answer.error(4, "MCInstallationErrorDomain",
                 "Exactly one of iTunesStoreID or ManifestURL is required.");
    set(answer.root(), "RejectionReason", str("NotSupported"));
  } else {
    uint64_t id_number = 0;
    if (store_id && plist_get_node_type(store_id) == PLIST_UINT)
      plist_get_uint_val(store_id, &id_number);
    const std::string bundle = store_id
                                   ? "com.appstore.app" + std::to_string(id_number)
                                   : "com.enterprise." + crypto::sha256_hex(manifest).substr(0, 8);
    if (managed_apps_.contains(bundle)) {
      answer.error(5, "MCInstallationErrorDomain", "The app is already installed.");
      set(answer.root(), "RejectionReason", str("AppAlreadyInstalled"));
    } else {
      uint64_t flags = 0;
      if (plist_t f = plist_dict_get_item(command, "ManagementFlags");
          f && plist_get_node_type(f) == PLIST_UINT)
        plist_get_uint_val(f, &flags);
      const bool paid = store_id && id_number % 2 == 1;  // odd store IDs need a redemption code
      managed_apps_[bundle] = {bundle, "App " + bundle, "1.0", static_cast<int64_t>(flags), paid};
      set(answer.root(), "Identifier", str(bundle));
      set(answer.root(), "State", str(paid ? "NeedsRedemption" : "Installing"));
    }
  }
}

void SimulatedDevice::apply_redemption_code(plist_t command, Answer& answer) {
  auto it = managed_apps_.find(string_in(command, "Identifier"));
  if (it == managed_apps_.end() || !it->second.needs_redemption ||
      string_in(command, "RedemptionCode").empty())
    answer.error(6, "MCInstallationErrorDomain", "The app does not need a redemption code.");
  else
    it->second.needs_redemption = false;
}

void SimulatedDevice::managed_application_list(plist_t, Answer& answer) {
  plist_t list = plist_new_dict();
  for (const auto& [id, app] : managed_apps_) {
    plist_t entry = plist_new_dict();
    set(entry, "Status", str(app.needs_redemption ? "NeedsRedemption" : "Managed"));
    set(entry, "ManagementFlags", plist_new_uint(static_cast<uint64_t>(app.flags)));
    set(list, id.c_str(), entry);
  }
  set(answer.root(), "ManagedApplicationList", list);
}

void SimulatedDevice::remove_application(plist_t command, Answer& answer) {
  if (managed_apps_.erase(string_in(command, "Identifier")) == 0)
    answer.error(7, "MCInstallationErrorDomain", "The app is not managed.");
}

void SimulatedDevice::settings(plist_t command, Answer& answer) {
  plist_t settings = plist_dict_get_item(command, "Settings");
  plist_t results = plist_new_array();
  const uint32_t n =
      settings && plist_get_node_type(settings) == PLIST_ARRAY ? plist_array_get_size(settings) : 0;
  for (uint32_t i = 0; i < n; ++i) {
    plist_t entry = plist_new_dict();
    set(entry, "Item", str(string_in(plist_array_get_item(settings, i), "Item")));
    set(entry, "Status", str("Acknowledged"));
    plist_array_append_item(results, entry);
  }
  set(answer.root(), "Settings", results);
}

namespace {

// The passcode the simulated user has set: six digits.
constexpr int64_t kPasscodeLength = 6;
// Longer than any passcode a device accepts: a policy asking for it cannot be applied.
constexpr int64_t kLongestPasscode = 16;

std::string member_string(const rapidjson::Value& v, const char* name) {
  const auto it = v.FindMember(name);
  return it != v.MemberEnd() && it->value.IsString()
             ? std::string(it->value.GetString(), it->value.GetStringLength())
             : std::string();
}

rapidjson::Document parse_json(std::string_view json) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject()) d.SetObject();
  return d;
}

// A string member of a declaration's payload ("" when it has none).
std::string payload_string(const std::string& payload_json, const char* key) {
  return member_string(parse_json(payload_json), key);
}

// The passcode policy's MinimumLength, 0 when it sets none.
int64_t minimum_length(const rapidjson::Value& payload) {
  const auto it = payload.FindMember("MinimumLength");
  return it != payload.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : 0;
}

}  // namespace

void SimulatedDevice::declarative_management_command(plist_t, Answer&) {
  sync_requested_ = true;
}

bool SimulatedDevice::take_sync_request() {
  return std::exchange(sync_requested_, false);
}

std::string SimulatedDevice::declarative_management(std::string_view endpoint,
                                                    std::string_view data) const {
  Plist m = checkin_message("DeclarativeManagement");
  m.set_string("Endpoint", endpoint);
  if (!data.empty()) m.set_data("Data", data);
  return m.to_xml();
}

std::vector<std::string> SimulatedDevice::declarations_to_fetch(std::string_view items_json) {
  const auto items = parse_json(items_json);
  std::vector<std::string> fetch;
  std::set<std::string> listed;
  const auto declarations = items.FindMember("Declarations");
  if (declarations != items.MemberEnd() && declarations->value.IsObject())
    for (const auto kind : protocol::kDeclarationKinds) {
      const auto list = declarations->value.FindMember(protocol::items_key(kind).data());
      if (list == declarations->value.MemberEnd() || !list->value.IsArray()) continue;
      for (const auto& item : list->value.GetArray()) {
        const std::string id = member_string(item, "Identifier");
        listed.insert(id);
        const auto held = declarations_.find(id);
        if (held == declarations_.end() ||
            held->second.server_token != member_string(item, "ServerToken"))
          fetch.push_back("declaration/" + std::string(protocol::kind_name(kind)) + "/" + id);
      }
    }
  std::erase_if(declarations_, [&](const auto& held) { return !listed.contains(held.first); });
  declarations_token_ = member_string(items, "DeclarationsToken");
  return fetch;
}

void SimulatedDevice::receive_declaration(std::string_view json) {
  const auto d = parse_json(json);
  HeldDeclaration held{member_string(d, "Type"), member_string(d, "ServerToken"), "{}", ""};
  const auto payload = d.FindMember("Payload");
  if (payload != d.MemberEnd() && payload->value.IsObject()) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    payload->value.Accept(w);
    held.payload_json = buffer.GetString();
    if (held.type == "com.apple.configuration.passcode.settings" &&
        minimum_length(payload->value) > kLongestPasscode)
      held.invalid_reason = "Error.ConfigurationCannotBeApplied";
  } else {
    held.invalid_reason = "Error.ConfigurationCannotBeDeserialized";
  }
  declarations_[member_string(d, "Identifier")] = std::move(held);
}

bool SimulatedDevice::passcode_compliant() const {
  if (!passcode_present_) return false;
  for (const auto& [id, held] : declarations_)
    if (held.type == "com.apple.configuration.passcode.settings" && held.invalid_reason.empty() &&
        minimum_length(parse_json(held.payload_json)) > kPasscodeLength)
      return false;
  return true;
}

std::string SimulatedDevice::status_report() const {
  // Configurations are active when a valid activation names them.
  std::set<std::string> activated;
  for (const auto& [id, held] : declarations_) {
    if (protocol::kind_of(held.type) != protocol::DeclarationKind::kActivation ||
        !held.invalid_reason.empty())
      continue;
    const auto payload = parse_json(held.payload_json);
    const auto list = payload.FindMember("StandardConfigurations");
    if (list != payload.MemberEnd() && list->value.IsArray())
      for (const auto& c : list->value.GetArray())
        if (c.IsString()) activated.insert(c.GetString());
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("StatusItems");
  w.StartObject();
  w.Key("device");
  w.StartObject();
  w.Key("identifier");
  w.StartObject();
  w.Key("udid");
  w.String(udid_.c_str());
  w.EndObject();
  w.Key("operating-system");
  w.StartObject();
  w.Key("version");
  w.String(kOsVersion);
  w.EndObject();
  w.EndObject();
  w.Key("passcode");
  w.StartObject();
  w.Key("is-present");
  w.Bool(passcode_present_);
  w.Key("is-compliant");
  w.Bool(passcode_compliant());
  w.EndObject();
  // An enforced update to another version than this one: downloading it.
  std::string pending;
  for (const auto& [id, held] : declarations_)
    if (held.type == "com.apple.configuration.softwareupdate.enforcement.specific" &&
        held.invalid_reason.empty() && activated.contains(id) &&
        payload_string(held.payload_json, "TargetOSVersion") != kOsVersion)
      pending = payload_string(held.payload_json, "TargetOSVersion");
  w.Key("softwareupdate");
  w.StartObject();
  w.Key("install-state");
  w.String(pending.empty() ? "none" : "downloading");
  if (!pending.empty()) {
    w.Key("pending-version");
    w.StartObject();
    w.Key("os-version");
    w.String(pending.c_str());
    w.EndObject();
  }
  w.EndObject();
  w.Key("management");
  w.StartObject();
  w.Key("declarations");
  w.StartObject();
  for (const auto kind : protocol::kDeclarationKinds) {
    std::string key(protocol::items_key(kind));
    key[0] = static_cast<char>(std::tolower(key[0]));  // "activations": the status item's case
    w.Key(key.c_str());
    w.StartArray();
    for (const auto& [id, held] : declarations_) {
      if (protocol::kind_of(held.type) != kind) continue;
      const bool valid = held.invalid_reason.empty();
      w.StartObject();
      w.Key("identifier");
      w.String(id.c_str());
      w.Key("server-token");
      w.String(held.server_token.c_str());
      w.Key("active");
      w.Bool(valid &&
             (kind != protocol::DeclarationKind::kConfiguration || activated.contains(id)));
      w.Key("valid");
      w.String(valid ? "valid" : "invalid");
      if (!valid) {
        w.Key("reasons");
        w.StartArray();
        w.StartObject();
        w.Key("code");
        w.String(held.invalid_reason.c_str());
        w.EndObject();
        w.EndArray();
      }
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  w.EndObject();
  w.EndObject();
  w.Key("Errors");
  w.StartArray();
  w.EndArray();
  w.EndObject();
  return buffer.GetString();
}

// Setup Assistant goes on; a device not waiting (not enrolled through ADE) refuses it, as real
// ones do.
void SimulatedDevice::device_configured(plist_t, Answer& answer) {
  if (!awaiting_configuration_) {
    answer.error(12078, "MCMDMErrorDomain", "The device is not awaiting configuration.");
    return;
  }
  awaiting_configuration_ = false;
}

}  // namespace cairn::devsim
