// libpng decoding with errors caught by setjmp/longjmp (see aecv_image_codecs.h).
#include "aecv_image_codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

typedef struct {
    const unsigned char *data;
    size_t size;
    size_t offset;
    char *message;  // out->error
} memory_reader;

// libpng's error callback must not return: it longjmps to the setjmp in aecv_png_decode.
static void on_error(png_structp png, png_const_charp text) {
    memory_reader *r = (memory_reader *)png_get_error_ptr(png);
    snprintf(r->message, 256, "PNG: %s", text);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

static void read_memory(png_structp png, png_bytep dst, png_size_t count) {
    memory_reader *r = (memory_reader *)png_get_io_ptr(png);
    if (count > r->size - r->offset) png_error(png, "truncated file (unexpected end of data)");
    memcpy(dst, r->data + r->offset, count);
    r->offset += count;
}

int aecv_png_decode(const unsigned char *data, size_t size, long max_side, long max_pixels,
                    aecv_decoded_image *out) {
    memset(out, 0, sizeof *out);
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        snprintf(out->error, sizeof out->error,
                 size == 0 ? "PNG: the file is empty" : "PNG: not a PNG file (bad signature)");
        return 1;
    }
    memory_reader reader = {data, size, 0, out->error};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, on_error, on_warning);
    if (!png) {
        snprintf(out->error, sizeof out->error, "PNG: out of memory");
        return 1;
    }
    png_infop info = png_create_info_struct(png);
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        if (!info) snprintf(out->error, sizeof out->error, "PNG: out of memory");
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        free(pixels);
        free(rows);
        return 1;
    }
    png_set_read_fn(png, &reader, read_memory);
    // Limits checked by libpng while reading IHDR, before any row buffer exists.
    png_set_user_limits(png, (png_uint_32)max_side, (png_uint_32)max_side);
    // Ancillary chunks (text, ICC profiles) of more than 8 MB are a hostile file.
    png_set_chunk_malloc_max(png, 8u << 20);
    // "Benign" errors are warnings: real files carry harmless faults (skimage's astronaut.png
    // has a "known incorrect sRGB profile"). Missing image data stays a fatal error in libpng,
    // and the reader above fails on any read past the end.
    png_set_benign_errors(png, 1);
    png_read_info(png, info);

    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((long)w * (long)h > max_pixels) {
        snprintf(out->error, sizeof out->error,
                 "PNG: size %lux%lu is larger than the limit (%ld pixels)",
                 (unsigned long)w, (unsigned long)h, max_pixels);
        png_destroy_read_struct(&png, &info, NULL);
        return 1;
    }
    int colour = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (colour == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (colour == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (depth == 16) png_set_strip_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    size_t row = (size_t)w * (size_t)channels;
    if (channels < 1 || channels > 4 || png_get_rowbytes(png, info) != row) {
        snprintf(out->error, sizeof out->error, "PNG: unexpected layout after conversion");
        png_destroy_read_struct(&png, &info, NULL);
        return 1;
    }
    pixels = malloc(row * h);
    rows = malloc(sizeof(png_bytep) * h);
    if (!pixels || !rows) {
        snprintf(out->error, sizeof out->error, "PNG: out of memory for %lux%lu pixels",
                 (unsigned long)w, (unsigned long)h);
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return 1;
    }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + row * y;
    png_read_image(png, rows);
    // Reads up to IEND: a file cut after its image data is still an error.
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    out->pixels = pixels;
    out->width = (int)w;
    out->height = (int)h;
    out->channels = channels;
    return 0;
}
