#include "log.h"

#include <cstdlib>
#include <mutex>
#include <set>

#if INFERCORE_HAVE_GLOG
#include <glog/logging.h>
#else
#include <cstdio>
#endif

namespace infercore::log {
namespace {

// Each distinct warning once: true the first time `message` is seen.
bool first_time(const std::string& message) {
  static std::mutex mutex;
  static std::set<std::string> seen;
  const std::lock_guard<std::mutex> lock(mutex);
  return seen.insert(message).second;
}

#if INFERCORE_HAVE_GLOG

void init() {
  static std::once_flag once;
  std::call_once(once, [] {
    // A library must not drop log files into /tmp behind its host's back.
    if (std::getenv("GLOG_log_dir") == nullptr) FLAGS_logtostderr = true;
    // This glog is the core's own static copy, so initialising it touches no other
    // glog in the process (PyTorch's, say); it also silences glog's
    // "logging before InitGoogleLogging()" notice.
    if (!google::IsGoogleLoggingInitialized()) google::InitGoogleLogging("infercore");
  });
}

}  // namespace

bool debug_enabled() {
  init();
  return VLOG_IS_ON(1);
}

void backend_choice(const std::string& op, const std::string& backend, const std::string& why) {
  init();
  VLOG(1) << "infercore: " << op << " runs on " << backend << " (" << why << ")";
}

bool warn_once(const std::string& message) {
  init();
  if (!first_time(message)) return false;
  LOG(WARNING) << message;
  return true;
}

#else  // A build without glog (a plain `pip install .`, no Conan toolchain): the same
       // lines on stderr, governed by the same GLOG_v and GLOG_minloglevel variables.

int env_int(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::atoi(value) : 0;
}

}  // namespace

bool debug_enabled() {
  static const bool on = env_int("GLOG_v") >= 1;
  return on;
}

void backend_choice(const std::string& op, const std::string& backend, const std::string& why) {
  if (!debug_enabled()) return;
  std::fprintf(stderr, "I infercore: %s runs on %s (%s)\n", op.c_str(), backend.c_str(),
               why.c_str());
}

bool warn_once(const std::string& message) {
  if (!first_time(message)) return false;
  if (env_int("GLOG_minloglevel") < 2) std::fprintf(stderr, "W %s\n", message.c_str());
  return true;
}

#endif

}  // namespace infercore::log
