// The audit trail: Merkle proofs, signed checkpoints, the ledger over a real embedded log and
// RocksDB, and verification of a log edited by hand (changed, removed, moved, inserted, cut
// short), of a forged checkpoint, and of an export checked with only the public key.
#include <gtest/gtest.h>

#include <sstream>

#include "audit/chain.hpp"
#include "audit/checkpoint.hpp"
#include "audit/export.hpp"
#include "audit/ledger.hpp"
#include "audit/verify.hpp"
#include "common/encoding.hpp"
#include "crypto/digest.hpp"
#include "eventlog/embedded_log.hpp"
#include "tests/support/log_file.hpp"
#include "tests/support/temp_dir.hpp"

namespace cairn::audit {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> leaves(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back(crypto::sha256("leaf " + std::to_string(i)));
  return out;
}

TEST(AuditChain, EveryLeafOfEveryTreeSizeIsProvenAndNoOtherIs) {
  EXPECT_EQ(hex_encode(merkle_root({})),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");  // SHA-256("")
  for (size_t n = 1; n <= 17; ++n) {
    const auto d = leaves(n);
    const auto root = merkle_root(d);
    for (size_t i = 0; i < n; ++i) {
      const auto path = merkle_path(d, i);
      EXPECT_EQ(root_from_path(d[i], i, n, path), root) << n << " " << i;
      EXPECT_NE(root_from_path(crypto::sha256("other"), i, n, path), root);
      if (n > 1) {
        EXPECT_NE(root_from_path(d[i], (i + 1) % n, n, path), root) << n << " " << i;
      }
    }
  }
  // Order matters: swapping two leaves changes the root.
  auto d = leaves(4);
  const auto root = merkle_root(d);
  std::swap(d[1], d[2]);
  EXPECT_NE(merkle_root(d), root);
}

TEST(AuditChain, TheDigestCoversKeyTypeAndValueApart) {
  const auto d = record_digest("UDID", "Type", "{}");
  EXPECT_NE(record_digest("UDIDT", "ype", "{}"), d);  // length-prefixed: no sliding
  EXPECT_NE(record_digest("UDID", "Other", "{}"), d);
  EXPECT_NE(chain_link(genesis(), d), chain_link(chain_link(genesis(), d), d));
}

events::AuditCheckpointed sample_checkpoint() {
  return {0, 0, 10, std::string(64, 'a'), std::string(64, 'b'), "", ""};
}

TEST(AuditCheckpoint, ASignatureHoldsForItsKeyOnlyAndOnlyForWhatWasSigned) {
  const crypto::SecretBox keyring({crypto::random_bytes(32)});
  const Signer signer(keyring);
  auto c = sample_checkpoint();
  signer.sign(c);
  EXPECT_TRUE(signature_valid(c, signer.public_keys()));
  EXPECT_EQ(c.key_id, key_id(signer.public_keys().front()));
  auto altered = c;
  altered.next_offset = 11;
  EXPECT_FALSE(signature_valid(altered, signer.public_keys()));
  const Signer stranger(crypto::SecretBox({crypto::random_bytes(32)}));
  EXPECT_FALSE(signature_valid(c, stranger.public_keys()));
  // Every node holding the keyring signs alike; after a rotation the old checkpoints still verify.
  EXPECT_EQ(Signer(keyring).public_keys(), signer.public_keys());
  const Signer rotated(crypto::SecretBox({crypto::random_bytes(32), keyring.derive_seeds("")[0]}));
  EXPECT_NE(rotated.public_keys().front(), signer.public_keys().front());
  auto garbage = c;
  garbage.signature = "not base64!";
  EXPECT_FALSE(signature_valid(garbage, signer.public_keys()));
}

class LedgerTest : public ::testing::Test {
 protected:
  LedgerTest()
      : log_(std::make_unique<eventlog::EmbeddedLog>(dir_.path() + "/log")),
        store_(std::make_unique<store::Database>(dir_.path() + "/audit", kStoreLayout)),
        keyring_({crypto::random_bytes(32)}),
        signer_(keyring_),
        ledger_(std::make_unique<Ledger>(*log_, *store_, signer_, LedgerOptions{"test", 0ms})) {}

  std::string append(const std::string& device, const std::string& uuid) {
    const auto e = events::make_event(device, "test", "admin",
                                      events::CommandEnqueued{uuid, "ProfileList", "<plist/>"});
    log_->append({events::to_record(e)});
    return e.id;
  }
  // Appends n events for two devices, reads them into the ledger and signs a checkpoint.
  std::vector<std::string> history(int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i)
      ids.push_back(append(i % 2 ? "UDID-B" : "UDID-A", "CMD-" + std::to_string(i)));
    ledger_->consume(0ms);
    EXPECT_EQ(ledger_->checkpoint(), 1u);
    ledger_->consume(0ms);  // the checkpoint itself
    return ids;
  }
  // The log file edited by hand while nothing holds it open.
  template <class Edit>
  void edit_log(Edit edit) {
    ledger_.reset();
    log_.reset();
    testing::LogFile file(dir_.path() + "/log/events.log");
    edit(file.records);
    file.save();
    log_ = std::make_unique<eventlog::EmbeddedLog>(dir_.path() + "/log",
                                                   eventlog::EmbeddedLog::Mode::kReadOnly);
  }
  Report verify() {
    const LedgerReader witness(*store_);
    return verify_log(*log_, &witness, signer_.public_keys());
  }
  static std::string findings(const Report& r) {
    std::string out;
    for (const auto& f : r.findings) out += describe(f) + "\n";
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<eventlog::EmbeddedLog> log_;
  std::unique_ptr<store::Database> store_;
  crypto::SecretBox keyring_;
  Signer signer_;
  std::unique_ptr<Ledger> ledger_;
};

TEST_F(LedgerTest, AnUntouchedLogVerifiesAndAnIdleOneIsNotSignedAgain) {
  history(10);
  EXPECT_EQ(ledger_->checkpoint(), 0u);  // only its own checkpoint came since
  append("UDID-A", "CMD-LATE");
  ledger_->consume(0ms);
  const auto r = verify();
  EXPECT_TRUE(r.intact()) << findings(r);
  EXPECT_EQ(r.records, 12u);
  EXPECT_EQ(r.checkpoints_verified, 1u);
  EXPECT_EQ(r.unsigned_records, 2u);  // the checkpoint and the late event
  EXPECT_EQ(ledger_->checkpoint(), 1u);
  ledger_->consume(0ms);
  const auto again = verify();
  EXPECT_TRUE(again.intact()) << findings(again);
  EXPECT_EQ(again.checkpoints_verified, 2u);
}

TEST_F(LedgerTest, AChangedEventIsNamed) {
  const auto ids = history(10);
  edit_log([](auto& records) {
    auto& v = records[4].value;
    v.replace(v.find("ProfileList"), 11, "EraseDevice");
  });
  const auto r = verify();
  ASSERT_FALSE(r.intact());
  EXPECT_EQ(r.findings.front().offset, 4);
  EXPECT_EQ(r.findings.front().event_id, ids[4]);
  EXPECT_NE(r.findings.front().what.find("changed"), std::string::npos) << findings(r);
  // Without the witness, the signed checkpoint still catches it (by range).
  EXPECT_FALSE(verify_log(*log_, nullptr, signer_.public_keys()).intact());
}

TEST_F(LedgerTest, ARemovedEventIsNamed) {
  const auto ids = history(10);
  edit_log([](auto& records) { records.erase(records.begin() + 3); });
  const auto r = verify();
  ASSERT_FALSE(r.intact());
  EXPECT_EQ(r.findings.front().event_id, ids[3]) << findings(r);
  EXPECT_NE(r.findings.front().what.find("removed"), std::string::npos) << findings(r);
}

TEST_F(LedgerTest, ReorderedEventsAreNamed) {
  const auto ids = history(10);
  edit_log([](auto& records) { std::swap(records[6], records[7]); });
  const auto r = verify();
  ASSERT_FALSE(r.intact());
  EXPECT_EQ(r.findings.front().offset, 6);
  EXPECT_EQ(r.findings.front().event_id, ids[6]) << findings(r);
  EXPECT_NE(r.findings.front().what.find("moved"), std::string::npos) << findings(r);
  EXPECT_NE(r.findings.front().what.find(ids[7]), std::string::npos) << findings(r);
}

TEST_F(LedgerTest, AnInsertedEventAndACutEndAreNamed) {
  history(10);
  edit_log([](auto& records) {
    auto forged = records[2];
    forged.value.replace(forged.value.find("CMD-2"), 5, "CMD-X");
    forged.value.replace(forged.value.find("\"id\":\"") + 6, 8, "DEADBEEF");
    records.insert(records.begin() + 5, forged);
  });
  const auto inserted = verify();
  ASSERT_FALSE(inserted.intact());
  EXPECT_EQ(inserted.findings.front().offset, 5);
  EXPECT_NE(inserted.findings.front().what.find("inserted"), std::string::npos)
      << findings(inserted);
  edit_log([](auto& records) {
    records.erase(records.begin() + 5);               // back as it was
    records.erase(records.end() - 3, records.end());  // and the last three gone
  });
  const auto cut = verify();
  ASSERT_FALSE(cut.intact());
  EXPECT_NE(findings(cut).find("removed from the end"), std::string::npos) << findings(cut);
}

TEST_F(LedgerTest, AForgedCheckpointIsNamedAndTheLedgerKeepsTheRealOnes) {
  history(6);
  edit_log([&](auto& records) {
    // A checkpoint signed with another key, and the real one removed from the log.
    auto e = events::decode(records.back().value);
    auto c = std::get<events::AuditCheckpointed>(e.payload);
    Signer(crypto::SecretBox({crypto::random_bytes(32)})).sign(c);
    e.payload = c;
    records.back().value = events::to_record(e).value;
  });
  const auto r = verify();
  ASSERT_FALSE(r.intact());
  EXPECT_NE(findings(r).find("no trusted key signed"), std::string::npos) << findings(r);
  EXPECT_EQ(r.checkpoints_verified, 1u);  // the real one, from the ledger
}

TEST_F(LedgerTest, ADevicesTimelineIsItsEventsInOrderFilteredAndPaged) {
  const auto ids = history(9);
  const LedgerReader& reader = ledger_->reader();
  auto page = reader.timeline("UDID-A", "", "", "", "", 3, 100);
  ASSERT_EQ(page.events.size(), 3u);
  EXPECT_EQ(page.events[0].second.id, ids[0]);
  EXPECT_EQ(page.events[2].second.id, ids[4]);
  const auto rest = reader.timeline("UDID-A", "", "", "", page.cursor, 10, 100);
  ASSERT_EQ(rest.events.size(), 2u);
  EXPECT_EQ(rest.events[1].second.id, ids[8]);
  EXPECT_EQ(rest.cursor, "");
  EXPECT_TRUE(reader.timeline("UDID-A", "", "", "CommandReported", "", 10, 100).events.empty());
  EXPECT_TRUE(
      reader.timeline("UDID-A", "2999-01-01T00:00:00.000Z", "", "", "", 10, 100).events.empty());
  EXPECT_TRUE(reader.timeline("UDID-C", "", "", "", "", 10, 100).events.empty());
}

TEST_F(LedgerTest, AnExportIsCheckedWithOnlyThePublicKeyAndAnAlteredLineIsNamed) {
  const auto ids = history(8);
  append("UDID-A", "CMD-UNSIGNED");
  ledger_->consume(0ms);
  std::stringstream out;
  EXPECT_EQ(write_export(out, *log_, ledger_->reader(), {"UDID-A", "", "", ""}), 5u);
  const std::string text = out.str();
  std::stringstream in(text);
  const auto r = verify_export(in, signer_.public_keys());
  EXPECT_TRUE(r.intact()) << findings(r);
  EXPECT_EQ(r.records, 5u);
  EXPECT_EQ(r.unsigned_records, 1u);
  EXPECT_EQ(r.checkpoints_verified, 1u);
  // The auditor's copy edited: that event is named.
  std::string altered = text;
  altered.replace(altered.find("CMD-2"), 5, "CMD-9");
  std::stringstream altered_in(altered);
  const auto bad = verify_export(altered_in, signer_.public_keys());
  ASSERT_EQ(bad.findings.size(), 1u) << findings(bad);
  EXPECT_EQ(bad.findings.front().offset, 2);
  EXPECT_NE(bad.findings.front().what.find("changed"), std::string::npos);
  // Another key's export is refused as a whole.
  std::stringstream again(text);
  EXPECT_FALSE(
      verify_export(again, Signer(crypto::SecretBox({crypto::random_bytes(32)})).public_keys())
          .intact());
  (void)ids;
}

}  // namespace
}  // namespace cairn::audit
