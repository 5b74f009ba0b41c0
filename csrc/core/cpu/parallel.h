// Threading for the CPU kernels: plain std::threads started per call. The ops
// are coarse (milliseconds), so a persistent pool would save little and would
// bring fork-safety and shutdown-order problems into every host process.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace infercore::cpu {

// How many threads the CPU kernels may use: INFERCORE_NUM_THREADS, else the
// hardware concurrency. Read once; throws ArgumentError if the variable is malformed.
int num_threads();

// True when the CPU kernels take their AVX2+FMA code path (checked once).
bool use_avx2_fma();

// Calls body(begin, end) over chunks of [0, n) on up to num_threads() threads.
// Chunks are handed out dynamically, so items may differ in cost; work_per_item
// (roughly, in flops) keeps small problems on the calling thread, where
// starting threads would cost more than it saves. The first exception a chunk
// throws is rethrown here once every thread has finished.
template <class Body>
void parallel_for(int64_t n, double work_per_item, const Body& body) {
  if (n <= 0) return;
  constexpr double kMinWorkPerThread = 2e6;
  const double by_work = static_cast<double>(n) * work_per_item / kMinWorkPerThread;
  const int64_t threads = std::max<int64_t>(
      1, std::min<int64_t>({static_cast<int64_t>(num_threads()), n,
                            static_cast<int64_t>(std::min(by_work, 1e9))}));
  if (threads == 1) {
    body(int64_t{0}, n);
    return;
  }
  // A few chunks per thread balance uneven items (causal attention) cheaply.
  const int64_t chunks = std::min<int64_t>(n, threads * 4);
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;) {
      try {
        body(c * n / chunks, (c + 1) * n / chunks);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next.store(chunks, std::memory_order_relaxed);
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads - 1));
  for (int64_t t = 1; t < threads; ++t) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // out of threads: the ones running (and this one) finish the work
    }
  }
  work();
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace infercore::cpu
