"""Version of the binding (read by setup tooling without importing the package)."""

__version__ = "0.1.0"

#: The major version of libaecv this binding is written for: the C ABI is stable within a major
#: version, so the loaded library's aecv_version_number() // 10000 must equal it.
LIBRARY_MAJOR = 0
