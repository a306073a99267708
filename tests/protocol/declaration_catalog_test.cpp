// The declaration catalog against Apple's own declarative schemas: every declaration file loads,
// a declaration is refused naming the path of what is wrong, and what it references is found.
#include "protocol/declaration_catalog.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace cairn::protocol {
namespace {

const auto& catalog = DeclarationCatalog::builtin;

// The path of the InvalidDeclaration that validating throws, or "" if it is valid.
std::string refused_at(std::string_view json) {
  try {
    catalog().validate(json);
  } catch (const InvalidDeclaration& e) {
    return e.path();
  }
  return "";
}

TEST(DeclarationCatalog, HoldsEveryDeclarationTypeInApplesSchemas) {
  size_t files = 0;
  for (const auto& kind : {"activations", "assets", "configurations", "management"})
    for (const auto& f : std::filesystem::directory_iterator(
             std::filesystem::path(CAIRN_APPLE_SCHEMAS) / "declarative/declarations" / kind))
      files += f.path().extension() == ".yaml";
  EXPECT_EQ(catalog().declarations().size(), files);
  const auto* passcode = catalog().find("com.apple.configuration.passcode.settings");
  ASSERT_NE(passcode, nullptr);
  EXPECT_EQ(passcode->os.at("iOS"), "15.0");
  EXPECT_EQ(kind_of(passcode->type), DeclarationKind::kConfiguration);
  EXPECT_NE(catalog().find("com.apple.activation.simple"), nullptr);
  EXPECT_NE(catalog().find("com.apple.asset.data"), nullptr);
  EXPECT_NE(catalog().find("com.apple.management.properties"), nullptr);
  EXPECT_EQ(catalog().find("any"), nullptr);  // declarationbase.yaml is no type
}

TEST(DeclarationCatalog, AValidDeclarationKeepsItsContentWithoutTheSentServerToken) {
  const auto d = catalog().validate(
      R"({"Type":"com.apple.configuration.passcode.settings","Identifier":"com.example.passcode",
          "ServerToken":"mine","Payload":{"MinimumLength":6,"RequireAlphanumericPasscode":true}})");
  EXPECT_EQ(d.identifier, "com.example.passcode");
  EXPECT_EQ(d.kind, DeclarationKind::kConfiguration);
  EXPECT_EQ(
      d.content,
      R"({"Type":"com.apple.configuration.passcode.settings","Identifier":"com.example.passcode","Payload":{"MinimumLength":6,"RequireAlphanumericPasscode":true}})");
  EXPECT_TRUE(d.references.empty());
  const auto token = declaration_server_token(d.content);
  EXPECT_EQ(token.size(), 32u);
  EXPECT_NE(declaration_server_token(d.content, "1"), token);
  EXPECT_EQ(served_declaration(d.content, token),
            d.content.substr(0, d.content.size() - 1) + ",\"ServerToken\":\"" + token + "\"}");
}

TEST(DeclarationCatalog, EachMistakeIsRefusedNamingItsPath) {
  const std::string passcode = R"("Type":"com.apple.configuration.passcode.settings")";
  EXPECT_EQ(refused_at(R"({"Type":"com.example.mine","Identifier":"a","Payload":{}})"), "Type");
  EXPECT_EQ(refused_at("{" + passcode + R"(,"Payload":{}})"), "Identifier");
  EXPECT_EQ(refused_at("{" + passcode + R"(,"Identifier":"a/b","Payload":{}})"), "Identifier");
  EXPECT_EQ(refused_at("{" + passcode + R"(,"Identifier":"a"})"), "Payload");
  EXPECT_EQ(refused_at("{" + passcode + R"(,"Identifier":"a","Payload":[]})"), "Payload");
  EXPECT_EQ(refused_at("{" + passcode + R"(,"Identifier":"a","Payload":{},"Extra":1})"), "Extra");
  EXPECT_EQ(refused_at("{" + passcode + R"(,"Identifier":"a","Payload":{"MinimumLength":"6"}})"),
            "Payload.MinimumLength");
  EXPECT_EQ(refused_at("{" + passcode + R"(,"Identifier":"a","Payload":{"NoSuchKey":true}})"),
            "Payload.NoSuchKey");
  // A required key (an activation's configurations) and a value outside the listed ones.
  EXPECT_EQ(refused_at(R"({"Type":"com.apple.activation.simple","Identifier":"a","Payload":{}})"),
            "Payload.StandardConfigurations");
  EXPECT_EQ(refused_at(R"({"Type":"com.apple.configuration.management.test","Identifier":"a",
                           "Payload":{"Echo":"hi","ReturnStatus":"Maybe"}})"),
            "Payload.ReturnStatus");
  EXPECT_THROW(catalog().validate("{not json"), BadRequest);
  EXPECT_EQ(refused_at("[1]"), "(root)");
}

TEST(DeclarationCatalog, NestingDeeperThanAnyDeclarationIsRefusedNotAStackOverflow) {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "[";
  EXPECT_THROW(catalog().validate(deep), BadRequest);
  std::string payload = R"({"Type":"com.apple.configuration.management.test","Identifier":"a",)"
                        R"("Payload":{"Echo":)";
  for (int i = 0; i < 200; ++i) payload += "[";
  EXPECT_THROW(catalog().validate(payload + std::string(200, ']') + "}}"), BadRequest);
}

TEST(DeclarationCatalog, ReferencesAreWhatAnActivationOrAConfigurationNames) {
  const auto activation = catalog().validate(
      R"({"Type":"com.apple.activation.simple","Identifier":"act",
          "Payload":{"StandardConfigurations":["one","two"],"Predicate":"TRUEPREDICATE"}})");
  ASSERT_EQ(activation.references.size(), 2u);
  EXPECT_EQ(activation.references[1].identifier, "two");
  EXPECT_EQ(activation.references[1].path, "Payload.StandardConfigurations[1]");
  EXPECT_EQ(activation.references[1].kind, DeclarationKind::kConfiguration);
  const auto identity = catalog().validate(
      R"({"Type":"com.apple.configuration.security.identity","Identifier":"id",
          "Payload":{"CredentialAssetReference":"cred"}})");
  ASSERT_EQ(identity.references.size(), 1u);
  EXPECT_EQ(identity.references[0].identifier, "cred");
  EXPECT_EQ(identity.references[0].kind, DeclarationKind::kAsset);
  EXPECT_NE(std::find(identity.references[0].asset_types.begin(),
                      identity.references[0].asset_types.end(), "com.apple.asset.credential.scep"),
            identity.references[0].asset_types.end());
}

}  // namespace
}  // namespace cairn::protocol
