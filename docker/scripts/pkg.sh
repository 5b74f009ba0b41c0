# shellcheck shell=sh
# Package-manager helpers for docker/scripts (sourced, POSIX sh): the same install
# steps on dnf, yum and apt bases. The caller sets pkg_manager (apt, dnf or yum)
# first; tests run the dnf and yum branches against a stub that records its calls.

: "${pkg_manager:?set pkg_manager to apt, dnf or yum before sourcing pkg.sh}"
case "$pkg_manager" in
  apt | dnf | yum) ;;
  *)
    echo "error: unknown package manager '$pkg_manager' (apt, dnf or yum)" >&2
    exit 2
    ;;
esac

pkg_install() {
  case "$pkg_manager" in
    apt)
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
      ;;
    dnf)
      dnf install -y --setopt=install_weak_deps=False "$@"
      ;;
    yum)
      yum install -y "$@"
      ;;
  esac
}

pkg_refresh() {
  case "$pkg_manager" in
    apt) apt-get update ;;
    dnf) dnf makecache ;;
    yum) yum makecache ;;
  esac
}

# No package cache stays in a layer.
pkg_clean() {
  case "$pkg_manager" in
    apt) apt-get clean && rm -rf /var/lib/apt/lists/* ;;
    dnf) dnf clean all && rm -rf /var/cache/dnf ;;
    yum) yum clean all && rm -rf /var/cache/yum ;;
  esac
}

# Is a package installable here? (for optional choices, e.g. a python3.X package)
pkg_available() {
  case "$pkg_manager" in
    apt) apt-cache show "$1" >/dev/null 2>&1 ;;
    dnf) dnf info "$1" >/dev/null 2>&1 ;;
    yum) yum info "$1" >/dev/null 2>&1 ;;
  esac
}
