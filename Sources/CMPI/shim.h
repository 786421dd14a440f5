#ifndef AECV_CMPI_SHIM_H
#define AECV_CMPI_SHIM_H
#include <mpi.h>

/* Open MPI defines its handles and MPI_IN_PLACE as macros over casts of global symbols
   (`((MPI_Comm)&ompi_mpi_comm_world)`), which Swift cannot import; these return them. */
static inline MPI_Comm aecv_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype aecv_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype aecv_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype aecv_mpi_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Op aecv_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op aecv_mpi_min(void) { return MPI_MIN; }
static inline MPI_Op aecv_mpi_max(void) { return MPI_MAX; }
static inline void *aecv_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Errhandler aecv_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int aecv_mpi_success(void) { return MPI_SUCCESS; }
static inline int aecv_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
#endif
