#include "app/process_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace ptinfer::app {

double seconds_since_process_start() {
  std::ifstream stat("/proc/self/stat"), uptime_file("/proc/uptime");
  std::string line;
  double uptime = 0;
  if (!std::getline(stat, line) || !(uptime_file >> uptime)) return 0;
  // Field 22 (starttime, clock ticks after boot) counts from after the ")" closing the name.
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
  }
  double ticks = std::atof(field.c_str());
  double start = ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  return std::max(0.0, uptime - start);
}

double peak_rss_mib() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

}  // namespace ptinfer::app
