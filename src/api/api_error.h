// ApiError: a failed request, as the client will see it.
//
// Every non-2xx response carries {"error": message, "code": code}; the HTTP
// status lives here too so one place maps failures to statuses.
#pragma once

#include <string>

namespace netnsd {

struct ApiError {
  ApiError() = default;
  ApiError(int s, std::string c, std::string m, std::string o = {})
      : status(s), code(std::move(c)), message(std::move(m)), oldest(std::move(o)) {}

  int status = 400;
  std::string code;     // snake_case reason, stable for scripts
  std::string message;  // one human sentence
  std::string oldest;   // history_not_retained: the oldest instant the journal answers for

  static ApiError bad_request(std::string code, std::string message) {
    return ApiError{400, std::move(code), std::move(message)};
  }
};

}  // namespace netnsd
