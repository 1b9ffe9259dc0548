#include "cli/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/env.h"

namespace tranship::cli {

std::vector<std::string> DaemonServeArgs(const std::string& group, const Args& args,
                                         DaemonLaunch* launch) {
  std::vector<std::string> out = {group, "serve"};
  for (const auto& [k, v] : args.values) {
    if (k == "-Q" && v.rfind("@", 0) != 0 && v.rfind("env:", 0) != 0) {
      launch->env.emplace_back(kDaemonPassphraseEnv, v);
      out.insert(out.end(), {k, std::string("env:") + kDaemonPassphraseEnv});
      continue;
    }
    out.insert(out.end(), {k, v});
  }
  for (const std::string& f : args.flags) {
    if (f != "--foreground") out.push_back(f);
  }
  return out;
}

Status ParseTlsFlags(const Args& args, wire::TlsOptions* tls,
                     const std::function<Status(std::string_view)>& usage) {
  tls->enabled = args.Has("-S");
  bool any_tls =
      args.Has("-J") || args.Has("-C") || args.Has("-K") || args.Has("-Q") || args.Has("-V");
  if (any_tls && !tls->enabled) return usage("-J, -C, -K, -Q and -V need -S (TLS)");
  if (tls->enabled) {
    tls->ca_file = args.Value("-J");
    tls->cert_file = args.Value("-C");
    tls->key_file = args.Value("-K");
    tls->no_verify = args.Has("-V");
    if (args.Has("-Q")) {
      Result<std::string> pass = wire::ResolvePassphrase(args.Value("-Q"));
      if (!pass.ok()) return pass.status();
      tls->key_passphrase = std::move(*pass);
    }
  }
  return Status::OK();
}

Status RunDaemonServe(const Args& args, const std::string& group, const std::string& start_cmd,
                      const std::function<Status(ReadinessNotifier*)>& serve) {
  signal(SIGPIPE, SIG_IGN);
  Result<uint64_t> fd = args.Number("--notify-fd", UINT64_MAX);
  if (!fd.ok()) return fd.status();
  if (*fd == UINT64_MAX && !args.Has("--foreground")) {
    return Status::InvalidArgument(fmt::format(
        "'tranship {} serve' runs a {} in this process; use --foreground, or start a daemon "
        "with '{}'.",
        group, group, start_cmd));
  }
  ReadinessNotifier notifier(*fd == UINT64_MAX ? -1 : static_cast<int>(*fd));
  Status s = serve(&notifier);
  if (!s.ok() && *fd != UINT64_MAX) {
    notifier.Failed(s.message());
    std::exit(1);
  }
  return s;
}

}  // namespace tranship::cli
