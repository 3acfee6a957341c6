// The control protocol of sanpool-dmemu (tools/dmemu), shared by the daemon
// and its client UserDeviceMapper (domains/dm/user_dm.h).
//
// Transport: a Unix stream socket (mode 0600). The client writes one JSON
// object per line; the daemon answers each with one JSON object per line, in
// order. Requests:
//
//   {"op":"create","name":"vg-lv","uuid":"LVM-...","table":[
//       {"start":0,"length":2048,"device":"/dev/loop0","offset":2048}, ...]}
//   {"op":"reload","name":"vg-lv","table":[...]}
//   {"op":"remove","name":"vg-lv","force":false}
//   {"op":"info","name":"vg-lv"}
//   {"op":"list"}
//   {"op":"fault","name":"vg-lv","read_delay_ms":0,"write_delay_ms":50,
//    "read_error":false,"write_error":true,"hang":false}
//   {"op":"clear","name":"vg-lv"}          (clears every fault)
//
// Answers: {"ok":true} plus "info" for info ({"exists":true,"size":<bytes>,
// "open_count":0,"read_only":false,"device":"/dev/loop7"}) and "names" for
// list; or {"ok":false,"error":{"code":"NOT_FOUND","message":"..."}} where
// code is a sanpool::CodeName().
//
// Unknown keys are ignored (so either side may add fields); missing optional
// keys take the defaults of the structs below.
//
// Thread-safety: pure functions.
#ifndef SANPOOL_DOMAINS_DM_DMEMU_PROTOCOL_H_
#define SANPOOL_DOMAINS_DM_DMEMU_PROTOCOL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "domains/dm/device_mapper.h"

namespace sanpool::dm {

// Faults injected into one mapped device's I/O. Latency is added before the
// request is served; an error fails it with EIO; a hang blocks requests until
// the faults are cleared (or the device is removed / the daemon stops).
struct FaultSpec {
  uint32_t read_delay_ms = 0;
  uint32_t write_delay_ms = 0;
  bool read_error = false;
  bool write_error = false;
  bool hang = false;

  friend bool operator==(const FaultSpec&, const FaultSpec&) = default;
};

enum class DmemuOp {
  kCreate,
  kReload,
  kRemove,
  kInfo,
  kList,
  kFault,
  kClear,
};

struct DmemuRequest {
  DmemuOp op = DmemuOp::kList;
  std::string name;
  std::string uuid;                       // kCreate.
  Table table;                            // kCreate, kReload.
  RemoveMode remove_mode = RemoveMode::kNormal;  // kRemove.
  FaultSpec faults;                       // kFault.
};

struct DmemuResponse {
  Status status;                          // OK or the daemon's error.
  DeviceInfo info;                        // kInfo.
  std::string device;                     // kInfo: the loop device, if any.
  std::vector<std::string> names;         // kList.
};

// One line of JSON, without the trailing newline.
std::string EncodeRequest(const DmemuRequest& request);
std::string EncodeResponse(const DmemuResponse& response);

// kInvalidArgument when the line is not JSON, not an object, has an unknown
// op, or a key of the wrong type or range. A decoded response whose "ok" is
// false carries the error in response.status (decoding itself succeeded).
Result<DmemuRequest> DecodeRequest(std::string_view line);
Result<DmemuResponse> DecodeResponse(std::string_view line);

}  // namespace sanpool::dm

#endif  // SANPOOL_DOMAINS_DM_DMEMU_PROTOCOL_H_
