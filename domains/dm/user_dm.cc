#include "domains/dm/user_dm.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/unique_fd.h"

namespace sanpool::dm {
namespace {

using SteadyClock = std::chrono::steady_clock;

Result<UniqueFd> Connect(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgumentError("dmemu socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoToStatus(errno, "socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) !=
      0) {
    int err = errno;
    return UnavailableError("sanpool-dmemu not reachable at " + path + ": " +
                            std::strerror(err));
  }
  return fd;
}

// Waits until fd is ready for `events` or the deadline passes.
Status WaitFor(int fd, short events, SteadyClock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - SteadyClock::now());
    if (left.count() <= 0) {
      return DeadlineExceededError("sanpool-dmemu did not answer in time");
    }
    pollfd pfd{fd, events, 0};
    int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (n > 0) return Status::Ok();
    if (n < 0 && errno != EINTR) return ErrnoToStatus(errno, "poll dmemu");
  }
}

}  // namespace

UserDeviceMapper::UserDeviceMapper(UserDmOptions options)
    : options_(std::move(options)) {}

Result<DmemuResponse> UserDeviceMapper::Call(const DmemuRequest& request) {
  const auto deadline = SteadyClock::now() + options_.timeout;
  ASSIGN_OR_RETURN(UniqueFd fd, Connect(options_.socket_path));
  std::string out = EncodeRequest(request) + "\n";
  size_t sent = 0;
  while (sent < out.size()) {
    RETURN_IF_ERROR(WaitFor(fd.get(), POLLOUT, deadline));
    ssize_t n = ::send(fd.get(), out.data() + sent, out.size() - sent,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return UnavailableError(std::string("send to sanpool-dmemu: ") +
                              std::strerror(errno));
    }
    sent += static_cast<size_t>(n);
  }
  std::string in;
  for (;;) {
    size_t eol = in.find('\n');
    if (eol != std::string::npos) {
      ASSIGN_OR_RETURN(DmemuResponse response,
                       DecodeResponse(std::string_view(in).substr(0, eol)));
      RETURN_IF_ERROR(response.status);
      return response;
    }
    RETURN_IF_ERROR(WaitFor(fd.get(), POLLIN, deadline));
    char buf[4096];
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      return UnavailableError("sanpool-dmemu closed the connection");
    }
    in.append(buf, static_cast<size_t>(n));
  }
}

Status UserDeviceMapper::Create(std::string_view name, std::string_view uuid,
                                const Table& table) {
  RETURN_IF_ERROR(ValidateDeviceName(name));
  RETURN_IF_ERROR(ValidateDeviceUuid(uuid));
  RETURN_IF_ERROR(ValidateTable(table));
  DmemuRequest request{.op = DmemuOp::kCreate,
                       .name = std::string(name),
                       .uuid = std::string(uuid),
                       .table = table};
  return Call(request).status();
}

Status UserDeviceMapper::Reload(std::string_view name, const Table& table) {
  RETURN_IF_ERROR(ValidateDeviceName(name));
  RETURN_IF_ERROR(ValidateTable(table));
  DmemuRequest request{
      .op = DmemuOp::kReload, .name = std::string(name), .table = table};
  return Call(request).status();
}

Status UserDeviceMapper::Remove(std::string_view name, RemoveMode mode) {
  RETURN_IF_ERROR(ValidateDeviceName(name));
  DmemuRequest request{.op = DmemuOp::kRemove,
                       .name = std::string(name),
                       .remove_mode = mode};
  return Call(request).status();
}

Result<DeviceInfo> UserDeviceMapper::Info(std::string_view name) {
  RETURN_IF_ERROR(ValidateDeviceName(name));
  DmemuRequest request{.op = DmemuOp::kInfo, .name = std::string(name)};
  ASSIGN_OR_RETURN(DmemuResponse response, Call(request));
  return response.info;
}

Result<std::vector<std::string>> UserDeviceMapper::List() {
  ASSIGN_OR_RETURN(DmemuResponse response,
                   Call(DmemuRequest{.op = DmemuOp::kList}));
  return response.names;
}

std::string UserDeviceMapper::DevicePath(std::string_view name) const {
  return options_.run_dir + "/dev/" + std::string(name);
}

Status UserDeviceMapper::SetFaults(std::string_view name,
                                   const FaultSpec& faults) {
  RETURN_IF_ERROR(ValidateDeviceName(name));
  DmemuRequest request{
      .op = DmemuOp::kFault, .name = std::string(name), .faults = faults};
  return Call(request).status();
}

Status UserDeviceMapper::ClearFaults(std::string_view name) {
  RETURN_IF_ERROR(ValidateDeviceName(name));
  return Call(DmemuRequest{.op = DmemuOp::kClear, .name = std::string(name)})
      .status();
}

Result<std::string> UserDeviceMapper::LoopDevice(std::string_view name) {
  RETURN_IF_ERROR(ValidateDeviceName(name));
  ASSIGN_OR_RETURN(DmemuResponse response,
                   Call(DmemuRequest{.op = DmemuOp::kInfo,
                                     .name = std::string(name)}));
  if (!response.info.exists || response.device.empty()) {
    return NotFoundError("no mapped device " + std::string(name));
  }
  return response.device;
}

}  // namespace sanpool::dm
