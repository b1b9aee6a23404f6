// tests/parallel/mpi_gtest_main.cpp
// The gtest main of tests that run under mpirun (ENVIRONMENT.md §2). Every rank runs every test;
// only rank 0 prints the usual report, so a run of 4 ranks reads like a run of one. Ranks != 0
// print only their failed assertions, prefixed with the rank, so a failure on rank 3 is seen.
// The exit status is the same on all ranks: the failure flag is all-reduced before
// MPI_Finalize, so a test that failed anywhere fails the run.
//
// MPI is initialised here (FUNNELED, as launch::discover does), so tests use MPI_COMM_WORLD
// through parallel::MpiComm::world(), and launch::discover() finds MPI already running.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>
#include <string>

namespace {

// Stands in for the default printer on ranks != 0: failures only. The test's name is kept from
// OnTestStart: asking UnitTest::current_test_info() inside OnTestPartResult would deadlock, as
// gtest holds its own mutex while it reports a part result.
class FailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestStart(const ::testing::TestInfo& t) override {
    test_ = std::string(t.test_suite_name()) + "." + t.name();
  }
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (!r.failed()) return;
    std::string msg = r.message();  // multi-line ("Failed\n<detail>"): one line per failure here
    for (char& c : msg) if (c == '\n') c = ' ';
    std::fprintf(stderr, "[rank %d] %s %s:%d: %s\n", rank_, test_.c_str(), r.file_name() ? r.file_name() : "?",
                 r.line_number(), msg.c_str());
    std::fflush(stderr);
  }

 private:
  int rank_;
  std::string test_;
};

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  ::testing::InitGoogleTest(&argc, argv);

  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) {
    ::testing::TestEventListeners& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new FailurePrinter(rank));
  }

  const int local_failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  int any_failed = 0;
  MPI_Allreduce(&local_failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any_failed;
}
