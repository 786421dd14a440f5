// JPEG (libjpeg-turbo) and PNG (libpng) decoding for the data layer (AECVData), behind two C
// functions. Both libraries report fatal errors by longjmp; this file catches them with setjmp
// so that a corrupt, truncated or hostile file becomes an error message, never an exit() or a
// crash. Not part of libaecv.so.
#ifndef AECV_IMAGE_CODECS_H
#define AECV_IMAGE_CODECS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A decoded 8-bit image: rows top to bottom, channels interleaved (1 grey, 2 grey+alpha,
/// 3 RGB, 4 RGBA). `pixels` is malloc'd; free it with aecv_codec_free.
typedef struct {
    unsigned char *pixels;
    int width;
    int height;
    int channels;
    /// A one-line reason when decoding failed (NUL-terminated).
    char error[256];
} aecv_decoded_image;

/// Decodes a baseline or progressive JPEG (grey, YCbCr or RGB) to grey or RGB. CMYK/YCCK files
/// are refused. Images of more than `max_pixels` pixels or more than `max_side` pixels a side
/// are refused after reading the header, before allocating any pixels. Returns 0 on success.
/// The EXIF orientation is NOT applied here (AECVData applies it).
int aecv_jpeg_decode(const unsigned char *data, size_t size, long max_side, long max_pixels,
                     aecv_decoded_image *out);

/// Decodes a PNG of any colour type and bit depth, interlaced or not, to 8 bits per channel:
/// palette -> RGB, tRNS -> alpha channel, 1/2/4-bit grey -> 8-bit, 16-bit -> high byte (as
/// Pillow reads it). No gamma correction. Size limits as for JPEG. Returns 0 on success.
int aecv_png_decode(const unsigned char *data, size_t size, long max_side, long max_pixels,
                    aecv_decoded_image *out);

void aecv_codec_free(void *pixels);

#ifdef __cplusplus
}
#endif

#endif
