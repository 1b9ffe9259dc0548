#pragma once
// Whole-directory operations for snapshots and destroy.

#include <string>

#include "base/status.h"

namespace tranship::cli {

// Copies the directory tree `from` to `to` (which must not exist); every file and
// directory is fsync'ed, so a completed copy survives a power cut.
Status CopyTree(const std::string& from, const std::string& to);
// rm -rf; ok if `path` does not exist.
Status RemoveTree(const std::string& path);
// Removes `dir`/PREFIX<N>.dbf files only.
Status RemoveTranlogFiles(const std::string& dir, const std::string& prefix);

}  // namespace tranship::cli
