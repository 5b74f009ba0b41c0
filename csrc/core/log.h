// The core's logging (glog, linked statically and private to the core: no glog
// header leaves log.cc, and the Python module exports no glog symbol).
//
// Lines go to stderr (glog writes log files only when GLOG_log_dir is set).
// GLOG_v=1 shows the debug lines (every op's backend choice); GLOG_minloglevel=2
// silences the warnings. glog reads both from the environment at start-up.
#pragma once

#include <string>

namespace infercore::log {

// Whether backend_choice() lines are shown: lets a caller skip composing them.
bool debug_enabled();

// Debug line (verbosity 1): which backend `op` runs on, and why.
void backend_choice(const std::string& op, const std::string& backend, const std::string& why);

// A warning, logged once per distinct message for the life of the process: an op
// falling back to its reference kernel warns on its first call, not on every call.
// Returns whether it was logged now.
bool warn_once(const std::string& message);

}  // namespace infercore::log
