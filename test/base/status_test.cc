// Status keeps the fact and the remedy apart: the layer that knows the fact states it and
// names the situation; the layer that knows the operator's commands adds the hint.

#include <doctest/doctest.h>

#include "base/status.h"

namespace tranship::test {

TEST_CASE("AHintFollowsTheFactAndBothCanBeReadApart") {
  Status s = Status::Busy("The stone 'prod' is not in restore mode").WithReason("not-in-restore-mode");
  CHECK(s.message() == "The stone 'prod' is not in restore mode");
  CHECK(s.hint().empty());
  CHECK(s.reason() == "not-in-restore-mode");
  Status h = std::move(s).WithHint("To restore into it restart it with 'startstone prod -R'");
  CHECK(h.message() ==
        "The stone 'prod' is not in restore mode. To restore into it restart it with "
        "'startstone prod -R'");
  CHECK(h.fact() == "The stone 'prod' is not in restore mode");
  CHECK(h.hint() == "To restore into it restart it with 'startstone prod -R'");
  CHECK(h.reason() == "not-in-restore-mode");
  CHECK(h.code() == Status::Code::kBusy);
  CHECK(h.ToString() == "Busy: " + h.message());
  // A hint can be replaced, and joined as the sentence needs.
  Status j = std::move(h).WithHint("until 'tranship admin prod commit-restore'", " ");
  CHECK(j.message() == "The stone 'prod' is not in restore mode until 'tranship admin prod commit-restore'");
  CHECK(j.fact() == "The stone 'prod' is not in restore mode");
}

TEST_CASE("AStatusWithoutAReasonOrHintIsItsFact") {
  Status s = Status::IOError("write tranlog3.dbf: no space");
  CHECK(s.reason().empty());
  CHECK(s.fact() == s.message());
  CHECK(s.hint().empty());
  CHECK(Status::OK().message().empty());
}

}  // namespace tranship::test
