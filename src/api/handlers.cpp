#include "api/handlers.h"

#include "dump/json_encoder.h"

namespace netnsd {

void send_json(httplib::Response& res, int status, const nlohmann::ordered_json& body) {
  res.status = status;
  res.set_content(to_text(body), kJsonType);
}

void send_error(httplib::Response& res, const ApiError& error) {
  nlohmann::ordered_json body{{"error", error.message}, {"code", error.code}};
  if (!error.oldest.empty()) body["oldest"] = error.oldest;
  send_json(res, error.status, body);
}

std::string peer_of(const httplib::Request& req) {
  std::string uid = req.remote_addr.rfind("uid:", 0) == 0 ? req.remote_addr.substr(4) : "?";
  return "uid " + uid + " pid " + std::to_string(req.remote_port);
}

ParamList query_params(const httplib::Request& req) {
  const auto q = req.target.find('?');
  if (q == std::string::npos) return {};
  return parse_form(std::string_view(req.target).substr(q + 1));
}

}  // namespace netnsd
