// An on-disk, content-addressed cache for compiled kernels (NVRTC output,
// nvJitLink cubins).
//
// An entry is keyed by a byte string that identifies the computation
// completely (tool and version, options, architecture, source text). The
// file name is derived from a hash of the key, and the entry stores the whole
// key, so two keys can never be confused. Entries carry a CRC-32C: a corrupt,
// truncated or foreign file is a miss, and the next store replaces it.
// Stores write a temporary file and rename it into place, so concurrent
// builders (threads or processes) only ever see whole entries.
//
// The directory is KILN_CACHE_DIR when set (empty or "off" turns the cache
// off), else $XDG_CACHE_HOME/kiln, else $HOME/.cache/kiln. A cache never
// fails a build: errors make misses, and failed stores are dropped.

#ifndef KILN_SRC_BASE_CACHE_H_
#define KILN_SRC_BASE_CACHE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/bytes.h"
#include "kiln/kiln.h"

// Writes the default cache directory into |buffer|; false when the cache is
// off (or no directory can be named).
bool kiln__cache_default_dir(char* buffer, size_t capacity);

// Looks |key| up in |dir|. On a hit returns true with the value in
// |*out_value| (from |allocator|; the caller frees it) and its size.
bool kiln__cache_get(const char* dir, kiln_const_bytes_t key,
                     kiln_allocator_t allocator, uint8_t** out_value,
                     size_t* out_size);

// Stores |value| under |key| in |dir| (created if missing). Returns false
// when it could not (the caller goes on without the cache).
bool kiln__cache_put(const char* dir, kiln_const_bytes_t key,
                     kiln_const_bytes_t value);

#endif  // KILN_SRC_BASE_CACHE_H_
