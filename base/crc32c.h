#pragma once
// CRC32C (Castagnoli), hardware-accelerated with SSE4.2 where the CPU has it.

#include <cstddef>
#include <cstdint>

namespace tranship::crc32c {

// Returns the CRC32C of concat(A, data[0,n-1]) where init_crc is the CRC32C of A.
uint32_t Extend(uint32_t init_crc, const void* data, size_t n);

inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }

}  // namespace tranship::crc32c
