"""GoogleTest, built from its pinned release tarball (infercore's recipes index).

The package names, CMake file name (GTest) and targets (GTest::gtest,
GTest::gtest_main) are ConanCenter's, so the engine's conanfile.py resolves the
same way from either remote.
"""

import os

from conan import ConanFile
from conan.tools.cmake import CMake, CMakeToolchain, cmake_layout
from conan.tools.files import copy, get, rmdir

required_conan_version = ">=2.0"


class GTestConan(ConanFile):
    name = "gtest"
    description = "Google's C++ test framework"
    license = "BSD-3-Clause"
    homepage = "https://github.com/google/googletest"
    package_type = "library"
    settings = "os", "arch", "compiler", "build_type"
    options = {"shared": [True, False], "fPIC": [True, False]}  # noqa: RUF012 (Conan attribute)
    default_options = {"shared": False, "fPIC": True}  # noqa: RUF012 (Conan attribute)

    def config_options(self) -> None:
        if self.settings.os == "Windows":
            del self.options.fPIC

    def configure(self) -> None:
        if self.options.shared:
            self.options.rm_safe("fPIC")

    def layout(self) -> None:
        cmake_layout(self, src_folder="src")

    def source(self) -> None:
        # conandata.yml is generated from sources.lock.toml: ordered URLs, one sha256.
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
        tc.cache_variables["BUILD_GMOCK"] = False
        tc.cache_variables["INSTALL_GTEST"] = True
        tc.cache_variables["gtest_build_tests"] = False
        tc.cache_variables["gtest_build_samples"] = False
        tc.generate()

    def build(self) -> None:
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self) -> None:
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        CMake(self).install()
        rmdir(self, os.path.join(self.package_folder, "lib", "cmake"))
        rmdir(self, os.path.join(self.package_folder, "lib", "pkgconfig"))

    def package_info(self) -> None:
        postfix = "d" if self.settings.build_type == "Debug" else ""
        self.cpp_info.set_property("cmake_file_name", "GTest")
        self.cpp_info.set_property("cmake_find_mode", "both")

        gtest = self.cpp_info.components["libgtest"]
        gtest.set_property("cmake_target_name", "GTest::gtest")
        gtest.libs = [f"gtest{postfix}"]
        if self.settings.os in ("Linux", "FreeBSD"):
            gtest.system_libs = ["m", "pthread"]
        if self.options.shared:
            gtest.defines = ["GTEST_LINKED_AS_SHARED_LIBRARY=1"]

        main = self.cpp_info.components["gtest_main"]
        main.set_property("cmake_target_name", "GTest::gtest_main")
        main.libs = [f"gtest_main{postfix}"]
        main.requires = ["libgtest"]
