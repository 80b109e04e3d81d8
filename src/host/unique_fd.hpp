#pragma once

// A file descriptor closed on scope exit (which also drops an flock held
// through it). Private to the host layer.

#include <unistd.h>

namespace pcipass::host {

class UniqueFd {
public:
  explicit UniqueFd(int fd) : m_fd(fd) {}
  ~UniqueFd() {
    if (m_fd >= 0) ::close(m_fd);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  [[nodiscard]] int get() const { return m_fd; }

private:
  int m_fd;
};

}  // namespace pcipass::host
