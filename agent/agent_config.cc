#include "agent/agent_config.h"

#include <chrono>

namespace sanpool::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

milliseconds Millis(const Config& config, std::string_view key) {
  return std::chrono::duration_cast<milliseconds>(config.GetDuration(key));
}

bool IsLoopbackName(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace

ConfigSchema AgentConfigSchema() {
  ConfigSchema s;
  s.String("rpc.host", "::",
           "Address of the TCP (JSON-RPC over HTTPS/WebSocket) listener; "
           "\"::\" = all addresses; empty = no TCP listener")
      .Int("rpc.port", 54321, 0, 65535, "TCP port; 0 = any free port (tests)")
      .Bool("rpc.tls", true,
            "Mutual TLS on the TCP listener. false is allowed only on a "
            "loopback rpc.host (tests) and logs a warning")
      .Path("rpc.ca_file", "/etc/sanpool/pki/ca.pem",
            "CA certificate(s) that clients' certificates must chain to")
      .Path("rpc.cert_file", "/etc/sanpool/pki/host.pem",
            "This agent's certificate chain (PEM)")
      .Path("rpc.key_file", "/etc/sanpool/pki/host.key",
            "This agent's private key (PEM)")
      .Path("rpc.unix_socket", "/run/sanpool/agent.sock",
            "Unix socket for the local CLI (mode 0600, no TLS); empty = none")
      .Int("rpc.io_threads", 1, 1, 64, "Network threads")
      .Int("rpc.worker_threads", 4, 1, 256,
           "Threads running blocking (storage) methods")
      .Int("rpc.worker_queue", 256, 0, 100000,
           "Blocking calls that may wait for a worker thread before new ones "
           "are refused as busy")
      .Size("rpc.max_request_bytes", 1 << 20,
            "Largest request body (HTTP) or message (WebSocket); larger HTTP "
            "bodies get 413",
            1024, 256ull << 20)
      .Int("rpc.max_batch", 100, 1, 100000, "Most requests in one JSON-RPC batch")
      .Int("rpc.max_in_flight_per_connection", 64, 1, 4096,
           "Unanswered requests per connection before the server stops "
           "reading from it")
      .Int("rpc.max_connections", 1000, 1, 1000000,
           "Open client connections; further ones are closed at once")
      .Size("rpc.ws_max_queue_bytes", 8 << 20,
            "Bytes queued for one WebSocket client before it is disconnected "
            "as too slow",
            4096, 1ull << 30)
      .Duration("rpc.idle_timeout_s", seconds(300),
                "Close a connection that sent nothing for this long while "
                "nothing was in flight",
                milliseconds(10))
      .Duration("rpc.header_timeout_s", seconds(10),
                "Time to receive a request header, and for TLS/WebSocket "
                "handshakes",
                milliseconds(10))
      .Duration("rpc.body_timeout_s", seconds(30),
                "Time to receive a request body", milliseconds(10))
      .Duration("rpc.write_timeout_s", seconds(30),
                "A response not accepted by the client within this closes "
                "the connection",
                milliseconds(10))
      .Duration("rpc.drain_timeout_s", seconds(30),
                "On SIGTERM/SIGINT, how long in-flight requests may finish")
      .Path("storage.repository", "/run/sanpool/data-center",
            "Repository root: storage connections are mounted (or, for "
            "LOCALFS, linked) under <repository>/mnt/<connection>, where the "
            "agent finds file domains as <repository>/mnt/*/<sdUUID>")
      .Path("storage.run_dir", "/run/sanpool/storage",
            "Per-host run directory: Image.prepare makes "
            "<run_dir>/<sdUUID>/<imgUUID>/ with links to the volume chain")
      .Duration("monitor.interval_s", seconds(10),
                "Time between two health checks of a monitored storage "
                "domain (one O_DIRECT read of its metadata); a check still "
                "running at the next one reports the domain invalid "
                "(read timeout)",
                seconds(1), std::chrono::hours(1))
      .Bool("spm.auto", true,
            "Contend for the SPM role (the pool's SDM lease) automatically "
            "whenever it is free, so the pool keeps an SPM without an engine")
      .Int("spm.backoff_max_ms", 1000, 0, 60000,
           "Upper bound of the random wait (milliseconds) before contending "
           "for a free SDM lease; spreads hosts that see it free together")
      .Int("sanlock.io_timeout_s", 10, 1, 60,
           "sanlock io_timeout (seconds) given to new lockspaces; every "
           "lease timeout derives from it (lease/timeouts.h): joins take "
           "about 2-5x, a dead host's leases are free after 8x + 60 s")
      .Path("agent.state_file", "/var/lib/sanpool/pool.state",
            "Local pool membership (pool, host id, master domain, master "
            "version), restored at start so the agent rejoins its pool; "
            "removed by StoragePool.disconnect")
      .Int("mailbox.event_poll_ms", 5, 1, 10000,
           "SPM: period of its read of the mailbox event block (one "
           "4 KiB O_DIRECT read of the master's inbox); 5 ms = 200 "
           "reads/s = 800 KiB/s, whatever the number of hosts")
      .Int("mailbox.host_poll_ms", 5, 1, 10000,
           "Host: period of its outbox read (4 KiB) while it has extend "
           "requests pending, none otherwise; 250 hosts all waiting at "
           "5 ms read 50,000 x 4 KiB/s (about 200 MB/s) from the master "
           "together, idle hosts nothing")
      .Int("mailbox.scan_interval_ms", 1000, 10, 600000,
           "SPM: full rescan of every host's inbox and outbox area even "
           "without an event (a lost event only delays a request); at "
           "250 hosts two 1000 KiB reads per scan, 2 MB/s at 1 s")
      .Duration("mailbox.resend_timeout_s", seconds(5),
                "Host: rewrite a request the SPM has not answered after this "
                "long (extends are absolute: serving one twice is harmless)",
                milliseconds(10), std::chrono::minutes(10))
      .Int("mailbox.spm_concurrency", 8, 1, 64,
           "SPM: volume groups extended at once; requests for one VG are "
           "batched (lvm serialises commands within a VG)")
      .Bool("mailbox.lvm_shell_batch", false,
            "SPM: run each batch of one VG's extends in one lvm shell "
            "process instead of one lvextend per volume. It saves only the "
            "process start-up: lvm commits each LV's metadata under the VG "
            "lock either way (~50 ms each), and a request waits for its "
            "whole batch, so at 10 requests per host it measured slower "
            "(doc/extend.md)")
      .Duration("mailbox.extend_timeout_s", seconds(60),
                "How long Volume.extend waits before answering with a "
                "timeout (the extend goes on; Volume.extended reports it)",
                milliseconds(10), std::chrono::hours(1))
      .Enum("dm.backend", "kernel", {"kernel", "user"},
            "Device mapper of block domains: `kernel` (libdevmapper, "
            "production) or `user` (sanpool-dmemu over loop devices, for "
            "machines without dm-mod: the rig and system tests)")
      .Path("dm.dmemu_socket", "/run/sanpool/dmemu/dmemu.sock",
            "dm.backend = user: the control socket of sanpool-dmemu "
            "(its --socket)")
      .Path("dm.dmemu_run_dir", "/run/sanpool/dmemu",
            "dm.backend = user: sanpool-dmemu's --run-dir (device links "
            "under <dir>/dev/)")
      .String("lvm.devices", "",
              "The SAN devices the agent may touch (the lvm device filter), "
              "comma-separated absolute paths (multipath maps; loop devices "
              "on the rig); no globs. Empty: no block domains are served")
      .Int("lvm.max_processes", 10, 1, 100,
           "lvm commands run at once (oVirt's MAX_COMMANDS)")
      .Bool("lvm.use_aio", false,
            "Let lvm use async I/O. Off (default): the agent's lvm commands "
            "read a private lvm.conf with `use_aio = 0` from lvm.system_dir "
            "(LVM_SYSTEM_DIR), which saves the ~40 ms each lvm process "
            "otherwise spends in io_destroy() at exit "
            "(doc/formats/block-lvm.md); /etc/lvm/lvm.conf is then not "
            "read. On: lvm's own configuration, untouched")
      .Path("lvm.system_dir", "/run/sanpool/lvm",
            "lvm.use_aio = false: the directory of the agent's private "
            "lvm.conf, written at start")
      .Enum("log.level", "info", {"debug", "info", "warning", "error"},
            "Lowest level logged");
  return s;
}

Result<std::vector<std::string>> ParseDeviceList(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(start, end - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) {
      if (item.front() != '/' || item.find_first_of("*?[") != item.npos) {
        return InvalidArgumentError("lvm.devices: '" + std::string(item) +
                                    "' is not an absolute device path");
      }
      out.emplace_back(item);
    }
    start = end + 1;
  }
  return out;
}

Result<AgentConfig> AgentConfigFrom(const Config& config) {
  AgentConfig out;
  ServerOptions& o = out.server;
  o.host = config.GetString("rpc.host");
  o.port = static_cast<uint16_t>(config.GetInt("rpc.port"));
  o.tls = config.GetBool("rpc.tls") ? TlsMode::kMutualTls : TlsMode::kPlain;
  o.ca_file = config.GetPath("rpc.ca_file");
  o.cert_file = config.GetPath("rpc.cert_file");
  o.key_file = config.GetPath("rpc.key_file");
  o.unix_socket = config.GetPath("rpc.unix_socket");
  o.io_threads = static_cast<int>(config.GetInt("rpc.io_threads"));
  o.max_connections = static_cast<size_t>(config.GetInt("rpc.max_connections"));
  o.max_request_bytes = config.GetSize("rpc.max_request_bytes");
  o.max_in_flight_per_connection =
      static_cast<size_t>(config.GetInt("rpc.max_in_flight_per_connection"));
  o.max_ws_queue_bytes = config.GetSize("rpc.ws_max_queue_bytes");
  o.idle_timeout = Millis(config, "rpc.idle_timeout_s");
  o.header_timeout = Millis(config, "rpc.header_timeout_s");
  o.body_timeout = Millis(config, "rpc.body_timeout_s");
  o.write_timeout = Millis(config, "rpc.write_timeout_s");
  o.drain_timeout = Millis(config, "rpc.drain_timeout_s");
  out.worker_threads = static_cast<int>(config.GetInt("rpc.worker_threads"));
  out.worker_queue = static_cast<size_t>(config.GetInt("rpc.worker_queue"));
  out.max_batch = static_cast<size_t>(config.GetInt("rpc.max_batch"));
  out.storage.repository = config.GetPath("storage.repository");
  out.storage.run_dir = config.GetPath("storage.run_dir");
  out.monitor.interval = Millis(config, "monitor.interval_s");
  out.pool.spm_auto = config.GetBool("spm.auto");
  out.pool.backoff_max =
      std::chrono::milliseconds(config.GetInt("spm.backoff_max_ms"));
  out.pool.io_timeout_s = static_cast<int>(config.GetInt("sanlock.io_timeout_s"));
  out.pool.state_file = config.GetPath("agent.state_file");
  out.mailbox.event_poll = milliseconds(config.GetInt("mailbox.event_poll_ms"));
  out.mailbox.host_poll = milliseconds(config.GetInt("mailbox.host_poll_ms"));
  out.mailbox.scan_interval =
      milliseconds(config.GetInt("mailbox.scan_interval_ms"));
  out.mailbox.resend_timeout = Millis(config, "mailbox.resend_timeout_s");
  out.mailbox.spm_concurrency =
      static_cast<int>(config.GetInt("mailbox.spm_concurrency"));
  out.mailbox.extend_timeout = Millis(config, "mailbox.extend_timeout_s");
  out.mailbox.lvm_shell_batch = config.GetBool("mailbox.lvm_shell_batch");
  out.block.dm_backend = config.GetEnum("dm.backend") == "user"
                             ? DmBackend::kUser
                             : DmBackend::kKernel;
  out.block.dmemu_socket = config.GetPath("dm.dmemu_socket");
  out.block.dmemu_run_dir = config.GetPath("dm.dmemu_run_dir");
  out.block.max_lvm_processes =
      static_cast<int>(config.GetInt("lvm.max_processes"));
  if (!config.GetBool("lvm.use_aio")) {
    out.block.lvm_system_dir = config.GetPath("lvm.system_dir");
  }
  ASSIGN_OR_RETURN(out.block.devices,
                   ParseDeviceList(config.GetString("lvm.devices")));
  if (!log::ParseLevel(config.GetEnum("log.level"), &out.log_level)) {
    return InvalidArgumentError("log.level: unknown level");
  }

  if (o.host.empty() && o.unix_socket.empty()) {
    return InvalidArgumentError(
        "no listener: rpc.host and rpc.unix_socket are both empty");
  }
  if (!o.host.empty() && o.tls == TlsMode::kPlain && !IsLoopbackName(o.host)) {
    return InvalidArgumentError(
        "rpc.tls = false is only allowed with a loopback rpc.host "
        "(127.0.0.1, ::1, localhost), not '" + o.host + "'");
  }
  return out;
}

}  // namespace sanpool::agent
