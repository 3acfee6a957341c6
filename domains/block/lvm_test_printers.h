// Catch2 printers for lvm records, so failed comparisons show values.
#ifndef SANPOOL_DOMAINS_BLOCK_LVM_TEST_PRINTERS_H_
#define SANPOOL_DOMAINS_BLOCK_LVM_TEST_PRINTERS_H_

#include <ostream>

#include "domains/block/lvm.h"

namespace sanpool::lvm {

inline std::ostream& operator<<(std::ostream& os, const Segment& s) {
  return os << "{le " << s.start_extent << "+" << s.extent_count << " -> "
            << s.pv_device << ":" << s.pv_start_extent << "}";
}

inline std::ostream& operator<<(std::ostream& os, const LinearTarget& t) {
  return os << "{" << t.start_sector << " " << t.sector_count << " linear "
            << t.device << " " << t.device_sector << "}";
}

}  // namespace sanpool::lvm

#endif  // SANPOOL_DOMAINS_BLOCK_LVM_TEST_PRINTERS_H_
