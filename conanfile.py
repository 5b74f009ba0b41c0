"""The engine's C++ dependencies, each one used for real:

- glog: the core's logging (csrc/core/log.cc): a warning when an op falls back to a
  reference kernel, debug lines (GLOG_v=1) for each backend choice. Static, PIC, and
  kept out of the Python module's exports by its version script.
- pybind11: the binding (csrc/python), the same release pyproject.toml builds with.
- gtest: the C++ tests (tests/cpp), a test requirement only.

`nox -s deps -- --target NAME` installs them for a build-matrix.toml target (profile,
lockfile, generators); see the README's "C++ dependencies (Conan)". The names and
versions are ConanCenter's, so this file resolves from either the project's recipes
index (conan/recipes, the default) or ConanCenter.
"""

from conan import ConanFile
from conan.tools.cmake import CMakeDeps, CMakeToolchain

required_conan_version = ">=2.34"


class InfercoreConan(ConanFile):
    name = "infercore"
    settings = "os", "arch", "compiler", "build_type"
    default_options = {  # noqa: RUF012 (Conan's attribute)
        "glog/*:shared": False,
        "glog/*:fPIC": True,
        # No gflags, no libunwind: the same build of glog from ConanCenter's recipe.
        "glog/*:with_gflags": False,
        "glog/*:with_unwind": False,
        "gtest/*:shared": False,
    }

    def requirements(self) -> None:
        self.requires("glog/0.6.0")
        self.requires("pybind11/2.13.6")

    def build_requirements(self) -> None:
        self.test_requires("gtest/1.12.1")

    def layout(self) -> None:
        # Relative to the install's output folder (build/conan/TARGET).
        self.folders.generators = "generators"
        self.folders.build = "build"

    def generate(self) -> None:
        target = self.conf.get("user.infercore:target", default="")
        tc = CMakeToolchain(self)
        # Preset names carry the target (conan-cuda-x86_64-release), so the presets of
        # several targets live side by side in CMakeUserPresets.json.
        tc.presets_prefix = f"conan-{target}" if target else "conan"
        # A CUDA target's GPU archs (its profile's conf, from build-matrix.toml) reach plain
        # CMake builds through the presets; nox sessions pass them explicitly as well.
        for var, conf in (
            ("INFERCORE_CUDA_ARCHS", "cuda_archs"),
            ("INFERCORE_CUDA_PTX_ARCHS", "cuda_ptx_archs"),
        ):
            values = self.conf.get(f"user.infercore:{conf}", default=[], check_type=list)
            tc.cache_variables[var] = ";".join(values)
        tc.generate()
        CMakeDeps(self).generate()
