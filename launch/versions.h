// launch/versions.h
// Versions of the libraries kiln was built against, for `kiln --version` and the start-up banner.
// MPI is asked for its library version without being initialised (MPI_Get_library_version is one
// of the few calls the standard allows before MPI_Init).
#pragma once

#include <string>

namespace launch {

std::string mpi_version();   // "Open MPI v4.1.4"
std::string hdf5_version();  // "1.10.8"

}  // namespace launch
