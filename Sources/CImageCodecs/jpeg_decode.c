// libjpeg-turbo decoding with errors caught by setjmp/longjmp (see aecv_image_codecs.h).
#include "aecv_image_codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/// More scans than any real progressive file has (libjpeg-turbo's djpeg suggests the same kind
/// of limit): a crafted file with thousands of tiny scans would otherwise take minutes.
enum { MAX_SCANS = 500 };

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char *message;  // out->error
    struct jpeg_progress_mgr progress;
} guarded_error;

static void fail_with_message(j_common_ptr cinfo) {
    guarded_error *e = (guarded_error *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    snprintf(e->message, 256, "JPEG: %s", text);
    longjmp(e->jump, 1);
}

// libjpeg calls error_exit on fatal errors; the default exits the process.
static void on_error_exit(j_common_ptr cinfo) { fail_with_message(cinfo); }

// Warnings (msg_level -1) are mostly benign ("extraneous bytes before marker"), but a premature
// end of data means a truncated file whose missing part libjpeg would fill with grey: that is
// an error here, as in Pillow. Trace messages (level >= 0) are dropped.
static void on_message(j_common_ptr cinfo, int msg_level) {
    if (msg_level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) fail_with_message(cinfo);
}

static void on_progress(j_common_ptr cinfo) {
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > MAX_SCANS) {
        guarded_error *e = (guarded_error *)cinfo->err;
        snprintf(e->message, 256, "JPEG: more than %d scans (corrupt or hostile file)", MAX_SCANS);
        longjmp(e->jump, 1);
    }
}

int aecv_jpeg_decode(const unsigned char *data, size_t size, long max_side, long max_pixels,
                     aecv_decoded_image *out) {
    memset(out, 0, sizeof *out);
    if (size == 0) {
        snprintf(out->error, sizeof out->error, "JPEG: the file is empty");
        return 1;
    }
    struct jpeg_decompress_struct cinfo;
    guarded_error err;
    // volatile: assigned between setjmp and longjmp, read after the jump.
    unsigned char *volatile pixels = NULL;
    cinfo.err = jpeg_std_error(&err.base);
    err.base.error_exit = on_error_exit;
    err.base.emit_message = on_message;
    err.message = out->error;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    err.progress.progress_monitor = on_progress;
    cinfo.progress = &err.progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);

    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK
        || cinfo.num_components == 4) {
        snprintf(out->error, sizeof out->error,
                 "JPEG: CMYK files are not supported; convert it to RGB first");
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    long w = (long)cinfo.image_width, h = (long)cinfo.image_height;
    if (w < 1 || h < 1 || w > max_side || h > max_side || w * h > max_pixels) {
        snprintf(out->error, sizeof out->error,
                 "JPEG: size %ldx%ld is empty or larger than the limit (%ld per side, %ld pixels)",
                 w, h, max_side, max_pixels);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    int grey = cinfo.jpeg_color_space == JCS_GRAYSCALE;
    cinfo.out_color_space = grey ? JCS_GRAYSCALE : JCS_RGB;
    // Pillow's defaults: islow DCT, fancy upsampling.
    cinfo.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&cinfo);
    int channels = cinfo.output_components;
    size_t row = (size_t)cinfo.output_width * (size_t)channels;
    pixels = malloc(row * cinfo.output_height);
    if (!pixels) {
        snprintf(out->error, sizeof out->error, "JPEG: out of memory for %ldx%ld pixels", w, h);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW line = pixels + row * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &line, 1);
    }
    jpeg_finish_decompress(&cinfo);
    out->width = (int)cinfo.output_width;
    out->height = (int)cinfo.output_height;
    out->channels = channels;
    out->pixels = pixels;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

void aecv_codec_free(void *pixels) { free(pixels); }
