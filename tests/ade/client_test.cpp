// The ADE client's rules that do not need a server: OAuth 1.0a signatures (pinned to the
// specification's own example, so the client and the simulator cannot agree on a wrong one),
// what each of Apple's answers means, and the readers of Apple's JSON.
#include <gtest/gtest.h>

#include "ade/answers.hpp"
#include "ade/client.hpp"
#include "ade/oauth.hpp"

namespace cairn::ade {
namespace {

// OAuth Core 1.0 Appendix A (and RFC 5849's predecessor example): the photos.example.net request.
TEST(OAuth, SignsTheSpecificationsExample) {
  const oauth::Credentials c{"dpf43f3p2l4k3l03", "kd94hf93k423kf44", "nnch734d00sl2jdk",
                             "pfkkdhi9sl3r4s00"};
  const auto parameters = oauth::protocol_parameters(c, "kllo9940pd9333jh", 1191242096);
  const auto base = oauth::signature_base_string(
      "GET", "http://photos.example.net/photos?file=vacation.jpg&size=original", parameters);
  EXPECT_EQ(base,
            "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%"
            "3Ddpf43f3p2l4k3l03%26oauth_nonce%3Dkllo9940pd9333jh%26oauth_signature_method%3DHMAC-"
            "SHA1%26oauth_timestamp%3D1191242096%26oauth_token%3Dnnch734d00sl2jdk%26oauth_version%"
            "3D1.0%26size%3Doriginal");
  EXPECT_EQ(oauth::hmac_sha1_signature(base, c.consumer_secret, c.token_secret),
            "tR3+Ty81lMeYAr/Fid0kMTYa/WM=");
}

TEST(OAuth, PercentEncodesAsRfc5849Says) {
  EXPECT_EQ(oauth::percent_encode("Ab9-._~"), "Ab9-._~");
  EXPECT_EQ(oauth::percent_encode("a b+c/=&%"), "a%20b%2Bc%2F%3D%26%25");
  EXPECT_EQ(oauth::percent_encode("\xc3\xa9"), "%C3%A9");
}

// The header a client sends carries everything a server needs to check it, realm unsigned.
TEST(OAuth, AHeaderReadsBackAndVerifies) {
  const oauth::Credentials c{"CK", "CS/+", "AT", "AS&"};
  const auto header = oauth::authorization_header("GET", "https://ade.example/session", c);
  auto p = oauth::parse_authorization(header);
  EXPECT_EQ(p["realm"], "ADM");
  EXPECT_EQ(p["oauth_consumer_key"], "CK");
  EXPECT_EQ(p["oauth_token"], "AT");
  EXPECT_EQ(
      p["oauth_signature"],
      oauth::hmac_sha1_signature(
          oauth::signature_base_string("GET", "https://ade.example/session", p), "CS/+", "AS&"));
  EXPECT_NE(p["oauth_signature"],
            oauth::hmac_sha1_signature(
                oauth::signature_base_string("GET", "https://ade.example/session", p), "CS", "AS&"))
      << "the secret must matter";
  EXPECT_TRUE(oauth::parse_authorization("Basic abc").empty());
  EXPECT_TRUE(oauth::parse_authorization("OAuth a=\"unterminated").empty());
}

std::string outcome_of(int status, std::string_view body, std::string_view retry_after = "") {
  try {
    classify("fetch", status, body, retry_after);
    return "ok";
  } catch (const AdeCallError& e) {
    return e.outcome + (e.retry_after_seconds ? ":" + std::to_string(e.retry_after_seconds) : "");
  }
}

TEST(AdeAnswers, EachMeansWhatAppleDocuments) {
  EXPECT_EQ(outcome_of(200, "{}"), "ok");
  EXPECT_TRUE(session_ended(401, R"("UNAUTHORIZED")"));
  EXPECT_TRUE(session_ended(403, R"("FORBIDDEN")"));
  EXPECT_FALSE(session_ended(403, R"({"oauth_problem":"token_rejected"})"));
  EXPECT_FALSE(session_ended(400, "EXPIRED_CURSOR"));
  // A revoked token, or terms not accepted: stop, never loop.
  EXPECT_EQ(outcome_of(401, "oauth_problem=token_rejected"), "stopped");
  EXPECT_EQ(outcome_of(403, R"("T_C_NOT_SIGNED")"), "stopped");
  EXPECT_EQ(outcome_of(403, R"("ACCESS_DENIED")"), "stopped");
  // Cursors: start over, or switch to syncing.
  EXPECT_EQ(outcome_of(400, R"("EXPIRED_CURSOR")"), "refetch");
  EXPECT_EQ(outcome_of(400, "INVALID_CURSOR"), "refetch");
  EXPECT_EQ(outcome_of(400, R"("EXHAUSTED_CURSOR")"), "sync");
  // Rate limits wait as long as asked (a minute when not said, a day at most).
  EXPECT_EQ(outcome_of(429, "", "7"), "retry:7");
  EXPECT_EQ(outcome_of(503, "", "soon"), "retry:60");
  EXPECT_EQ(outcome_of(429, "", "99999999"), "retry:86400");
  EXPECT_EQ(outcome_of(500, "oops"), "retry");
}

TEST(AdeAnswers, ADevicePageKeepsUsableRecordsOnly) {
  const auto page = read_device_page(
      R"({"cursor":"c1","more_to_follow":true,"fetched_until":"2026-12-06T00:00:00Z",)"
      R"("devices":[{"serial_number":"C02ABC","model":"iPad","op_type":"added"},)"
      R"({"serial_number":"../etc"},{"model":"no serial"},7,)"
      R"({"serial_number":"C02DEF","description":42}]})");
  EXPECT_EQ(page.cursor, "c1");
  EXPECT_TRUE(page.more_to_follow);
  ASSERT_EQ(page.devices.size(), 2u);
  EXPECT_EQ(page.devices[0].serial_number, "C02ABC");
  EXPECT_EQ(page.devices[0].op_type, "added");
  EXPECT_EQ(page.devices[1].description, "") << "a field of the wrong type is left empty";
  EXPECT_EQ(page.dropped, 3u);
  EXPECT_TRUE(read_device_page(R"({"cursor":"c","devices":null})").devices.empty());
  EXPECT_THROW(read_device_page("[]"), AdeAnswerError);
  EXPECT_THROW(read_device_page(R"({"devices":{}})"), AdeAnswerError);
  EXPECT_THROW(read_device_page(std::string(kLargestAnswer + 1, ' ')), AdeAnswerError);
  const auto long_field = read_device_page(R"({"devices":[{"serial_number":"A1","model":")" +
                                           std::string(5000, 'x') + "\"}]}");
  EXPECT_EQ(long_field.devices.at(0).model.size(), kLongestField);
}

TEST(AdeAnswers, AssignmentAnswersPerDevice) {
  const auto a = read_assign(
      R"({"profile_uuid":"P","devices":{"S1":"SUCCESS","S2":"THROTTLED","bad/1":"SUCCESS","S3":7},)"
      R"("retry_after_seconds":30})");
  ASSERT_EQ(a.devices.size(), 2u);
  EXPECT_EQ(a.devices[1].status, "THROTTLED");
  EXPECT_EQ(a.retry_after_seconds, 30);
  EXPECT_THROW(read_assign(R"({"profile_uuid":"P"})"), AdeAnswerError);
  EXPECT_EQ(read_session(R"({"auth_session_token":"T"})"), "T");
  EXPECT_THROW(read_session(R"({"auth_session_token":""})"), AdeAnswerError);
  EXPECT_THROW(read_profile_uuid("{}"), AdeAnswerError);
}

}  // namespace
}  // namespace cairn::ade
