#ifndef SPEAKERBRIDGE_CFFI_SHIM_H
#define SPEAKERBRIDGE_CFFI_SHIM_H
#include <ffi.h>

/* libffi describes its built-in types as mutable C globals (`ffi_type ffi_type_sint32`). Swift 6
 * rejects any reference to a mutable global ("not concurrency-safe"), and `&global` in Swift is
 * only valid for the duration of one call, so a pointer kept in an `ffi_type *[]` would be
 * undefined behaviour. These accessors hand out the real, stable addresses. libffi never writes
 * to the built-in types after load (ffi_prep_cif only fills in size/alignment of *struct* types). */
static inline ffi_type *sb_ffi_type_uint8(void) { return &ffi_type_uint8; }
static inline ffi_type *sb_ffi_type_sint32(void) { return &ffi_type_sint32; }
static inline ffi_type *sb_ffi_type_uint32(void) { return &ffi_type_uint32; }
static inline ffi_type *sb_ffi_type_sint64(void) { return &ffi_type_sint64; }
static inline ffi_type *sb_ffi_type_uint64(void) { return &ffi_type_uint64; }
static inline ffi_type *sb_ffi_type_double(void) { return &ffi_type_double; }
static inline ffi_type *sb_ffi_type_pointer(void) { return &ffi_type_pointer; }
/* size_t is not a libffi type of its own: pick the unsigned type of its width. */
static inline ffi_type *sb_ffi_type_size_t(void) {
    return sizeof(size_t) == 8 ? &ffi_type_uint64 : &ffi_type_uint32;
}
/* FFI_DEFAULT_ABI is a macro over an enum whose value differs per platform. */
static inline ffi_abi sb_ffi_default_abi(void) { return FFI_DEFAULT_ABI; }
#endif
