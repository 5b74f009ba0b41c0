// GPU check and benchmark of infercore's CUTLASS sm_90a kernels (see CMakeLists.txt).
//
// Correctness: every compiled FMHA/GEMM instantiation against simple fp32
// reference kernels on random inputs drawn fresh per case (never zero), with the
// output poisoned with NaN before each run, so an unwritten element fails.
// Benchmark: FMHA b4 h32 d128 s4096 and GEMM 8192^3, CUDA events, median of 20.
// Exit status: 0 only when every check passed.
#include "fmha_sm90.h"
#include "gemm_sm90.h"
#include "infercore_cutlass_sm90_kernels.h"
#include "probe_variants.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace infercore::kernels;

namespace infercore::kernels {
using fmha_args = AttentionArgs;
using gemm_args = GemmArgs;
#define PROBE_DECL(name, kind) cudaError_t probe_variant_##name(const kind##_args&, int, int);
PROBE_VARIANTS(PROBE_DECL)
#undef PROBE_DECL
}  // namespace infercore::kernels

#define CHECK(call)                                                                                  \
    do {                                                                                             \
        cudaError_t e_ = (call);                                                                     \
        if (e_ != cudaSuccess) {                                                                     \
            std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            std::exit(2);                                                                            \
        }                                                                                            \
    } while (0)

static int g_failures = 0;

// ---------------------------------------------------------------------------- data

template <typename T>
__device__ T from_float(float x);
template <>
__device__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <>
__device__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

__device__ float to_float(__half x) { return __half2float(x); }
__device__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

__device__ uint32_t hash32(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return uint32_t(x);
}

// Uniform magnitude in [0.05, 1] with a random sign: never zero.
template <typename T>
__global__ void fill_random(T* p, size_t n, uint64_t seed, float amp) {
    for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
        const uint32_t h = hash32(seed * 0x9e3779b97f4a7c15ull + i);
        const float mag = 0.05f + 0.95f * float(h >> 9) * (1.0f / 8388608.0f);
        p[i] = from_float<T>(amp * ((h & 1) ? mag : -mag));
    }
}

template <typename T>
__global__ void fill_nan(T* p, size_t n) {
    for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
        p[i] = from_float<T>(NAN);
    }
}

template <typename T>
__global__ void to_fp32(const T* p, float* out, size_t n) {
    for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
        out[i] = to_float(p[i]);
    }
}

// ---------------------------------------------------------------------------- references

// One block per (query row, head, batch); scores for all keys in shared memory.
template <typename T>
__global__ void attention_ref(const T* q, const T* k, const T* v, float* out, int sq, int sk, int h, int hkv, int d,
                              bool causal, float scale) {
    extern __shared__ float s[];  // sk scores, then 32 floats of reduction scratch
    float* red = s + sk;
    const int i = blockIdx.x, hi = blockIdx.y, b = blockIdx.z, hk = hi / (h / hkv);
    const T* qi = q + ((size_t(b) * sq + i) * h + hi) * d;
    const int last = causal ? i + sk - sq : sk - 1;  // keys 0..last are visible
    for (int j = threadIdx.x; j < sk; j += blockDim.x) {
        const T* kj = k + ((size_t(b) * sk + j) * hkv + hk) * d;
        float acc = 0.f;
        for (int t = 0; t < d; ++t) acc += to_float(qi[t]) * to_float(kj[t]);
        s[j] = j <= last ? acc * scale : -INFINITY;
    }
    __syncthreads();
    float m = -INFINITY;
    for (int j = threadIdx.x; j < sk; j += blockDim.x) m = fmaxf(m, s[j]);
    for (int o = 16; o; o >>= 1) m = fmaxf(m, __shfl_xor_sync(~0u, m, o));
    if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = m;
    __syncthreads();
    m = -INFINITY;
    for (int w = 0; w < int(blockDim.x / 32); ++w) m = fmaxf(m, red[w]);
    __syncthreads();
    float l = 0.f;
    for (int j = threadIdx.x; j < sk; j += blockDim.x) {
        const float p = last >= 0 ? expf(s[j] - m) : 0.f;
        s[j] = p;
        l += p;
    }
    for (int o = 16; o; o >>= 1) l += __shfl_xor_sync(~0u, l, o);
    if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = l;
    __syncthreads();
    l = 0.f;
    for (int w = 0; w < int(blockDim.x / 32); ++w) l += red[w];
    float* oi = out + ((size_t(b) * sq + i) * h + hi) * d;
    for (int t = threadIdx.x; t < d; t += blockDim.x) {
        float acc = 0.f;
        for (int j = 0; j <= last && j < sk; ++j) acc += s[j] * to_float(v[((size_t(b) * sk + j) * hkv + hk) * d + t]);
        oi[t] = last >= 0 ? acc / l : 0.f;
    }
}

// out[r, :] for the listed rows only (large GEMMs are checked on a sample of rows).
template <typename T>
__global__ void gemm_ref(const T* a, const T* b, float* out, const int* rows, int nrows, int n, int k) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x, ri = blockIdx.y;
    if (c >= n || ri >= nrows) return;
    const int r = rows[ri];
    float acc = 0.f;
    for (int t = 0; t < k; ++t) acc += to_float(a[size_t(r) * k + t]) * to_float(b[size_t(t) * n + c]);
    out[size_t(ri) * n + c] = acc;
}

// ---------------------------------------------------------------------------- helpers

template <DType D>
using elem_t = std::conditional_t<D == DType::bf16, __nv_bfloat16, __half>;

struct Buf {
    void* p = nullptr;
    explicit Buf(size_t bytes) { CHECK(cudaMalloc(&p, std::max<size_t>(bytes, 16))); }
    ~Buf() { cudaFree(p); }
    Buf(const Buf&) = delete;
    Buf& operator=(const Buf&) = delete;
};

static uint64_t g_seed = 12345;

template <typename T>
void random_fill(void* p, size_t n, float amp = 1.f) {
    fill_random<T><<<1024, 256>>>(static_cast<T*>(p), n, ++g_seed, amp);
    CHECK(cudaGetLastError());
}

template <typename T>
std::vector<float> download(const void* p, size_t n) {
    Buf f(n * sizeof(float));
    to_fp32<T><<<1024, 256>>>(static_cast<const T*>(p), static_cast<float*>(f.p), n);
    CHECK(cudaGetLastError());
    std::vector<float> h(n);
    CHECK(cudaMemcpy(h.data(), f.p, n * sizeof(float), cudaMemcpyDeviceToHost));
    return h;
}

struct Err {
    double rel_l2 = 0, max_abs = 0;
    size_t nan = 0;
};

static Err compare(const std::vector<float>& got, const std::vector<float>& ref) {
    Err e;
    double num = 0, den = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        if (!std::isfinite(got[i])) {
            ++e.nan;
            continue;
        }
        const double d = double(got[i]) - ref[i];
        num += d * d;
        den += double(ref[i]) * ref[i];
        e.max_abs = std::max(e.max_abs, std::fabs(d));
    }
    e.rel_l2 = std::sqrt(num / std::max(den, 1e-30));
    return e;
}

static void report(const std::string& name, const Err& e, double tol, const char* extra = "") {
    const bool ok = e.nan == 0 && e.rel_l2 < tol;
    if (!ok) ++g_failures;
    std::printf("%s %-64s rel_l2=%.2e max_abs=%.2e nonfinite=%zu%s\n", ok ? "[ OK ]" : "[FAIL]", name.c_str(),
                e.rel_l2, e.max_abs, e.nan, extra);
}

// Steady-state time per launch: `batch` back-to-back launches between two events,
// median over `reps` batches (torch_baseline.py times the baselines the same way).
template <typename F>
static float median_ms(F&& launch, int warmup = 5, int reps = 10, int batch = 10) {
    for (int i = 0; i < warmup; ++i) CHECK(launch());
    CHECK(cudaDeviceSynchronize());
    cudaEvent_t e0, e1;
    CHECK(cudaEventCreate(&e0));
    CHECK(cudaEventCreate(&e1));
    std::vector<float> t(reps);
    for (int i = 0; i < reps; ++i) {
        CHECK(cudaEventRecord(e0));
        for (int j = 0; j < batch; ++j) CHECK(launch());
        CHECK(cudaEventRecord(e1));
        CHECK(cudaEventSynchronize(e1));
        CHECK(cudaEventElapsedTime(&t[i], e0, e1));
        t[i] /= batch;
    }
    cudaEvent_t events[] = {e0, e1};
    for (cudaEvent_t e : events) cudaEventDestroy(e);
    std::sort(t.begin(), t.end());
    return t[reps / 2];
}

// ---------------------------------------------------------------------------- FMHA

struct AttnCase {
    int b, sq, sk, h, hkv, d;
    float scale;  // 0: 1/sqrt(d)
};

template <DType D, typename F>
static void check_fmha(const char* kname, F&& fn, int bucket, bool causal, const AttnCase& c) {
    using T = elem_t<D>;
    const size_t nq = size_t(c.b) * c.sq * c.h * c.d, nk = size_t(c.b) * c.sk * c.hkv * c.d;
    Buf q(nq * 2), k(nk * 2), v(nk * 2), o(nq * 2), ref(nq * 4);
    random_fill<T>(q.p, nq);
    random_fill<T>(k.p, nk);
    random_fill<T>(v.p, nk);
    fill_nan<T><<<1024, 256>>>(static_cast<T*>(o.p), nq);
    AttentionArgs a;
    a.q = q.p, a.k = k.p, a.v = v.p, a.out = o.p;
    a.batch = c.b, a.seqlen_q = c.sq, a.seqlen_k = c.sk, a.nheads = c.h, a.nheads_kv = c.hkv, a.headdim = c.d;
    a.dtype = D, a.causal = causal, a.scale = c.scale > 0 ? c.scale : 1.f / std::sqrt(float(c.d));
    char name[160];
    std::snprintf(name, sizeof name, "%s b%d sq%d sk%d h%d/%d d%d scale%.3f", kname, c.b, c.sq, c.sk, c.h, c.hkv,
                  c.d, a.scale);
    if (!fmha_sm90_supports(a) || fmha_sm90_headdim_bucket(c.d) != bucket) {
        std::printf("[FAIL] %s: supports() rejected a case it should take\n", name);
        ++g_failures;
        return;
    }
    CHECK(fn(a));
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    const size_t smem = (size_t(c.sk) + 32) * sizeof(float);
    CHECK(cudaFuncSetAttribute(attention_ref<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
    attention_ref<T><<<dim3(c.sq, c.h, c.b), 128, smem>>>(static_cast<const T*>(q.p), static_cast<const T*>(k.p),
                                                          static_cast<const T*>(v.p), static_cast<float*>(ref.p),
                                                          c.sq, c.sk, c.h, c.hkv, c.d, causal, a.scale);
    CHECK(cudaGetLastError());
    std::vector<float> got = download<T>(o.p, nq), want(nq);
    CHECK(cudaMemcpy(want.data(), ref.p, nq * 4, cudaMemcpyDeviceToHost));
    // Rows that see no key (causal, sq > sk) must be exactly zero.
    size_t bad_empty = 0;
    if (causal && c.sq > c.sk) {
        for (int b = 0; b < c.b; ++b)
            for (int i = 0; i < c.sq - c.sk; ++i)
                for (size_t t = 0; t < size_t(c.h) * c.d; ++t)
                    bad_empty += got[(size_t(b) * c.sq + i) * c.h * c.d + t] != 0.f;
    }
    char extra[64] = "";
    if (bad_empty) {
        std::snprintf(extra, sizeof extra, " EMPTY-ROWS-NONZERO=%zu", bad_empty);
        ++g_failures;
    }
    report(name, compare(got, want), D == DType::bf16 ? 1.5e-2 : 4e-3, extra);
}

template <DType D, typename F>
static void check_fmha_all(const char* kname, F&& fn, int bucket, bool causal) {
    const int d = bucket, d_small = bucket == 64 ? 56 : bucket == 128 ? 96 : 192;
    const AttnCase cases[] = {
        {2, 128, 128, 4, 4, d, 0},     // tile-aligned MHA
        {2, 200, 333, 8, 2, d, 0},     // GQA 4:1, ragged, sq < sk
        {1, 1, 517, 8, 1, d, 0},       // decode, MQA
        {3, 300, 100, 4, 2, d, 0},     // sq > sk: causal rows with no key
        {1, 77, 77, 6, 3, d, 0.3f},    // GQA 2:1, odd lengths, custom scale
        {1, 64, 2048, 2, 2, d, 0},     // long kv
        {2, 129, 255, 4, 1, d_small, 0},  // headdim below the bucket: zero-padded tile columns
    };
    for (const AttnCase& c : cases) check_fmha<D>(kname, fn, bucket, causal, c);
}

template <DType D, typename F>
static void bench_fmha(const char* kname, F&& fn, bool causal, int d = 128) {
    using T = elem_t<D>;
    const int b = 4, h = 4096 / d, s = 4096;  // h * d = 4096 as in the d128 reference shape
    const size_t n = size_t(b) * s * h * d;
    Buf q(n * 2), k(n * 2), v(n * 2), o(n * 2);
    random_fill<T>(q.p, n);
    random_fill<T>(k.p, n);
    random_fill<T>(v.p, n);
    AttentionArgs a;
    a.q = q.p, a.k = k.p, a.v = v.p, a.out = o.p;
    a.batch = b, a.seqlen_q = s, a.seqlen_k = s, a.nheads = h, a.nheads_kv = h, a.headdim = d;
    a.dtype = D, a.causal = causal, a.scale = 1.f / std::sqrt(float(d));
    const float ms = median_ms([&] { return fn(a); });
    const double flops = 4.0 * b * h * double(s) * s * d * (causal ? 0.5 : 1.0);
    std::printf("BENCH %-52s b%d h%d d%d s%d %-9s %8.3f ms %7.1f TFLOP/s\n", kname, b, h, d, s,
                causal ? "causal" : "noncausal", ms, flops / ms * 1e-9);
}

// ---------------------------------------------------------------------------- GEMM

template <DType D, typename F>
static void check_gemm(const char* kname, F&& fn, int m, int n, int k) {
    using T = elem_t<D>;
    Buf a(size_t(m) * k * 2), b(size_t(k) * n * 2), o(size_t(m) * n * 2);
    random_fill<T>(a.p, size_t(m) * k);
    random_fill<T>(b.p, size_t(k) * n);
    fill_nan<T><<<1024, 256>>>(static_cast<T*>(o.p), size_t(m) * n);
    GemmArgs g;
    g.a = a.p, g.b = b.p, g.out = o.p, g.m = m, g.n = n, g.k = k, g.dtype = D;
    char name[160];
    std::snprintf(name, sizeof name, "%s m%d n%d k%d", kname, m, n, k);
    if (!gemm_sm90_supports(g)) {
        std::printf("[FAIL] %s: supports() rejected a case it should take\n", name);
        ++g_failures;
        return;
    }
    CHECK(fn(g));
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    // Every row for small m; 257 spread rows (first and last included) otherwise.
    std::vector<int> rows;
    if (m <= 1024) {
        for (int r = 0; r < m; ++r) rows.push_back(r);
    } else {
        for (int i = 0; i < 257; ++i) rows.push_back(int(int64_t(i) * (m - 1) / 256));
    }
    Buf rows_d(rows.size() * 4), ref(rows.size() * size_t(n) * 4);
    CHECK(cudaMemcpy(rows_d.p, rows.data(), rows.size() * 4, cudaMemcpyHostToDevice));
    gemm_ref<T><<<dim3((n + 127) / 128, unsigned(rows.size())), 128>>>(
        static_cast<const T*>(a.p), static_cast<const T*>(b.p), static_cast<float*>(ref.p),
        static_cast<const int*>(rows_d.p), int(rows.size()), n, k);
    CHECK(cudaGetLastError());
    std::vector<float> all = download<T>(o.p, size_t(m) * n), got, want(rows.size() * size_t(n));
    size_t nonfinite_elsewhere = 0;
    for (float x : all) nonfinite_elsewhere += !std::isfinite(x);  // every element must be written
    for (int r : rows) got.insert(got.end(), all.begin() + size_t(r) * n, all.begin() + size_t(r + 1) * n);
    CHECK(cudaMemcpy(want.data(), ref.p, want.size() * 4, cudaMemcpyDeviceToHost));
    Err e = compare(got, want);
    e.nan = std::max(e.nan, nonfinite_elsewhere);
    report(name, e, D == DType::bf16 ? 1e-2 : 3e-3);
}

template <DType D, typename F>
static void check_gemm_all(const char* kname, F&& fn) {
    check_gemm<D>(kname, fn, 256, 512, 128);
    check_gemm<D>(kname, fn, 1000, 264, 72);  // ragged m and n tiles, short k
    check_gemm<D>(kname, fn, 1, 8, 8);        // smallest allowed
    check_gemm<D>(kname, fn, 333, 1000, 4104);
    check_gemm<D>(kname, fn, 8192, 8192, 8192);
}

template <DType D, typename F>
static void bench_gemm(const char* kname, F&& fn) {
    using T = elem_t<D>;
    const int m = 8192, n = 8192, k = 8192;
    Buf a(size_t(m) * k * 2), b(size_t(k) * n * 2), o(size_t(m) * n * 2);
    random_fill<T>(a.p, size_t(m) * k);
    random_fill<T>(b.p, size_t(k) * n);
    GemmArgs g;
    g.a = a.p, g.b = b.p, g.out = o.p, g.m = m, g.n = n, g.k = k, g.dtype = D;
    const float ms = median_ms([&] { return fn(g); });
    std::printf("BENCH %-52s m%d n%d k%d %8.3f ms %7.1f TFLOP/s\n", kname, m, n, k, ms,
                2.0 * m * n * double(k) / ms * 1e-9);
}

// ---------------------------------------------------------------------------- variants (bf16, d128)

using FmhaVariant = cudaError_t (*)(const AttentionArgs&, int, int);
using GemmVariant = cudaError_t (*)(const GemmArgs&, int, int);

// Variant names read <kind>_<dtype>_d128_..._<noncausal|causal>.
[[maybe_unused]] static void check_variant(const char* name, FmhaVariant f) {
    auto fn = [f](const AttentionArgs& a) { return f(a, 0, 1); };
    const bool causal = std::strstr(name, "_causal") != nullptr;
    if (std::strstr(name, "_fp16_")) {
        check_fmha_all<DType::fp16>(name, fn, 128, causal);
    } else {
        check_fmha_all<DType::bf16>(name, fn, 128, causal);
    }
}
[[maybe_unused]] static void check_variant(const char* name, GemmVariant f) {
    check_gemm_all<DType::bf16>(name, [f](const GemmArgs& g) { return f(g, 0, 1); });
}
[[maybe_unused]] static void bench_variant(const char* name, FmhaVariant f) {
    auto fn = [f](const AttentionArgs& a) { return f(a, 0, 1); };
    const bool causal = std::strstr(name, "_causal") != nullptr;
    if (std::strstr(name, "_fp16_")) {
        bench_fmha<DType::fp16>(name, fn, causal);
    } else {
        bench_fmha<DType::bf16>(name, fn, causal);
    }
}
// Sweeps the persistent scheduler's raster order and swizzle (run-time arguments).
[[maybe_unused]] static void bench_variant(const char* name, GemmVariant f) {
    for (int raster = 0; raster < 3; ++raster) {
        for (int swizzle : {1, 2}) {
            char label[128];
            std::snprintf(label, sizeof label, "%s raster%d swizzle%d", name, raster, swizzle);
            bench_gemm<DType::bf16>(label, [=](const GemmArgs& g) { return f(g, raster, swizzle); });
        }
    }
}

// ---------------------------------------------------------------------------- main

int main(int argc, char** argv) {
    bool bench = true, check = true;
    int rounds = 3;  // benchmark rounds: each kernel is timed once per round, interleaved
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--no-bench") == 0) bench = false;
        if (std::strcmp(argv[i], "--bench-only") == 0) check = false;
        if (std::strncmp(argv[i], "--rounds=", 9) == 0) rounds = std::atoi(argv[i] + 9);
    }
    cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device: %s, sm_%d%d, %d SMs\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
    if (prop.major != 9 || prop.minor != 0) {
        std::printf("these kernels need an sm_90 GPU (H100/H200)\n");
        return 2;
    }

    // supports() must reject what TMA cannot address.
    {
        AttentionArgs a;
        a.q = a.k = a.v = a.out = reinterpret_cast<void*>(uintptr_t(256));
        a.batch = 1, a.seqlen_q = 8, a.seqlen_k = 8, a.nheads = 4, a.nheads_kv = 2, a.headdim = 128, a.scale = 0.1f;
        bool ok = fmha_sm90_supports(a);
        a.headdim = 100;
        ok = ok && !fmha_sm90_supports(a);
        a.headdim = 128, a.nheads_kv = 3;
        ok = ok && !fmha_sm90_supports(a);
        a.nheads_kv = 2, a.q = reinterpret_cast<void*>(uintptr_t(258));
        ok = ok && !fmha_sm90_supports(a);
        GemmArgs g;
        g.a = g.b = g.out = reinterpret_cast<void*>(uintptr_t(256));
        g.m = 3, g.n = 16, g.k = 24;
        ok = ok && gemm_sm90_supports(g);
        g.n = 12;
        ok = ok && !gemm_sm90_supports(g);
        std::printf("%s supports() accepts/rejects as documented\n", ok ? "[ OK ]" : "[FAIL]");
        g_failures += !ok;
    }

    if (check) {
#define PROBE_FMHA_CHECK(DT, HD, C) \
    check_fmha_all<DType::DT>("fmha_sm90_run<" #DT "," #HD "," #C ">", fmha_sm90_run<DType::DT, HD, C>, HD, C);
    INFERCORE_FMHA_SM90_KERNELS(PROBE_FMHA_CHECK)
#undef PROBE_FMHA_CHECK
#define PROBE_GEMM_CHECK(DT) check_gemm_all<DType::DT>("gemm_sm90_run<" #DT ">", gemm_sm90_run<DType::DT>);
    INFERCORE_GEMM_SM90_KERNELS(PROBE_GEMM_CHECK)
#undef PROBE_GEMM_CHECK
#define PROBE_VARIANT_CHECK(NAME, KIND) check_variant(#NAME, probe_variant_##NAME);
    PROBE_VARIANTS(PROBE_VARIANT_CHECK)
#undef PROBE_VARIANT_CHECK
    }

    for (int round = 1; bench && round <= rounds; ++round) {
        std::printf("benchmark round %d of %d\n", round, rounds);
#define PROBE_FMHA_BENCH(DT, HD, C) \
    bench_fmha<DType::DT>("fmha_sm90_run<" #DT "," #HD "," #C ">", fmha_sm90_run<DType::DT, HD, C>, C, HD);
        INFERCORE_FMHA_SM90_KERNELS(PROBE_FMHA_BENCH)
#undef PROBE_FMHA_BENCH
#define PROBE_GEMM_BENCH(DT) bench_gemm<DType::DT>("gemm_sm90_run<" #DT ">", gemm_sm90_run<DType::DT>);
        INFERCORE_GEMM_SM90_KERNELS(PROBE_GEMM_BENCH)
#undef PROBE_GEMM_BENCH
#define PROBE_VARIANT_BENCH(NAME, KIND) bench_variant(#NAME, probe_variant_##NAME);
        PROBE_VARIANTS(PROBE_VARIANT_BENCH)
#undef PROBE_VARIANT_BENCH
    }

    std::printf("%s: %d failure(s)\n", g_failures ? "FAILED" : "PASSED", g_failures);
    return g_failures ? 1 : 0;
}
