// infercore entry point for the FlashAttention-2 forward kernels (torch-free).
//
// Fills FLASH_NAMESPACE::Flash_fwd_params as upstream mha_fwd +
// set_params_fprop + set_params_splitkv (FA2 2.8.3 csrc/flash_attn/flash_api.cpp)
// do for the non-varlen / no-dropout / no-alibi / no-paged-KV case, then
// dispatches (dtype, head-dim bucket, causal) to run_mha_fwd_<> or, when the
// profile compiled split-KV kernels and too few blocks would fill the GPU,
// to run_mha_fwd_splitkv_dispatch<> (split kernel + combine kernel), for the
// combinations listed in the CMake-generated <infercore_fa2_kernels.h>.
//
// Must be compiled with the usage requirements of the target created by
// infercore_add_flash_attention() (shim + FA2 src + CUTLASS include dirs,
// FLASH_NAMESPACE, FLASHATTENTION_DISABLE_*).
#include "fa2_forward.h"

#include "flash.h"                  // upstream: Flash_fwd_params, run_mha_fwd_ declarations
#include "infercore_fa2_kernels.h"  // generated: INFERCORE_FA2_FWD_KERNELS(X)

#include <cutlass/numeric_types.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

#ifndef INFERCORE_FA2_TORCH_SHIM
#error "fa2_forward.cu must see infercore's torch shim headers (csrc/kernels/flash_attn/shim), not PyTorch's"
#endif

namespace infercore {
#ifdef INFERCORE_KERNEL_GROUP
inline namespace INFERCORE_KERNEL_GROUP {
#endif
namespace {

constexpr double kLog2e = 1.4426950408889634074;  // M_LOG2E, as used upstream

const char* dtype_name(Fa2Dtype d) { return d == Fa2Dtype::bf16 ? "bf16" : "fp16"; }

// Upstream HEADDIM_SWITCH (static_switch.h): headdim -> compiled kernel bucket.
int headdim_bucket(int d) {
    if (d <= 32) return 32;
    if (d <= 64) return 64;
    if (d <= 96) return 96;
    if (d <= 128) return 128;
    if (d <= 192) return 192;
    return 256;
}

std::string combo_name(Fa2Dtype dtype, int bucket, bool causal) {
    return std::string(dtype_name(dtype)) + "/hdim" + std::to_string(bucket) + (causal ? "/causal" : "/noncausal");
}

template <typename T>
constexpr bool is_bf16_v = std::is_same_v<T, cutlass::bfloat16_t>;

[[noreturn]] void invalid(const std::string& msg) { throw std::invalid_argument("fa2_forward: " + msg); }

void check_cuda(cudaError_t err, const char* what) {
    if (err != cudaSuccess) {
        throw std::runtime_error(std::string("fa2_forward: ") + what + ": " + cudaGetErrorString(err));
    }
}

bool compiled(bool is_bf16, int bucket, bool causal) {
#define INFERCORE_FA2_X(T, NAME, HD, C) \
    if (is_bf16 == is_bf16_v<T> && bucket == HD && causal == C) return true;
    INFERCORE_FA2_FWD_KERNELS(INFERCORE_FA2_X)
#undef INFERCORE_FA2_X
    return false;
}

bool split_compiled(bool is_bf16, int bucket, bool causal) {
#define INFERCORE_FA2_X(T, NAME, HD, C) \
    if (is_bf16 == is_bf16_v<T> && bucket == HD && causal == C) return true;
    INFERCORE_FA2_FWD_SPLIT_KERNELS(INFERCORE_FA2_X)
#undef INFERCORE_FA2_X
    (void)is_bf16, (void)bucket, (void)causal;
    return false;
}

// Into how many KV chunks the split-KV kernel cuts each (batch, head, q-block)
// item (upstream num_splits_heuristic). Splitting pays only when the items
// alone leave SMs idle (under 80% of one wave). Each candidate count is scored
// by how full its last wave is; counts that do not change the chunk length
// (ceil(n_blocks / s) as for s - 1) are skipped, and the smallest count within
// 85% of the best score wins: fewer chunks, less combine work.
int split_count(int items, int ctas_per_wave, int n_blocks, int most = 128) {
    if (items >= 0.8f * ctas_per_wave) return 1;
    most = std::min({most, ctas_per_wave, n_blocks});
    auto chunk = [&](int s) { return (n_blocks + s - 1) / s; };
    auto distinct = [&](int s) { return s == 1 || chunk(s) != chunk(s - 1); };
    auto fill = [&](int s) {
        const float waves = float(items) * s / ctas_per_wave;
        return waves / std::ceil(waves);
    };
    float best = 0.f;
    for (int s = 1; s <= most; ++s) {
        if (distinct(s)) best = std::max(best, fill(s));
    }
    for (int s = 1; s <= most; ++s) {
        if (distinct(s) && fill(s) >= 0.85f * best) return s;
    }
    return 1;
}

// Stream-ordered scratch: freed on `stream` after the work enqueued before the
// guard goes out of scope, also when a launch throws.
struct StreamScratch {
    void* ptr = nullptr;
    cudaStream_t stream = nullptr;
    StreamScratch(size_t bytes, cudaStream_t s) : stream(s) {
        check_cuda(cudaMallocAsync(&ptr, bytes, s), "cudaMallocAsync(split-KV accumulators)");
    }
    StreamScratch(const StreamScratch&) = delete;
    StreamScratch& operator=(const StreamScratch&) = delete;
    ~StreamScratch() { (void)cudaFreeAsync(ptr, stream); }
};

// seqlen_k == 0: upstream zeroes `out` and fills softmax_lse with +inf.
template <typename T>
__global__ void empty_kv_fill(T* out, float* lse, int b, int s, int h, int d, int64_t sb, int64_t sr, int64_t sh) {
    const int64_t n = int64_t(b) * s * h * d;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        int64_t r = i;
        const int di = r % d; r /= d;
        const int hi = r % h; r /= h;
        const int si = r % s; r /= s;
        const int bi = int(r);
        out[bi * sb + si * sr + hi * sh + di] = T(0.f);
        if (di == 0) lse[(int64_t(bi) * h + hi) * s + si] = INFINITY;
    }
}

}  // namespace

bool fa2_forward_supported(Fa2Dtype dtype, int headdim, bool causal) {
    if (headdim <= 0 || headdim > 256) return false;
    const bool bf16 = dtype == Fa2Dtype::bf16;
    const int bucket = headdim_bucket(headdim);
    return compiled(bf16, bucket, causal) || split_compiled(bf16, bucket, causal);
}

std::string fa2_forward_compiled_kernels() {
    std::string s;
#define INFERCORE_FA2_X(T, NAME, HD, C) \
    s += (s.empty() ? "" : ", ") + combo_name(is_bf16_v<T> ? Fa2Dtype::bf16 : Fa2Dtype::fp16, HD, C);
    INFERCORE_FA2_FWD_KERNELS(INFERCORE_FA2_X)
#undef INFERCORE_FA2_X
#define INFERCORE_FA2_X(T, NAME, HD, C)                                                                   \
    s += (s.empty() ? "" : ", ") + combo_name(is_bf16_v<T> ? Fa2Dtype::bf16 : Fa2Dtype::fp16, HD, C) + \
         "/split-kv";
    INFERCORE_FA2_FWD_SPLIT_KERNELS(INFERCORE_FA2_X)
#undef INFERCORE_FA2_X
    return s.empty() ? std::string("(none)") : s;
}

void fa2_forward(const Fa2Args& a, cudaStream_t stream) {
    // ---- argument checks (upstream mha_fwd TORCH_CHECKs, plus pointer/alignment sanity)
    if (!a.q || !a.out || !a.softmax_lse) invalid("q, out and softmax_lse must be non-null");
    if (a.seqlen_k > 0 && (!a.k || !a.v)) invalid("k and v must be non-null when seqlen_k > 0");
    if (a.batch <= 0) invalid("batch size must be positive");
    if (a.seqlen_q <= 0 || a.seqlen_k < 0) invalid("seqlen_q must be > 0 and seqlen_k >= 0");
    if (a.nheads <= 0 || a.nheads_kv <= 0) invalid("nheads and nheads_kv must be positive");
    if (a.headdim <= 0 || a.headdim > 256) invalid("FlashAttention forward only supports head dimension at most 256");
    if (a.headdim % 8 != 0) invalid("head dimension must be a multiple of 8");
    if (a.nheads % a.nheads_kv != 0) invalid("Number of heads in key/value must divide number of heads in query");
    for (const void* p : {a.q, a.k, a.v, static_cast<const void*>(a.out)}) {
        if (reinterpret_cast<uintptr_t>(p) % 16 != 0) invalid("q, k, v, out must be 16-byte aligned");
    }
#ifdef FLASHATTENTION_DISABLE_SOFTCAP
    if (a.softcap > 0.f) invalid("This flash attention build does not support softcap.");
#endif

    const int d = a.headdim;
    auto or_default = [](int64_t s, int64_t dflt) { return s != 0 ? s : dflt; };
    const int64_t q_hs = or_default(a.q_head_stride, d), q_rs = or_default(a.q_row_stride, int64_t(a.nheads) * d);
    const int64_t q_bs = or_default(a.q_batch_stride, int64_t(a.seqlen_q) * q_rs);
    const int64_t o_hs = or_default(a.o_head_stride, d), o_rs = or_default(a.o_row_stride, int64_t(a.nheads) * d);
    const int64_t o_bs = or_default(a.o_batch_stride, int64_t(a.seqlen_q) * o_rs);
    const int64_t k_hs = or_default(a.k_head_stride, d), k_rs = or_default(a.k_row_stride, int64_t(a.nheads_kv) * d);
    const int64_t k_bs = or_default(a.k_batch_stride, int64_t(a.seqlen_k) * k_rs);
    const int64_t v_hs = or_default(a.v_head_stride, d), v_rs = or_default(a.v_row_stride, int64_t(a.nheads_kv) * d);
    const int64_t v_bs = or_default(a.v_batch_stride, int64_t(a.seqlen_k) * v_rs);
    for (int64_t s : {q_hs, q_rs, q_bs, o_hs, o_rs, o_bs, k_hs, k_rs, k_bs, v_hs, v_rs, v_bs}) {
        if (s % 8 != 0) invalid("strides must be multiples of 8 elements (16-byte vector loads)");
    }

    int dev = 0;  // also sizes the split-KV grid below
    check_cuda(cudaGetDevice(&dev), "cudaGetDevice");
    {  // upstream: is_sm8x_min
        int major = 0;
        check_cuda(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev), "cudaDeviceGetAttribute");
        if (major < 8) invalid("FlashAttention only supports Ampere GPUs or newer.");
    }

    if (a.seqlen_k == 0) {  // upstream: out.zero_(); softmax_lse.fill_(inf)
        const int64_t n = int64_t(a.batch) * a.seqlen_q * a.nheads * d;
        const int blocks = int(std::min<int64_t>((n + 255) / 256, 4096));
        if (a.dtype == Fa2Dtype::bf16) {
            empty_kv_fill<<<blocks, 256, 0, stream>>>(static_cast<cutlass::bfloat16_t*>(a.out), a.softmax_lse, a.batch,
                                                      a.seqlen_q, a.nheads, d, o_bs, o_rs, o_hs);
        } else {
            empty_kv_fill<<<blocks, 256, 0, stream>>>(static_cast<cutlass::half_t*>(a.out), a.softmax_lse, a.batch,
                                                      a.seqlen_q, a.nheads, d, o_bs, o_rs, o_hs);
        }
        check_cuda(cudaGetLastError(), "empty_kv_fill launch");
        return;
    }

    // ---- mha_fwd: window / causal normalisation
    int seqlen_q = a.seqlen_q;
    int num_heads = a.nheads;
    const int num_heads_k = a.nheads_kv;
    const int seqlen_k = a.seqlen_k;
    int window_size_left = a.window_size_left;
    int window_size_right = a.window_size_right;
    bool is_causal = a.causal;
    if (window_size_left >= seqlen_k) { window_size_left = -1; }
    if (window_size_right >= seqlen_k) { window_size_right = -1; }
    // causal=true is the same as causal=false in this case (no alibi here)
    if (seqlen_q == 1) { is_causal = false; }
    if (is_causal) { window_size_right = 0; }

    // Decode with GQA: view q (b, 1, nheads_kv*ngroups, d) as (b, ngroups, nheads_kv, d)
    // (upstream reshape+transpose; here pure stride arithmetic, also for `out`).
    // softmax_lse layout (b, nheads_kv, ngroups) == (b, nheads, 1): unchanged for the caller.
    int64_t q_row = q_rs, q_head = q_hs, o_row = o_rs, o_head = o_hs;
    const bool seqlenq_ngroups_swapped = seqlen_q == 1 && num_heads > num_heads_k && window_size_left < 0 &&
                                         window_size_right < 0 && d % 8 == 0;  // p_dropout == 0, no alibi
    if (seqlenq_ngroups_swapped) {
        const int ngroups = num_heads / num_heads_k;
        q_row = q_hs;  // consecutive query heads of one kv group become the "rows"
        q_head = q_hs * ngroups;
        o_row = o_hs;
        o_head = o_hs * ngroups;
        seqlen_q = ngroups;
        num_heads = num_heads_k;
    }

    auto round_multiple = [](int x, int m) { return (x + m - 1) / m * m; };
    const int head_size_rounded = round_multiple(d, d <= 128 ? 32 : 64);
    const int seqlen_q_rounded = round_multiple(seqlen_q, 128);
    const int seqlen_k_rounded = round_multiple(seqlen_k, 128);

    // ---- set_params_fprop (is_bf16 ... seqlenq_ngroups_swapped), verbatim semantics
    FLASH_NAMESPACE::Flash_fwd_params params;
    params = {};
    params.is_bf16 = a.dtype == Fa2Dtype::bf16;

    params.q_ptr = const_cast<void*>(a.q);
    params.k_ptr = const_cast<void*>(a.k);
    params.v_ptr = const_cast<void*>(a.v);
    params.q_row_stride = q_row;
    params.k_row_stride = k_rs;
    params.v_row_stride = v_rs;
    params.q_head_stride = q_head;
    params.k_head_stride = k_hs;
    params.v_head_stride = v_hs;
    params.o_ptr = a.out;
    params.o_row_stride = o_row;
    params.o_head_stride = o_head;
    // cu_seqlens_q == nullptr: batch strides (set_params_fprop's own
    // seqlenq_ngroups_swapped flag is false in mha_fwd, so no *= seqlen_q).
    params.q_batch_stride = q_bs;
    params.k_batch_stride = k_bs;
    params.v_batch_stride = v_bs;
    params.o_batch_stride = o_bs;

    params.cu_seqlens_q = nullptr;
    params.cu_seqlens_k = nullptr;
    params.seqused_k = nullptr;
    params.p_ptr = nullptr;  // return_softmax = false
    params.softmax_lse_ptr = a.softmax_lse;

    params.b = a.batch;
    params.h = num_heads;
    params.h_k = num_heads_k;
    params.h_h_k_ratio = num_heads / num_heads_k;
    params.seqlen_q = seqlen_q;
    params.seqlen_k = seqlen_k;
    params.seqlen_q_rounded = seqlen_q_rounded;
    params.seqlen_k_rounded = seqlen_k_rounded;
    params.d = d;
    params.d_rounded = head_size_rounded;

    if (a.softcap > 0.f) {
        params.softcap = a.softmax_scale / a.softcap;
        params.scale_softmax = a.softcap;
        params.scale_softmax_log2 = a.softcap * kLog2e;
    } else {
        params.softcap = 0.f;
        params.scale_softmax = a.softmax_scale;
        params.scale_softmax_log2 = a.softmax_scale * kLog2e;
    }

    // p_dropout = 0 -> keep-probability 1.
    const float p_dropout = 0.f;
    params.p_dropout = 1.f - p_dropout;
    params.p_dropout_in_uint8_t = uint8_t(std::floor(params.p_dropout * 255.0));
    params.rp_dropout = 1.f / params.p_dropout;
    params.scale_softmax_rp_dropout = params.rp_dropout * params.scale_softmax;

    // Causal is the special case where window_size_right == 0 and window_size_left < 0.
    params.is_causal = window_size_left < 0 && window_size_right == 0;
    if (window_size_left < 0 && window_size_right >= 0) { window_size_left = seqlen_k; }
    if (window_size_left >= 0 && window_size_right < 0) { window_size_right = seqlen_k; }
    params.window_size_left = window_size_left;
    params.window_size_right = window_size_right;
#ifdef FLASHATTENTION_DISABLE_LOCAL
    if (!(params.is_causal || (window_size_left < 0 && window_size_right < 0)))
        invalid("This flash attention build does not support local attention.");
#endif
    params.is_seqlens_k_cumulative = true;
#ifdef FLASHATTENTION_DISABLE_UNEVEN_K
    if (d != head_size_rounded) invalid("This flash attention build does not support headdim not being a multiple of 32.");
#endif
    params.unpadded_lse = false;
    params.seqlenq_ngroups_swapped = false;

    // ---- set_params_splitkv: split the KV sequence when the plain grid would
    // leave SMs idle (decode, small batches) and this combination has split kernels.
    const int bucket = headdim_bucket(params.d);
    const bool causal_kernel = params.is_causal;
    const bool plain = compiled(params.is_bf16, bucket, causal_kernel);
    const bool split = split_compiled(params.is_bf16, bucket, causal_kernel);
    params.num_splits = 1;
    params.softmax_lseaccum_ptr = nullptr;
    params.oaccum_ptr = nullptr;
    std::optional<StreamScratch> accumulators;
    if (split) {
        int sms = 0;
        check_cuda(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute");
        // run_mha_fwd_splitkv_dispatch's tiles: 64 query rows, kBlockN keys by head dim.
        const int block_n = bucket <= 64 ? 256 : (bucket <= 128 ? 128 : 64);
        const int m_blocks = (seqlen_q + 63) / 64;
        const int n_blocks = (seqlen_k + block_n - 1) / block_n;
        // Two 128-thread CTAs per SM: upstream sizes a wave as 2 * SMs.
        params.num_splits = split_count(a.batch * num_heads * m_blocks, 2 * sms, n_blocks);
        if (params.num_splits > 1) {
            // Per split: the partial LSE (b, h, sq) and output (b, h, sq, d_rounded), fp32.
            const size_t rows = size_t(params.num_splits) * a.batch * num_heads * seqlen_q;
            accumulators.emplace(sizeof(float) * rows * (1 + head_size_rounded), stream);
            params.softmax_lseaccum_ptr = accumulators->ptr;
            params.oaccum_ptr = static_cast<float*>(accumulators->ptr) + rows;
        }
    }
    // ---- no dropout: philox_args stays value-initialised, rng_state unused (written only if Is_dropout).
    params.rng_state = nullptr;
    // ---- set_params_alibi: none.
    params.alibi_slopes_ptr = nullptr;
    params.alibi_slopes_batch_stride = 0;

    // ---- run_mha_fwd: FP16_SWITCH x HEADDIM_SWITCH x BOOL_SWITCH(is_causal), compiled subset only;
    // the split-KV kernels run when they split, or when they are all this combination has.
    if (split && (params.num_splits > 1 || !plain)) {
#define INFERCORE_FA2_X(T, NAME, HD, C)                                          \
    if (params.is_bf16 == is_bf16_v<T> && bucket == HD && causal_kernel == C) {  \
        FLASH_NAMESPACE::run_mha_fwd_splitkv_dispatch<T, HD, C>(params, stream); \
        return;                                                                  \
    }
        INFERCORE_FA2_FWD_SPLIT_KERNELS(INFERCORE_FA2_X)
#undef INFERCORE_FA2_X
    }
#define INFERCORE_FA2_X(T, NAME, HD, C)                                          \
    if (params.is_bf16 == is_bf16_v<T> && bucket == HD && causal_kernel == C) {  \
        FLASH_NAMESPACE::run_mha_fwd_<T, HD, C>(params, stream);                 \
        return;                                                                  \
    }
    INFERCORE_FA2_FWD_KERNELS(INFERCORE_FA2_X)
#undef INFERCORE_FA2_X
    invalid("no compiled kernel for " + combo_name(a.dtype, bucket, causal_kernel) + " (headdim " +
            std::to_string(d) + (a.causal && !causal_kernel ? ", causal dropped because seqlen_q == 1" : "") +
            "); compiled: " + fa2_forward_compiled_kernels());
}

#ifdef INFERCORE_KERNEL_GROUP
}  // namespace INFERCORE_KERNEL_GROUP
#endif
}  // namespace infercore
