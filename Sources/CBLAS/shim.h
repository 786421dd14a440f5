// The one place OpenBLAS enters the package: only Sources/AECVKernels/Kernels imports CBLAS.
// Debian's libopenblas-dev installs cblas.h (with openblas_set_num_threads) on the default path.
#include <cblas.h>
