// Runs one command and reports its wall time and peak RSS, for bench/run.py.
//
// The timing process must be small and fork() (not vfork/posix_spawn from
// Python): Linux keeps the memory high-water mark a process had before
// exec(), so a child spawned from a 15 MiB Python would report 15 MiB even
// for a 2 MiB program. /usr/bin/time -f %M works the same way; this one also
// times with a monotonic clock instead of to 10 ms.
//
// Usage: pcipass-bench-measure OUT STDOUT STDERR -- COMMAND [ARG...]
// writes "SECONDS MAXRSS_KIB EXIT_CODE USER_SECONDS SYSTEM_SECONDS\n" to OUT;
// stdin is /dev/null.

#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 6 || std::strcmp(argv[4], "--") != 0) {
    std::fprintf(stderr, "usage: pcipass-bench-measure OUT STDOUT STDERR -- COMMAND [ARG...]\n");
    return 2;
  }
  timespec start{};
  timespec end{};
  ::clock_gettime(CLOCK_MONOTONIC, &start);
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("fork");
    return 1;
  }
  if (pid == 0) {
    const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int out = ::open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int err = ::open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (in < 0 || out < 0 || err < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 ||
        ::dup2(err, 2) < 0) {
      _exit(126);
    }
    ::execvp(argv[5], argv + 5);
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  if (::wait4(pid, &status, 0, &usage) < 0) {
    std::perror("wait4");
    return 1;
  }
  ::clock_gettime(CLOCK_MONOTONIC, &end);
  const double seconds =
      static_cast<double>(end.tv_sec - start.tv_sec) + static_cast<double>(end.tv_nsec - start.tv_nsec) / 1e9;
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  FILE* report = std::fopen(argv[1], "w");
  if (report == nullptr) {
    std::perror(argv[1]);
    return 1;
  }
  const auto cpu = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  std::fprintf(report, "%.6f %ld %d %.6f %.6f\n", seconds, usage.ru_maxrss, code,
               cpu(usage.ru_utime), cpu(usage.ru_stime));
  std::fclose(report);
  return 0;
}
