// Definitions behind fmha_sm90.h: CUTLASS's Hopper FMHA forward
// (examples/88_hopper_fmha, CUTLASS 4.2) assembled from its collective and
// kernel headers, unmodified, plus three small pieces of our own:
//
//  * BottomRightMask: the example's CausalFusion is top-left aligned and does
//    not mask keys past seqlen_k (it assumes seqlen_k % tile == 0). Ours masks
//    j > i + seqlen_k - seqlen_q and j >= seqlen_k, and never returns 0 tiles
//    (the mainloop always consumes a first tile: 0 would deadlock it). A row
//    that sees no key keeps max = -inf, p = 0, sum = 0, and the example's
//    softmax tail then writes 0 (it guards sum == 0).
//  * OutputEpilogue: the example's epilogue minus the LSE store, which would
//    need a buffer the API has no room for.
//  * ReversedMTileScheduler: the example's one-CTA-per-tile scheduler, issuing
//    the heaviest causal q-blocks of each head first (shorter tail).
//
// GQA: the kernel indexes q/k/v by one (batch, head) coordinate with linear
// strides, so it cannot express kv_head = head / group in one launch (a nested
// head mode would change the kernel's fixed problem-shape type; cute keeps
// stride-0 modes out of TMA descriptors only when the 0 is static, which is
// MQA only). We launch once per position g in the group: q/out offset by g
// heads with head stride group*d, k/v with nheads_kv heads. MHA is one launch.
//
// Softmax scale: the example hardcodes 1/sqrt(d); we overwrite it in Params.
#pragma once

#include "fmha_sm90.h"

#include <cute/tensor.hpp>
#include <cutlass/cutlass.h>
#include <cutlass/device_kernel.h>
#include <cutlass/kernel_hardware_info.h>

#include <collective/fmha_collective_tma_warpspecialized.hpp>  // examples/88_hopper_fmha
#include <collective/fmha_epilogue.hpp>
#include <kernel/fmha_kernel_tma_warpspecialized.hpp>
#include <kernel/fmha_options.hpp>
#include <kernel/fmha_tile_scheduler.hpp>

#include <cmath>
#include <type_traits>

namespace infercore::kernels::sm90 {

using namespace cute;

template <bool Causal>
struct BottomRightMask {
    // problem: (B, H, Q, K, D); blk: (m_block, _0, (b, h)); tile: CTA tile (M, N, D).
    template <class Blk, class Tile, class Problem>
    CUTLASS_DEVICE int get_trip_count(Blk const& blk, Tile const& tile, Problem const& p) {
        const int kM = get<0>(tile), kN = get<1>(tile);
        int n = ceil_div(get<3>(p), kN);
        if constexpr (Causal) {
            const int last_row = cute::min((int(get<0>(blk)) + 1) * kM, int(get<2>(p))) - 1;
            const int last_key = last_row + get<3>(p) - get<2>(p);  // < 0: the block sees no key
            n = cute::min(n, last_key < 0 ? 1 : last_key / kN + 1);
        }
        return n;
    }

    // Leading tiles every row of the block sees whole: no mask needed there.
    template <class Blk, class Tile, class Problem>
    CUTLASS_DEVICE int get_unmasked_trip_count(Blk const& blk, Tile const& tile, Problem const& p) {
        const int kM = get<0>(tile), kN = get<1>(tile);
        int full = get<3>(p) / kN;
        if constexpr (Causal) {
            const int first_hidden = int(get<0>(blk)) * kM + get<3>(p) - get<2>(p) + 1;
            full = cute::min(full, first_hidden <= 0 ? 0 : first_hidden / kN);
        }
        return cute::min(full, get_trip_count(blk, tile, p));
    }

    template <class Blk, class Tile, class Problem>
    CUTLASS_DEVICE int get_masked_trip_count(Blk const& blk, Tile const& tile, Problem const& p) {
        return get_trip_count(blk, tile, p) - get_unmasked_trip_count(blk, tile, p);
    }

    // index_qk(i) = (global query row, global key column) of accumulator element i.
    template <class AccQK, class IndexQK, class Problem>
    CUTLASS_DEVICE void before_softmax(AccQK& acc_qk, IndexQK const& index_qk, Problem const& p) {
        const int seqlen_k = get<3>(p);
        const int offset = get<3>(p) - get<2>(p);
        CUTLASS_PRAGMA_UNROLL
        for (int i = 0; i < size(acc_qk); i++) {
            auto pos = index_qk(i);
            const int row = get<0>(pos), col = get<1>(pos);
            if (col >= seqlen_k || (Causal && col > row + offset)) acc_qk(i) = -INFINITY;
        }
    }
};

template <class Element, class ElementAcc, class TileShapeWG>
struct OutputEpilogue : cutlass::fmha::collective::FmhaFwdEpilogue<Element, ElementAcc, TileShapeWG> {
    using Base = cutlass::fmha::collective::FmhaFwdEpilogue<Element, ElementAcc, TileShapeWG>;
    using EpiTma = typename Base::CollectiveEpilogueTMA;

    template <class TileShape, class BlkCoord, class Result, class TiledMma, class Problem>
    CUTLASS_DEVICE void operator()(TileShape const& tile_shape, BlkCoord const& blk_coord, Result const& result,
                                   TiledMma const& tiled_mma, Problem const& p, typename Base::Params const& params,
                                   typename Base::LoadPipeline epi_load_pipeline,
                                   typename Base::TensorStorage& epi_storage) {
        // TMA store of the (Q, D, (B, H)) output: rows >= Q and columns >= D are clipped.
        auto problem_o = make_shape(get<2>(p), get<4>(p), _, make_shape(get<0>(p), get<1>(p)));
        EpiTma epilogue_tma(params.epilogue_TMA, epi_storage);
        using StorePipeline = typename EpiTma::StorePipeline;
        typename StorePipeline::Params store_params;
        store_params.always_wait = true;
        StorePipeline store_pipeline(store_params);
        typename EpiTma::LoadPipelineState load_state;
        auto store_state = cutlass::make_producer_start_state<StorePipeline>();
        auto [load_next, store_next] = epilogue_tma.store(
            epi_load_pipeline, load_state, store_pipeline, store_state, problem_o, tile_shape,
            make_coord(get<0>(blk_coord), _0{}, _, get<2>(blk_coord)), get<0>(result), tiled_mma,
            threadIdx.x % cutlass::NumThreadsPerWarpGroup, epi_storage);
        epilogue_tma.store_tail(epi_load_pipeline, load_next, store_pipeline, store_next);
    }
};

struct ReversedMTileScheduler {
    struct Params {
        dim3 grid;
    };
    bool valid_ = true;

    CUTLASS_DEVICE ReversedMTileScheduler(Params const&) {}

    template <class Problem, class ClusterShape, class TileShape>
    static Params to_underlying_arguments(Problem const& p, cutlass::KernelHardwareInfo, ClusterShape const&,
                                          TileShape const& tile) {
        return Params{dim3(ceil_div(get<2>(p), int(get<0>(tile))), get<0>(p), get<1>(p))};
    }
    static dim3 get_grid_shape(Params const& params) { return params.grid; }

    CUTLASS_DEVICE bool is_valid() { return valid_; }
    CUTLASS_DEVICE auto get_block_coord() {
        return make_coord(int(gridDim.x - 1 - blockIdx.x), _0{}, make_coord(int(blockIdx.y), int(blockIdx.z)));
    }
    CUTLASS_DEVICE ReversedMTileScheduler& operator++() {
        valid_ = false;
        return *this;
    }
};

namespace fmha_opt = cutlass::fmha::kernel;

// A kernel configuration: CTA tile (q rows, kv rows, head dim) and schedule.
// The q rows are split across `MmaWarpGroups` consumer warpgroups (64 rows each).
// Persistent (the example's "ping-pong"): a persistent grid, Q loaded by its own warp.
// MainloopLocked: the consumer warpgroups take turns for the softmax, so one's
// softmax overlaps the other's GEMMs (FA3's ping-pong; an option of the example).
template <class TileShape_, bool Persistent_ = false, bool MainloopLocked_ = false, int StagesKV_ = 5>
struct FmhaConfig {
    using TileShape = TileShape_;
    static constexpr bool kPersistent = Persistent_;
    static constexpr bool kMainloopLocked = MainloopLocked_;
    static constexpr int kStagesKV = StagesKV_;
};

// The example's fp16/bf16 configurations (run_fwd_64/128/256 in 88_hopper_fmha.cu),
// cooperative, one CTA per tile. Measured on an H200 at d128 (probe/NOTES.md):
// persistent -14%, 128x176 tiles -35%, 192x128 (3 consumer warpgroups) -6%;
// MainloopLocked: +0..3% in steady state, 9-15% slower at full clocks in bf16
// (A/B of the probe variants fmha_*_locked_*, NOTES.md run 4): not adopted.
template <int HeadDim>
struct FmhaDefaultConfig;
template <>
struct FmhaDefaultConfig<64> : FmhaConfig<Shape<_128, _64, _64>> {};
template <>
struct FmhaDefaultConfig<128> : FmhaConfig<Shape<_128, _128, _128>> {};
template <>
struct FmhaDefaultConfig<256> : FmhaConfig<Shape<_128, _64, _256>> {};

template <DType D>
using cutlass_element_t = std::conditional_t<D == DType::bf16, cutlass::bfloat16_t, cutlass::half_t>;

template <class Element, bool Causal, class Config>
struct FmhaKernel {
    template <fmha_opt::Tag T, class V>
    using Opt = fmha_opt::Option<T, V>;
    static constexpr int kWarpGroups = decltype(get<0>(typename Config::TileShape{}))::value / 64;
    // The kernel and its mainloop read the same option list.
    using Persist = Opt<fmha_opt::Tag::kIsPersistent, cute::bool_constant<Config::kPersistent>>;
    using SeparateQ = Opt<fmha_opt::Tag::kLoadsQSeparately, cute::bool_constant<Config::kPersistent>>;
    using Locked = Opt<fmha_opt::Tag::kIsMainloopLocked, cute::bool_constant<Config::kMainloopLocked>>;
    using WarpGroups = Opt<fmha_opt::Tag::kNumMmaWarpGroups, Int<kWarpGroups>>;
    using StagesKV = Opt<fmha_opt::Tag::kStagesKV, Int<Config::kStagesKV>>;

    using Stride = cute::tuple<int, _1, cute::tuple<int, int>>;  // (seq, d, (batch, head))
    using Mainloop = cutlass::fmha::collective::FmhaMainloopTmaWarpSpecialized<
        Element, float, float, typename Config::TileShape, Stride, Stride, Stride, BottomRightMask<Causal>, Persist,
        SeparateQ, Locked, WarpGroups, StagesKV>;
    using Epilogue = OutputEpilogue<Element, float, typename Mainloop::TileShapePV>;
    using Scheduler = std::conditional_t<Config::kPersistent, fmha_opt::PersistentTileScheduler, ReversedMTileScheduler>;
    using Kernel =
        fmha_opt::FmhaKernelTmaWarpSpecialized<Mainloop, Epilogue, Scheduler, Persist, SeparateQ, Locked, WarpGroups, StagesKV>;
};

template <DType D, int HeadDim, bool Causal, class Config = FmhaDefaultConfig<HeadDim>>
cudaError_t fmha_launch(const AttentionArgs& a) {
    using Element = cutlass_element_t<D>;
    using Kernel = typename FmhaKernel<Element, Causal, Config>::Kernel;
    static_assert(decltype(get<2>(typename Config::TileShape{}))::value == HeadDim);
    if (!fmha_sm90_supports(a) || a.dtype != D || a.headdim > HeadDim || a.causal != Causal) {
        return cudaErrorInvalidValue;
    }

    cutlass::KernelHardwareInfo hw;
    cudaError_t err = cudaGetDevice(&hw.device_id);
    if (err == cudaSuccess) err = cudaDeviceGetAttribute(&hw.sm_count, cudaDevAttrMultiProcessorCount, hw.device_id);
    const int smem = Kernel::SharedStorageSize;
    if (err == cudaSuccess) {
        // Per device and cheap: set it on every call rather than caching it process-wide.
        err = cudaFuncSetAttribute(cutlass::device_kernel<Kernel>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    }
    if (err != cudaSuccess) return err;

    const int d = a.headdim, h = a.nheads, hkv = a.nheads_kv, group = a.nheads / a.nheads_kv;
    // Per launch the "heads" are the kv heads; q/out step over them every `group` heads.
    const typename Kernel::ProblemShape problem{a.batch, hkv, a.seqlen_q, a.seqlen_k, d};
    const auto stride_q = make_stride(h * d, _1{}, make_stride(a.seqlen_q * h * d, group * d));
    const auto stride_kv = make_stride(hkv * d, _1{}, make_stride(a.seqlen_k * hkv * d, d));
    const float log2e = 1.4426950408889634f;

    for (int g = 0; g < group; ++g) {
        const Element* q = static_cast<const Element*>(a.q) + g * d;
        Element* out = static_cast<Element*>(a.out) + g * d;
        typename Kernel::Arguments args{
            problem,
            {q, stride_q, static_cast<const Element*>(a.k), stride_kv, static_cast<const Element*>(a.v), stride_kv},
            {out, stride_q, nullptr, {}},
            hw};
        auto params = Kernel::to_underlying_arguments(args, nullptr);  // builds the TMA descriptors
        params.mainloop.scale_softmax = a.scale;
        params.mainloop.scale_softmax_log2 = a.scale * log2e;

        cudaLaunchConfig_t cfg = {};
        cfg.gridDim = Kernel::get_grid_shape(params);
        cfg.blockDim = Kernel::get_block_shape();
        cfg.dynamicSmemBytes = smem;
        cfg.stream = a.stream;
        err = cudaLaunchKernelEx(&cfg, cutlass::device_kernel<Kernel>, params);
        if (err != cudaSuccess) return err;
    }
    return cudaSuccess;
}

}  // namespace infercore::kernels::sm90

// The entry point for the generated instantiation TUs (fmha_sm90.cu.in).
template <infercore::kernels::DType D, int HeadDim, bool Causal>
cudaError_t infercore::kernels::fmha_sm90_run(const AttentionArgs& args) {
    return sm90::fmha_launch<D, HeadDim, Causal>(args);
}
