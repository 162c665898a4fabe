// Facts about the running process that the benchmarks and validate report.
#pragma once

namespace ptinfer::app {

// Seconds since this process started, from /proc (the kernel's start time, so it includes
// dynamic loading and static initialisation); 0 when /proc cannot be read.
double seconds_since_process_start();

// The largest resident set this process has had so far (getrusage's ru_maxrss), in MiB.
double peak_rss_mib();

}  // namespace ptinfer::app
