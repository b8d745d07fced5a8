// The system zlib, for inflating git pack entries.
#ifndef SMART_SYNC_CZLIB_SHIM_H
#define SMART_SYNC_CZLIB_SHIM_H
#include <zlib.h>

// inflateInit is a macro; Swift cannot call it.
static inline int smart_sync_inflate_init(z_stream *stream) {
    return inflateInit(stream);
}
#endif
