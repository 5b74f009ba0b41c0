// The core's logging (csrc/core/log.cc, glog): warnings once per message,
// backend choices as debug lines at GLOG_v >= 1, everything on stderr.
#include <gtest/gtest.h>
#include <glog/logging.h>

#include <string>

#include "log.h"

namespace infercore {
namespace {

int occurrences(const std::string& text, const std::string& part) {
  int n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST(Log, AWarningIsLoggedOncePerMessage) {
  ::testing::internal::CaptureStderr();
  EXPECT_TRUE(log::warn_once("infercore: test warning A"));
  EXPECT_FALSE(log::warn_once("infercore: test warning A"));
  EXPECT_TRUE(log::warn_once("infercore: test warning B"));
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(occurrences(err, "test warning A"), 1) << err;
  EXPECT_EQ(occurrences(err, "test warning B"), 1) << err;
  // glog's warning line: severity W, then the message; no "before InitGoogleLogging" notice.
  EXPECT_EQ(err.rfind('W', 0), 0u) << err;
  EXPECT_EQ(err.find("InitGoogleLogging"), std::string::npos) << err;
  EXPECT_TRUE(FLAGS_logtostderr) << "no log files unless GLOG_log_dir is set";
}

TEST(Log, BackendChoicesAreDebugLines) {
  const int saved = FLAGS_v;
  FLAGS_v = 0;
  ::testing::internal::CaptureStderr();
  log::backend_choice("attention", "fa2", "sm_86, bf16 head dim 128");
  EXPECT_FALSE(log::debug_enabled());
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");

  FLAGS_v = 1;
  ::testing::internal::CaptureStderr();
  EXPECT_TRUE(log::debug_enabled());
  log::backend_choice("attention", "fa2", "sm_86, bf16 head dim 128");
  const std::string err = ::testing::internal::GetCapturedStderr();
  FLAGS_v = saved;
  EXPECT_NE(err.find("infercore: attention runs on fa2 (sm_86, bf16 head dim 128)"),
            std::string::npos)
      << err;
}

}  // namespace
}  // namespace infercore
