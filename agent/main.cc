// sanpool-agent: the host agent daemon.
//
//   sanpool-agent [--config PATH] [--set section.key=value]... [--port-file PATH]
//   sanpool-agent --dump-api | --dump-config-doc | --help
//
// Exit status: 0 after a clean shutdown (SIGTERM/SIGINT) or a dump; 2 for
// usage and configuration errors; 1 when the agent cannot start otherwise
// (a port in use, another agent on the Unix socket).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "agent/agent_config.h"
#include "agent/connection_methods.h"
#include "agent/extend_methods.h"
#include "agent/host_methods.h"
#include "agent/method_registry.h"
#include "agent/metrics.h"
#include "agent/monitor_methods.h"
#include "agent/block_methods.h"
#include "agent/notifications.h"
#include "agent/pool_methods.h"
#include "agent/rpc_dispatcher.h"
#include "agent/server.h"
#include "agent/storage_methods.h"
#include "agent/task_undo.h"
#include "agent/task_methods.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/crash_point.h"
#include "base/env.h"
#include "base/gate.h"
#include "base/log.h"
#include "base/process.h"
#include "base/resource_locks.h"
#include "base/worker_pool.h"
#include "domains/domain_registry.h"
#include "domains/file/image_copy.h"
#include "domains/monitor/domain_monitor.h"
#include "domains/block/activation.h"
#include "domains/block/lvm.h"
#include "domains/block/lvm_cache.h"
#include "domains/block_registry.h"
#include "domains/dm/kernel_dm.h"
#include "domains/dm/user_dm.h"
#include "domains/qemu_img.h"
#include "lease/sanlock_lib.h"
#include "domains/storage_server.h"
#include "spm/block_extend.h"
#include "spm/extend_service.h"
#include "spm/master_fs.h"
#include "spm/role.h"
#include "spm/spm.h"
#include "spm/storage_pool.h"
#include "spm/task_manager.h"

namespace sanpool::agent {
namespace {

constexpr char kUsage[] =
    "usage: sanpool-agent [options]\n"
    "  --config PATH        configuration file (default /etc/sanpool/agent.conf;\n"
    "                       a missing default file means all defaults)\n"
    "  --set KEY=VALUE      override one setting, e.g. --set rpc.port=0 (repeatable)\n"
    "  --port-file PATH     write the bound TCP port to PATH once listening\n"
    "  --dump-api           print the JSON-RPC API reference (Markdown) and exit\n"
    "  --dump-config-doc    print the configuration reference (Markdown) and exit\n"
    "  --help               this text\n";

struct Flags {
  std::optional<std::string> config_path;
  std::vector<std::string> sets;
  std::string port_file;
  bool dump_api = false;
  bool dump_config_doc = false;
  bool help = false;
};

// Accepts "--flag value" and "--flag=value".
Result<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view name = arg;
    std::optional<std::string> value;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
    }
    auto take_value = [&]() -> Result<std::string> {
      if (value) return *value;
      if (i + 1 >= argc) {
        return InvalidArgumentError(std::string(name) + " needs a value");
      }
      return std::string(argv[++i]);
    };
    if (name == "--config") {
      ASSIGN_OR_RETURN(flags.config_path, take_value());
    } else if (name == "--set") {
      ASSIGN_OR_RETURN(std::string set, take_value());
      flags.sets.push_back(std::move(set));
    } else if (name == "--port-file") {
      ASSIGN_OR_RETURN(flags.port_file, take_value());
    } else if (arg == "--dump-api") {
      flags.dump_api = true;
    } else if (arg == "--dump-config-doc") {
      flags.dump_config_doc = true;
    } else if (arg == "--help" || arg == "-h") {
      flags.help = true;
    } else {
      return InvalidArgumentError("unknown argument: " + std::string(arg));
    }
  }
  return flags;
}

Result<AgentConfig> LoadConfig(Env& env, const Flags& flags) {
  Config config(AgentConfigSchema());
  if (flags.config_path) {
    RETURN_IF_ERROR(config.Load(env, *flags.config_path, MissingFile::kError));
  } else {
    RETURN_IF_ERROR(config.Load(env, kDefaultConfigPath, MissingFile::kUseDefaults));
  }
  for (const std::string& set : flags.sets) {
    RETURN_IF_ERROR(config.ApplyOverride(set));
  }
  return AgentConfigFrom(config);
}

// Written to a temporary file and renamed, so readers never see a partial port.
Status WritePortFile(const std::string& path, uint16_t port) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoToStatus(errno, "open " + tmp);
  std::string text = std::to_string(port) + "\n";
  ssize_t n = ::write(fd, text.data(), text.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) return ErrnoToStatus(err, "write " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoToStatus(errno, "rename " + tmp);
  }
  return Status::Ok();
}

// The registry of every method the agent serves. Stats functions read the
// objects built later through the given pointers.
struct Components {
  MethodRegistry registry;
  std::unique_ptr<Metrics> metrics;
  Server* server = nullptr;
  StorageServices storage;  // filled in once the config is loaded
  BlockServices block;      // likewise (block domains on lvm.devices)
  PoolServices pool;        // likewise
  ExtendMethodsDeps extend;  // likewise
  monitor::DomainMonitor* monitor = nullptr;
  StorageServer* storage_server = nullptr;
  Env* env = nullptr;
  std::string repository;
  std::string state_file;  // agent.state_file
};

Status RegisterMethods(Components& c) {
  RETURN_IF_ERROR(
      RegisterStorageMethodsWithBlock(c.registry, &c.storage, &c.block));
  RETURN_IF_ERROR(RegisterTaskMethods(c.registry, &c.storage));
  RETURN_IF_ERROR(RegisterPoolMethods(c.registry, &c.pool));
  RETURN_IF_ERROR(RegisterExtendMethods(c.registry, &c.extend));
  HostMethodsDeps deps;
  deps.requests_total = [&c] { return c.metrics ? c.metrics->TotalRequests() : 0; };
  deps.in_flight = [&c] { return c.metrics ? c.metrics->InFlight() : int64_t{0}; };
  deps.server_stats = [&c] { return c.server ? c.server->Stats() : ServerStats{}; };
  RETURN_IF_ERROR(RegisterHostMethods(c.registry, std::move(deps)));
  RETURN_IF_ERROR(RegisterConnectionMethods(
      c.registry, {.server = [&c] { return c.storage_server; },
                   .record = [&c](ConnectionType,
                                  const std::vector<spm::SavedConnection>& connected,
                                  const std::vector<std::string>& disconnected) {
                     if (c.env == nullptr) return UnavailableError("agent is starting");
                     if (c.state_file.empty()) return Status::Ok();
                     return spm::UpdateSavedConnections(*c.env, c.state_file,
                                                        connected, disconnected);
                   },
                   .on_connected = [&c] {
                     if (c.block.domains != nullptr) c.block.domains->ForgetMissingVgs();
                   }}));
  return RegisterMonitorMethods(
      c.registry,
      {.monitor = [&c] { return c.monitor; },
       .resolve_metadata_path = [&c](std::string_view sd) -> Result<std::string> {
         if (c.env == nullptr) return UnavailableError("agent is starting");
         // A block domain is monitored through its mapped metadata LV.
         if (c.block.domains != nullptr && c.block.domains->IsBlockDomain(sd)) {
           ASSIGN_OR_RETURN(auto bundle, c.block.domains->Get(sd));
           return bundle->domain->SpecialLvPath(block::SpecialLv::kMetadata);
         }
         return FindFileDomainMetadata(*c.env, c.repository, sd);
       },
       .is_opaque = [&c](std::string_view sd) {
         return c.block.domains != nullptr && c.block.domains->IsBlockDomain(sd);
       }});
}

int Run(int argc, char** argv) {
  auto flags = ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::cerr << "sanpool-agent: " << flags.status().message() << "\n" << kUsage;
    return 2;
  }
  if (flags->help) {
    std::cout << kUsage;
    return 0;
  }
  if (flags->dump_config_doc) {
    std::cout << "# sanpool-agent configuration\n\n"
                 "Generated by `sanpool-agent --dump-config-doc`; do not edit.\n\n"
                 "The agent reads `/etc/sanpool/agent.conf` (INI: `[section]`, "
                 "`key = value`, whole-line `#` comments), or the file given with "
                 "`--config`; `--set section.key=value` overrides one key. Durations "
                 "take `ms`/`s`/`m`/`h` suffixes (plain numbers are seconds), sizes "
                 "`K`/`M`/`G`.\n\n"
              << AgentConfigSchema().RenderMarkdown();
    return 0;
  }
  Components c;
  if (Status s = RegisterMethods(c); !s.ok()) {
    std::cerr << "sanpool-agent: " << s.ToString() << "\n";
    return 1;
  }
  if (flags->dump_api) {
    std::cout << c.registry.RenderMarkdown();
    return 0;
  }

  std::unique_ptr<Env> env = NewPosixEnv();
  auto config = LoadConfig(*env, *flags);
  if (!config.ok()) {
    std::cerr << "sanpool-agent: configuration error: " << config.status().message()
              << "\n";
    return 2;
  }
  log::SetLevel(config->log_level);
  if (std::string_view point = ArmedCrashPoint(); !point.empty()) {
    if (!IsKnownCrashPoint(point)) {
      std::cerr << "sanpool-agent: unknown " << crash_point::kEnvVar << " '" << point
                << "'\n";
      return 2;
    }
    log::Warning("agent", "crash point armed", {{"point", point}});
  }
  ::signal(SIGPIPE, SIG_IGN);

  // Signals are waited for on this thread, never on a network thread,
  // because Shutdown() blocks while the network threads drain.
  boost::asio::io_context signal_io;
  boost::asio::signal_set signals(signal_io, SIGTERM, SIGINT);

  SystemClock clock;
  Gate gate;
  c.metrics = std::make_unique<Metrics>(c.registry.MethodNames());
  NotificationHub hub(clock);
  monitor::DomainMonitor domain_monitor(*env, clock, {.interval = config->monitor.interval},
                                        DomainStateNotifier(hub));
  InstallDomainMetrics(*c.metrics, domain_monitor);
  c.env = env.get();
  c.repository = config->storage.repository;
  c.state_file = config->pool.state_file;
  c.monitor = &domain_monitor;
  // Storage: file domains under storage.repository, SPM tasks on their own
  // pool. Metadata writes follow the SPM role (spm/role.h).
  PosixProcessRunner process_runner;
  QemuImg qemu_img(process_runner);
  StorageServer storage_server(
      *env, process_runner, {.mnt_root = config->storage.repository + "/mnt"});
  c.storage_server = &storage_server;
  ResourceManager lock_manager(clock);
  // One sanlock registration per process (SANLOCK_RUN_DIR picks the
  // daemon). The SPM role is the pool's SDM lease; it is made once the task
  // manager exists and torn down before it.
  lease::SanlockLib sanlock;
  if (Status s = sanlock.Register(); !s.ok()) {
    log::Warning("agent", "sanlock registration failed; retried on use",
                 {{"error", s.ToString()}});
  }
  std::unique_ptr<spm::Spm> spm_role;
  // The Spm's role changes reach the extend service (made later) first.
  ExtendRoleForwarder extend_role;
  DomainRegistry domains(
      DomainRegistryDeps{.env = env.get(), .clock = &clock, .qemu_img = &qemu_img,
                         .lock_manager = &lock_manager,
                         .is_spm = [&spm_role] { return spm_role && spm_role->IsSpm(); }},
      DomainRegistryOptions{.repository = config->storage.repository,
                            .run_dir = config->storage.run_dir});
  // Block domains: one LvmCache and one Activator for all of them, over
  // the kernel's device mapper or sanpool-dmemu (dm.backend).
  // lvm.use_aio = false: lvm reads the agent's lvm.conf (use_aio = 0). A
  // directory that cannot be written only costs speed: lvm's own config.
  std::string lvm_system_dir = config->block.lvm_system_dir;
  if (!lvm_system_dir.empty()) {
    if (Status s = lvm::WriteLvmSystemDir(*env, lvm_system_dir); !s.ok()) {
      log::Warning("agent",
                   "cannot write the private lvm.conf; lvm uses its own",
                   {{"dir", lvm_system_dir}, {"error", s.ToString()}});
      lvm_system_dir.clear();
    }
  }
  // Reports without lvm's VG lock while this host is not the SPM (it
  // changes no metadata then): oVirt's HSMs read the same way.
  lvm::Lvm lvm_tool(
      process_runner,
      {.report_locking_fn =
           [&spm_role] {
             return spm_role && spm_role->IsSpm()
                        ? lvm::ReportLocking::kShared
                        : lvm::ReportLocking::kReadOnly;
           },
       .system_dir = lvm_system_dir});
  lvm::LvmCache lvm_cache(
      lvm_tool, {.max_concurrent_commands = config->block.max_lvm_processes});
  lvm_cache.SetDevices(config->block.devices);
  std::unique_ptr<dm::DeviceMapper> device_mapper;
  if (config->block.dm_backend == DmBackend::kUser) {
    device_mapper = std::make_unique<dm::UserDeviceMapper>(
        dm::UserDmOptions{.socket_path = config->block.dmemu_socket,
                          .run_dir = config->block.dmemu_run_dir});
  } else {
    device_mapper =
        std::make_unique<dm::KernelDeviceMapper>(dm::KernelDmOptions{});
  }
  block::Activator activator(lvm_cache, *device_mapper);
  BlockDomainRegistry block_domains(
      BlockRegistryDeps{.env = env.get(), .clock = &clock, .qemu_img = &qemu_img,
                        .runner = &process_runner, .lock_manager = &lock_manager,
                        .lvm = &lvm_cache, .activator = &activator,
                        .sanlock = &sanlock,
                        .is_spm = [&spm_role] { return spm_role && spm_role->IsSpm(); }},
      BlockRegistryOptions{.run_dir = config->storage.run_dir});
  if (Status s = block_domains.RemoveStaleMappings(); !s.ok()) {
    log::Warning("agent", "cannot remove stale block mappings",
                 {{"error", s.ToString()}});
  }
  file_domain::ImageCopier copier(process_runner, lock_manager);
  // oVirt's irs:thread_pool_size. Declared after what its jobs use.
  spm::TaskManager tasks(clock, {.threads = 10, .thread_name = "spm-task"},
                         TaskStatePublisher(hub));
  // Persistent SPM tasks in master/tasks, rolled back by the next SPM.
  spm::SpmTaskPersistence task_persistence(*env, tasks,
                                           MakeStorageUndo(domains));
  const lease::Seconds io_timeout(config->pool.io_timeout_s);
  spm_role = std::make_unique<spm::Spm>(
      spm::SpmDeps{.sanlock = &sanlock, .clock = &clock, .tasks = &tasks,
                   .task_persistence = &task_persistence,
                   .on_change = extend_role.Wrap(SpmChangePublisher(hub))},
      spm::SpmOptions{.auto_contend = config->pool.spm_auto,
                      .backoff_max = config->pool.backoff_max,
                      .io_timeout = io_timeout});
  // Block masters mount under <run_dir>/master; a killed agent's mounts go.
  const std::string master_mounts = config->storage.run_dir + "/master";
  if (auto stale = spm::CleanupMasterMounts(*env, process_runner, master_mounts);
      !stale.ok()) {
    log::Warning("agent", "cannot look for stale master mounts",
                 {{"error", stale.status().ToString()}});
  }
  auto storage_pool = std::make_unique<spm::StoragePool>(
      spm::StoragePoolDeps{.env = env.get(), .clock = &clock, .sanlock = &sanlock,
                           .domains = &domains, .block_domains = &block_domains,
                           .runner = &process_runner, .monitor = &domain_monitor,
                           .spm = spm_role.get(),
                           // Saved storage connections come back before
                           // the pool (a rebooted host rejoins on its own).
                           .reconnect =
                               [&storage_server, &env, &config] {
                                 RestoreSavedConnections(storage_server, *env,
                                                         config->pool.state_file);
                               }},
      spm::StoragePoolOptions{.state_file = config->pool.state_file,
                              .master_mount_root = master_mounts,
                              .io_timeout = io_timeout});
  c.storage = {.domains = &domains, .role = spm_role.get(), .tasks = &tasks,
               .copier = &copier};
  c.pool = {.pool = storage_pool.get(), .spm = spm_role.get(), .tasks = &tasks};
  c.block = {.domains = &block_domains, .lvm = &lvm_cache};
  // Thin-volume extends (doc/extend.md): lvextend directly as SPM, else
  // through the master domain's mailbox; the SPM mailbox follows the role.
  spm::BlockVolumesLookup volumes_of = [&block_domains](const std::string& sd) {
    return block_domains.Volumes(sd);
  };
  spm::BlockExtender extender =
      config->mailbox.lvm_shell_batch
          ? spm::BlockExtender(volumes_of, lvm_cache, activator)
          : spm::BlockExtender(volumes_of);
  spm::BlockRefresher refresher(lvm_cache, activator);
  MailboxFilesFn file_mailbox = FileDomainMailboxFiles(*env, config->storage.repository);
  spm::ExtendService extend_service(
      spm::ExtendServiceDeps{
          .env = env.get(), .clock = &clock, .role = spm_role.get(),
          .extender = &extender, .refresher = &refresher,
          .locate = PoolMailboxLocator(
              *env, config->pool.state_file,
              [&block_domains, file_mailbox](const std::string& sd) -> Result<MailboxFiles> {
                if (!block_domains.IsBlockDomain(sd)) return file_mailbox(sd);
                ASSIGN_OR_RETURN(auto bundle, block_domains.Get(sd));
                ASSIGN_OR_RETURN(std::string in,
                                 bundle->domain->SpecialLvPath(block::SpecialLv::kInbox));
                ASSIGN_OR_RETURN(std::string out,
                                 bundle->domain->SpecialLvPath(block::SpecialLv::kOutbox));
                return MailboxFiles{in, out};
              }),
          .on_extended = ExtendedPublisher(hub),
          .on_batched = LvExtendedPublisher(hub)},
      spm::ExtendServiceOptions{.event_interval = config->mailbox.event_poll,
                                .rescan_interval = config->mailbox.scan_interval,
                                .host_poll_interval = config->mailbox.host_poll,
                                .resend_timeout = config->mailbox.resend_timeout,
                                .spm_concurrency = config->mailbox.spm_concurrency});
  if (Status s = extend_service.Start(); !s.ok()) {
    log::Error("agent", "cannot start the extend service", {{"error", s.ToString()}});
  }
  ExtendRoleForwarder::Attachment extend_role_attached =
      extend_role.Attach(&extend_service);
  c.extend = {.service = &extend_service, .timeout = config->mailbox.extend_timeout};
  WorkerPool pool(WorkerPoolOptions{.name = "rpc-worker",
                                    .threads = config->worker_threads,
                                    .max_queued = config->worker_queue});
  RpcDispatcher dispatcher(c.registry, *c.metrics, pool,
                           Limits{.max_request_bytes = config->server.max_request_bytes,
                                  .max_batch = config->max_batch});
  Server server(config->server, ServerDeps{.dispatcher = &dispatcher,
                                           .metrics = c.metrics.get(),
                                           .notifications = &hub,
                                           .gate = &gate});
  if (Status s = server.Start(); !s.ok()) {
    log::Error("agent", "cannot start", {{"error", s.ToString()}});
    std::cerr << "sanpool-agent: cannot start: " << s.message() << "\n";
    return s.code() == Code::kInvalidArgument ? 2 : 1;
  }
  c.server = &server;
  if (!flags->port_file.empty()) {
    if (Status s = WritePortFile(flags->port_file, server.tcp_port()); !s.ok()) {
      log::Error("agent", "cannot write port file", {{"error", s.ToString()}});
      server.Shutdown();
      pool.Shutdown();
      return 1;
    }
  }
  log::Info("agent", "started", {{"version", SANPOOL_VERSION},
                                 {"methods", c.registry.size()},
                                 {"io_threads", config->server.io_threads},
                                 {"worker_threads", config->worker_threads}});

  // Rejoin the pool this host was connected to (DESIGN.md "Working without
  // an engine").
  if (Status s = storage_pool->Restore(); !s.ok()) {
    log::Error("agent", "cannot restore pool membership", {{"error", s.ToString()}});
  }

  signals.async_wait([](const boost::system::error_code& ec, int signo) {
    if (!ec) log::Info("agent", "signal received, shutting down", {{"signal", signo}});
  });
  signal_io.run();

  server.Shutdown();
  c.server = nullptr;
  extend_service.Stop();  // pending extends fail with kCancelled
  c.extend = {};
  pool.Shutdown();
  c.pool = {};
  storage_pool.reset();
  spm_role.reset();  // as SPM: gives the role up while the tasks still exist
  tasks.Shutdown();
  c.storage = {};
  c.block = {};
  c.monitor = nullptr;
  c.storage_server = nullptr;
  log::Info("agent", "exit");
  return 0;
}

}  // namespace
}  // namespace sanpool::agent

int main(int argc, char** argv) { return sanpool::agent::Run(argc, argv); }
