#include "wire/protocol.h"

namespace tranship::wire {

const char* MsgTypeName(MsgType) { return "?"; }
const char* RefuseCodeName(RefuseCode) { return "?"; }
void EncodeHello(std::string*, const Hello&) {}
void EncodeWelcome(std::string*, const Welcome&) {}
void EncodeRefuse(std::string*, const Refuse&) {}
void EncodeData(std::string*, const DataHeader&, std::string_view) {}
void EncodeAck(std::string*, const Ack&) {}
void EncodeKeepalive(std::string*, const Keepalive&) {}
void FrameReader::Feed(std::string_view) {}
FrameReader::Result FrameReader::Next(Frame*) { return Result::kNeedMore; }
Status DecodeHello(std::string_view, Hello*) { return Status::NotSupported("todo"); }
Status DecodeWelcome(std::string_view, Welcome*) { return Status::NotSupported("todo"); }
Status DecodeRefuse(std::string_view, Refuse*) { return Status::NotSupported("todo"); }
Status DecodeData(std::string_view, DataHeader*, std::string_view*) {
  return Status::NotSupported("todo");
}
Status DecodeAck(std::string_view, Ack*) { return Status::NotSupported("todo"); }
Status DecodeKeepalive(std::string_view, Keepalive*) { return Status::NotSupported("todo"); }

}  // namespace tranship::wire
