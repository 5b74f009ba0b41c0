"""glog, Google's logging library, built from its pinned release tarball.

infercore links it statically into its core (and so into the Python module,
whose version script keeps every glog symbol local). Only what the core needs
is switched on: no gflags (glog then defines its FLAGS_* itself and still reads
GLOG_* environment variables), no libunwind (glibc's backtrace() serves), no
GoogleTest, no custom log-line prefixes (that would add a define consumers must
see). Package and target names are ConanCenter's (glog::glog).
"""

import os

from conan import ConanFile
from conan.tools.cmake import CMake, CMakeToolchain, cmake_layout
from conan.tools.files import copy, get, rmdir

required_conan_version = ">=2.0"


class GlogConan(ConanFile):
    name = "glog"
    description = "Google's C++ logging library"
    license = "BSD-3-Clause"
    homepage = "https://github.com/google/glog"
    package_type = "library"
    settings = "os", "arch", "compiler", "build_type"
    # with_gflags/with_unwind: ConanCenter's names, so one consumer conanfile asks for
    # the same build from either remote; this index builds only without them.
    options = {  # noqa: RUF012 (Conan attribute)
        "shared": [True, False],
        "fPIC": [True, False],
        "with_gflags": [False],
        "with_unwind": [False],
    }
    default_options = {  # noqa: RUF012 (Conan attribute)
        "shared": False,
        "fPIC": True,
        "with_gflags": False,
        "with_unwind": False,
    }

    def config_options(self) -> None:
        if self.settings.os == "Windows":
            del self.options.fPIC

    def configure(self) -> None:
        if self.options.shared:
            self.options.rm_safe("fPIC")

    def layout(self) -> None:
        cmake_layout(self, src_folder="src")

    def source(self) -> None:
        get(self, **self.conan_data["sources"][self.version], strip_root=True)

    def generate(self) -> None:
        tc = CMakeToolchain(self)
        # No path of the Conan cache in the binaries (LOG() and assertions carry
        # __FILE__): what links this package is byte-identical whatever CONAN_HOME is.
        prefix_maps = [
            f"-ffile-prefix-map={self.source_folder}=/{self.name}-{self.version}",
            f"-ffile-prefix-map={self.build_folder}=/{self.name}-{self.version}/build",
        ]
        tc.extra_cflags += prefix_maps
        tc.extra_cxxflags += prefix_maps
        for off in ("WITH_GFLAGS", "WITH_GTEST", "WITH_UNWIND", "WITH_CUSTOM_PREFIX"):
            tc.cache_variables[off] = False
        tc.cache_variables["WITH_PKGCONFIG"] = False
        tc.cache_variables["BUILD_TESTING"] = False
        # glog's configure checks would otherwise find whatever the build machine has.
        tc.cache_variables["CMAKE_DISABLE_FIND_PACKAGE_gflags"] = True
        tc.cache_variables["CMAKE_DISABLE_FIND_PACKAGE_GTest"] = True
        tc.cache_variables["CMAKE_DISABLE_FIND_PACKAGE_Unwind"] = True
        tc.generate()

    def build(self) -> None:
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self) -> None:
        copy(self, "COPYING", self.source_folder, os.path.join(self.package_folder, "licenses"))
        CMake(self).install()
        rmdir(self, os.path.join(self.package_folder, "lib", "cmake"))
        rmdir(self, os.path.join(self.package_folder, "lib", "pkgconfig"))

    def package_info(self) -> None:
        postfix = "d" if self.settings.build_type == "Debug" else ""
        self.cpp_info.set_property("cmake_file_name", "glog")
        self.cpp_info.set_property("cmake_target_name", "glog::glog")
        self.cpp_info.libs = [f"glog{postfix}"]
        if not self.options.shared:
            self.cpp_info.defines = ["GLOG_STATIC_DEFINE"]
        if self.settings.os in ("Linux", "FreeBSD"):
            self.cpp_info.system_libs = ["pthread"]
