/* safetensors files: an 8-byte little-endian header length, a JSON header
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "value", ...}}, then the raw little-endian tensor
 * bytes. The format PyTorch users load with safetensors.torch.load_file.
 *
 * Reading parses and validates the whole header up front (sizes, offsets,
 * overlaps, shapes against dtypes) and then reads tensors on demand with
 * pread, so that a large checkpoint is never held twice in memory. Writing
 * streams the tensors through data/atomic_file.h: the target is replaced
 * only when everything was written. Every failing call returns -1 with a
 * one-line "<file>: <reason>" in err. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sm_error.h"

enum { SM_ST_MAX_DIMS = 8 };

typedef struct SmStTensor {
  char *name;
  char dtype[8];                 /* "F32", "F16", "I64", ... as in the header */
  int ndim;
  int64_t shape[SM_ST_MAX_DIMS];
  uint64_t begin, end;           /* byte range inside the data section */
} SmStTensor;

typedef struct SmStMeta {
  char *key;
  char *value;
} SmStMeta;

typedef struct SmSafetensors {
  char path[4096];
  int fd;
  uint64_t data_start;           /* file offset of the data section */
  uint64_t data_size;
  int n_tensors;
  SmStTensor *tensors;           /* in header order */
  int n_meta;
  SmStMeta *meta;
} SmSafetensors;

/* Opens and validates; on failure nothing needs freeing. */
int sm_safetensors_open(const char *path, SmSafetensors *st, SmError *err);
void sm_safetensors_close(SmSafetensors *st);

/* NULL when absent. */
const SmStTensor *sm_safetensors_find(const SmSafetensors *st, const char *name);
const char *sm_safetensors_meta(const SmSafetensors *st, const char *key);
/* Number of elements of a tensor (product of its shape; 1 for a scalar). */
int64_t sm_st_tensor_numel(const SmStTensor *t);

/* Reads tensor `name`, which must be F32 with exactly `count` elements, into
 * out (host byte order). */
int sm_safetensors_read_f32(const SmSafetensors *st, const char *name, float *out,
                            int64_t count, SmError *err);

/* Writer: collects tensors (borrowed pointers: they must stay valid until
 * sm_st_writer_write returns) and metadata, then writes all in one go. */
typedef struct SmStWriter SmStWriter;

SmStWriter *sm_st_writer_new(void);
void sm_st_writer_free(SmStWriter *w);
/* Both copy key/name; return -1 only when out of memory or on a duplicate
 * name, which is reported at write time. */
int sm_st_writer_add_meta(SmStWriter *w, const char *key, const char *value);
int sm_st_writer_add_f32(SmStWriter *w, const char *name, int ndim, const int64_t *shape,
                         const float *data);
int sm_st_writer_write(SmStWriter *w, const char *path, SmError *err);
