"""pybind11 (header-only), packaged from its pinned PyPI source distribution.

The sdist carries the headers and pybind11's own installed CMake package
(share/cmake/pybind11), relocatable: this recipe copies both, and consumers get
pybind11's real config (pybind11_add_module, FindPython integration), the same
one `pip install pybind11` provides. So CMakeDeps generates nothing for it
(cmake_find_mode none) and the package folder goes on CMAKE_PREFIX_PATH.
ConanCenter's recipe installs the same config from the GitHub tarball, so
`find_package(pybind11 CONFIG)` works with either remote.
"""

import os

from conan import ConanFile
from conan.tools.files import copy, get
from conan.tools.layout import basic_layout

required_conan_version = ">=2.0"


class Pybind11Conan(ConanFile):
    name = "pybind11"
    description = "Seamless operability between C++11 and Python"
    license = "BSD-3-Clause"
    homepage = "https://github.com/pybind/pybind11"
    package_type = "header-library"
    no_copy_source = True

    def layout(self) -> None:
        basic_layout(self, src_folder="src")

    def package_id(self) -> None:
        self.info.clear()

    def source(self) -> None:
        get(self, **self.conan_data["sources"][self.version], strip_root=True)

    def package(self) -> None:
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        tree = os.path.join(self.source_folder, "pybind11")
        copy(
            self, "*.h", os.path.join(tree, "include"), os.path.join(self.package_folder, "include")
        )
        # The config finds the headers at ../../../include from its own folder.
        copy(
            self,
            "*.cmake",
            os.path.join(tree, "share", "cmake"),
            os.path.join(self.package_folder, "share", "cmake"),
        )

    def package_info(self) -> None:
        self.cpp_info.set_property("cmake_find_mode", "none")
        self.cpp_info.builddirs = [""]
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
