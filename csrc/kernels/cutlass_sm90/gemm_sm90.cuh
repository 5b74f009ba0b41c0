// Definitions behind gemm_sm90.h: a CUTLASS 3.x Hopper GEMM assembled with
// CollectiveBuilder (TMA loads, wgmma, warp-specialized persistent kernel,
// TMA-store epilogue, no C operand).
//
// Layouts in CUTLASS terms: A (m, k) row-major = K-major; B (k, n) row-major =
// N-major (wgmma reads 16-bit MN-major B from shared memory natively, no
// transpose pass); D (m, n) row-major.
#pragma once

#include "gemm_sm90.h"

#include <cute/tensor.hpp>
#include <cutlass/cutlass.h>
#include <cutlass/device_kernel.h>
#include <cutlass/epilogue/collective/collective_builder.hpp>
#include <cutlass/gemm/collective/collective_builder.hpp>
#include <cutlass/gemm/dispatch_policy.hpp>
#include <cutlass/gemm/kernel/gemm_universal.hpp>
#include <cutlass/gemm/kernel/tile_scheduler_params.h>
#include <cutlass/kernel_hardware_info.h>
#include <cutlass/util/packed_stride.hpp>

#include <type_traits>

namespace infercore::kernels::sm90 {

using namespace cute;

template <class TileShape_, class ClusterShape_, class KernelSchedule_, class EpilogueSchedule_>
struct GemmConfig {
    using TileShape = TileShape_;
    using ClusterShape = ClusterShape_;
    using KernelSchedule = KernelSchedule_;
    using EpilogueSchedule = EpilogueSchedule_;
};

// 128x256 tile (two consumer warpgroups of 64x256), 2-CTA cluster sharing B by
// TMA multicast, persistent tile scheduler: CUTLASS's profiler pick for large
// bf16 GEMMs on H100-class parts.
using GemmDefaultConfig = GemmConfig<Shape<_128, _256, _64>, Shape<_2, _1, _1>,
                                     cutlass::gemm::KernelTmaWarpSpecializedCooperative,
                                     cutlass::epilogue::TmaWarpSpecializedCooperative>;

// Run-time knobs of the persistent scheduler (the defaults are what gemm_sm90_run uses).
struct GemmTuning {
    int raster = 0;   // 0 heuristic, 1 along M, 2 along N
    int swizzle = 1;  // max CTA swizzle (1, 2, 4, 8)
};

template <class Element, class Config>
struct GemmKernel {
    static constexpr int kAlign = 16 / sizeof(Element);
    using Row = cutlass::layout::RowMajor;

    using Epilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
        cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, typename Config::TileShape,
        typename Config::ClusterShape, cutlass::epilogue::collective::EpilogueTileAuto, float, float,
        void, Row, kAlign,  // no C: out = a @ b
        Element, Row, kAlign, typename Config::EpilogueSchedule>::CollectiveOp;

    using Mainloop = typename cutlass::gemm::collective::CollectiveBuilder<
        cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, Element, Row, kAlign, Element, Row, kAlign, float,
        typename Config::TileShape, typename Config::ClusterShape,
        cutlass::gemm::collective::StageCountAutoCarveout<static_cast<int>(sizeof(typename Epilogue::SharedStorage))>,
        typename Config::KernelSchedule>::CollectiveOp;

    using Kernel = cutlass::gemm::kernel::GemmUniversal<Shape<int, int, int, int>, Mainloop, Epilogue>;
};

template <DType D, class Config = GemmDefaultConfig>
cudaError_t gemm_launch(const GemmArgs& g, GemmTuning tuning = {}) {
    using Element = std::conditional_t<D == DType::bf16, cutlass::bfloat16_t, cutlass::half_t>;
    using Kernel = typename GemmKernel<Element, Config>::Kernel;
    if (!gemm_sm90_supports(g) || g.dtype != D) return cudaErrorInvalidValue;

    cutlass::KernelHardwareInfo hw;
    cudaError_t err = cudaGetDevice(&hw.device_id);
    if (err == cudaSuccess) err = cudaDeviceGetAttribute(&hw.sm_count, cudaDevAttrMultiProcessorCount, hw.device_id);
    if (err != cudaSuccess) return err;

    using StrideA = typename Kernel::StrideA;
    using StrideB = typename Kernel::StrideB;
    using StrideD = typename Kernel::StrideD;
    const auto sa = cutlass::make_cute_packed_stride(StrideA{}, make_shape(g.m, g.k, 1));
    const auto sb = cutlass::make_cute_packed_stride(StrideB{}, make_shape(g.n, g.k, 1));
    const auto sd = cutlass::make_cute_packed_stride(StrideD{}, make_shape(g.m, g.n, 1));

    typename Kernel::Arguments args{cutlass::gemm::GemmUniversalMode::kGemm,
                                    {g.m, g.n, g.k, 1},
                                    {static_cast<const Element*>(g.a), sa, static_cast<const Element*>(g.b), sb},
                                    {{1.f, 0.f}, nullptr, sd, static_cast<Element*>(g.out), sd},
                                    hw};
    using Raster = cutlass::gemm::kernel::detail::PersistentTileSchedulerSm90Params::RasterOrderOptions;
    args.scheduler.raster_order = tuning.raster == 1   ? Raster::AlongM
                                  : tuning.raster == 2 ? Raster::AlongN
                                                       : Raster::Heuristic;
    args.scheduler.max_swizzle_size = tuning.swizzle;
    if (!Kernel::can_implement(args)) return cudaErrorInvalidValue;

    // The persistent data-parallel scheduler needs none; kept general for other schedules.
    void* workspace = nullptr;
    const size_t workspace_bytes = Kernel::get_workspace_size(args);
    if (workspace_bytes) {
        err = cudaMallocAsync(&workspace, workspace_bytes, g.stream);
        if (err != cudaSuccess) return err;
        if (Kernel::initialize_workspace(args, workspace, g.stream) != cutlass::Status::kSuccess) {
            cudaFreeAsync(workspace, g.stream);
            return cudaErrorUnknown;
        }
    }

    auto params = Kernel::to_underlying_arguments(args, workspace);  // builds the TMA descriptors
    const int smem = Kernel::SharedStorageSize;
    err = cudaFuncSetAttribute(cutlass::device_kernel<Kernel>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    if (err == cudaSuccess) {
        cudaLaunchAttribute cluster = {};
        cluster.id = cudaLaunchAttributeClusterDimension;
        cluster.val.clusterDim.x = size<0>(typename Config::ClusterShape{});
        cluster.val.clusterDim.y = size<1>(typename Config::ClusterShape{});
        cluster.val.clusterDim.z = size<2>(typename Config::ClusterShape{});
        cudaLaunchConfig_t cfg = {};
        cfg.gridDim = Kernel::get_grid_shape(params);
        cfg.blockDim = Kernel::get_block_shape();
        cfg.dynamicSmemBytes = smem;
        cfg.stream = g.stream;
        cfg.attrs = &cluster;
        cfg.numAttrs = 1;
        err = cudaLaunchKernelEx(&cfg, cutlass::device_kernel<Kernel>, params);
    }
    if (workspace) {
        const cudaError_t free_err = cudaFreeAsync(workspace, g.stream);  // stream-ordered after the kernel
        if (err == cudaSuccess) err = free_err;
    }
    return err;
}

}  // namespace infercore::kernels::sm90

// The entry point for the generated instantiation TUs (gemm_sm90.cu.in).
template <infercore::kernels::DType D>
cudaError_t infercore::kernels::gemm_sm90_run(const GemmArgs& args) {
    return sm90::gemm_launch<D>(args);
}
