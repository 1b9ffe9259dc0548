// tranship put|get|del|admin: one request each over the stone's socket.

#include <fmt/format.h>

#include "cli/backup_commands.h"
#include "cli/commands.h"
#include "home/connect.h"

namespace tranship::cli {

Status PutCommand(Context& ctx, const Args& args) {
  const std::string& name = args.positional[0];
  Result<std::unique_ptr<StoneClient>> client = ConnectStone(ctx.home, name);
  if (!client.ok()) return client.status();
  Result<uint64_t> tid = (*client)->Put(args.positional[1], args.positional[2]);
  if (!tid.ok()) return tid.status();
  fmt::print("committed TID {}\n", *tid);
  return Status::OK();
}

Status GetCommand(Context& ctx, const Args& args) {
  const std::string& name = args.positional[0];
  const std::string& key = args.positional[1];
  Result<std::unique_ptr<StoneClient>> client = ConnectStone(ctx.home, name);
  if (!client.ok()) return client.status();
  Result<ReadResult> r = (*client)->Get(key);
  if (!r.ok()) return r.status();
  if (!r->found) {
    return Status::NotFound(fmt::format(
        "The key '{}' does not exist in the stone '{}'. To set it run 'tranship put {} {} "
        "VALUE'.", key, name, name, key));
  }
  fmt::print("{}\n", r->value);
  return Status::OK();
}

Status DelCommand(Context& ctx, const Args& args) {
  const std::string& name = args.positional[0];
  Result<std::unique_ptr<StoneClient>> client = ConnectStone(ctx.home, name);
  if (!client.ok()) return client.status();
  Result<uint64_t> tid = (*client)->Del(args.positional[1]);
  if (!tid.ok()) return tid.status();
  fmt::print("committed TID {}\n", *tid);
  return Status::OK();
}

Status AdminCommand(Context& ctx, const Args& args) {
  const std::string& name = args.positional[0];
  std::vector<std::string> verb_args(args.positional.begin() + 2, args.positional.end());
  if (IsBackupAdminCommand(args.positional[1])) {
    return BackupAdminCommand(ctx, name, args.positional[1], std::move(verb_args));
  }
  Result<std::unique_ptr<StoneClient>> client = ConnectStone(ctx.home, name);
  if (!client.ok()) return client.status();
  Result<std::string> text = (*client)->Admin(args.positional[1], verb_args);
  if (!text.ok()) return text.status();
  std::string out = *text;
  if (!out.empty() && out.back() != '\n') out += '\n';
  fmt::print("{}", out);
  return Status::OK();
}

}  // namespace tranship::cli
